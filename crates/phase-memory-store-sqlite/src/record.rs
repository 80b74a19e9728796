//! Row encoding: every record is stored as its JSON plus a BLAKE3 checksum of that
//! JSON, so a row edited behind the adapter's back is caught on read and by
//! `check_integrity`.

use phase_memory_store::{StoreError, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Checksum of a row's JSON: the BLAKE3 hash, 32 bytes.
pub(crate) fn checksum(json: &str) -> [u8; 32] {
    *blake3::hash(json.as_bytes()).as_bytes()
}

/// Serializes a record for storage.
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::InvalidChange(format!("{what} cannot be encoded as JSON: {e}")))
}

/// Decodes a stored row, verifying its checksum when the schema has one.
///
/// `sum` is `None` only for schema-v1 rows, which carry no checksum.
pub(crate) fn decode<T: DeserializeOwned>(
    location: &dyn Fn() -> String,
    json: &str,
    sum: Option<Option<Vec<u8>>>,
) -> StoreResult<T> {
    if let Some(sum) = sum {
        match sum {
            None => {
                return Err(StoreError::Corrupt {
                    location: location(),
                    detail: "row has no checksum".into(),
                });
            }
            Some(s) if s.as_slice() != checksum(json) => {
                return Err(StoreError::Corrupt {
                    location: location(),
                    detail: "checksum does not match the row's JSON (edited or torn)".into(),
                });
            }
            Some(_) => {}
        }
    }
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        location: location(),
        detail: format!("row JSON does not parse: {e}"),
    })
}

/// Location of a node row in messages and findings.
pub(crate) fn node_location(id: &str) -> String {
    format!("nodes/{id}")
}

/// Location of an edge row in messages and findings.
pub(crate) fn edge_location(from: &str, to: &str, ty: &str) -> String {
    format!("edges/{from} -> {to} [{ty}]")
}

/// Location of an event row.
pub(crate) fn event_location(seq: i64) -> String {
    format!("events/{seq}")
}

/// Location of an audit row.
pub(crate) fn audit_location(seq: i64) -> String {
    format!("audit/{seq}")
}

/// Location of a review row.
pub(crate) fn review_location(id: &str) -> String {
    format!("reviews/{id}")
}

/// Adds context to SQLite errors.
pub(crate) trait SqlContext<T> {
    /// Maps the error to [`StoreError::Backend`] with what we were doing.
    fn ctx(self, what: &str) -> StoreResult<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> StoreResult<T> {
        self.map_err(|e| StoreError::Backend(format!("sqlite: {what}: {e}")))
    }
}

/// A seq as SQLite stores it (signed 64-bit).
pub(crate) fn seq_to_sql(seq: u64) -> StoreResult<i64> {
    i64::try_from(seq)
        .map_err(|_| StoreError::InvalidChange(format!("seq {seq} exceeds the sqlite range")))
}

/// A seq read back from SQLite.
pub(crate) fn seq_from_sql(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}
