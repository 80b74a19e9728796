//! The one write: a [`ChangeSet`] validated and applied in one `BEGIN IMMEDIATE`
//! transaction, in the same order as the reference adapter (`MemoryState::apply`).

use phase_memory_model::{Edge, Node};
use phase_memory_store::{ChangeSet, Heads, StoreResult, validate_change};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::record::{SqlContext, checksum, encode, seq_from_sql, seq_to_sql};
use crate::schema::{self, key};

/// From this many rows in one batch, secondary indexes of the table are dropped
/// before the inserts and rebuilt after them (a sort beats random index inserts).
pub const BULK_ROWS: usize = 200_000;

/// Validates and applies a change set; returns the new generation.
pub(crate) fn commit(conn: &mut Connection, c: &ChangeSet) -> StoreResult<u64> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("beginning a commit")?;
    validate(&tx, c)?;
    apply(&tx, c)?;
    let generation = schema::bump_generation(&tx, c.changes_data())?;
    crate::changes::record(&tx, c, generation)?;
    tx.commit().ctx("committing")?;
    Ok(generation)
}

/// Seq of the last event (0 when empty).
pub(crate) fn event_head(conn: &Connection) -> StoreResult<u64> {
    let max: Option<i64> = conn
        .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
        .ctx("reading the event head")?;
    Ok(max.map(seq_from_sql).unwrap_or(0))
}

/// The store invariants a change set must keep ([`phase_memory_store::validate_change`]).
fn validate(tx: &Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    let last: Option<i64> = tx
        .query_row("SELECT max(seq) FROM audit", [], |r| r.get(0))
        .ctx("reading the audit head")?;
    let heads = Heads {
        event_head: event_head(tx)?,
        last_audit_seq: last.map(seq_from_sql),
        checkpoint_seq: schema::read_checkpoint(tx)?.last_pruned_seq,
    };
    validate_change(c, heads)
}

fn apply(tx: &Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    apply_nodes(tx, c)?;
    apply_edges(tx, c)?;
    apply_events(tx, c)?;
    if let Some(cp) = &c.prune_audit {
        tx.prepare_cached("DELETE FROM audit WHERE seq <= ?1")
            .and_then(|mut s| s.execute([seq_to_sql(cp.last_pruned_seq).unwrap_or(i64::MAX)]))
            .ctx("pruning audit records")?;
        schema::meta_put(tx, key::CHECKPOINT, cp)?;
    }
    if !c.audit.is_empty() {
        let mut stmt = tx
            .prepare_cached("INSERT INTO audit (seq, json, checksum) VALUES (?1, ?2, ?3)")
            .ctx("preparing audit insert")?;
        for r in &c.audit {
            let json = encode("audit record", r)?;
            stmt.execute(params![seq_to_sql(r.seq)?, json, &checksum(&json)[..]])
                .ctx("appending an audit record")?;
        }
    }
    if !c.put_reviews.is_empty() {
        let mut stmt = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO reviews (id, json, checksum) VALUES (?1, ?2, ?3)",
            )
            .ctx("preparing review upsert")?;
        for r in &c.put_reviews {
            let json = encode("review", r)?;
            stmt.execute(params![r.id, json, &checksum(&json)[..]])
                .ctx("writing a review")?;
        }
    }
    if let Some(p) = &c.profile {
        schema::meta_put(tx, key::PROFILE, p)?;
    }
    if let Some(m) = &c.meta {
        schema::write_meta(tx, m)?;
    }
    Ok(())
}

fn apply_nodes(tx: &Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    if !c.delete_nodes.is_empty() {
        let mut stmt = tx
            .prepare_cached("DELETE FROM nodes WHERE id = ?1")
            .ctx("preparing node delete")?;
        for id in &c.delete_nodes {
            stmt.execute([id]).ctx("deleting a node")?;
        }
    }
    if c.put_nodes.is_empty() {
        return Ok(());
    }
    // Key order makes the primary-key inserts sequential; the sort is stable, so
    // of two puts of one id the later still wins.
    let mut order: Vec<&Node> = c.put_nodes.iter().collect();
    order.sort_by(|a, b| a.id.cmp(&b.id));
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO nodes (id, kind, phase, scope, sensitivity, json, checksum)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, phase = excluded.phase,
                 scope = excluded.scope, sensitivity = excluded.sensitivity,
                 json = excluded.json, checksum = excluded.checksum",
        )
        .ctx("preparing node upsert")?;
    for n in order {
        let json = encode("node", n)?;
        stmt.execute(params![
            n.id,
            n.kind,
            n.phase,
            n.scope,
            n.sensitivity,
            json,
            &checksum(&json)[..]
        ])
        .ctx("writing a node")?;
    }
    Ok(())
}

fn apply_edges(tx: &Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    if !c.delete_edges.is_empty() {
        let mut stmt = tx
            .prepare_cached(r#"DELETE FROM edges WHERE "from" = ?1 AND "to" = ?2 AND "type" = ?3"#)
            .ctx("preparing edge delete")?;
        for k in &c.delete_edges {
            stmt.execute(params![k.from, k.to, k.edge_type])
                .ctx("deleting an edge")?;
        }
    }
    if c.put_edges.is_empty() {
        return Ok(());
    }
    let bulk = c.put_edges.len() >= BULK_ROWS;
    if bulk {
        tx.execute_batch("DROP INDEX IF EXISTS edges_to")
            .ctx("dropping edges_to for a bulk insert")?;
    }
    let mut order: Vec<&Edge> = c.put_edges.iter().collect();
    order.sort_by(|a, b| {
        (a.from.as_str(), a.to.as_str(), a.edge_type.as_str()).cmp(&(
            b.from.as_str(),
            b.to.as_str(),
            b.edge_type.as_str(),
        ))
    });
    {
        let mut stmt = tx
            .prepare_cached(
                r#"INSERT OR REPLACE INTO edges ("from", "to", "type", json, checksum)
                   VALUES (?1, ?2, ?3, ?4, ?5)"#,
            )
            .ctx("preparing edge upsert")?;
        for e in order {
            let json = encode("edge", e)?;
            stmt.execute(params![
                e.from,
                e.to,
                e.edge_type,
                json,
                &checksum(&json)[..]
            ])
            .ctx("writing an edge")?;
        }
    }
    if bulk {
        tx.execute_batch(schema::EDGES_TO_INDEX)
            .ctx("rebuilding edges_to")?;
    }
    Ok(())
}

fn apply_events(tx: &Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    if c.events.is_empty() {
        return Ok(());
    }
    let bulk = c.events.len() >= BULK_ROWS;
    if bulk {
        tx.execute_batch("DROP INDEX IF EXISTS events_at; DROP INDEX IF EXISTS events_type;")
            .ctx("dropping event indexes for a bulk insert")?;
    }
    let mut subjects: Vec<(&str, i64)> = Vec::new();
    {
        let mut stmt = tx
            .prepare_cached(
                r#"INSERT INTO events (seq, at, "type", json, checksum) VALUES (?1, ?2, ?3, ?4, ?5)"#,
            )
            .ctx("preparing event insert")?;
        for e in &c.events {
            let seq = seq_to_sql(e.seq)?;
            let json = encode("event", e)?;
            stmt.execute(params![
                seq,
                e.at.millis(),
                e.event_type,
                json,
                &checksum(&json)[..]
            ])
            .ctx("appending an event")?;
            subjects.extend(e.subjects.iter().map(|s| (s.as_str(), seq)));
        }
    }
    subjects.sort_unstable();
    subjects.dedup();
    {
        let mut stmt = tx
            .prepare_cached("INSERT OR IGNORE INTO event_subjects (subject, seq) VALUES (?1, ?2)")
            .ctx("preparing event subject insert")?;
        for (s, seq) in subjects {
            stmt.execute(params![s, seq])
                .ctx("indexing an event subject")?;
        }
    }
    if bulk {
        tx.execute_batch(schema::EVENT_INDEXES)
            .ctx("rebuilding event indexes")?;
    }
    Ok(())
}
