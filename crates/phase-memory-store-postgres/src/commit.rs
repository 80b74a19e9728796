//! The one write: a [`ChangeSet`] validated and applied in one transaction, in the
//! same order as the reference adapter (`MemoryState::apply`).
//!
//! The transaction first locks the chain head row, so two commits from different
//! connections (processes, hosts) never interleave: the second waits, then validates
//! its sequence numbers against the head the first left, and is refused when they
//! no longer continue it. The audit chain therefore has one total order, no fork,
//! no gap and no duplicate seq, whatever the number of writers.

use std::collections::HashSet;

use rustc_hash::FxHashSet;

use phase_memory_model::ReviewStatus;
use phase_memory_store::{ChangeSet, StoreError, StoreResult};
use postgres::types::{ToSql, Type};
use postgres::{Client, Transaction};

use crate::copy::{self, Field};
use crate::record::{PgContext, checksum, encode, seq_from_sql, seq_to_sql};
use crate::schema::{self, Head, key};

/// From this many rows of one table in one change set, rows go in with a binary
/// `COPY` (into the table when it is empty, else into a staging table merged with
/// one `INSERT … ON CONFLICT`) instead of one statement per row.
pub const COPY_ROWS: usize = 2_000;

/// From this many rows loaded into an empty table, its indexes are dropped before
/// the `COPY` and built again after it, in the same transaction.
pub const REINDEX_ROWS: usize = 50_000;

/// Whether a table holds no row.
fn empty_table(tx: &mut Transaction<'_>, table: Table) -> StoreResult<bool> {
    let any: bool = tx
        .query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM {})", table.name()),
            &[],
        )
        .ctx("checking whether a table is empty")?
        .get(0);
    Ok(!any)
}

/// The channel a commit notifies (payload: the new generation), so other instances
/// can `LISTEN` instead of polling.
pub const NOTIFY_CHANNEL: &str = "phase_memory_commit";

/// Validates and applies a change set; returns the new head and the tables that
/// took a bulk `COPY` (worth an `ANALYZE` after the commit).
pub(crate) fn commit(
    conn: &mut Client,
    c: &ChangeSet,
    lock_timeout_ms: u64,
) -> StoreResult<(Head, Vec<&'static str>)> {
    let mut tx = conn.transaction().ctx("beginning a commit")?;
    tx.batch_execute(&format!("SET LOCAL lock_timeout = {lock_timeout_ms}"))
        .ctx("setting the lock timeout")?;
    let head = match schema::read_head(&mut tx, true) {
        Err(StoreError::Backend(m)) if m.contains("(55P03)") => {
            return Err(StoreError::Locked(
                "the chain head (another writer held it past the lock timeout)".into(),
            ));
        }
        other => other?,
    };
    validate(&mut tx, &head, c)?;
    apply(&mut tx, c)?;
    let mut next = head.clone();
    next.generation += 1;
    if c.changes_data() {
        next.data_generation = next.generation;
    }
    if let Some(last) = c.events.last() {
        next.event_seq = last.seq;
    }
    if let Some(cp) = &c.prune_audit
        && cp.last_pruned_seq > next.audit_seq
    {
        next.audit_seq = cp.last_pruned_seq;
        next.audit_hash = cp.last_pruned_hash.clone();
    }
    if let Some(last) = c.audit.last() {
        next.audit_seq = last.seq;
        next.audit_hash = last.hash.clone();
    }
    if c.purge {
        next.purge_xid = tx
            .query_one("SELECT txid_current()", &[])
            .ctx("reading the purge transaction id")?
            .get(0);
    }
    tx.execute(
        "UPDATE chain_head SET generation = $1, event_seq = $2, audit_seq = $3,
             audit_hash = $4, purge_xid = $5, data_generation = $6 WHERE id = 1",
        &[
            &seq_to_sql(next.generation)?,
            &seq_to_sql(next.event_seq)?,
            &seq_to_sql(next.audit_seq)?,
            &next.audit_hash,
            &next.purge_xid,
            &seq_to_sql(next.data_generation)?,
        ],
    )
    .ctx("advancing the chain head")?;
    record_node_changes(&mut tx, c, next.generation)?;
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&NOTIFY_CHANNEL, &next.generation.to_string()],
    )
    .ctx("notifying the commit")?;
    tx.commit().ctx("committing")?;
    let sizes = [
        ("nodes", c.put_nodes.len()),
        ("edges", c.put_edges.len()),
        ("events", c.events.len()),
        ("event_subjects", c.events.len()),
    ];
    let bulk = sizes
        .iter()
        .filter(|(_, n)| *n >= COPY_ROWS)
        .map(|(t, _)| *t)
        .collect();
    Ok((next, bulk))
}

/// From more than this many distinct node ids in one commit, `node_changes`
/// records "rebuild" instead of the ids.
pub const CHANGE_LIST_MAX: usize = 10_000;

/// How many generations of `node_changes` are kept.
pub const CHANGE_LOG_GENERATIONS: u64 = 100_000;

fn record_node_changes(
    tx: &mut Transaction<'_>,
    c: &ChangeSet,
    generation: u64,
) -> StoreResult<()> {
    let gen_sql = seq_to_sql(generation)?;
    // The ids `ChangeLog::ids_of` names (nodes put or deleted, both ends of edges
    // put or deleted), borrowed and counted distinct, up to the threshold: a bulk
    // commit stops early instead of collecting and sorting every edge end.
    let touched = c
        .put_nodes
        .iter()
        .map(|n| n.id.as_str())
        .chain(c.delete_nodes.iter().map(String::as_str))
        .chain(
            c.put_edges
                .iter()
                .flat_map(|e| [e.from.as_str(), e.to.as_str()]),
        )
        .chain(
            c.delete_edges
                .iter()
                .flat_map(|k| [k.from.as_str(), k.to.as_str()]),
        );
    // A new profile changes how every node is indexed: rebuild.
    let mut rebuild = c.profile.is_some();
    let mut distinct: HashSet<&str> = HashSet::new();
    if !rebuild {
        for id in touched {
            distinct.insert(id);
            if distinct.len() > CHANGE_LIST_MAX {
                rebuild = true;
                break;
            }
        }
    }
    if distinct.is_empty() && !rebuild {
        return Ok(());
    }
    let mut ids: Vec<&str> = if rebuild {
        vec![""]
    } else {
        distinct.into_iter().collect()
    };
    ids.sort_unstable();
    tx.execute(
        "INSERT INTO node_changes (generation, id) SELECT $1, unnest($2::text[])",
        &[&gen_sql, &ids],
    )
    .ctx("recording node changes")?;
    if generation.is_multiple_of(1000) && generation > CHANGE_LOG_GENERATIONS {
        let keep = seq_to_sql(generation - CHANGE_LOG_GENERATIONS)?;
        // The trimmed range is replaced by a "rebuild" marker, so an instance
        // asking from before it learns it cannot catch up incrementally.
        tx.execute("DELETE FROM node_changes WHERE generation < $1", &[&keep])
            .ctx("trimming node changes")?;
        tx.execute(
            "INSERT INTO node_changes (generation, id) VALUES ($1, '') ON CONFLICT DO NOTHING",
            &[&keep],
        )
        .ctx("marking trimmed node changes")?;
    }
    Ok(())
}

/// The store invariants a change set must keep (the same checks, with the same
/// messages, as `MemoryState::validate`), plus apply-once for reviews.
fn validate(tx: &mut Transaction<'_>, head: &Head, c: &ChangeSet) -> StoreResult<()> {
    for (next, e) in (head.event_seq + 1..).zip(&c.events) {
        if e.seq != next {
            return Err(StoreError::InvalidChange(format!(
                "event seq {} does not continue the history (want {next})",
                e.seq
            )));
        }
    }
    // With a prune in the same change set, the chain continues after what the
    // prune leaves (a restore writes a checkpoint and the records after it at once).
    let base = match &c.prune_audit {
        Some(cp) => head.audit_seq.max(cp.last_pruned_seq),
        None => head.audit_seq,
    };
    for (next, r) in (base + 1..).zip(&c.audit) {
        if r.seq != next {
            return Err(StoreError::InvalidChange(format!(
                "audit seq {} does not continue the chain (want {next})",
                r.seq
            )));
        }
    }
    for n in &c.put_nodes {
        phase_memory_model::validate_id(&n.id)
            .map_err(|e| StoreError::InvalidChange(format!("node id: {e}")))?;
    }
    // Apply-once: a decided review is final. Two instances deciding the same review
    // both read it pending; the second commit finds it decided here (under the head
    // lock) and is refused, so the held operation is applied once.
    if !c.put_reviews.is_empty() {
        let ids: Vec<&str> = c.put_reviews.iter().map(|r| r.id.as_str()).collect();
        let rows = tx
            .query(
                "SELECT id, status FROM reviews WHERE id = ANY($1) AND status <> 'pending'",
                &[&ids],
            )
            .ctx("reading review states")?;
        if let Some(row) = rows.first() {
            let id: String = row.get(0);
            let status: String = row.get(1);
            return Err(StoreError::InvalidChange(format!(
                "review {id} was already decided ({status}); a review is applied once"
            )));
        }
    }
    Ok(())
}

fn status_name(s: &ReviewStatus) -> &'static str {
    match s {
        ReviewStatus::Pending => "pending",
        ReviewStatus::Approved => "approved",
        ReviewStatus::Rejected => "rejected",
        ReviewStatus::Expired => "expired",
    }
}

fn apply(tx: &mut Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    apply_nodes(tx, c)?;
    apply_edges(tx, c)?;
    apply_events(tx, c)?;
    if let Some(cp) = &c.prune_audit {
        tx.execute(
            "DELETE FROM audit WHERE seq <= $1",
            &[&seq_to_sql(cp.last_pruned_seq).unwrap_or(i64::MAX)],
        )
        .ctx("pruning audit records")?;
        schema::meta_put(tx, key::CHECKPOINT, cp)?;
    }
    if !c.audit.is_empty() {
        insert_rows(
            tx,
            Table::Audit,
            c.audit.len(),
            |i| {
                let r = &c.audit[i];
                let json = encode("audit record", r)?;
                Ok(Row::Audit(seq_to_sql(r.seq)?, checksum(&json), json))
            },
            false,
        )?;
    }
    if !c.put_reviews.is_empty() {
        let stmt = tx
            .prepare(
                "INSERT INTO reviews (id, status, json, checksum) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                     json = excluded.json, checksum = excluded.checksum",
            )
            .ctx("preparing review upsert")?;
        for r in &c.put_reviews {
            let json = encode("review", r)?;
            tx.execute(
                &stmt,
                &[&r.id, &status_name(&r.status), &json, &checksum(&json)],
            )
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

/// One row to write, with its columns in table order (strings borrowed from the
/// change set; only the JSON and its checksum are new).
enum Row<'a> {
    Node([&'a str; 5], String, Vec<u8>),
    Edge([&'a str; 3], String, Vec<u8>),
    Event(i64, i64, &'a str, String, Vec<u8>),
    Subject(&'a str, i64),
    Audit(i64, Vec<u8>, String),
}

impl Row<'_> {
    /// Calls `f` with the row's values as fields of a binary `COPY` (no
    /// allocation), in the order of the table's columns.
    fn with_fields<R>(&self, f: impl FnOnce(&[Field<'_>]) -> R) -> R {
        use Field::{Bytes, Int8, Text};
        match self {
            Row::Node([id, kind, phase, scope, sensitivity], json, sum) => f(&[
                Text(id),
                Text(kind),
                Text(phase),
                Text(scope),
                Text(sensitivity),
                Text(json),
                Bytes(sum),
            ]),
            Row::Edge([from, to, ty], json, sum) => {
                f(&[Text(from), Text(to), Text(ty), Text(json), Bytes(sum)])
            }
            Row::Event(seq, at, ty, json, sum) => {
                f(&[Int8(*seq), Int8(*at), Text(ty), Text(json), Bytes(sum)])
            }
            Row::Subject(s, seq) => f(&[Text(s), Int8(*seq)]),
            Row::Audit(seq, sum, json) => f(&[Int8(*seq), Text(json), Bytes(sum)]),
        }
    }

    /// Calls `f` with the row's values as statement parameters (no allocation).
    fn with_params<R>(&self, f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> R) -> R {
        match self {
            Row::Node([id, kind, phase, scope, sensitivity], json, sum) => {
                f(&[id, kind, phase, scope, sensitivity, json, sum])
            }
            Row::Edge([from, to, ty], json, sum) => f(&[from, to, ty, json, sum]),
            Row::Event(seq, at, ty, json, sum) => f(&[seq, at, ty, json, sum]),
            Row::Subject(s, seq) => f(&[s, seq]),
            Row::Audit(seq, sum, json) => f(&[seq, json, sum]),
        }
    }
}

#[derive(Clone, Copy)]
enum Table {
    Nodes,
    Edges,
    Events,
    Subjects,
    Audit,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Nodes => "nodes",
            Table::Edges => "edges",
            Table::Events => "events",
            Table::Subjects => "event_subjects",
            Table::Audit => "audit",
        }
    }
    fn columns(self) -> &'static str {
        match self {
            Table::Nodes => "id, kind, phase, scope, sensitivity, json, checksum",
            Table::Edges => r#""from", "to", "type", json, checksum"#,
            Table::Events => r#"seq, at, "type", json, checksum"#,
            Table::Subjects => "subject, seq",
            Table::Audit => "seq, json, checksum",
        }
    }
    fn types(self) -> &'static [Type] {
        match self {
            Table::Nodes => &[
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::BYTEA,
            ],
            Table::Edges => &[Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::BYTEA],
            Table::Events => &[Type::INT8, Type::INT8, Type::TEXT, Type::TEXT, Type::BYTEA],
            Table::Subjects => &[Type::TEXT, Type::INT8],
            Table::Audit => &[Type::INT8, Type::TEXT, Type::BYTEA],
        }
    }
    /// The conflict clause of an upsert (None: plain insert, duplicates refused).
    fn upsert(self) -> Option<&'static str> {
        match self {
            Table::Nodes => Some(
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, phase = excluded.phase,
                 scope = excluded.scope, sensitivity = excluded.sensitivity,
                 json = excluded.json, checksum = excluded.checksum",
            ),
            Table::Edges => Some(
                r#"ON CONFLICT ("from", "to", "type") DO UPDATE SET json = excluded.json,
                 checksum = excluded.checksum"#,
            ),
            Table::Subjects => Some("ON CONFLICT DO NOTHING"),
            Table::Events | Table::Audit => None,
        }
    }
    /// The table's indexes as (drop, create) statements, dropped around a bulk load
    /// into the empty table (one sort-based build beats millions of index inserts).
    /// Names match the schema's, so the store looks exactly as before.
    fn indexes(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Table::Nodes => &[(
                "ALTER TABLE nodes DROP CONSTRAINT nodes_pkey",
                "ALTER TABLE nodes ADD CONSTRAINT nodes_pkey PRIMARY KEY (id)",
            )],
            Table::Edges => &[
                (
                    "ALTER TABLE edges DROP CONSTRAINT edges_pkey",
                    r#"ALTER TABLE edges ADD CONSTRAINT edges_pkey PRIMARY KEY ("from", "to", "type")"#,
                ),
                (
                    "DROP INDEX edges_to",
                    r#"CREATE INDEX edges_to ON edges ("to")"#,
                ),
            ],
            Table::Events => &[
                (
                    "ALTER TABLE events DROP CONSTRAINT events_pkey",
                    "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (seq)",
                ),
                (
                    "DROP INDEX events_at",
                    "CREATE INDEX events_at ON events (at)",
                ),
                (
                    "DROP INDEX events_type",
                    r#"CREATE INDEX events_type ON events ("type")"#,
                ),
            ],
            Table::Subjects => &[(
                "ALTER TABLE event_subjects DROP CONSTRAINT event_subjects_pkey",
                "ALTER TABLE event_subjects ADD CONSTRAINT event_subjects_pkey PRIMARY KEY (subject, seq)",
            )],
            Table::Audit => &[],
        }
    }

    fn placeholders(self) -> String {
        (1..=self.types().len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Writes `count` rows (unique keys within the batch), row `i` made by `row(i)`:
/// one prepared statement per row for small batches, binary `COPY` for large
/// ones. `upsert` says the table may already hold some of the keys.
fn insert_rows<'a>(
    tx: &mut Transaction<'_>,
    table: Table,
    count: usize,
    row: impl Fn(usize) -> StoreResult<Row<'a>> + Sync,
    upsert: bool,
) -> StoreResult<()> {
    if count == 0 {
        return Ok(());
    }
    let conflict = if upsert { table.upsert() } else { None };
    if count < COPY_ROWS {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) {}",
            table.name(),
            table.columns(),
            table.placeholders(),
            conflict.unwrap_or("")
        );
        let stmt = tx.prepare(&sql).ctx("preparing an insert")?;
        for i in 0..count {
            row(i)?
                .with_params(|p| tx.execute(&stmt, p))
                .ctx(&format!("writing a row of {}", table.name()))?;
        }
        return Ok(());
    }
    // COPY straight into the table when no stored row can collide.
    let direct = match conflict {
        None => true,
        Some(_) => empty_table(tx, table)?,
    };
    let mut rebuild = direct && count >= REINDEX_ROWS && empty_table(tx, table)?;
    if rebuild {
        // Dropping an index needs the table to itself: when another instance's
        // read snapshot still holds it, load with the indexes in place instead.
        let drops: String = table
            .indexes()
            .iter()
            .map(|(d, _)| format!("{d};"))
            .collect();
        let saved: String = tx
            .query_one("SHOW lock_timeout", &[])
            .ctx("reading the lock timeout")?
            .get(0);
        tx.batch_execute(&format!(
            "SAVEPOINT bulk_indexes; SET LOCAL lock_timeout = 200; {drops}"
        ))
        .ctx("preparing a bulk load")
        .or_else(|_| {
            rebuild = false;
            tx.batch_execute("ROLLBACK TO SAVEPOINT bulk_indexes")
                .ctx("keeping the indexes for a bulk load")
        })?;
        tx.execute("SELECT set_config('lock_timeout', $1, true)", &[&saved])
            .ctx("restoring the lock timeout")?;
    }
    let target = if direct {
        table.name().to_string()
    } else {
        let staging = format!("staging_{}", table.name());
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
             TRUNCATE {staging};",
            table.name()
        ))
        .ctx("creating a staging table")?;
        staging
    };
    let mut sink = tx
        .copy_in(&format!(
            "COPY {target} ({}) FROM STDIN (FORMAT binary)",
            table.columns()
        ))
        .ctx(&format!("starting COPY into {}", table.name()))?;
    copy::send_rows(
        &mut sink,
        count,
        &|i, out: &mut Vec<u8>| row(i)?.with_fields(|f| copy::encode_row(f, out)),
        table.name(),
    )?;
    sink.finish()
        .ctx(&format!("finishing COPY into {}", table.name()))?;
    if rebuild {
        tx.batch_execute("SET LOCAL maintenance_work_mem = '512MB'")
            .ctx("sizing the index build")?;
        for (_, create) in table.indexes() {
            tx.batch_execute(create)
                .ctx(&format!("rebuilding an index of {}", table.name()))?;
        }
    }
    if !direct {
        tx.batch_execute(&format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {target} {}",
            table.name(),
            conflict.unwrap_or(""),
            cols = table.columns()
        ))
        .ctx(&format!("merging staged rows into {}", table.name()))?;
    }
    Ok(())
}

fn apply_nodes(tx: &mut Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    if !c.delete_nodes.is_empty() {
        let ids: Vec<&str> = c.delete_nodes.iter().map(String::as_str).collect();
        tx.execute("DELETE FROM nodes WHERE id = ANY($1)", &[&ids])
            .ctx("deleting nodes")?;
    }
    if c.put_nodes.is_empty() {
        return Ok(());
    }
    // Of two puts of one id the later wins. Rows are encoded (JSON and
    // checksum) in parallel, step by step.
    put_keyed(
        tx,
        Table::Nodes,
        &c.put_nodes,
        |n| n.id.as_str(),
        |n| {
            let json = encode("node", n)?;
            let sum = checksum(&json);
            Ok(Row::Node(
                [&n.id, &n.kind, &n.phase, &n.scope, &n.sensitivity],
                json,
                sum,
            ))
        },
    )
}

/// Puts `items` into `table`, of two items with one key the later. A bulk batch
/// ([`REINDEX_ROWS`] or more) is written as given first, in a savepoint: a key
/// given twice then fails the load (the primary key build, the `COPY` or the
/// merge refuses it), which is rolled back and done again with only the last
/// of each key. Finding the duplicates first would cost every import a hash of
/// millions of keys for what is rare.
fn put_keyed<'a, T: Sync, K: Ord + std::hash::Hash>(
    tx: &mut Transaction<'_>,
    table: Table,
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
    row: impl Fn(&'a T) -> StoreResult<Row<'a>> + Sync,
) -> StoreResult<()> {
    if items.len() >= REINDEX_ROWS {
        tx.batch_execute("SAVEPOINT rows_as_given")
            .ctx("beginning a bulk load")?;
        match insert_rows(tx, table, items.len(), |i| row(&items[i]), true) {
            Ok(()) => {
                return tx
                    .batch_execute("RELEASE SAVEPOINT rows_as_given")
                    .ctx("ending a bulk load");
            }
            Err(_) => tx
                .batch_execute("ROLLBACK TO SAVEPOINT rows_as_given")
                .ctx("loading again without repeated keys")?,
        }
    }
    let order = last_of_each(items, key);
    insert_rows(tx, table, order.len(), |i| row(&items[order[i]]), true)
}

/// The positions of `items` to write: of items with one key only the last, in
/// key order (sequential index inserts) for a batch below [`REINDEX_ROWS`]; a
/// larger one keeps file order (its table's indexes are usually built after
/// the load, and sorting millions of keys costs more than it saves).
fn last_of_each<'a, T, K: Ord + std::hash::Hash>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<usize> {
    let mut seen: FxHashSet<K> =
        FxHashSet::with_capacity_and_hasher(items.len(), Default::default());
    let mut order: Vec<usize> = (0..items.len())
        .rev()
        .filter(|&i| seen.insert(key(&items[i])))
        .collect();
    order.reverse();
    if order.len() < REINDEX_ROWS {
        order.sort_by_cached_key(|&i| key(&items[i]));
    }
    order
}

fn apply_edges(tx: &mut Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    if !c.delete_edges.is_empty() {
        let stmt = tx
            .prepare(r#"DELETE FROM edges WHERE "from" = $1 AND "to" = $2 AND "type" = $3"#)
            .ctx("preparing edge delete")?;
        for k in &c.delete_edges {
            tx.execute(&stmt, &[&k.from, &k.to, &k.edge_type])
                .ctx("deleting an edge")?;
        }
    }
    if c.put_edges.is_empty() {
        return Ok(());
    }
    put_keyed(
        tx,
        Table::Edges,
        &c.put_edges,
        |e| (e.from.as_str(), e.to.as_str(), e.edge_type.as_str()),
        |e| {
            let json = encode("edge", e)?;
            let sum = checksum(&json);
            Ok(Row::Edge([&e.from, &e.to, &e.edge_type], json, sum))
        },
    )
}

fn apply_events(tx: &mut Transaction<'_>, c: &ChangeSet) -> StoreResult<()> {
    if c.events.is_empty() {
        return Ok(());
    }
    let mut subjects: Vec<(&str, i64)> = Vec::new();
    for e in &c.events {
        let seq = seq_to_sql(e.seq)?;
        subjects.extend(e.subjects.iter().map(|s| (s.as_str(), seq)));
    }
    insert_rows(
        tx,
        Table::Events,
        c.events.len(),
        |i| {
            let e = &c.events[i];
            let json = encode("event", e)?;
            let sum = checksum(&json);
            Ok(Row::Event(
                seq_to_sql(e.seq)?,
                e.at.millis(),
                &e.event_type,
                json,
                sum,
            ))
        },
        false,
    )?;
    subjects.sort_unstable();
    subjects.dedup();
    // New seqs only, so no stored row can collide.
    insert_rows(
        tx,
        Table::Subjects,
        subjects.len(),
        |i| Ok(Row::Subject(subjects[i].0, subjects[i].1)),
        false,
    )
}

/// Seq of the last event, from the table (for integrity checks).
pub(crate) fn event_max(c: &mut impl postgres::GenericClient) -> StoreResult<u64> {
    let max: Option<i64> = c
        .query_one("SELECT max(seq) FROM events", &[])
        .ctx("reading the event head")?
        .get(0);
    Ok(max.map(seq_from_sql).unwrap_or(0))
}
