//! The SQLite adapter of phase-memory: a store directory holding one WAL-mode
//! database (`phase-memory.sqlite`), for stores too large for the file adapter.
//!
//! Layout of a store directory `DIR`:
//!
//! - `DIR/phase-memory.sqlite` (+ `-wal`, `-shm` while open): graph, events, audit,
//!   reviews, profile and metadata;
//! - `DIR/LOCK`: held with an exclusive file lock by the one writer;
//! - `DIR/quarantine/`: JSONL copies of rows moved aside by repair;
//! - `DIR/index/`: reserved for the runtime's full-text index; never touched here.
//!
//! Every commit is one `BEGIN IMMEDIATE` transaction with `synchronous=FULL`, so when
//! [`Store::commit`] returns the change set is on disk, and a crash at any point
//! leaves the store as it was before or after the commit. See `docs/storage.md`.
//!
//! A shared handle ([`OpenMode::Shared`]) reads through one connection holding an
//! open read transaction: WAL mode gives it a stable snapshot of one committed
//! generation while other processes commit. [`Store::refresh`] ends that
//! transaction and starts a new one at the latest commit (one small read).

mod changes;
mod commit;
mod integrity;
mod migrate;
mod read;
mod record;
mod schema;
mod store;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use phase_memory_model::{Edge, Event, Node};
use phase_memory_store::{
    AdapterManifest, Capability, EventQuery, SCHEMA_VERSION, StoreError, StoreMeta, StoreResult,
    WriterLock, meta,
};

pub use phase_memory_store::OpenMode;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row, TransactionBehavior};

use crate::record::{SqlContext, decode, edge_location, event_location, node_location, seq_to_sql};

pub use changes::CHANGE_LIST_MAX;
pub use commit::BULK_ROWS;
pub use migrate::MIGRATIONS;
pub use store::SqliteAdapter;

/// File name of the database inside the store directory.
pub const DB_FILE: &str = "phase-memory.sqlite";
/// File name of the writer lock inside the store directory.
pub const LOCK_FILE: &str = "LOCK";
/// Folder for repair output inside the store directory.
pub const QUARANTINE_DIR: &str = "quarantine";
/// Folder reserved for the runtime's full-text index (this adapter never touches it).
pub const INDEX_DIR: &str = "index";

/// Idle reader connections kept for reuse.
const READER_POOL: usize = 4;

/// A store kept in one SQLite database inside a directory.
///
/// Reads go through a small pool of reader connections (so a callback of
/// `for_each_node` may call back into the store); writes go through the one writer
/// connection. A shared handle reads through its snapshot connection instead (a
/// read nested in a callback of another read falls back to the pool, which sees
/// the latest commit).
pub struct SqliteStore {
    dir: PathBuf,
    mode: OpenMode,
    writer: Option<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// Shared handles: the connection holding the read transaction of the
    /// generation the handle reads.
    snapshot: Mutex<Option<Connection>>,
    generation: AtomicU64,
    data_generation: AtomicU64,
    schema_version: u32,
    poisoned: bool,
    purge_pending: bool,
    // Dropped last: the lock outlives the connections.
    lock: Option<WriterLock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .field("mode", &self.mode)
            .field("schema_version", &self.schema_version)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Creates a new store in `dir` (created when missing) and opens it for writing.
    ///
    /// The stored metadata is `meta` with `adapter = "sqlite"` and the schema version
    /// this build writes. Fails with [`StoreError::Exists`] when a store is already
    /// there and [`StoreError::Locked`] when a writer holds the directory.
    pub fn init(dir: &Path, meta: StoreMeta) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::io(format!("creating store directory {}", dir.display()), e)
        })?;
        let lock = take_lock(dir, Duration::ZERO)?;
        if Self::is_store(dir) {
            return Err(StoreError::Exists(dir.display().to_string()));
        }
        let mut conn = open_conn(&dir.join(DB_FILE), true)?;
        schema::configure_writer(&conn)?;
        let mut meta = meta;
        meta.adapter = "sqlite".into();
        meta.schema_version = SCHEMA_VERSION;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("beginning the init transaction")?;
        tx.execute_batch(schema::SCHEMA_V2)
            .ctx("creating the schema")?;
        schema::write_meta(&tx, &meta)?;
        schema::meta_put(&tx, schema::key::GENERATION, &0u64)?;
        tx.commit().ctx("committing the init transaction")?;
        sync_dir(dir)?;
        Self::finish_open(dir, OpenMode::Write, Some(conn), Some(lock))
    }

    /// Opens the store in `dir`. [`StoreError::NotFound`] when there is none,
    /// [`StoreError::Locked`] when opening for writing while another writer holds it,
    /// [`StoreError::TooNew`] when a newer build wrote it.
    pub fn open(dir: &Path, mode: OpenMode) -> StoreResult<SqliteStore> {
        if !dir.join(DB_FILE).is_file() {
            return Err(StoreError::NotFound(dir.display().to_string()));
        }
        match mode {
            OpenMode::Write | OpenMode::Repair => {
                let lock = take_lock(dir, Duration::ZERO)?;
                let conn = open_conn(&dir.join(DB_FILE), true)?;
                schema::configure_writer(&conn)?;
                if !schema::has_meta(&conn)? {
                    return Err(StoreError::NotFound(dir.display().to_string()));
                }
                // A crash after a purge commit may have left superseded page images
                // in the WAL: fold it into the database and truncate it now.
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .ctx("checkpointing the WAL on open")?;
                Self::finish_open(dir, mode, Some(conn), Some(lock))
            }
            OpenMode::ReadOnly | OpenMode::Shared => Self::finish_open(dir, mode, None, None),
        }
    }

    /// Whether `dir` holds a store of this adapter.
    pub fn is_store(dir: &Path) -> bool {
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return false;
        }
        match open_conn(&db, false) {
            Ok(conn) => schema::has_meta(&conn).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The adapter's manifest: every capability, every conformance check.
    pub fn adapter_manifest() -> AdapterManifest {
        AdapterManifest::new(
            "sqlite",
            env!("CARGO_PKG_VERSION"),
            Capability::ALL,
            format!(
                "DIR/{DB_FILE} (with its -wal and -shm files): nodes, edges, events, audit, \
                 reviews, profile and metadata; DIR/{LOCK_FILE}: the writer lock; \
                 DIR/{QUARANTINE_DIR}/: rows moved aside by repair; DIR/{INDEX_DIR}/ belongs \
                 to the runtime's full-text index and is never touched"
            ),
        )
    }

    /// How this handle was opened.
    pub fn mode(&self) -> OpenMode {
        self.mode
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn finish_open(
        dir: &Path,
        mode: OpenMode,
        writer: Option<Connection>,
        lock: Option<WriterLock>,
    ) -> StoreResult<SqliteStore> {
        let mut store = SqliteStore {
            dir: dir.to_path_buf(),
            mode,
            writer: writer.map(Mutex::new),
            readers: Mutex::new(Vec::new()),
            snapshot: Mutex::new(None),
            generation: AtomicU64::new(0),
            data_generation: AtomicU64::new(0),
            schema_version: 0,
            poisoned: false,
            purge_pending: false,
            lock,
        };
        let (version, generation, data_generation) = store.read(|c| {
            if !schema::has_meta(c)? {
                return Err(StoreError::NotFound(dir.display().to_string()));
            }
            let v: u32 = schema::meta_require(c, schema::key::SCHEMA_VERSION)?;
            Ok((
                v,
                schema::read_generation(c)?,
                schema::read_data_generation(c)?,
            ))
        })?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                want: SCHEMA_VERSION,
            });
        }
        store.schema_version = version;
        store.generation.store(generation, Ordering::SeqCst);
        store
            .data_generation
            .store(data_generation, Ordering::SeqCst);
        if mode == OpenMode::Shared {
            store.begin_snapshot()?;
        }
        Ok(store)
    }

    /// Whether rows carry checksums (schema version 2 and later).
    fn checksums(&self) -> bool {
        self.schema_version >= 2
    }

    fn sum_col(&self) -> &'static str {
        if self.checksums() { "checksum" } else { "NULL" }
    }

    fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    /// Ends the shared handle's read transaction and starts one at the latest
    /// commit; records its generations and returns the generation.
    fn begin_snapshot(&self) -> StoreResult<u64> {
        let mut guard = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let c = open_conn(&self.db_path(), true)?;
            schema::configure_reader(&c)?;
            *guard = Some(c);
        }
        let Some(conn) = guard.as_ref() else {
            return Err(StoreError::Backend("sqlite: no snapshot connection".into()));
        };
        if !conn.is_autocommit() {
            conn.execute_batch("COMMIT")
                .ctx("ending the read transaction")?;
        }
        conn.execute_batch("BEGIN")
            .ctx("starting a read transaction")?;
        // The first read fixes the snapshot.
        let read = (|| {
            Ok::<_, StoreError>((
                schema::read_generation(conn)?,
                schema::read_data_generation(conn)?,
                schema::meta_require::<u32>(conn, schema::key::SCHEMA_VERSION)?,
            ))
        })();
        let (generation, data, version) = match read {
            Ok(x) => x,
            Err(e) => {
                let _ = conn.execute_batch("COMMIT");
                return Err(e);
            }
        };
        if version > SCHEMA_VERSION {
            let _ = conn.execute_batch("COMMIT");
            return Err(StoreError::TooNew {
                found: version,
                want: SCHEMA_VERSION,
            });
        }
        self.generation.store(generation, Ordering::SeqCst);
        self.data_generation.store(data, Ordering::SeqCst);
        Ok(generation)
    }

    /// Ends the shared handle's read transaction (so a WAL checkpoint can pass it).
    fn end_snapshot(&self) {
        let guard = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conn) = guard.as_ref()
            && !conn.is_autocommit()
        {
            let _ = conn.execute_batch("COMMIT");
        }
    }

    /// Runs `f` on the shared handle's snapshot connection, or on a pooled reader
    /// connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        if self.mode == OpenMode::Shared {
            match self.snapshot.try_lock() {
                Ok(guard) => {
                    if let Some(conn) = guard.as_ref()
                        && !conn.is_autocommit()
                    {
                        return f(conn);
                    }
                }
                Err(TryLockError::Poisoned(p)) => {
                    if let Some(conn) = p.get_ref().as_ref()
                        && !conn.is_autocommit()
                    {
                        return f(conn);
                    }
                }
                // Nested in a read of this handle: the pool below.
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = open_conn(&self.db_path(), self.mode != OpenMode::ReadOnly)?;
                schema::configure_reader(&c)?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < READER_POOL {
            pool.push(conn);
        }
        out
    }

    /// The writer connection, refusing when the handle cannot write.
    fn writer(&mut self) -> StoreResult<&mut Connection> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        if self.mode == OpenMode::Shared && self.lock.is_none() {
            return Err(StoreError::InvalidChange(format!(
                "store {}: writing needs the writer lock (lock_writer first)",
                self.dir.display()
            )));
        }
        match self.writer.as_mut() {
            Some(m) => Ok(m.get_mut().unwrap_or_else(|e| e.into_inner())),
            None => Err(meta::read_only(self.dir.display())),
        }
    }

    /// Marks the handle unusable for writes after a backend or I/O failure.
    fn poison_on<T>(&mut self, r: StoreResult<T>) -> StoreResult<T> {
        if let Err(StoreError::Backend(_) | StoreError::Io { .. }) = &r {
            self.poisoned = true;
        }
        r
    }

    /// Runs `PRAGMA wal_checkpoint(TRUNCATE)`: copies every committed page into the
    /// database file and empties the WAL, so no superseded page image survives there.
    /// Returns false when a reader kept the checkpoint from completing.
    fn checkpoint_truncate(&mut self) -> StoreResult<bool> {
        // Idle pooled readers hold no snapshot, but drop them anyway so nothing
        // pins an old WAL frame; this handle's own read transaction ends too (the
        // caller starts a new one).
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.end_snapshot();
        let conn = self.writer()?;
        let (busy, _log, _done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .ctx("checkpointing the WAL")?;
        Ok(busy == 0)
    }

    fn read_node(&self, conn: &Connection, id: &str) -> StoreResult<Option<Node>> {
        let sql = format!("SELECT json, {} FROM nodes WHERE id = ?1", self.sum_col());
        let mut stmt = conn.prepare_cached(&sql).ctx("reading a node")?;
        let mut rows = stmt.query([id]).ctx("reading a node")?;
        match rows.next().ctx("reading a node")? {
            None => Ok(None),
            Some(row) => {
                let loc = || node_location(id);
                let json = row_text(row, 0, &loc)?;
                decode(&loc, &json, self.row_sum(row, 1)).map(Some)
            }
        }
    }

    fn row_sum(&self, row: &Row<'_>, i: usize) -> Option<Option<Vec<u8>>> {
        if !self.checksums() {
            return None;
        }
        Some(match row.get_ref(i) {
            Ok(ValueRef::Blob(b)) => Some(b.to_vec()),
            _ => None,
        })
    }

    fn stream_edges(
        &self,
        conn: &Connection,
        filter: &str,
        param: Option<&str>,
        f: &mut dyn FnMut(Edge),
    ) -> StoreResult<()> {
        let sql = format!(
            r#"SELECT "from", "to", "type", json, {} FROM edges {filter} ORDER BY "from", "to", "type""#,
            self.sum_col()
        );
        let mut stmt = conn.prepare_cached(&sql).ctx("reading edges")?;
        let mut rows = match param {
            Some(p) => stmt.query([p]),
            None => stmt.query([]),
        }
        .ctx("reading edges")?;
        while let Some(row) = rows.next().ctx("reading edges")? {
            let key = |i| match row.get_ref(i) {
                Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                _ => "?".to_string(),
            };
            let loc = || edge_location(&key(0), &key(1), &key(2));
            let json = row_text(row, 3, &loc)?;
            let edge: Edge = decode(&loc, &json, self.row_sum(row, 4))?;
            f(edge);
        }
        Ok(())
    }

    fn stream_events(
        &self,
        conn: &Connection,
        q: &EventQuery,
        f: &mut dyn FnMut(Event),
    ) -> StoreResult<()> {
        let mut sql = format!("SELECT e.seq, e.json, {} FROM events e", {
            if self.checksums() {
                "e.checksum"
            } else {
                "NULL"
            }
        });
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let subject_in_sql = q.subject.is_some() && self.checksums();
        if let (true, Some(s)) = (subject_in_sql, &q.subject) {
            sql.push_str(" JOIN event_subjects s ON s.seq = e.seq AND s.subject = ?");
            args.push(s.clone().into());
        }
        sql.push_str(" WHERE e.seq > ?");
        args.push(seq_to_sql(q.after_seq).unwrap_or(i64::MAX).into());
        if let Some(s) = q.since {
            sql.push_str(" AND e.at >= ?");
            args.push(s.millis().into());
        }
        if let Some(u) = q.until {
            sql.push_str(" AND e.at < ?");
            args.push(u.millis().into());
        }
        if !q.types.is_empty() {
            sql.push_str(r#" AND e."type" IN ("#);
            for (i, t) in q.types.iter().enumerate() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
                args.push(t.clone().into());
            }
            sql.push(')');
        }
        sql.push_str(" ORDER BY e.seq");
        let mut left = q.limit.unwrap_or(usize::MAX);
        if left == 0 {
            return Ok(());
        }
        let mut stmt = conn.prepare_cached(&sql).ctx("querying events")?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .ctx("querying events")?;
        while let Some(row) = rows.next().ctx("querying events")? {
            let seq: i64 = row.get(0).ctx("reading an event seq")?;
            let loc = || event_location(seq);
            let json = row_text(row, 1, &loc)?;
            let event: Event = decode(&loc, &json, self.row_sum(row, 2))?;
            // The columns narrow the scan; the record itself decides (and a v1 store
            // has no subject table).
            if q.matches(&event) {
                f(event);
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.purge_pending && !self.poisoned {
            let _ = self.checkpoint_truncate();
        }
    }
}

/// Reads a text column, treating anything else as a corrupt row.
pub(crate) fn row_text(row: &Row<'_>, i: usize, loc: &dyn Fn() -> String) -> StoreResult<String> {
    match row.get_ref(i) {
        Ok(ValueRef::Text(t)) => String::from_utf8(t.to_vec()).map_err(|_| StoreError::Corrupt {
            location: loc(),
            detail: "column is not UTF-8".into(),
        }),
        Ok(other) => Err(StoreError::Corrupt {
            location: loc(),
            detail: format!("column holds {:?}, not text", other.data_type()),
        }),
        Err(e) => Err(StoreError::Backend(format!(
            "sqlite: reading {}: {e}",
            loc()
        ))),
    }
}

/// Opens a connection to the database file.
fn open_conn(path: &Path, write: bool) -> StoreResult<Connection> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Backend(format!("sqlite: opening {}: {e}", path.display())))
}

/// Takes the exclusive writer lock on `DIR/LOCK`, waiting up to `wait`.
fn take_lock(dir: &Path, wait: Duration) -> StoreResult<WriterLock> {
    WriterLock::acquire(&dir.join(LOCK_FILE), &dir.display().to_string(), wait)
}

/// Makes a directory's entries durable.
fn sync_dir(dir: &Path) -> StoreResult<()> {
    phase_memory_fsio::sync_dir(dir)
        .map_err(|e| StoreError::io(format!("syncing directory {}", dir.display()), e))
}
