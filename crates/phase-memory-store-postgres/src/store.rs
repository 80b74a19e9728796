//! `Store` for [`PgStore`](crate::PgStore) and the adapter "open any adapter" sees.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use phase_memory_model::Time;
use phase_memory_store::{
    AdapterKind, ChangeSet, IntegrityFinding, OpenMode, Store, StoreConfig, StoreError, StoreMeta,
    StoreResult, meta,
};

use crate::record::decode;
use crate::schema;
use crate::{PgLocation, PgStore, commit, folder};

impl meta::MetaStore for PgStore {
    fn meta_value(&self, key: &str) -> StoreResult<Option<String>> {
        self.read(|c| schema::meta_raw(c, key))
    }
    fn meta_record(&self) -> StoreResult<StoreMeta> {
        self.read(schema::read_meta)
    }
    fn migrations_after(&self, version: u32) -> Vec<String> {
        schema::pending(version)
    }
}

impl Store for PgStore {
    phase_memory_store::meta_store_methods!();

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn commit(&mut self, change: ChangeSet) -> StoreResult<u64> {
        self.commit_borrowed(&change)
    }

    fn commits_borrowed(&self) -> bool {
        true
    }

    fn commit_borrowed(&mut self, change: &ChangeSet) -> StoreResult<u64> {
        meta::require_current_schema(self.schema_version)?;
        match self.mode {
            Some(OpenMode::ReadOnly) => {
                return Err(meta::read_only(self.location.display()));
            }
            Some(OpenMode::Shared) if !self.writer_held => {
                return Err(StoreError::InvalidChange(format!(
                    "store {}: a shared handle commits only while it holds the writer lock",
                    self.location.display()
                )));
            }
            _ => {}
        }
        let purge = change.purge;
        let timeout = u64::try_from(self.lock_timeout.as_millis()).unwrap_or(u64::MAX);
        // A bulk load into an empty table drops the table's indexes for the load,
        // which needs the table to itself: this handle's own read snapshot (which
        // has read the table) ends first. It begins again after the commit.
        let bulk_load = change.put_nodes.len() >= commit::REINDEX_ROWS
            || change.put_edges.len() >= commit::REINDEX_ROWS;
        if bulk_load {
            self.end_snapshot();
        }
        let conn = self.writer()?;
        // A lost connection mid-commit rolls the transaction back on the server;
        // the next call reconnects.
        let (head, bulk) = match commit::commit(conn, change, timeout) {
            Ok(done) => done,
            Err(e) => {
                if bulk_load && self.mode.is_some() {
                    // Best effort: reads fall back to the latest commit without it.
                    let _ = self.begin_snapshot();
                }
                return Err(e);
            }
        };
        // Fresh planner statistics after a bulk load (a failure here costs only
        // plan quality; autovacuum analyzes later anyway).
        for table in bulk {
            let _ = conn.batch_execute(&format!("ANALYZE {table}"));
        }
        self.generation.store(head.generation, Ordering::SeqCst);
        self.data_generation
            .store(head.data_generation, Ordering::SeqCst);
        if purge {
            self.end_snapshot();
            let wait = self.purge_wait;
            self.vacuum_if_pending(wait)?;
        }
        if self.mode.is_some() {
            // The handle reads what it just committed.
            self.begin_snapshot()?;
        }
        Ok(head.generation)
    }

    fn check_integrity(&self) -> StoreResult<Vec<IntegrityFinding>> {
        let mut findings = Vec::new();
        for (table, keycol) in [
            ("nodes", "id"),
            (
                "edges",
                r#""from" || ' -> ' || "to" || ' [' || "type" || ']'"#,
            ),
            ("events", "seq::text"),
            ("audit", "seq::text"),
            ("reviews", "id"),
        ] {
            let sql = format!("SELECT {keycol}, json, checksum FROM {table}");
            self.stream(
                "checking rows",
                &sql,
                &[],
                |row| {
                    let k: String = row.get(0);
                    let json: String = row.get(1);
                    let sum: Vec<u8> = row.get(2);
                    Ok(decode::<serde_json::Value>(&|| format!("{table}/{k}"), &json, &sum).err())
                },
                &mut |e: StoreError| {
                    findings.push(IntegrityFinding {
                        code: e.code().into(),
                        location: match &e {
                            StoreError::Corrupt { location, .. } => location.clone(),
                            _ => table.into(),
                        },
                        message: e.to_string(),
                        fixable: false,
                    });
                    true
                },
            )?;
        }
        let (head, max) =
            self.read(|c| Ok((schema::read_head(c, false)?, commit::event_max(c)?)))?;
        if head.event_seq != max {
            findings.push(IntegrityFinding {
                code: "store.corrupt_record".into(),
                location: "chain_head".into(),
                message: format!(
                    "the chain head names event {} but the last stored event is {max}",
                    head.event_seq
                ),
                fixable: false,
            });
        }
        if head.purge_xid != 0 {
            findings.push(IntegrityFinding {
                code: "store.purge_incomplete".into(),
                location: "chain_head".into(),
                message: "a purge commit's VACUUM has not run yet; the next open or purge runs it"
                    .into(),
                fixable: true,
            });
        }
        Ok(findings)
    }

    fn repair_integrity(&mut self, _now: Time) -> StoreResult<Vec<IntegrityFinding>> {
        let before = self.check_integrity()?;
        self.end_snapshot();
        let wait = self.purge_wait;
        self.vacuum_if_pending(wait)?;
        if self.mode.is_some() {
            self.begin_snapshot()?;
        }
        Ok(before.into_iter().filter(|f| f.fixable).collect())
    }

    fn migrate(&mut self) -> StoreResult<Vec<String>> {
        // Every store this adapter created is at the current version; later
        // migrations are applied here in order, each in one transaction with its
        // `schema_migrations` row.
        let pending = self.pending_migrations()?;
        if !pending.is_empty() {
            return Err(StoreError::Backend(format!(
                "postgres: no migration path for {pending:?}"
            )));
        }
        Ok(Vec::new())
    }

    fn location(&self) -> String {
        self.location.display()
    }

    fn data_generation(&self) -> u64 {
        self.data_generation.load(Ordering::SeqCst)
    }

    fn refresh(&mut self) -> StoreResult<u64> {
        self.refresh_any()
    }

    fn data_changes_since(&self, since: u64) -> StoreResult<Option<Vec<String>>> {
        if since >= self.data_generation.load(Ordering::SeqCst) {
            return Ok(Some(Vec::new()));
        }
        self.nodes_changed_since(since)
    }

    fn lock_writer(&mut self, wait: Duration) -> StoreResult<u64> {
        match self.mode {
            Some(OpenMode::ReadOnly) => Err(meta::read_only(self.location.display())),
            _ => self.acquire_writer(wait),
        }
    }

    fn unlock_writer(&mut self) {
        if !matches!(self.mode, Some(OpenMode::Write | OpenMode::Repair)) {
            self.release_writer();
        }
    }

    fn holds_writer(&self) -> bool {
        self.writer_held || self.mode.is_none()
    }
}

/// The PostgreSQL adapter as "open any adapter" sees it: a store folder whose
/// `store.json` names `postgres` and the database URL (or leaves the URL to
/// `PHASE_MEMORY_DATABASE_URL`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PgAdapter;

fn config_location(config: Option<&StoreConfig>) -> StoreResult<PgLocation> {
    folder::FolderConfig {
        adapter: "postgres".into(),
        url: config.and_then(|c| c.url.clone()),
    }
    .location()
}

impl AdapterKind for PgAdapter {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn detect(&self, _dir: &Path) -> bool {
        // Recognised by its store.json only.
        false
    }
    fn init(
        &self,
        dir: &Path,
        config: Option<&StoreConfig>,
        meta: StoreMeta,
    ) -> StoreResult<Box<dyn Store>> {
        let location = config_location(config)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        let store = PgStore::init(&location, meta)?;
        StoreConfig {
            adapter: "postgres".into(),
            url: config.and_then(|c| c.url.clone()),
        }
        .write(dir)?;
        Ok(Box::new(store))
    }
    fn open(
        &self,
        _dir: &Path,
        config: Option<&StoreConfig>,
        mode: OpenMode,
    ) -> StoreResult<Box<dyn Store>> {
        Ok(Box::new(PgStore::open_mode(
            &config_location(config)?,
            mode,
        )?))
    }
}
