//! Activation (work in progress).
