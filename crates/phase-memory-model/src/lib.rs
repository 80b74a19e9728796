//! The domain model of phase-memory: values only, no I/O.
//!
//! Everything that crosses a boundary (store, runner, wire) is defined here:
//! [`Node`], [`Edge`], [`Event`], [`Actor`], [`Diagnostic`], [`Envelope`],
//! [`AuditRecord`], [`Review`], the JSONL interchange records and the canonical
//! JSON encoding that makes envelopes byte-deterministic.

pub mod actr;
pub mod audit;
pub mod canonical;
pub mod diagnostic;
pub mod envelope;
pub mod graph;
pub mod id;
pub mod interchange;
pub mod review;
pub mod time;

pub use audit::{AuditCheckpoint, AuditRecord};
pub use canonical::{
    canonical_json, canonical_json_exact, canonical_json_pretty, content_hash, digest_value,
    round_score,
};
pub use diagnostic::{Diagnostic, Severity, Status};
pub use envelope::{AuditRef, ENVELOPE_VERSION, Envelope};
pub use graph::{Actor, Edge, EdgeKey, Event, Node, Tombstone};
pub use id::{IdError, validate_id};
pub use interchange::{
    EdgeRecord, EventRecord, ImportError, ImportRecord, NodeRecord, parse_jsonl, parse_record,
};
pub use review::{Review, ReviewStatus};
pub use time::Time;
