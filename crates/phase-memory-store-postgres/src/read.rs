//! The read traits over the store's tables, streamed from a snapshot.

use phase_memory_model::{AuditCheckpoint, AuditRecord, AuditRef, Edge, Event, Node, Review};
use phase_memory_store::{
    AuditStore, EventQuery, EventStore, GraphStore, ReviewStore, StoreResult,
};
use postgres::types::ToSql;

use crate::PgStore;
use crate::record::{PgContext, decode, seq_to_sql};
use crate::schema::{self, Head};

fn node_row(row: &postgres::Row) -> StoreResult<Option<Node>> {
    let id: String = row.get(0);
    let json: String = row.get(1);
    let sum: Vec<u8> = row.get(2);
    decode(&|| format!("nodes/{id}"), &json, &sum).map(Some)
}

fn edge_row(row: &postgres::Row) -> StoreResult<Option<Edge>> {
    let json: String = row.get(3);
    let sum: Vec<u8> = row.get(4);
    decode(
        &|| {
            format!(
                "edges/{} -> {} [{}]",
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2)
            )
        },
        &json,
        &sum,
    )
    .map(Some)
}

const EDGE_COLS: &str = r#"SELECT "from", "to", "type", json, checksum FROM edges"#;
const EDGE_ORDER: &str = r#"ORDER BY "from", "to", "type""#;

impl GraphStore for PgStore {
    fn node(&self, id: &str) -> StoreResult<Option<Node>> {
        let mut out = None;
        self.stream(
            "reading a node",
            "SELECT id, json, checksum FROM nodes WHERE id = $1",
            &[&id],
            node_row,
            &mut |n| {
                out = Some(n);
                false
            },
        )?;
        Ok(out)
    }

    fn nodes(&self, ids: &[&str]) -> StoreResult<Vec<Option<Node>>> {
        if ids.len() < 2 {
            return ids.iter().map(|id| self.node(id)).collect();
        }
        let mut found: std::collections::HashMap<String, Node> =
            std::collections::HashMap::with_capacity(ids.len());
        self.stream(
            "reading nodes",
            "SELECT id, json, checksum FROM nodes WHERE id = ANY($1)",
            &[&ids],
            node_row,
            &mut |n| {
                found.insert(n.id.clone(), n);
                true
            },
        )?;
        Ok(ids.iter().map(|id| found.get(*id).cloned()).collect())
    }

    fn for_each_node(&self, f: &mut dyn FnMut(&Node)) -> StoreResult<()> {
        self.stream(
            "reading nodes",
            "SELECT id, json, checksum FROM nodes ORDER BY id",
            &[],
            node_row,
            &mut |n| {
                f(&n);
                true
            },
        )
    }

    fn node_count(&self) -> StoreResult<usize> {
        self.read(|c| {
            let n: i64 = c
                .query_one("SELECT count(*) FROM nodes", &[])
                .ctx("counting nodes")?
                .get(0);
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn for_each_edge(&self, f: &mut dyn FnMut(&Edge)) -> StoreResult<()> {
        self.stream(
            "reading edges",
            &format!("{EDGE_COLS} {EDGE_ORDER}"),
            &[],
            edge_row,
            &mut |e| {
                f(&e);
                true
            },
        )
    }

    fn edge_count(&self) -> StoreResult<usize> {
        self.read(|c| {
            let n: i64 = c
                .query_one("SELECT count(*) FROM edges", &[])
                .ctx("counting edges")?
                .get(0);
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn edges_of(&self, id: &str) -> StoreResult<Vec<Edge>> {
        let mut out = Vec::new();
        self.stream(
            "reading edges of a node",
            // Two index scans (the primary key's "from" prefix, edges_to) instead of
            // an OR the planner may not split.
            &format!(
                r#"SELECT * FROM ({EDGE_COLS} WHERE "from" = $1
                   UNION ALL {EDGE_COLS} WHERE "to" = $1 AND "from" <> $1) e {EDGE_ORDER}"#
            ),
            &[&id],
            edge_row,
            &mut |e| {
                out.push(e);
                true
            },
        )?;
        Ok(out)
    }
}

impl PgStore {
    fn stream_events(
        &self,
        q: &EventQuery,
        sink: &mut dyn FnMut(Event) -> bool,
    ) -> StoreResult<()> {
        let mut left = q.limit.unwrap_or(usize::MAX);
        if left == 0 {
            return Ok(());
        }
        let mut sql = String::from("SELECT e.seq, e.json, e.checksum FROM events e");
        let after = seq_to_sql(q.after_seq).unwrap_or(i64::MAX);
        let since = q.since.map(|t| t.millis());
        let until = q.until.map(|t| t.millis());
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(s) = &q.subject {
            params.push(s);
            sql.push_str(" JOIN event_subjects s ON s.seq = e.seq AND s.subject = $1");
        }
        params.push(&after);
        sql.push_str(&format!(" WHERE e.seq > ${}", params.len()));
        if let Some(s) = &since {
            params.push(s);
            sql.push_str(&format!(" AND e.at >= ${}", params.len()));
        }
        if let Some(u) = &until {
            params.push(u);
            sql.push_str(&format!(" AND e.at < ${}", params.len()));
        }
        if !q.types.is_empty() {
            params.push(&q.types);
            sql.push_str(&format!(r#" AND e."type" = ANY(${})"#, params.len()));
        }
        sql.push_str(" ORDER BY e.seq");
        self.stream(
            "querying events",
            &sql,
            &params,
            |row| {
                let seq: i64 = row.get(0);
                let json: String = row.get(1);
                let sum: Vec<u8> = row.get(2);
                let e: Event = decode(&|| format!("events/{seq}"), &json, &sum)?;
                Ok(q.matches(&e).then_some(e))
            },
            &mut |e| {
                left -= 1;
                sink(e) && left > 0
            },
        )
    }
}

impl EventStore for PgStore {
    fn events(&self, q: &EventQuery) -> StoreResult<Vec<Event>> {
        let mut out = Vec::new();
        self.stream_events(q, &mut |e| {
            out.push(e);
            true
        })?;
        Ok(out)
    }

    fn for_each_event(&self, f: &mut dyn FnMut(&Event)) -> StoreResult<()> {
        self.stream_events(&EventQuery::default(), &mut |e| {
            f(&e);
            true
        })
    }

    fn event_head(&self) -> StoreResult<u64> {
        self.read(|c| Ok(schema::read_head(c, false)?.event_seq))
    }
}

impl AuditStore for PgStore {
    fn audit_records(&self, after_seq: u64) -> StoreResult<Vec<AuditRecord>> {
        let after = seq_to_sql(after_seq).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        self.stream(
            "reading audit",
            "SELECT seq, json, checksum FROM audit WHERE seq > $1 ORDER BY seq",
            &[&after],
            |row| {
                let seq: i64 = row.get(0);
                let json: String = row.get(1);
                let sum: Vec<u8> = row.get(2);
                decode(&|| format!("audit/{seq}"), &json, &sum).map(Some)
            },
            &mut |r| {
                out.push(r);
                true
            },
        )?;
        Ok(out)
    }

    fn audit_head(&self) -> StoreResult<Option<AuditRef>> {
        self.read(|c| {
            let h: Head = schema::read_head(c, false)?;
            Ok((h.audit_seq > 0).then_some(AuditRef {
                seq: h.audit_seq,
                hash: h.audit_hash,
            }))
        })
    }

    fn audit_checkpoint(&self) -> StoreResult<AuditCheckpoint> {
        self.read(schema::read_checkpoint)
    }
}

fn review_row(row: &postgres::Row) -> StoreResult<Option<Review>> {
    let id: String = row.get(0);
    let json: String = row.get(1);
    let sum: Vec<u8> = row.get(2);
    decode(&|| format!("reviews/{id}"), &json, &sum).map(Some)
}

impl ReviewStore for PgStore {
    fn review(&self, id: &str) -> StoreResult<Option<Review>> {
        let mut out = None;
        self.stream(
            "reading a review",
            "SELECT id, json, checksum FROM reviews WHERE id = $1",
            &[&id],
            review_row,
            &mut |r| {
                out = Some(r);
                false
            },
        )?;
        Ok(out)
    }

    fn reviews(&self) -> StoreResult<Vec<Review>> {
        let mut out = Vec::new();
        self.stream(
            "reading reviews",
            "SELECT id, json, checksum FROM reviews ORDER BY id",
            &[],
            review_row,
            &mut |r| {
                out.push(r);
                true
            },
        )?;
        Ok(out)
    }
}
