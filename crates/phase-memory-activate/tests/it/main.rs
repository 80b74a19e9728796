//! Integration tests of activation.
