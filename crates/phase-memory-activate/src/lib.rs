//! Activation for phase-memory (SPEC section 4), pure and without I/O: a compact
//! [`Snapshot`] of the graph built once per store generation, [`activate`] to turn
//! a cue into a ranked, policy-filtered [`WorkingSet`] packed under a token budget,
//! and [`TokenCounter`] for the profile's tokenizer.
//!
//! docs/activation.md gives the formula, its parameters and their defaults.

pub mod activate;
pub mod entities;
pub mod semantic;
pub mod snapshot;
pub mod tokens;
pub mod when;

pub use activate::{
    ActivatedItem, ActivationInput, Cue, Explain, SeedKind, SeedSource, Visibility, WorkingSet,
    activate, activate_indexed, score,
};
pub use snapshot::{
    NodeView, PersistError, PersistKey, Snapshot, SnapshotBuilder, SnapshotChanges,
    signature_similarity, simhash,
};
pub use tokens::{ENCODINGS, TokenCounter, TokenizerError};
