//! Row encoding: every record is stored as its JSON plus a BLAKE3 checksum of that
//! JSON, so a row edited behind the adapter's back is caught on read and by
//! `check_integrity` (the same scheme as the SQLite adapter).

use phase_memory_store::{StoreError, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Checksum of a row's JSON: the BLAKE3 hash, 32 bytes.
pub(crate) fn checksum(json: &str) -> Vec<u8> {
    blake3::hash(json.as_bytes()).as_bytes().to_vec()
}

/// Serializes a record for storage.
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::InvalidChange(format!("{what} cannot be encoded as JSON: {e}")))
}

/// Decodes a stored row, verifying its checksum.
pub(crate) fn decode<T: DeserializeOwned>(
    location: &dyn Fn() -> String,
    json: &str,
    sum: &[u8],
) -> StoreResult<T> {
    if sum != blake3::hash(json.as_bytes()).as_bytes() {
        return Err(StoreError::Corrupt {
            location: location(),
            detail: "checksum does not match the row's JSON (edited or torn)".into(),
        });
    }
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        location: location(),
        detail: format!("row JSON does not parse: {e}"),
    })
}

/// Adds context to PostgreSQL errors.
pub(crate) trait PgContext<T> {
    /// Maps the error to [`StoreError::Backend`] with what we were doing.
    fn ctx(self, what: &str) -> StoreResult<T>;
}

impl<T> PgContext<T> for Result<T, postgres::Error> {
    fn ctx(self, what: &str) -> StoreResult<T> {
        self.map_err(|e| backend(what, &e))
    }
}

/// A backend error with context; the server's own message when it sent one (never
/// row contents: statements carry values as parameters, and messages name columns).
pub(crate) fn backend(what: &str, e: &postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!(
            "postgres: {what}: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => StoreError::Backend(format!("postgres: {what}: {e}")),
    }
}

/// A seq as PostgreSQL stores it (bigint).
pub(crate) fn seq_to_sql(seq: u64) -> StoreResult<i64> {
    i64::try_from(seq)
        .map_err(|_| StoreError::InvalidChange(format!("seq {seq} exceeds the bigint range")))
}

/// A seq read back.
pub(crate) fn seq_from_sql(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}
