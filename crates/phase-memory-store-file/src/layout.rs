//! The folder layout of format v2: file names, the manifest (the commit point) and
//! the small helpers that read and atomically write whole files.

use std::io;
use std::path::Path;

use phase_memory_model::AuditCheckpoint;
use phase_memory_store::{StoreError, StoreMeta, StoreResult};
use serde::{Deserialize, Serialize};

use crate::fs::Fs;

/// Store metadata (a readable copy of the manifest's `meta`).
pub const META: &str = "meta.json";
/// The commit point.
pub const MANIFEST: &str = "manifest.json";
/// The writer lock.
pub const LOCK: &str = "LOCK";
/// Node, edge and review records.
pub const SEGMENTS: &str = "segments";

/// A segment file's path inside the store, for messages (`segments/<file>`).
pub(crate) fn segment_rel(s: &SegmentEntry) -> String {
    format!("{SEGMENTS}/{}", s.file)
}
/// The event history.
pub const EVENTS: &str = "events.jsonl";
/// The audit chain.
pub const AUDIT: &str = "audit.jsonl";
/// A replacement of `events.jsonl` staged by a commit, renamed into place after it.
pub const EVENTS_NEXT: &str = "events.next.jsonl";
/// A replacement of `audit.jsonl` staged by a commit, renamed into place after it.
pub const AUDIT_NEXT: &str = "audit.next.jsonl";
/// Where repair moves what it cannot read.
pub const QUARANTINE: &str = "quarantine";
/// Reserved for the runtime's full-text index; the adapter never touches it.
pub const INDEX: &str = "index";
/// Reserved for the runtime's semantic-index vectors (a cache); the adapter never
/// touches it.
pub const SEMANTIC: &str = "semantic";
/// Reserved for the runtime's persisted activation snapshots (a cache); the
/// adapter never touches it.
pub const SNAPSHOT: &str = "snapshot";
/// Reserved for the HTTP service's tokens file (hashes only), kept beside the data.
pub const TOKENS: &str = "tokens.json";
/// The manifest's `format` value.
pub const MANIFEST_FORMAT: &str = "phase-memory-file-manifest";
/// The migration from the v1 layout to this one.
pub const MIGRATION_0002: &str = "0002-segmented-layout";

/// A segment file named by the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// File name inside `segments/`.
    pub file: String,
    /// BLAKE3 of the whole file.
    pub blake3: String,
    /// Number of records (lines).
    pub records: u64,
    /// File length in bytes.
    pub bytes: u64,
}

/// The committed extent of an append-only log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// File name in the store folder (`events.jsonl`, or a staged replacement).
    pub file: String,
    /// Committed length in bytes; anything beyond is an uncommitted tail.
    pub bytes: u64,
    /// Committed number of lines.
    pub lines: u64,
}

/// The stored profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    /// File name in the store folder (`profile-<generation>.toml`).
    pub file: String,
    /// BLAKE3 of the file.
    pub blake3: String,
}

/// `manifest.json`: what the store is at its last commit. Replacing it atomically
/// is the commit point; a file it does not name is not part of the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Commit counter.
    pub generation: u64,
    /// Generation of the last commit that changed data (anything but audit records
    /// and reviews); absent in manifests written before it was recorded, which
    /// read it as `generation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_generation: Option<u64>,
    /// Number the next segment file gets; every segment numbered below it that the
    /// manifest does not name is superseded (left over by compaction).
    pub next_segment: u64,
    /// Segment files, replayed in order.
    pub segments: Vec<SegmentEntry>,
    /// The event log.
    pub events: LogEntry,
    /// The audit log.
    pub audit: LogEntry,
    /// The audit pruning checkpoint.
    pub audit_checkpoint: AuditCheckpoint,
    /// The stored profile, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileEntry>,
    /// Store metadata (authoritative; `meta.json` is a copy).
    pub meta: StoreMeta,
    /// Set when this manifest's commit compacted the segments (see [`Compaction`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<Compaction>,
}

/// What a commit that compacted the segments keeps besides the compacted segment:
/// its own delta, so that a handle holding exactly the image the compaction
/// merged follows with that delta (as after any other commit, keeping its change
/// feed) instead of reloading the whole store. The delta is not replayed on open
/// (the compacted segment holds it); the next commit supersedes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    /// `next_segment` of the manifest the compaction replaced: a handle at a
    /// manifest with this value holds the image the compaction merged.
    pub base_next_segment: u64,
    /// The commit's own delta segment.
    pub delta: SegmentEntry,
}

impl Manifest {
    /// Every segment file the manifest names: its segments and a compaction's delta.
    pub fn named_segments(&self) -> std::collections::BTreeSet<&str> {
        self.segments
            .iter()
            .chain(self.compaction.as_ref().map(|c| &c.delta))
            .map(|s| s.file.as_str())
            .collect()
    }
}

impl Manifest {
    /// The manifest of an empty store.
    pub fn empty(meta: StoreMeta) -> Self {
        Manifest {
            format: MANIFEST_FORMAT.into(),
            generation: 0,
            data_generation: None,
            next_segment: 1,
            segments: Vec::new(),
            events: LogEntry {
                file: EVENTS.into(),
                bytes: 0,
                lines: 0,
            },
            audit: LogEntry {
                file: AUDIT.into(),
                bytes: 0,
                lines: 0,
            },
            audit_checkpoint: AuditCheckpoint::default(),
            profile: None,
            meta,
            compaction: None,
        }
    }
}

/// The file name of segment `n`.
pub fn segment_name(n: u64) -> String {
    format!("{n:08}.jsonl")
}

/// The number of a segment file name (`00000012.jsonl` → 12).
pub fn segment_number(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".jsonl")?;
    (stem.len() == 8 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// The file name of the profile stored by commit `generation`.
pub fn profile_name(generation: u64) -> String {
    format!("profile-{generation:08}.toml")
}

/// Whether a name is a profile file of this layout.
pub fn is_profile_name(name: &str) -> bool {
    name.strip_prefix("profile-")
        .and_then(|s| s.strip_suffix(".toml"))
        .is_some_and(|s| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// BLAKE3 of bytes as `blake3:<hex>`.
pub fn blake3_hex(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

/// An I/O error with the path in its context.
pub fn io_err(what: &str, path: &Path, e: io::Error) -> StoreError {
    StoreError::io(format!("{what} {}", path.display()), e)
}

/// A corrupt-record error.
pub fn corrupt(location: impl Into<String>, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        location: location.into(),
        detail: detail.into(),
    }
}

/// Writes a whole file atomically through the write seam: the one protocol of
/// `phase_memory_fsio` (unique `.<name>.<pid>-<n>.tmp`, fsync, rename, folder
/// fsync), with each step going through `fs` so faults can be injected.
pub fn write_atomic(fs: &dyn Fs, path: &Path, data: &[u8]) -> StoreResult<()> {
    phase_memory_fsio::write_atomic_via(
        path,
        data,
        |tmp, d| fs.write_new(tmp, d),
        |tmp, to| fs.rename(tmp, to),
        |tmp| {
            let _ = std::fs::remove_file(tmp);
        },
    )
    .map_err(|e| StoreError::io("atomic write", e))
}

/// Reads and parses a JSON file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, rel: &str) -> StoreResult<T> {
    let bytes = std::fs::read(path).map_err(|e| io_err("reading", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(rel, format!("does not parse: {e}")))
}

/// Pretty JSON with a trailing newline (for hand-readable files).
pub fn pretty_json<T: Serialize>(v: &T) -> StoreResult<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v)
        .map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))?;
    out.push(b'\n');
    Ok(out)
}
