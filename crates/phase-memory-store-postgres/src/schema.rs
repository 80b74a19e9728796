//! The SQL schema (current version), the meta table, the chain head row and the
//! versioned migrations.

use phase_memory_model::AuditCheckpoint;
use phase_memory_store::meta::MetaTable;
use phase_memory_store::{SCHEMA_VERSION, StoreError, StoreMeta, StoreResult};
use postgres::GenericClient;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::record::PgContext;

/// Schema of a current (version 2) store, created inside the store's own SQL schema
/// (the connection's `search_path`). Text keys use the `"C"` collation so that SQL
/// order is byte order, the order every adapter reads in.
///
/// `node_changes` names the nodes each generation put or deleted and both ends of
/// the edges it put or deleted (ids only, never content), so another instance can
/// bring its full-text index and activation snapshot up to date incrementally;
/// an empty id means "too many to list: rebuild".
///
/// `chain_head` has exactly one row: every commit locks it (`SELECT … FOR UPDATE`)
/// first, so commits from any number of connections, processes and hosts form one
/// total order; it carries the generation and the event and audit heads.
pub(crate) const SCHEMA_V2: &str = r#"
CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE chain_head (
    id         integer PRIMARY KEY CHECK (id = 1),
    generation bigint NOT NULL,
    data_generation bigint NOT NULL,
    event_seq  bigint NOT NULL,
    audit_seq  bigint NOT NULL,
    audit_hash text NOT NULL,
    purge_xid  bigint NOT NULL
);
CREATE TABLE schema_migrations (
    name       text COLLATE "C" PRIMARY KEY,
    version    integer NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE nodes (
    id          text COLLATE "C" PRIMARY KEY,
    kind        text NOT NULL,
    phase       text NOT NULL,
    scope       text NOT NULL,
    sensitivity text NOT NULL,
    json        text NOT NULL,
    checksum    bytea NOT NULL
);
CREATE TABLE edges (
    "from"   text COLLATE "C" NOT NULL,
    "to"     text COLLATE "C" NOT NULL,
    "type"   text COLLATE "C" NOT NULL,
    json     text NOT NULL,
    checksum bytea NOT NULL,
    PRIMARY KEY ("from", "to", "type")
);
CREATE INDEX edges_to ON edges ("to");
CREATE TABLE events (
    seq      bigint PRIMARY KEY,
    at       bigint NOT NULL,
    "type"   text COLLATE "C" NOT NULL,
    json     text NOT NULL,
    checksum bytea NOT NULL
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_type ON events ("type");
CREATE TABLE event_subjects (
    subject text COLLATE "C" NOT NULL,
    seq     bigint NOT NULL,
    PRIMARY KEY (subject, seq)
);
CREATE TABLE audit (
    seq      bigint PRIMARY KEY,
    json     text NOT NULL,
    checksum bytea NOT NULL
);
CREATE TABLE node_changes (
    generation bigint NOT NULL,
    id         text COLLATE "C" NOT NULL,
    PRIMARY KEY (generation, id)
);
CREATE TABLE reviews (
    id       text COLLATE "C" PRIMARY KEY,
    status   text NOT NULL,
    json     text NOT NULL,
    checksum bytea NOT NULL
);
"#;

/// Every migration this adapter knows, with the schema version it leads to. The
/// first one is the initial schema; later ones are appended here, each idempotent
/// and applied in one transaction with the row in `schema_migrations` recording it.
pub const MIGRATIONS: &[(&str, u32)] = &[("0002-initial-postgres", 2)];

/// Migrations a store at `version` needs.
pub(crate) fn pending(version: u32) -> Vec<String> {
    MIGRATIONS
        .iter()
        .filter(|(_, to)| *to > version && *to <= SCHEMA_VERSION)
        .map(|(name, _)| name.to_string())
        .collect()
}

pub(crate) use phase_memory_store::meta::key;

/// Whether the store's SQL schema holds a meta table with a format row.
pub(crate) fn has_meta(c: &mut impl GenericClient) -> StoreResult<bool> {
    let row = c
        .query_one(
            "SELECT to_regclass('meta') IS NOT NULL AND to_regclass('chain_head') IS NOT NULL",
            &[],
        )
        .ctx("looking for the meta table")?;
    if !row.get::<_, bool>(0) {
        return Ok(false);
    }
    Ok(meta_get::<String>(c, key::FORMAT)?.is_some())
}

/// The meta table through one client or transaction.
struct Meta<'a, C>(&'a mut C);

impl<C: GenericClient> MetaTable for Meta<'_, C> {
    fn get_raw(&mut self, k: &str) -> StoreResult<Option<String>> {
        let row = self
            .0
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&k])
            .ctx("reading meta")?;
        Ok(row.map(|r| r.get(0)))
    }
    fn put_raw(&mut self, k: &str, raw: &str) -> StoreResult<()> {
        self.0
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&k, &raw],
            )
            .ctx("writing meta")?;
        Ok(())
    }
}

/// One meta value (stored as JSON).
pub(crate) fn meta_raw(c: &mut impl GenericClient, k: &str) -> StoreResult<Option<String>> {
    Meta(c).get_raw(k)
}

/// One meta value, decoded.
pub(crate) fn meta_get<T: DeserializeOwned>(
    c: &mut impl GenericClient,
    k: &str,
) -> StoreResult<Option<T>> {
    Meta(c).get(k)
}

/// A required meta value.
pub(crate) fn meta_require<T: DeserializeOwned>(
    c: &mut impl GenericClient,
    k: &str,
) -> StoreResult<T> {
    Meta(c).require(k)
}

/// Writes one meta value (as JSON).
pub(crate) fn meta_put<T: Serialize>(
    c: &mut impl GenericClient,
    k: &str,
    v: &T,
) -> StoreResult<()> {
    Meta(c).put(k, v)
}

/// Reads the store metadata.
pub(crate) fn read_meta(c: &mut impl GenericClient) -> StoreResult<StoreMeta> {
    Meta(c).read_meta()
}

/// Writes the store metadata.
pub(crate) fn write_meta(c: &mut impl GenericClient, m: &StoreMeta) -> StoreResult<()> {
    Meta(c).write_meta(m)
}

/// The audit checkpoint (default when nothing was pruned).
pub(crate) fn read_checkpoint(c: &mut impl GenericClient) -> StoreResult<AuditCheckpoint> {
    Meta(c).read_checkpoint()
}

/// The chain head row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub generation: u64,
    /// The generation of the last commit that changed data derived state reads.
    pub data_generation: u64,
    pub event_seq: u64,
    pub audit_seq: u64,
    pub audit_hash: String,
    /// The transaction id of the last purge commit whose vacuum has not run (0: none).
    pub purge_xid: i64,
}

/// Reads the chain head; `lock` takes the row lock that serialises commits.
pub(crate) fn read_head(c: &mut impl GenericClient, lock: bool) -> StoreResult<Head> {
    let sql = if lock {
        "SELECT generation, event_seq, audit_seq, audit_hash, purge_xid, data_generation FROM chain_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT generation, event_seq, audit_seq, audit_hash, purge_xid, data_generation FROM chain_head WHERE id = 1"
    };
    let row = c.query_opt(sql, &[]).ctx("reading the chain head")?;
    let row = row.ok_or_else(|| StoreError::Corrupt {
        location: "chain_head".into(),
        detail: "the chain head row is missing".into(),
    })?;
    Ok(Head {
        generation: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
        event_seq: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
        audit_seq: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
        audit_hash: row.get(3),
        purge_xid: row.get(4),
        data_generation: u64::try_from(row.get::<_, i64>(5)).unwrap_or(0),
    })
}
