//! `Store` for [`SqliteStore`](crate::SqliteStore) and the adapter "open any adapter" sees.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use phase_memory_model::Time;
use phase_memory_store::{
    ChangeSet, IntegrityFinding, OpenMode, Store, StoreMeta, StoreResult, meta,
};

use crate::{DB_FILE, SqliteStore, commit, integrity, migrate, open_conn, schema, take_lock};

impl meta::MetaStore for SqliteStore {
    fn meta_value(&self, key: &str) -> StoreResult<Option<String>> {
        self.read(|c| schema::meta_raw(c, key))
    }
    fn meta_record(&self) -> StoreResult<StoreMeta> {
        self.read(schema::read_meta)
    }
    fn migrations_after(&self, version: u32) -> Vec<String> {
        migrate::pending(version)
    }
}

impl Store for SqliteStore {
    phase_memory_store::meta_store_methods!();

    fn generation(&self) -> u64 {
        if self.mode == OpenMode::ReadOnly
            && let Ok((g, d)) = self.read(|c| {
                Ok((
                    schema::read_generation(c)?,
                    schema::read_data_generation(c)?,
                ))
            })
        {
            self.generation.store(g, Ordering::SeqCst);
            self.data_generation.store(d, Ordering::SeqCst);
        }
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
        let purge = change.purge;
        let conn = self.writer()?;
        let result = commit::commit(conn, change);
        let generation = self.poison_on(result)?;
        self.generation.store(generation, Ordering::SeqCst);
        if change.changes_data() {
            self.data_generation.store(generation, Ordering::SeqCst);
        }
        if purge || self.purge_pending {
            let done = self.checkpoint_truncate();
            self.purge_pending = !matches!(done, Ok(true));
        }
        if self.mode == OpenMode::Shared {
            // Read what this commit made (and nothing older).
            self.begin_snapshot()?;
        }
        Ok(generation)
    }

    fn check_integrity(&self) -> StoreResult<Vec<IntegrityFinding>> {
        let mut findings: Vec<IntegrityFinding> = self
            .read(|c| integrity::check(c, self.checksums()))?
            .into_iter()
            .map(|f| f.finding)
            .collect();
        if self.purge_pending {
            findings.push(IntegrityFinding {
                code: "store.purge_incomplete".into(),
                location: format!("{DB_FILE}-wal"),
                message: "a purge commit could not truncate the WAL because a reader held \
                          it; the next commit or close retries"
                    .into(),
                fixable: true,
            });
        }
        Ok(findings)
    }

    fn repair_integrity(&mut self, now: Time) -> StoreResult<Vec<IntegrityFinding>> {
        meta::require_current_schema(self.schema_version)?;
        let checksums = self.checksums();
        let dir = self.dir.clone();
        let generation = self.generation.load(Ordering::SeqCst);
        let conn = self.writer()?;
        let result = integrity::repair(conn, &dir, checksums, generation, now);
        let (done, new_generation) = self.poison_on(result)?;
        self.generation.store(new_generation, Ordering::SeqCst);
        self.data_generation.store(new_generation, Ordering::SeqCst);
        if self.purge_pending {
            let ok = self.checkpoint_truncate();
            self.purge_pending = !matches!(ok, Ok(true));
        }
        if self.mode == OpenMode::Shared {
            self.begin_snapshot()?;
        }
        Ok(done)
    }

    fn migrate(&mut self) -> StoreResult<Vec<String>> {
        let conn = self.writer()?;
        let result = migrate::migrate(conn);
        let (applied, version, generation) = self.poison_on(result)?;
        self.schema_version = version;
        self.generation.store(generation, Ordering::SeqCst);
        self.data_generation.store(generation, Ordering::SeqCst);
        if self.mode == OpenMode::Shared {
            self.begin_snapshot()?;
        }
        // Reader connections re-read the schema on their next statement.
        Ok(applied)
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn data_generation(&self) -> u64 {
        self.generation();
        self.data_generation.load(Ordering::SeqCst)
    }

    fn data_changes_since(&self, since: u64) -> StoreResult<Option<Vec<String>>> {
        let upto = self.data_generation();
        if since >= upto {
            return Ok(Some(Vec::new()));
        }
        self.read(|c| crate::changes::since(c, since, upto))
    }

    fn refresh(&mut self) -> StoreResult<u64> {
        match self.mode {
            OpenMode::Shared => {
                let generation = self.begin_snapshot()?;
                let version: u32 =
                    self.read(|c| schema::meta_require(c, schema::key::SCHEMA_VERSION))?;
                self.schema_version = version;
                Ok(generation)
            }
            _ => Ok(self.generation()),
        }
    }

    fn lock_writer(&mut self, wait: Duration) -> StoreResult<u64> {
        match self.mode {
            OpenMode::Write | OpenMode::Repair => return Ok(self.generation()),
            OpenMode::ReadOnly => {
                return Err(meta::read_only(self.dir.display()));
            }
            OpenMode::Shared => {}
        }
        if self.lock.is_none() {
            let lock = take_lock(&self.dir, wait)?;
            if self.writer.is_none() {
                // Switching a store written before WAL mode to WAL needs no open
                // read transaction, not even this handle's own.
                self.end_snapshot();
                let conn = open_conn(&self.db_path(), true)?;
                schema::configure_writer(&conn)?;
                self.writer = Some(Mutex::new(conn));
            }
            self.lock = Some(lock);
        }
        self.refresh()
    }

    fn unlock_writer(&mut self) {
        if self.mode == OpenMode::Shared {
            self.lock = None;
        }
    }

    fn holds_writer(&self) -> bool {
        self.lock.is_some()
    }
}

impl phase_memory_store::meta::FolderStore for SqliteStore {
    fn is_store(dir: &Path) -> bool {
        SqliteStore::is_store(dir)
    }
    fn init(dir: &Path, meta: StoreMeta) -> StoreResult<Self> {
        SqliteStore::init(dir, meta)
    }
    fn open(dir: &Path, mode: OpenMode) -> StoreResult<Self> {
        SqliteStore::open(dir, mode)
    }
}

phase_memory_store::folder_adapter!(
    /// The SQLite adapter as "open any adapter" sees it.
    SqliteAdapter,
    SqliteStore,
    "sqlite"
);
