//! Integrity check and repair: finds rows whose checksum, JSON or key columns do not
//! agree, and moves them into the `quarantine` table and a JSONL file under
//! `DIR/quarantine/` (never a silent delete).

use std::io::Write;
use std::path::Path;

use phase_memory_model::{AuditRecord, Edge, Event, Node, Review, Time};
use phase_memory_store::{IntegrityFinding, StoreError, StoreResult};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, TransactionBehavior, params_from_iter};
use serde_json::json;

use crate::record::{
    SqlContext, audit_location, checksum, edge_location, event_location, node_location,
    review_location,
};
use crate::schema::{self, key};
use crate::{DB_FILE, QUARANTINE_DIR};

/// A finding plus what repair needs to move the row.
pub(crate) struct Found {
    /// What is reported.
    pub finding: IntegrityFinding,
    /// The row, when the finding is about one row.
    pub row: Option<BadRow>,
}

/// A row that fails its checks.
pub(crate) struct BadRow {
    table: &'static str,
    /// Primary-key columns and values (rowid for rowid tables).
    key: Vec<(&'static str, Value)>,
    json: Option<String>,
    checksum: Option<Vec<u8>>,
    seq: Option<i64>,
}

/// One record table: its name, key columns and how to check a row.
struct Table {
    name: &'static str,
    key_cols: &'static [&'static str],
    /// Extra columns after the key, before json/checksum.
    select_keys: &'static str,
    verify: fn(&[Value], &str) -> Result<(), String>,
    locate: fn(&[Value]) -> String,
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        _ => None,
    }
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("row JSON does not parse: {e}"))
}

fn mismatch(what: &str) -> String {
    format!("column {what} does not match the row's JSON")
}

const TABLES: &[Table] = &[
    Table {
        name: "nodes",
        key_cols: &["rowid"],
        select_keys: "rowid, id, kind, phase, scope, sensitivity",
        verify: |c, json| {
            let n: Node = parse(json)?;
            let cols = [&n.id, &n.kind, &n.phase, &n.scope, &n.sensitivity];
            let names = ["id", "kind", "phase", "scope", "sensitivity"];
            for (i, (v, name)) in cols.iter().zip(names).enumerate() {
                if c.get(i + 1) != Some(&Value::Text((*v).clone())) {
                    return Err(mismatch(name));
                }
            }
            Ok(())
        },
        locate: |c| node_location(&c.get(1).map(text).unwrap_or_default()),
    },
    Table {
        name: "edges",
        key_cols: &["from", "to", "type"],
        select_keys: r#""from", "to", "type""#,
        verify: |c, json| {
            let e: Edge = parse(json)?;
            for (i, (v, name)) in [(&e.from, "from"), (&e.to, "to"), (&e.edge_type, "type")]
                .into_iter()
                .enumerate()
            {
                if c.get(i) != Some(&Value::Text(v.clone())) {
                    return Err(mismatch(name));
                }
            }
            Ok(())
        },
        locate: |c| {
            let k = |i: usize| c.get(i).map(text).unwrap_or_default();
            edge_location(&k(0), &k(1), &k(2))
        },
    },
    Table {
        name: "events",
        key_cols: &["seq"],
        select_keys: r#"seq, at, "type""#,
        verify: |c, json| {
            let e: Event = parse(json)?;
            if c.first().and_then(int) != i64::try_from(e.seq).ok() {
                return Err(mismatch("seq"));
            }
            if c.get(1).and_then(int) != Some(e.at.millis()) {
                return Err(mismatch("at"));
            }
            if c.get(2) != Some(&Value::Text(e.event_type)) {
                return Err(mismatch("type"));
            }
            Ok(())
        },
        locate: |c| event_location(c.first().and_then(int).unwrap_or(-1)),
    },
    Table {
        name: "audit",
        key_cols: &["seq"],
        select_keys: "seq",
        verify: |c, json| {
            let r: AuditRecord = parse(json)?;
            if c.first().and_then(int) != i64::try_from(r.seq).ok() {
                return Err(mismatch("seq"));
            }
            Ok(())
        },
        locate: |c| audit_location(c.first().and_then(int).unwrap_or(-1)),
    },
    Table {
        name: "reviews",
        key_cols: &["rowid"],
        select_keys: "rowid, id",
        verify: |c, json| {
            let r: Review = parse(json)?;
            if c.get(1) != Some(&Value::Text(r.id)) {
                return Err(mismatch("id"));
            }
            Ok(())
        },
        locate: |c| review_location(&c.get(1).map(text).unwrap_or_default()),
    },
];

/// Checks every row of every record table, the meta table and SQLite's own page
/// structure (`PRAGMA quick_check`).
pub(crate) fn check(conn: &Connection, checksums: bool) -> StoreResult<Vec<Found>> {
    let mut out = Vec::new();
    let quick: Vec<String> = {
        let mut stmt = conn
            .prepare("PRAGMA quick_check")
            .ctx("running quick_check")?;
        stmt.query_map([], |r| r.get(0))
            .ctx("running quick_check")?
            .collect::<Result<_, _>>()
            .ctx("running quick_check")?
    };
    if quick != ["ok"] {
        out.push(Found {
            finding: IntegrityFinding {
                code: "store.corrupt_record".into(),
                location: DB_FILE.into(),
                message: format!("sqlite quick_check: {}", quick.join("; ")),
                fixable: false,
            },
            row: None,
        });
    }
    if let Err(e) = schema::read_meta(conn).and_then(|_| schema::read_checkpoint(conn)) {
        out.push(Found {
            finding: IntegrityFinding {
                code: "store.corrupt_record".into(),
                location: "meta".into(),
                message: e.to_string(),
                fixable: false,
            },
            row: None,
        });
    }
    if let Err(e) = schema::meta_get::<String>(conn, key::PROFILE) {
        out.push(Found {
            finding: IntegrityFinding {
                code: "store.corrupt_record".into(),
                location: "meta/profile".into(),
                message: e.to_string(),
                fixable: false,
            },
            row: None,
        });
    }
    for t in TABLES {
        let sum = if checksums { "checksum" } else { "NULL" };
        let sql = format!("SELECT {}, json, {sum} FROM {}", t.select_keys, t.name);
        let mut stmt = conn.prepare(&sql).ctx("scanning rows")?;
        let ncols = stmt.column_count();
        let mut rows = stmt.query([]).ctx("scanning rows")?;
        while let Some(row) = rows.next().ctx("scanning rows")? {
            let mut cols = Vec::with_capacity(ncols - 2);
            for i in 0..ncols - 2 {
                cols.push(row.get::<_, Value>(i).ctx("reading a row")?);
            }
            let (json, json_err) = match row.get_ref(ncols - 2).ctx("reading a row")? {
                ValueRef::Text(b) => match std::str::from_utf8(b) {
                    Ok(s) => (Some(s.to_string()), None),
                    Err(_) => (
                        Some(String::from_utf8_lossy(b).into_owned()),
                        Some("JSON column is not UTF-8".to_string()),
                    ),
                },
                other => (
                    None,
                    Some(format!(
                        "JSON column holds {:?}, not text",
                        other.data_type()
                    )),
                ),
            };
            let stored: Option<Vec<u8>> = match row.get_ref(ncols - 1).ctx("reading a row")? {
                ValueRef::Blob(b) => Some(b.to_vec()),
                _ => None,
            };
            let problem = json_err.or_else(|| {
                let json = json.as_deref().unwrap_or_default();
                if checksums {
                    match &stored {
                        None => return Some("row has no checksum".to_string()),
                        Some(s) if s.as_slice() != checksum(json) => {
                            return Some(
                                "checksum does not match the row's JSON (edited or torn)".into(),
                            );
                        }
                        Some(_) => {}
                    }
                }
                (t.verify)(&cols, json).err()
            });
            if let Some(message) = problem {
                let key = t
                    .key_cols
                    .iter()
                    .zip(cols.iter())
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                let seq = if t.name == "events" {
                    cols.first().and_then(int)
                } else {
                    None
                };
                out.push(Found {
                    finding: IntegrityFinding {
                        code: "store.corrupt_record".into(),
                        location: (t.locate)(&cols),
                        message,
                        fixable: true,
                    },
                    row: Some(BadRow {
                        table: t.name,
                        key,
                        json,
                        checksum: stored,
                        seq,
                    }),
                });
            }
        }
    }
    Ok(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Moves every corrupt row into quarantine: first a JSONL file under
/// `DIR/quarantine/` (synced), then one transaction that copies the rows into the
/// `quarantine` table and deletes them from their table. A crash between the two
/// leaves the rows in place and a file describing them; the next repair redoes it.
/// Returns what was done and the new generation.
pub(crate) fn repair(
    conn: &mut Connection,
    dir: &Path,
    checksums: bool,
    generation: u64,
    now: Time,
) -> StoreResult<(Vec<IntegrityFinding>, u64)> {
    let found = check(conn, checksums)?;
    let rows: Vec<(IntegrityFinding, BadRow)> = found
        .into_iter()
        .filter_map(|f| f.row.map(|r| (f.finding, r)))
        .collect();
    if rows.is_empty() {
        return Ok((Vec::new(), generation));
    }
    let now = now.millis();
    let qdir = dir.join(QUARANTINE_DIR);
    std::fs::create_dir_all(&qdir)
        .map_err(|e| StoreError::io(format!("creating {}", qdir.display()), e))?;
    // A repair interrupted after its file but before its transaction runs again at
    // the same generation (and, with a fixed clock, the same time): never overwrite.
    let mut file_name = format!("sqlite-{generation}-{now}.jsonl");
    let mut n = 2;
    while qdir.join(&file_name).exists() {
        file_name = format!("sqlite-{generation}-{now}-{n}.jsonl");
        n += 1;
    }
    let path = qdir.join(&file_name);
    let mut text = Vec::new();
    for (f, r) in &rows {
        let line = json!({
            "source": r.table,
            "location": f.location,
            "reason": f.message,
            "json": r.json,
            "checksum": r.checksum.as_deref().map(hex),
        });
        writeln!(text, "{line}")
            .map_err(|e| StoreError::io(format!("encoding {}", path.display()), e))?;
    }
    phase_memory_fsio::write_atomic(&path, &text)
        .map_err(|e| StoreError::io("writing the quarantine file", e))?;
    crate::sync_dir(dir)?;

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("beginning a repair")?;
    let mut done = Vec::new();
    for (f, r) in rows {
        tx.execute(
            "INSERT INTO quarantine (source, location, json, checksum, reason, moved_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![r.table, f.location, r.json, r.checksum, f.message, now],
        )
        .ctx("copying a row into quarantine")?;
        let cond: Vec<String> = r
            .key
            .iter()
            .enumerate()
            .map(|(i, (k, _))| format!(r#""{k}" = ?{}"#, i + 1))
            .collect();
        let cond = cond.join(" AND ").replace(r#""rowid""#, "rowid");
        tx.execute(
            &format!("DELETE FROM {} WHERE {cond}", r.table),
            params_from_iter(r.key.iter().map(|(_, v)| v)),
        )
        .ctx("removing a quarantined row")?;
        if let Some(seq) = r.seq {
            tx.execute("DELETE FROM event_subjects WHERE seq = ?1", [seq])
                .ctx("removing a quarantined event's subjects")?;
        }
        done.push(IntegrityFinding {
            message: format!(
                "{}; moved to quarantine ({QUARANTINE_DIR}/{file_name} and table quarantine)",
                f.message
            ),
            ..f
        });
    }
    let generation = schema::bump_generation(&tx, true)?;
    crate::changes::mark_rebuild(&tx, generation)?;
    tx.commit().ctx("committing a repair")?;
    Ok((done, generation))
}
