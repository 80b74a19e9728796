//! Markitect packages: an activation rendered into deterministic Markdown plus a
//! hashed manifest, written as a folder or a tar archive, and verified later.
//!
//! The crate has a pure core and a thin I/O edge:
//!
//! - [`render`] turns a [`PackageInput`] (the ranked working set and its
//!   provenance) into a [`Package`]: relative path → bytes. No I/O, no clock, no
//!   randomness: the same input gives byte-identical files.
//! - [`verify_files`] checks a package held in memory: every item's BLAKE3, the
//!   index's, the manifest id, unlisted or missing files.
//! - [`write_dir`], [`write_tar`] and [`verify`] are the only functions that touch
//!   the file system (module [`disk`]).
//!
//! The format is described field by field in `docs/packages.md`.

pub mod disk;
pub mod error;
pub mod escape;
pub mod naming;
pub mod render;
pub mod verify;

use std::collections::BTreeMap;

pub use disk::{
    ReadLimits, read_package_files, tar_bytes, verify, verify_limited, write_dir, write_tar,
};
pub use error::PackageError;
pub use naming::{file_safe_name, item_path, kind_dir};
pub use render::{INDEX_PATH, MANIFEST_PATH, PACKAGE_FORMAT, manifest_id, render};
pub use verify::{VerifyProblem, VerifyReport, verify_files};

/// One activated node as it goes into a package.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageItem {
    /// The node (title, body, labels, kind, phase are rendered).
    pub node: phase_memory_model::Node,
    /// Activation score (rounded to 6 decimals on output).
    pub score: f64,
    /// Tokens the item costs under the profile's tokenizer.
    pub tokens: u32,
}

/// Everything a package is rendered from: the working set and its provenance.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageInput {
    /// Package title from the profile's package settings, e.g. "Working memory".
    pub title: String,
    /// The cue as given (`{text?, nodes?, hints?, events_since?}`).
    pub cue: serde_json::Value,
    /// The instant the activation ran at.
    pub as_of: phase_memory_model::Time,
    /// Digest of the active profile (`blake3:…`).
    pub profile_digest: String,
    /// Token budget of the activation.
    pub budget_limit: u64,
    /// Tokens used by the items.
    pub budget_used: u64,
    /// Items in final order (descending score, ties by id). Rendering keeps it.
    pub items: Vec<PackageItem>,
    /// Number of nodes withheld by policy.
    pub withheld_count: u64,
    /// Withheld nodes per policy rule id.
    pub withheld_rules: BTreeMap<String, u64>,
    /// Store identity for provenance (never a secret).
    pub store: String,
    /// Audit chain head the package was compiled under: sequence number.
    pub audit_seq: u64,
    /// Audit chain head the package was compiled under: hash.
    pub audit_hash: String,
}

/// A rendered package: relative path (always `/`-separated) → file bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// The package id (`blake3:<hex>`), see [`manifest_id`].
    pub id: String,
    /// Files by relative path: `package.json`, `index.md`, `items/<kind>/<file>.md`.
    pub files: BTreeMap<String, Vec<u8>>,
}
