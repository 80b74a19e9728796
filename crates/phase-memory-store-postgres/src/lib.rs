//! The PostgreSQL adapter of phase-memory: one store in one SQL schema of a
//! database that many service instances, on one or many hosts, share.
//!
//! - Every table of the store lives in its own SQL schema (default `phase_memory`),
//!   selected with the connections' `search_path`; several stores can share one
//!   database.
//! - Every commit is one transaction that first locks the single `chain_head` row,
//!   so commits of all instances form one total order: event and audit sequence
//!   numbers continue without a fork, a gap or a duplicate, and a change set whose
//!   numbers no longer continue the head (another instance committed first) is
//!   refused, with the store unchanged.
//! - Large batches go in with binary `COPY`.
//! - A purge commit rewrites the node as a tombstone and is followed by
//!   `VACUUM (FULL)` of the tables it touched, so no earlier version survives in the
//!   store's tables (see `docs/storage.md` for what WAL, replicas and backups mean).
//! - Nothing is kept or locked on the local disk: any number of instances may open
//!   one store at once.

mod commit;
mod copy;
pub mod folder;
mod location;
mod read;
mod record;
mod schema;
mod store;
pub mod testing;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use phase_memory_store::{
    AdapterManifest, Capability, OpenMode, SCHEMA_VERSION, StoreError, StoreMeta, StoreResult,
};
use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use crate::record::{PgContext, seq_to_sql};
use crate::schema::key;

pub use commit::{CHANGE_LIST_MAX, COPY_ROWS, NOTIFY_CHANNEL, REINDEX_ROWS};
pub use location::{PgLocation, redact};
pub use schema::MIGRATIONS;
pub use store::PgAdapter;

/// The SQL schema a store lives in when none is named.
pub const DEFAULT_SCHEMA: &str = "phase_memory";

/// Idle reader connections kept for reuse.
const READER_POOL: usize = 4;

/// How long a commit waits for the chain head lock held by another writer.
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a purge waits for older snapshots before its vacuum.
const DEFAULT_PURGE_WAIT: Duration = Duration::from_secs(10);

/// Whether any other session (in any database of the cluster) holds a snapshot or
/// a transaction that started before transaction `xid` (64-bit, from
/// `txid_current()`), so that a vacuum would have to keep what `xid` superseded.
fn older_snapshot_exists(conn: &mut Client, xid: i64) -> StoreResult<bool> {
    let rows = conn
        .query(
            "SELECT backend_xmin::text, backend_xid::text FROM pg_stat_activity
             WHERE pid <> pg_backend_pid()",
            &[],
        )
        .ctx("looking for older snapshots")?;
    // 32-bit xids compare modulo 2^32, as PostgreSQL does.
    let purge = (xid & 0xffff_ffff) as u32;
    Ok(rows.iter().any(|r| {
        [r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1)]
            .into_iter()
            .flatten()
            .filter_map(|x| x.parse::<u32>().ok())
            .any(|x| (purge.wrapping_sub(x) as i32) >= 0)
    }))
}

/// A reader connection and the statements prepared on it.
struct Pooled {
    client: Client,
    statements: HashMap<String, postgres::Statement>,
    /// The snapshot tag its open read transaction imported (0: none).
    tag: u64,
}

/// An open `REPEATABLE READ` transaction whose snapshot the readers import.
struct Snapshot {
    conn: Client,
    id: String,
}

impl Pooled {
    /// The prepared statement for `sql` (prepared once per connection: later runs
    /// cost one round trip instead of two).
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        if self.statements.len() < 64 {
            self.statements.insert(sql.to_string(), s.clone());
        }
        Ok(s)
    }
}

/// A store kept in one SQL schema of a PostgreSQL database.
///
/// Reads go through a small pool of connections (so a callback of `for_each_node`
/// may call back into the store); writes go through the one writer connection.
pub struct PgStore {
    location: PgLocation,
    /// `None`: a direct handle (reads at read committed, commits whenever the chain
    /// head allows); else the shared-access protocol of `phase_memory_store`.
    mode: Option<OpenMode>,
    writer: Mutex<Client>,
    readers: Mutex<Vec<Pooled>>,
    /// The transaction exporting the snapshot this handle reads (snapshot modes).
    snapshot: Mutex<Option<Snapshot>>,
    /// Which snapshot readers must be in (0: none, read committed).
    snapshot_tag: AtomicU64,
    generation: AtomicU64,
    data_generation: AtomicU64,
    schema_version: u32,
    lock_timeout: Duration,
    purge_wait: Duration,
    writer_held: bool,
    poisoned: bool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .field("schema_version", &self.schema_version)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Creates a new store at `location` (the SQL schema is created when missing)
    /// and opens it. [`StoreError::Exists`] when a store is already there.
    pub fn init(location: &PgLocation, meta: StoreMeta) -> StoreResult<PgStore> {
        let mut conn = location.connect()?;
        let mut meta = meta;
        meta.adapter = "postgres".into();
        meta.schema_version = SCHEMA_VERSION;
        let mut tx = conn.transaction().ctx("beginning the init transaction")?;
        // Two processes initialising one schema at once: the second waits here.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("phase-memory-init:{}", location.schema())],
        )
        .ctx("locking the init")?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{}\"",
            location.schema()
        ))
        .ctx("creating the store schema")?;
        if schema::has_meta(&mut tx)? {
            return Err(StoreError::Exists(location.display()));
        }
        tx.batch_execute(schema::SCHEMA_V2)
            .ctx("creating the tables")?;
        for (name, version) in MIGRATIONS {
            tx.execute(
                "INSERT INTO schema_migrations (name, version) VALUES ($1, $2)",
                &[name, &(*version as i32)],
            )
            .ctx("recording the initial migration")?;
        }
        schema::write_meta(&mut tx, &meta)?;
        tx.execute(
            "INSERT INTO chain_head (id, generation, data_generation, event_seq, audit_seq,
                 audit_hash, purge_xid)
             VALUES (1, 0, 0, 0, 0, $1, 0)",
            &[&phase_memory_model::audit::GENESIS_HASH],
        )
        .ctx("writing the chain head")?;
        tx.commit().ctx("committing the init transaction")?;
        Self::finish_open(location, conn)
    }

    /// Opens the store at `location`. [`StoreError::NotFound`] when there is none,
    /// [`StoreError::TooNew`] when a newer build wrote it. Takes no lock: any number
    /// of instances may have the store open.
    pub fn open(location: &PgLocation) -> StoreResult<PgStore> {
        let conn = location.connect()?;
        let mut store = Self::finish_open(location, conn)?;
        // A purge whose vacuum did not run (the process died after its commit).
        store.vacuum_if_pending(Duration::ZERO)?;
        Ok(store)
    }

    /// Opens the store with the shared-access protocol of `phase_memory_store`:
    /// reads see one committed generation (a `REPEATABLE READ` snapshot exported
    /// at open and at every refresh, imported by every reader connection) until
    /// the next [`Store::refresh`]; [`OpenMode::Shared`] commits only between
    /// `lock_writer` and `unlock_writer`; [`OpenMode::Write`] and
    /// [`OpenMode::Repair`] take the writer lock at open (no wait) and keep it;
    /// [`OpenMode::ReadOnly`] never commits.
    pub fn open_mode(location: &PgLocation, mode: OpenMode) -> StoreResult<PgStore> {
        let conn = location.connect()?;
        let mut store = Self::finish_open(location, conn)?;
        store.mode = Some(mode);
        if mode.locks_at_open() {
            store.acquire_writer(Duration::ZERO)?;
        } else {
            store.begin_snapshot()?;
        }
        Ok(store)
    }

    /// Whether a store exists at `location` (false when the database is unreachable).
    pub fn is_store(location: &PgLocation) -> bool {
        match location.connect() {
            Ok(mut c) => schema::has_meta(&mut c).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Drops the store's SQL schema and everything in it (tests, `store import`
    /// into a fresh location). Irreversible.
    pub fn destroy(location: &PgLocation) -> StoreResult<()> {
        let mut c = location.connect()?;
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            location.schema()
        ))
        .ctx("dropping the store schema")
    }

    /// The adapter's manifest.
    pub fn adapter_manifest() -> AdapterManifest {
        let capabilities = vec![
            Capability::Graph,
            Capability::Events,
            Capability::Audit,
            Capability::Reviews,
            Capability::AtomicCommit,
            Capability::Durable,
            Capability::Purge,
            Capability::AuditPrune,
            Capability::Migrations,
        ];
        AdapterManifest::new(
            "postgres",
            env!("CARGO_PKG_VERSION"),
            &capabilities,
            "one SQL schema of a PostgreSQL database: the tables meta, chain_head, \
             schema_migrations, nodes, edges, events, event_subjects, audit, node_changes \
             and reviews; nothing on the local disk (the store folder keeps only store.json \
             naming the database, tokens and caches)",
        )
    }

    /// Where the store is.
    pub fn pg_location(&self) -> &PgLocation {
        &self.location
    }

    /// Sets how long a commit waits for another writer's chain head lock before
    /// failing with [`StoreError::Locked`].
    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// Sets how long a purge waits for transactions older than it before its
    /// vacuum (see `docs/storage.md`, Erasure on PostgreSQL).
    pub fn set_purge_wait(&mut self, wait: Duration) {
        self.purge_wait = wait;
    }

    /// Moves the handle to the latest generation committed by any instance (one
    /// primary-key row read) and returns it.
    pub fn refresh_generation(&mut self) -> StoreResult<u64> {
        let head = self.read(|c| schema::read_head(c, false))?;
        self.generation.store(head.generation, Ordering::SeqCst);
        self.data_generation
            .store(head.data_generation, Ordering::SeqCst);
        Ok(head.generation)
    }

    /// Takes the store's writer lock (a session-level advisory lock of the writer
    /// connection, released by the server when the session ends, so a killed
    /// process never leaves it behind), waiting up to `wait`; then refreshes.
    /// [`StoreError::Locked`] when another instance still holds it.
    pub fn acquire_writer(&mut self, wait: Duration) -> StoreResult<u64> {
        if !self.writer_held {
            let key = self.lock_key();
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            let conn = self.writer()?;
            conn.batch_execute(&format!("SET lock_timeout = {ms}"))
                .ctx("setting the lock timeout")?;
            let got = conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", &[&key]);
            let reset = conn
                .batch_execute("RESET lock_timeout")
                .ctx("resetting the lock timeout");
            match got {
                Ok(_) => {}
                Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                    reset?;
                    return Err(StoreError::Locked(self.location.display()));
                }
                Err(e) => return Err(record::backend("taking the writer lock", &e)),
            }
            reset?;
            self.writer_held = true;
        }
        self.vacuum_if_pending(Duration::ZERO)?;
        self.refresh_any()
    }

    /// Moves the handle to the latest commit: a new snapshot in the snapshot
    /// modes, the head row for a direct handle.
    fn refresh_any(&mut self) -> StoreResult<u64> {
        if self.mode.is_some() {
            self.begin_snapshot()
        } else {
            self.refresh_generation()
        }
    }

    /// Ends the handle's snapshot: the exporting transaction and every idle
    /// reader's imported one (a purge's `VACUUM (FULL)` must not wait for them).
    fn end_snapshot(&self) {
        if let Some(mut snap) = self
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = snap.conn.batch_execute("COMMIT");
        }
        self.snapshot_tag.fetch_add(1, Ordering::SeqCst);
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        pool.retain_mut(|p| {
            if p.tag != 0 {
                p.tag = 0;
                return p.client.batch_execute("COMMIT").is_ok();
            }
            true
        });
    }

    /// Exports a new snapshot of the latest commit and points the readers at it.
    fn begin_snapshot(&self) -> StoreResult<u64> {
        let mut guard = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let mut conn = match guard.take() {
            Some(mut s) if !s.conn.is_closed() => {
                s.conn
                    .batch_execute("COMMIT")
                    .ctx("ending the previous snapshot")?;
                s.conn
            }
            _ => self.location.connect()?,
        };
        conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .ctx("beginning a snapshot")?;
        let id: String = conn
            .query_one("SELECT pg_export_snapshot()", &[])
            .ctx("exporting a snapshot")?
            .get(0);
        if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(StoreError::Backend(format!(
                "postgres: unexpected snapshot id {id:?}"
            )));
        }
        let head = schema::read_head(&mut conn, false)?;
        *guard = Some(Snapshot { conn, id });
        self.snapshot_tag.fetch_add(1, Ordering::SeqCst);
        self.generation.store(head.generation, Ordering::SeqCst);
        self.data_generation
            .store(head.data_generation, Ordering::SeqCst);
        Ok(head.generation)
    }

    /// Releases the writer lock (a no-op when not held).
    pub fn release_writer(&mut self) {
        if !self.writer_held {
            return;
        }
        self.writer_held = false;
        let key = self.lock_key();
        if let Ok(conn) = self.writer() {
            // When this fails the session is gone, and the server released the lock.
            let _ = conn.execute(
                "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                &[&key],
            );
        }
    }

    /// Whether this handle holds the writer lock.
    pub fn writer_held(&self) -> bool {
        self.writer_held
    }

    fn lock_key(&self) -> String {
        format!("phase-memory-writer:{}", self.location.schema())
    }

    /// The nodes put or deleted, and both ends of the edges put or deleted, by the
    /// commits after generation `after` up to the handle's generation, in id order
    /// (ids only); `None` when that is unknown
    /// (a bulk commit, a new profile, or history trimmed away): rebuild instead.
    pub fn nodes_changed_since(&self, after: u64) -> StoreResult<Option<Vec<String>>> {
        let upto = self.generation.load(Ordering::SeqCst);
        if after >= upto {
            return Ok(Some(Vec::new()));
        }
        let (from, to) = (seq_to_sql(after)?, seq_to_sql(upto)?);
        self.read(|c| {
            let rows = c
                .query(
                    "SELECT DISTINCT id FROM node_changes WHERE generation > $1 AND generation <= $2 ORDER BY id",
                    &[&from, &to],
                )
                .ctx("reading node changes")?;
            let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            if ids.first().is_some_and(|i| i.is_empty()) {
                return Ok(None);
            }
            Ok(Some(ids))
        })
    }

    /// The generation last committed by any instance (one indexed row read).
    pub fn committed_generation(&self) -> StoreResult<u64> {
        self.read(|c| Ok(schema::read_head(c, false)?.generation))
    }

    fn finish_open(location: &PgLocation, mut conn: Client) -> StoreResult<PgStore> {
        if !schema::has_meta(&mut conn)? {
            return Err(StoreError::NotFound(location.display()));
        }
        let version: u32 = schema::meta_require(&mut conn, key::SCHEMA_VERSION)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                want: SCHEMA_VERSION,
            });
        }
        let head = schema::read_head(&mut conn, false)?;
        Ok(PgStore {
            location: location.clone(),
            mode: None,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            snapshot: Mutex::new(None),
            snapshot_tag: AtomicU64::new(0),
            generation: AtomicU64::new(head.generation),
            data_generation: AtomicU64::new(head.data_generation),
            schema_version: version,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            purge_wait: DEFAULT_PURGE_WAIT,
            writer_held: false,
            poisoned: false,
        })
    }

    /// Runs `f` on a pooled reader connection.
    fn read<T>(&self, f: impl FnOnce(&mut Client) -> StoreResult<T>) -> StoreResult<T> {
        self.read_pooled(|p| f(&mut p.client))
    }

    /// Runs `f` on a pooled reader connection with its statement cache.
    fn read_pooled<T>(&self, f: impl FnOnce(&mut Pooled) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) if !c.client.is_closed() => c,
            _ => Pooled {
                client: self.location.connect()?,
                statements: HashMap::new(),
                tag: 0,
            },
        };
        // Snapshot modes: read inside a transaction that imported the handle's
        // snapshot, so every read sees the same committed generation.
        let want = self.snapshot_tag.load(Ordering::SeqCst);
        if self.mode.is_some() && conn.tag != want {
            if conn.tag != 0 {
                conn.client
                    .batch_execute("COMMIT")
                    .ctx("ending a read transaction")?;
                conn.tag = 0;
            }
            let id = self
                .snapshot
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|s| s.id.clone());
            if let Some(id) = id {
                conn.client
                    .batch_execute(&format!(
                        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{id}'"
                    ))
                    .ctx("importing the handle's snapshot")?;
                conn.tag = want;
            }
        }
        let out = f(&mut conn);
        if out.is_ok() && !conn.client.is_closed() {
            let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < READER_POOL {
                pool.push(conn);
            }
        }
        out
    }

    fn writer(&mut self) -> StoreResult<&mut Client> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let w = self.writer.get_mut().unwrap_or_else(|e| e.into_inner());
        if w.is_closed() {
            // A new session: whatever the old one held (the writer lock) is gone.
            *w = self.location.connect()?;
            self.writer_held = false;
        }
        Ok(w)
    }

    /// Runs the vacuum a purge commit asked for, then clears the flag.
    ///
    /// `VACUUM (FULL)` rewrites each table (with its TOAST table and indexes) into
    /// new files holding only live rows, but it must keep a superseded version that
    /// a transaction older than the purge could still see. So it first waits
    /// (bounded by the purge wait) until no session's snapshot predates the purge
    /// commit; when one still does, the vacuum runs anyway, the flag stays set,
    /// `check_integrity` reports `store.purge_incomplete`, and the next purge,
    /// open or `repair --apply` runs it again.
    fn vacuum_if_pending(&mut self, wait: Duration) -> StoreResult<bool> {
        let lock_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(200);
        let conn = self.writer()?;
        let xid = schema::read_head(conn, false)?.purge_xid;
        if xid == 0 {
            return Ok(true);
        }
        let deadline = std::time::Instant::now() + wait;
        let clear = loop {
            if !older_snapshot_exists(conn, xid)? {
                break true;
            }
            if std::time::Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !clear && wait.is_zero() {
            // A retry (open, writer lock) while an older snapshot still exists: the
            // vacuum could not erase yet, so do not make this request pay for it.
            return Ok(false);
        }
        // (One statement at a time: VACUUM cannot run inside a transaction block.)
        // It needs each table to itself; when another instance's read snapshot
        // still holds one past the wait, the purge stays pending and is retried.
        conn.batch_execute(&format!("SET lock_timeout = {lock_ms}"))
            .ctx("setting the lock timeout")?;
        let mut done = true;
        for table in ["nodes", "edges", "reviews"] {
            if conn
                .batch_execute(&format!("VACUUM (FULL) {table}"))
                .is_err()
            {
                done = false;
            }
        }
        conn.batch_execute("RESET lock_timeout")
            .ctx("resetting the lock timeout")?;
        if clear && done {
            conn.execute(
                "UPDATE chain_head SET purge_xid = 0 WHERE id = 1 AND purge_xid = $1",
                &[&xid],
            )
            .ctx("clearing the purge flag")?;
        }
        Ok(clear && done)
    }

    fn stream<T>(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        mut f: impl FnMut(&postgres::Row) -> StoreResult<Option<T>>,
        sink: &mut dyn FnMut(T) -> bool,
    ) -> StoreResult<()> {
        self.read_pooled(|p| {
            let stmt = p.prepare(sql).ctx(what)?;
            let mut rows = p
                .client
                .query_raw(&stmt, params.iter().copied())
                .ctx(what)?;
            while let Some(row) = rows.next().ctx(what)? {
                if let Some(v) = f(&row)?
                    && !sink(v)
                {
                    break;
                }
            }
            Ok(())
        })
    }
}
