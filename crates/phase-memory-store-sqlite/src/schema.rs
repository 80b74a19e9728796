//! The SQL schema (current version), connection settings and the meta table.

use phase_memory_model::AuditCheckpoint;
use phase_memory_store::meta::MetaTable;
use phase_memory_store::{StoreError, StoreMeta, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::record::SqlContext;

/// Schema of a current (version 2) store. Version 1 is the same without the
/// `checksum` columns and the `event_subjects` and `quarantine` tables; migration
/// `0002-checksums-and-subjects` turns one into the other, so both paths give the
/// same tables (the checksum columns are nullable because `ALTER TABLE ADD COLUMN`
/// cannot add a `NOT NULL` column; a NULL checksum reads as a corrupt row).
pub(crate) const SCHEMA_V2: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    phase       TEXT NOT NULL,
    scope       TEXT NOT NULL,
    sensitivity TEXT NOT NULL,
    json        TEXT NOT NULL,
    checksum    BLOB
);
CREATE TABLE IF NOT EXISTS edges (
    "from"   TEXT NOT NULL,
    "to"     TEXT NOT NULL,
    "type"   TEXT NOT NULL,
    json     TEXT NOT NULL,
    checksum BLOB,
    PRIMARY KEY ("from", "to", "type")
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_to ON edges ("to");
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    "type"   TEXT NOT NULL,
    json     TEXT NOT NULL,
    checksum BLOB
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_type ON events ("type");
CREATE TABLE IF NOT EXISTS event_subjects (
    subject TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (subject, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    seq      INTEGER PRIMARY KEY,
    json     TEXT NOT NULL,
    checksum BLOB
);
CREATE TABLE IF NOT EXISTS reviews (
    id       TEXT PRIMARY KEY,
    json     TEXT NOT NULL,
    checksum BLOB
);
CREATE TABLE IF NOT EXISTS quarantine (
    id        INTEGER PRIMARY KEY,
    source    TEXT NOT NULL,
    location  TEXT NOT NULL,
    json      TEXT,
    checksum  BLOB,
    reason    TEXT NOT NULL,
    moved_at  INTEGER NOT NULL
);
"#;

/// Index on `edges("to")`; the `"from"` side is served by the primary key.
pub(crate) const EDGES_TO_INDEX: &str = r#"CREATE INDEX IF NOT EXISTS edges_to ON edges ("to")"#;
/// Indexes on events, dropped and rebuilt around very large batches.
pub(crate) const EVENT_INDEXES: &str = r#"
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE INDEX IF NOT EXISTS events_type ON events ("type");
"#;

pub(crate) use phase_memory_store::meta::key;

/// Settings of the one writer connection: WAL, fsync on every commit, zeroed
/// deleted content, a bounded WAL file.
pub(crate) fn configure_writer(conn: &Connection) -> StoreResult<()> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .ctx("setting journal_mode=WAL")?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "sqlite refused WAL journal mode (got {mode})"
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = OFF;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA cache_size = -262144;",
    )
    .ctx("configuring the writer connection")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .ctx("setting busy timeout")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Settings of a reader connection.
pub(crate) fn configure_reader(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "PRAGMA query_only = ON;
         PRAGMA secure_delete = ON;
         PRAGMA cache_size = -32768;",
    )
    .ctx("configuring a reader connection")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .ctx("setting busy timeout")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Whether the database has a meta table with a format row.
pub(crate) fn has_meta(conn: &Connection) -> StoreResult<bool> {
    let table: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get(0),
        )
        .optional()
        .ctx("looking for the meta table")?;
    if table.is_none() {
        return Ok(false);
    }
    Ok(meta_get::<String>(conn, key::FORMAT)?.is_some())
}

/// The meta table of one connection.
struct Meta<'a>(&'a Connection);

impl MetaTable for Meta<'_> {
    fn get_raw(&mut self, k: &str) -> StoreResult<Option<String>> {
        self.0
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([k], |r| r.get(0)).optional())
            .ctx("reading meta")
    }
    fn put_raw(&mut self, k: &str, raw: &str) -> StoreResult<()> {
        self.0
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![k, raw]))
            .ctx("writing meta")?;
        Ok(())
    }
}

/// One meta value (stored as JSON).
pub(crate) fn meta_raw(conn: &Connection, k: &str) -> StoreResult<Option<String>> {
    Meta(conn).get_raw(k)
}

/// One meta value, decoded.
pub(crate) fn meta_get<T: DeserializeOwned>(conn: &Connection, k: &str) -> StoreResult<Option<T>> {
    Meta(conn).get(k)
}

/// A required meta value.
pub(crate) fn meta_require<T: DeserializeOwned>(conn: &Connection, k: &str) -> StoreResult<T> {
    Meta(conn).require(k)
}

/// Writes one meta value (as JSON).
pub(crate) fn meta_put<T: Serialize>(conn: &Connection, k: &str, v: &T) -> StoreResult<()> {
    Meta(conn).put(k, v)
}

/// Reads the store metadata.
pub(crate) fn read_meta(conn: &Connection) -> StoreResult<StoreMeta> {
    Meta(conn).read_meta()
}

/// Writes the store metadata.
pub(crate) fn write_meta(conn: &Connection, m: &StoreMeta) -> StoreResult<()> {
    Meta(conn).write_meta(m)
}

/// The audit checkpoint (default when nothing was pruned).
pub(crate) fn read_checkpoint(conn: &Connection) -> StoreResult<AuditCheckpoint> {
    Meta(conn).read_checkpoint()
}

/// The commit counter.
pub(crate) fn read_generation(conn: &Connection) -> StoreResult<u64> {
    Ok(meta_get(conn, key::GENERATION)?.unwrap_or(0))
}

/// The generation of the last commit that changed data (the generation when the
/// store predates the key).
pub(crate) fn read_data_generation(conn: &Connection) -> StoreResult<u64> {
    match meta_get(conn, key::DATA_GENERATION)? {
        Some(g) => Ok(g),
        None => read_generation(conn),
    }
}

/// Moves the generation by one inside a write transaction (and the data
/// generation with it when the commit changed data); returns the new generation.
pub(crate) fn bump_generation(conn: &Connection, changes_data: bool) -> StoreResult<u64> {
    let data_before = read_data_generation(conn)?;
    let generation = read_generation(conn)? + 1;
    meta_put(conn, key::GENERATION, &generation)?;
    let data = if changes_data {
        generation
    } else {
        data_before
    };
    meta_put(conn, key::DATA_GENERATION, &data)?;
    Ok(generation)
}

/// Whether a table has a column.
pub(crate) fn has_column(conn: &Connection, table: &str, column: &str) -> StoreResult<bool> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .ctx("reading table info")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(1))
        .ctx("reading table info")?
        .collect::<Result<Vec<_>, _>>()
        .ctx("reading table info")?;
    Ok(names.iter().any(|n| n == column))
}
