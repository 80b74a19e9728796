//! The read traits over the store's tables, from the handle's snapshot.

use phase_memory_model::{AuditCheckpoint, AuditRecord, AuditRef, Edge, Event, Node, Review};
use phase_memory_store::{
    AuditStore, EventQuery, EventStore, GraphStore, ReviewStore, StoreResult,
};
use rusqlite::OptionalExtension;
use rusqlite::types::ValueRef;

use crate::record::{
    SqlContext, audit_location, decode, node_location, review_location, seq_from_sql, seq_to_sql,
};
use crate::schema;
use crate::{SqliteStore, row_text};

impl GraphStore for SqliteStore {
    fn node(&self, id: &str) -> StoreResult<Option<Node>> {
        self.read(|c| self.read_node(c, id))
    }

    fn for_each_node(&self, f: &mut dyn FnMut(&Node)) -> StoreResult<()> {
        self.read(|conn| {
            let sql = format!("SELECT id, json, {} FROM nodes ORDER BY id", self.sum_col());
            let mut stmt = conn.prepare_cached(&sql).ctx("reading nodes")?;
            let mut rows = stmt.query([]).ctx("reading nodes")?;
            while let Some(row) = rows.next().ctx("reading nodes")? {
                let id = match row.get_ref(0) {
                    Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                    _ => "?".into(),
                };
                let loc = || node_location(&id);
                let json = row_text(row, 1, &loc)?;
                let node: Node = decode(&loc, &json, self.row_sum(row, 2))?;
                f(&node);
            }
            Ok(())
        })
    }

    fn node_count(&self) -> StoreResult<usize> {
        self.read(|c| {
            let n: i64 = c
                .query_row("SELECT count(*) FROM nodes", [], |r| r.get(0))
                .ctx("counting nodes")?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(&Edge)) -> StoreResult<()> {
        self.read(|c| self.stream_edges(c, "", None, &mut |e| f(&e)))
    }

    fn edge_count(&self) -> StoreResult<usize> {
        self.read(|c| {
            let n: i64 = c
                .query_row("SELECT count(*) FROM edges", [], |r| r.get(0))
                .ctx("counting edges")?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn edges_of(&self, id: &str) -> StoreResult<Vec<Edge>> {
        let mut out = Vec::new();
        self.read(|c| {
            self.stream_edges(c, r#"WHERE "from" = ?1 OR "to" = ?1"#, Some(id), &mut |e| {
                out.push(e)
            })
        })?;
        Ok(out)
    }
}

impl EventStore for SqliteStore {
    fn events(&self, q: &EventQuery) -> StoreResult<Vec<Event>> {
        let mut out = Vec::new();
        self.read(|c| self.stream_events(c, q, &mut |e| out.push(e)))?;
        Ok(out)
    }

    fn for_each_event(&self, f: &mut dyn FnMut(&Event)) -> StoreResult<()> {
        self.read(|c| self.stream_events(c, &EventQuery::default(), &mut |e| f(&e)))
    }

    fn event_head(&self) -> StoreResult<u64> {
        self.read(|c| {
            let max: Option<i64> = c
                .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
                .ctx("reading the event head")?;
            Ok(max.map(seq_from_sql).unwrap_or(0))
        })
    }
}

impl AuditStore for SqliteStore {
    fn audit_records(&self, after_seq: u64) -> StoreResult<Vec<AuditRecord>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT seq, json, {} FROM audit WHERE seq > ?1 ORDER BY seq",
                self.sum_col()
            );
            let mut stmt = conn.prepare_cached(&sql).ctx("reading audit")?;
            let after = seq_to_sql(after_seq).unwrap_or(i64::MAX);
            let mut rows = stmt.query([after]).ctx("reading audit")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().ctx("reading audit")? {
                let seq: i64 = row.get(0).ctx("reading an audit seq")?;
                let loc = || audit_location(seq);
                let json = row_text(row, 1, &loc)?;
                out.push(decode(&loc, &json, self.row_sum(row, 2))?);
            }
            Ok(out)
        })
    }

    fn audit_head(&self) -> StoreResult<Option<AuditRef>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT seq, json, {} FROM audit ORDER BY seq DESC LIMIT 1",
                self.sum_col()
            );
            let last = conn
                .query_row(&sql, [], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        row_text(r, 1, &|| "audit".into()),
                        self.row_sum(r, 2),
                    ))
                })
                .optional()
                .ctx("reading the audit head")?;
            match last {
                Some((seq, json, sum)) => {
                    let loc = || audit_location(seq);
                    let rec: AuditRecord = decode(&loc, &json?, sum)?;
                    Ok(Some(AuditRef {
                        seq: rec.seq,
                        hash: rec.hash,
                    }))
                }
                None => {
                    let cp = schema::read_checkpoint(conn)?;
                    Ok((cp.last_pruned_seq > 0).then_some(AuditRef {
                        seq: cp.last_pruned_seq,
                        hash: cp.last_pruned_hash,
                    }))
                }
            }
        })
    }

    fn audit_checkpoint(&self) -> StoreResult<AuditCheckpoint> {
        self.read(schema::read_checkpoint)
    }
}

impl ReviewStore for SqliteStore {
    fn review(&self, id: &str) -> StoreResult<Option<Review>> {
        self.read(|conn| {
            let sql = format!("SELECT json, {} FROM reviews WHERE id = ?1", self.sum_col());
            let mut stmt = conn.prepare_cached(&sql).ctx("reading a review")?;
            let mut rows = stmt.query([id]).ctx("reading a review")?;
            match rows.next().ctx("reading a review")? {
                None => Ok(None),
                Some(row) => {
                    let loc = || review_location(id);
                    let json = row_text(row, 0, &loc)?;
                    decode(&loc, &json, self.row_sum(row, 1)).map(Some)
                }
            }
        })
    }

    fn reviews(&self) -> StoreResult<Vec<Review>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT id, json, {} FROM reviews ORDER BY id",
                self.sum_col()
            );
            let mut stmt = conn.prepare_cached(&sql).ctx("reading reviews")?;
            let mut rows = stmt.query([]).ctx("reading reviews")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().ctx("reading reviews")? {
                let id = match row.get_ref(0) {
                    Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                    _ => "?".into(),
                };
                let loc = || review_location(&id);
                let json = row_text(row, 1, &loc)?;
                out.push(decode(&loc, &json, self.row_sum(row, 2))?);
            }
            Ok(out)
        })
    }
}
