//! Schema migrations, recorded in the meta table; each is idempotent and runs in
//! one transaction together with the version bump that records it.

use phase_memory_model::Event;
use phase_memory_store::{SCHEMA_VERSION, StoreResult};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::record::{SqlContext, checksum};
use crate::schema::{self, key};

/// Every migration this build knows, with the schema version it leads to.
pub const MIGRATIONS: &[(&str, u32)] = &[("0002-checksums-and-subjects", 2)];

/// Migrations a store at `version` needs.
pub(crate) fn pending(version: u32) -> Vec<String> {
    MIGRATIONS
        .iter()
        .filter(|(_, to)| *to > version && *to <= SCHEMA_VERSION)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Applies every pending migration. Returns (names applied, new schema version,
/// new generation).
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<(Vec<String>, u32, u64)> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("beginning a migration")?;
    let mut version: u32 = schema::meta_require(&tx, key::SCHEMA_VERSION)?;
    let mut generation = schema::read_generation(&tx)?;
    let todo = pending(version);
    if todo.is_empty() {
        return Ok((todo, version, generation));
    }
    let mut applied: Vec<String> = schema::meta_get(&tx, key::APPLIED)?.unwrap_or_default();
    for name in &todo {
        if name == "0002-checksums-and-subjects" {
            checksums_and_subjects(&tx)?;
            version = 2;
        }
        if !applied.contains(name) {
            applied.push(name.clone());
        }
    }
    generation += 1;
    schema::meta_put(&tx, key::SCHEMA_VERSION, &version)?;
    schema::meta_put(&tx, key::APPLIED, &applied)?;
    schema::meta_put(&tx, key::PLANNED, &Vec::<String>::new())?;
    schema::meta_put(&tx, key::GENERATION, &generation)?;
    schema::meta_put(&tx, key::DATA_GENERATION, &generation)?;
    tx.commit().ctx("committing a migration")?;
    Ok((todo, version, generation))
}

/// `0002-checksums-and-subjects`: adds the checksum column to every record table,
/// the `event_subjects` and `quarantine` tables, then fills checksums and subjects.
/// Rows whose JSON does not parse keep a NULL checksum, so `check_integrity` still
/// reports them instead of the migration blessing them.
fn checksums_and_subjects(tx: &Transaction<'_>) -> StoreResult<()> {
    for table in ["nodes", "edges", "events", "audit", "reviews"] {
        if !schema::has_column(tx, table, "checksum")? {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN checksum BLOB"))
                .ctx("adding a checksum column")?;
        }
    }
    tx.execute_batch(schema::SCHEMA_V2)
        .ctx("creating the tables of schema 2")?;
    for table in ["nodes", "edges", "events", "audit", "reviews"] {
        let rows: Vec<(rusqlite::types::Value, String)> = {
            // Edges are a WITHOUT ROWID table, keyed by their primary key.
            let sql = if table == "edges" {
                r#"SELECT json_array("from", "to", "type"), json FROM edges WHERE checksum IS NULL"#
                    .to_string()
            } else {
                format!("SELECT rowid, json FROM {table} WHERE checksum IS NULL")
            };
            let mut stmt = tx.prepare(&sql).ctx("reading rows to checksum")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .ctx("reading rows to checksum")?
                .collect::<Result<_, _>>()
                .ctx("reading rows to checksum")?
        };
        for (k, json) in rows {
            if serde_json::from_str::<serde_json::Value>(&json).is_err() {
                continue;
            }
            let sum = checksum(&json);
            if table == "edges" {
                let key: Vec<String> = match &k {
                    rusqlite::types::Value::Text(t) => serde_json::from_str(t).unwrap_or_default(),
                    _ => Vec::new(),
                };
                if let [from, to, ty] = key.as_slice() {
                    tx.execute(
                        r#"UPDATE edges SET checksum = ?1 WHERE "from" = ?2 AND "to" = ?3 AND "type" = ?4"#,
                        params![&sum[..], from, to, ty],
                    )
                    .ctx("writing an edge checksum")?;
                }
            } else {
                tx.execute(
                    &format!("UPDATE {table} SET checksum = ?1 WHERE rowid = ?2"),
                    params![&sum[..], k],
                )
                .ctx("writing a checksum")?;
            }
        }
    }
    let events: Vec<(i64, String)> = {
        let mut stmt = tx
            .prepare("SELECT seq, json FROM events ORDER BY seq")
            .ctx("reading events")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("reading events")?
            .collect::<Result<_, _>>()
            .ctx("reading events")?
    };
    let mut stmt = tx
        .prepare("INSERT OR IGNORE INTO event_subjects (subject, seq) VALUES (?1, ?2)")
        .ctx("preparing subject insert")?;
    for (seq, json) in events {
        if let Ok(e) = serde_json::from_str::<Event>(&json) {
            for s in &e.subjects {
                stmt.execute(params![s, seq]).ctx("indexing a subject")?;
            }
        }
    }
    Ok(())
}
