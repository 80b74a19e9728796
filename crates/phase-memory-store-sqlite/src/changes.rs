//! The change feed: which nodes each data commit put or deleted (and both ends of
//! the edges it put or deleted), ids only, so another process brings its
//! full-text index and activation snapshot forward instead of rebuilding them
//! (`Store::data_changes_since`).
//!
//! The `node_changes` table is created by the first commit of a build that knows
//! it; the meta key `node_changes_from` records the generation before that commit,
//! so a question about earlier generations answers "unknown" (rebuild). An empty
//! id means "too many to list, or changed outside a commit (repair): rebuild".

use phase_memory_store::{ChangeLog, ChangeSet, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::record::{SqlContext, seq_to_sql};
use crate::schema;

/// From this many node ids in one commit, the feed records "rebuild" instead.
pub const CHANGE_LIST_MAX: usize = 10_000;

/// How many generations of the feed are kept.
pub const CHANGE_LOG_GENERATIONS: u64 = 100_000;

/// Meta key: the feed covers the commits after this generation.
pub(crate) const FROM_KEY: &str = "node_changes_from";

const CREATE: &str = "CREATE TABLE IF NOT EXISTS node_changes (
    generation INTEGER NOT NULL,
    id         TEXT NOT NULL,
    PRIMARY KEY (generation, id)
) WITHOUT ROWID";

fn has_table(conn: &Connection) -> StoreResult<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'node_changes'",
        [],
        |_| Ok(()),
    )
    .optional()
    .ctx("looking for the change feed")
    .map(|r| r.is_some())
}

/// Records what the commit at `generation` changed (inside its transaction).
pub(crate) fn record(conn: &Connection, c: &ChangeSet, generation: u64) -> StoreResult<()> {
    if !c.changes_data() {
        return Ok(());
    }
    if !has_table(conn)? {
        conn.execute_batch(CREATE).ctx("creating the change feed")?;
        schema::meta_put(conn, FROM_KEY, &generation.saturating_sub(1))?;
    }
    // Too many ids, a new profile (every node derived anew) or a purge: rebuild.
    let mut ids = ChangeLog::ids_of(c);
    if ids.len() > CHANGE_LIST_MAX || c.profile.is_some() || c.purge {
        ids = vec![String::new()];
    }
    let g = seq_to_sql(generation)?;
    {
        let mut stmt = conn
            .prepare_cached("INSERT OR IGNORE INTO node_changes (generation, id) VALUES (?1, ?2)")
            .ctx("preparing a change feed insert")?;
        for id in ids {
            stmt.execute(params![g, id]).ctx("recording node changes")?;
        }
    }
    if generation.is_multiple_of(1000) && generation > CHANGE_LOG_GENERATIONS {
        let keep = seq_to_sql(generation - CHANGE_LOG_GENERATIONS)?;
        // The trimmed range is replaced by a "rebuild" marker at its end, so a
        // question from before it learns it cannot catch up incrementally.
        conn.execute("DELETE FROM node_changes WHERE generation < ?1", [keep])
            .ctx("trimming the change feed")?;
        conn.execute(
            "INSERT OR IGNORE INTO node_changes (generation, id) VALUES (?1, '')",
            [keep],
        )
        .ctx("marking the trimmed change feed")?;
    }
    Ok(())
}

/// Marks `generation` as "rebuild" (data changed outside a commit: repair).
pub(crate) fn mark_rebuild(conn: &Connection, generation: u64) -> StoreResult<()> {
    if has_table(conn)? {
        conn.execute(
            "INSERT OR IGNORE INTO node_changes (generation, id) VALUES (?1, '')",
            [seq_to_sql(generation)?],
        )
        .ctx("marking a rebuild in the change feed")?;
    }
    Ok(())
}

/// The ids changed by the commits after `since` up to `upto`, in id order; `None`
/// when that is unknown (before the feed, a bulk commit, a new profile, a purge,
/// a repair or history trimmed away).
pub(crate) fn since(conn: &Connection, since: u64, upto: u64) -> StoreResult<Option<Vec<String>>> {
    if since >= upto {
        return Ok(Some(Vec::new()));
    }
    if !has_table(conn)? {
        return Ok(None);
    }
    let from: Option<u64> = schema::meta_get(conn, FROM_KEY)?;
    if from.is_none_or(|f| since < f) {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT id FROM node_changes WHERE generation > ?1 AND generation <= ?2 ORDER BY id",
        )
        .ctx("reading the change feed")?;
    let ids = stmt
        .query_map(params![seq_to_sql(since)?, seq_to_sql(upto)?], |r| {
            r.get::<_, String>(0)
        })
        .ctx("reading the change feed")?
        .collect::<Result<Vec<String>, _>>()
        .ctx("reading the change feed")?;
    if ids.first().is_some_and(|i| i.is_empty()) {
        return Ok(None);
    }
    Ok(Some(ids))
}
