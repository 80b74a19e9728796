//! The file adapter of phase-memory: the embedded default store, a human-readable,
//! git-friendly folder.
//!
//! Layout (format v2, see `docs/storage.md`): `meta.json`, `manifest.json` (the commit
//! point), `segments/NNNNNNNN.jsonl` (node, edge and review records), `events.jsonl`
//! and `audit.jsonl` (append-only), `profile-<generation>.toml`, `LOCK`,
//! `quarantine/`, and `index/`, which belongs to the runtime and is never touched.
//! Every line carries a checksum of its content; every whole-file write goes through
//! temp file, fsync, rename, folder fsync; every write goes through the [`Fs`] seam.
//!
//! A writer open loads the whole store into a [`MemoryState`], so reads are in
//! memory. A shared or read-only open starts with a lazy image (`lazy.rs`: the
//! manifest, the profile, the logs' last lines, the node locator of `locator.rs`)
//! and loads the whole store only on the first read that needs it. A shared handle ([`OpenMode::Shared`]) catches up with other handles' commits in
//! [`Store::refresh`] by reading only what is new: the manifest first (the cheap
//! generation check), then only the segments added since and the log bytes
//! appended since; after compactions, the part of the folded segment it has not
//! read (while the first segment stays); a purge, an audit prune or a rewrite of
//! the whole image reloads what it rewrote.

mod commit;
mod fs;
mod integrity;
mod layout;
mod lazy;
mod load;
mod locator;
mod migrate;
mod reads;
mod record;
mod refresh;
mod tail;
pub mod v1;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use phase_memory_model::Time;
use phase_memory_store::{
    AdapterManifest, Capability, ChangeSet, IntegrityFinding, MemoryState, SCHEMA_VERSION, Store,
    StoreError, StoreMeta, StoreResult, WriterLock,
};

#[doc(hidden)]
pub use crate::lazy::set_scan_limit_for_thread;
pub use crate::locator::LOCATOR;

pub use phase_memory_store::OpenMode;

pub use crate::fs::{Fault, FaultyFs, Fs, RealFs};
pub use crate::layout::{
    AUDIT, EVENTS, INDEX, LOCK, MANIFEST, META, MIGRATION_0002, QUARANTINE, SEGMENTS,
};

use crate::layout::{Manifest, io_err, pretty_json, read_json, write_atomic};
use crate::load::Damage;

thread_local! {
    static LOADS_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many times handles loaded the whole store on this thread so far (every
/// handle of this process; tests of the layers above read it around a call).
pub fn loads_on_this_thread() -> u64 {
    LOADS_HERE.with(|c| c.get())
}

/// Segments beyond which a commit merges them all into one.
pub const MAX_SEGMENTS: usize = 32;

thread_local! {
    /// A test's override of [`MAX_SEGMENTS`] for commits on its thread.
    static MAX_SEGMENTS_HERE: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Sets (or with `None` clears) how many segments commits on this thread allow
/// before they compact (tests: a small number makes compactions frequent).
#[doc(hidden)]
pub fn set_max_segments_for_thread(limit: Option<usize>) {
    MAX_SEGMENTS_HERE.with(|c| c.set(limit));
}

/// [`MAX_SEGMENTS`], or this thread's override.
pub(crate) fn max_segments() -> usize {
    MAX_SEGMENTS_HERE.with(|c| c.get()).unwrap_or(MAX_SEGMENTS)
}

/// A store in a folder. See the crate docs for the layout.
pub struct FileStore {
    dir: PathBuf,
    mode: OpenMode,
    fs: Box<dyn Fs>,
    /// The whole image, once loaded. A shared or read-only handle opens without
    /// it (see `lazy`) and loads it on the first read that needs it.
    state: OnceLock<MemoryState>,
    /// What the handle knows without the whole image (shared and read-only
    /// handles); stale once `state` is set, and dropped at the next `&mut` use.
    lazy: Option<Box<lazy::Lazy>>,
    /// Loads of the whole image so far (opens, first reads that needed it,
    /// refreshes that reloaded).
    loads: AtomicU64,
    /// `None` for a v1 store (no manifest until it is migrated).
    manifest: Option<Manifest>,
    /// The bytes of `manifest.json` a refresh last found `manifest` in: a
    /// refresh reading the same bytes again knows nothing moved without
    /// parsing them. Cleared whenever `manifest` is set otherwise.
    manifest_bytes: Option<Vec<u8>>,
    lock: Option<WriterLock>,
    poisoned: bool,
    /// The manifest this handle last committed and settled itself: a writer
    /// lock that finds it still on disk knows no writer came in between, so
    /// nothing is left to finish (see `recover_under_lock`).
    settled_own: Option<Manifest>,
    /// Writer locks taken since the last full sweep for what an interrupted
    /// commit left behind.
    locks_since_sweep: u32,
    /// What a `Repair` open left out of the image.
    damage: Vec<Damage>,
    /// What the open did on its own (uncommitted tails moved to quarantine).
    notes: Vec<IntegrityFinding>,
    /// Node ids changed by the commits this handle made or caught up with since
    /// its first one (`Store::data_changes_since`).
    pub(crate) changes: Option<phase_memory_store::ChangeLog>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("mode", &self.mode)
            .field("generation", &self.generation())
            .field("lazy", &self.is_lazy())
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

fn acquire_lock(dir: &Path, wait: Duration) -> StoreResult<WriterLock> {
    WriterLock::acquire(&dir.join(LOCK), &dir.display().to_string(), wait)
}

impl FileStore {
    /// Whether `dir` holds a store (of any format version).
    pub fn is_store(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file() || dir.join(META).is_file()
    }

    /// Creates a new, empty store in `dir` (created if missing) and opens it for
    /// writing. Fails with [`StoreError::Exists`] when a store is already there.
    pub fn init(dir: &Path, meta: StoreMeta) -> StoreResult<FileStore> {
        Self::init_with_fs(dir, meta, Box::new(RealFs))
    }

    /// [`FileStore::init`] writing through `fs`.
    pub fn init_with_fs(dir: &Path, meta: StoreMeta, fs: Box<dyn Fs>) -> StoreResult<FileStore> {
        if Self::is_store(dir) {
            return Err(StoreError::Exists(dir.display().to_string()));
        }
        fs.create_dir_all(dir)
            .map_err(|e| io_err("creating the store folder", dir, e))?;
        let lock = acquire_lock(dir, Duration::ZERO)?;
        if Self::is_store(dir) {
            return Err(StoreError::Exists(dir.display().to_string()));
        }
        let segments = dir.join(SEGMENTS);
        fs.create_dir_all(&segments)
            .map_err(|e| io_err("creating", &segments, e))?;
        for log in [EVENTS, AUDIT] {
            let p = dir.join(log);
            fs.write_new(&p, b"")
                .map_err(|e| io_err("creating", &p, e))?;
        }
        let manifest = Manifest::empty(meta.clone());
        write_atomic(fs.as_ref(), &dir.join(MANIFEST), &pretty_json(&manifest)?)?;
        write_atomic(fs.as_ref(), &dir.join(META), &pretty_json(&meta)?)?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            mode: OpenMode::Write,
            fs,
            state: OnceLock::from(MemoryState::new(meta)),
            lazy: None,
            loads: AtomicU64::new(0),
            manifest: Some(manifest),
            manifest_bytes: None,
            lock: Some(lock),
            poisoned: false,
            settled_own: None,
            locks_since_sweep: 0,
            damage: Vec::new(),
            notes: Vec::new(),
            changes: None,
        })
    }

    /// Opens the store in `dir`. [`StoreError::NotFound`] when there is none,
    /// [`StoreError::Locked`] when another writer holds it (writers only),
    /// [`StoreError::Corrupt`] naming the file and line of a damaged committed record
    /// (except in [`OpenMode::Repair`]).
    pub fn open(dir: &Path, mode: OpenMode) -> StoreResult<FileStore> {
        Self::open_with_fs(dir, mode, Box::new(RealFs))
    }

    /// [`FileStore::open`] writing through `fs` (fault-injection tests).
    pub fn open_with_fs(dir: &Path, mode: OpenMode, fs: Box<dyn Fs>) -> StoreResult<FileStore> {
        if !Self::is_store(dir) {
            return Err(StoreError::NotFound(dir.display().to_string()));
        }
        let lock = if mode.locks_at_open() {
            Some(acquire_lock(dir, Duration::ZERO)?)
        } else {
            None
        };
        let mut store = FileStore {
            dir: dir.to_path_buf(),
            mode,
            fs,
            state: OnceLock::new(),
            lazy: None,
            loads: AtomicU64::new(0),
            manifest: None,
            manifest_bytes: None,
            lock,
            poisoned: false,
            settled_own: None,
            locks_since_sweep: 0,
            damage: Vec::new(),
            notes: Vec::new(),
            changes: None,
        };
        if !dir.join(MANIFEST).is_file() {
            let meta: StoreMeta = read_json(&dir.join(META), META)?;
            return match meta.schema_version {
                1 => {
                    store.set_image(v1::load(dir)?);
                    Ok(store)
                }
                v if v > SCHEMA_VERSION => Err(StoreError::TooNew {
                    found: v,
                    want: SCHEMA_VERSION,
                }),
                _ => Err(layout::corrupt(
                    MANIFEST,
                    "meta.json says format v2 but manifest.json is missing",
                )),
            };
        }
        // A shared open finishes what a writer that died left behind, like a writer
        // open, when no writer holds the store right now (the lock is free): the
        // first process to open after a crash tidies, whichever mode it uses.
        let mut tidy_lock = match mode {
            OpenMode::Shared => acquire_lock(dir, Duration::ZERO).ok(),
            _ => None,
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut m = store.read_manifest()?;
            if mode.locks_at_open() || (tidy_lock.is_some() && attempts == 1) {
                commit::settle(store.fs.as_ref(), dir, &mut m, false)?;
                commit::clear_uncommitted(store.fs.as_ref(), dir, &m)?;
                store.notes = commit::cut_tails(store.fs.as_ref(), dir, &m)?;
            }
            // Loading needs no lock: writers may go on.
            drop(tidy_lock.take());
            let lazy_mode = matches!(mode, OpenMode::Shared | OpenMode::ReadOnly);
            if lazy_mode && let Some((lazy, rewrite)) = lazy::Lazy::open(dir, &m)? {
                // A read-only handle never writes, not even the locator.
                if rewrite
                    && mode == OpenMode::Shared
                    && let Some(bytes) = lazy.encode_locator(&m)
                {
                    store.write_locator_bytes(&bytes);
                }
                store.lazy = Some(Box::new(lazy));
                store.manifest = Some(m);
                return Ok(store);
            }
            store.count_load();
            let locate = mode == OpenMode::Shared;
            match load::load_with(dir, &m, mode == OpenMode::Repair, None, locate) {
                Ok(loaded) => {
                    if let Some(positions) = &loaded.positions {
                        store.write_locator_bytes(&positions.encode(&m));
                    }
                    store.set_image(loaded.state);
                    store.damage = loaded.damage;
                    store.manifest = Some(m);
                    return Ok(store);
                }
                // A reader can race a writer's compaction; the next manifest names
                // files that exist.
                Err(e)
                    if !mode.locks_at_open()
                        && attempts < 5
                        && store.read_manifest().is_ok_and(|again| again != m) =>
                {
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn read_manifest(&self) -> StoreResult<Manifest> {
        let m: Manifest = read_json(&self.dir.join(MANIFEST), MANIFEST)?;
        Self::check_manifest(m)
    }

    /// The bytes of `manifest.json`.
    pub(crate) fn read_manifest_bytes(&self) -> StoreResult<Vec<u8>> {
        let path = self.dir.join(MANIFEST);
        std::fs::read(&path).map_err(|e| layout::io_err("reading", &path, e))
    }

    /// The manifest of `bytes` (see [`FileStore::read_manifest_bytes`]).
    pub(crate) fn parse_manifest(bytes: &[u8]) -> StoreResult<Manifest> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| layout::corrupt(MANIFEST, format!("does not parse: {e}")))?;
        Self::check_manifest(m)
    }

    /// `m` if this version reads it.
    fn check_manifest(m: Manifest) -> StoreResult<Manifest> {
        if m.format != layout::MANIFEST_FORMAT {
            return Err(layout::corrupt(
                MANIFEST,
                format!("unknown manifest format {:?}", m.format),
            ));
        }
        if m.meta.schema_version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: m.meta.schema_version,
                want: SCHEMA_VERSION,
            });
        }
        Ok(m)
    }

    /// The file adapter's manifest: every capability, every conformance check.
    pub fn adapter_manifest() -> AdapterManifest {
        AdapterManifest::new(
            "file",
            env!("CARGO_PKG_VERSION"),
            Capability::ALL,
            "everything in the store folder except index/, which is reserved for \
             the runtime's full-text index and never read, written or reported",
        )
    }

    /// The store folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How this handle was opened.
    pub fn mode(&self) -> OpenMode {
        self.mode
    }

    /// The in-memory image of the store (loaded now if the handle was opened
    /// without it).
    pub fn state(&self) -> StoreResult<&MemoryState> {
        self.image()
    }

    /// Whether this handle answers without its whole image so far (a shared or
    /// read-only open that found a usable locator, see `docs/storage.md`).
    pub fn is_lazy(&self) -> bool {
        self.state.get().is_none()
    }

    /// Counts a load of the whole store by this handle (and on this thread).
    pub(crate) fn count_load(&self) {
        self.loads.fetch_add(1, Ordering::Relaxed);
        LOADS_HERE.with(|c| c.set(c.get() + 1));
    }

    /// How many times this handle loaded the whole store (at open, on the first
    /// read that needed it, or in a refresh that had to reload).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Writes the node locator for the handle's manifest (best effort: a
    /// failure leaves the old one, which readers check before use). False when
    /// nothing was written.
    pub fn write_locator(&self) -> bool {
        let Some(m) = &self.manifest else {
            return false;
        };
        let bytes = match (self.state.get(), &self.lazy) {
            (None, Some(l)) => match l.encode_locator(m) {
                Some(b) => b,
                None => return false,
            },
            _ => match load::load_with(&self.dir, m, false, None, true) {
                Ok(loaded) => match loaded.positions {
                    Some(p) => p.encode(m),
                    None => return false,
                },
                Err(_) => return false,
            },
        };
        self.write_locator_bytes(&bytes)
    }

    fn write_locator_bytes(&self, bytes: &[u8]) -> bool {
        write_atomic(self.fs.as_ref(), &self.dir.join(LOCATOR), bytes).is_ok()
    }

    /// The whole image, loading it now (through the files the lazy image holds
    /// open, so exactly the handle's generation) if the handle has not yet.
    pub(crate) fn image(&self) -> StoreResult<&MemoryState> {
        if let Some(s) = self.state.get() {
            return Ok(s);
        }
        let (Some(lazy), Some(m)) = (&self.lazy, &self.manifest) else {
            return Err(StoreError::Backend("the store image is not loaded".into()));
        };
        self.count_load();
        let loaded = load::load_with(&self.dir, m, false, Some(&lazy.pins), false)?;
        let _ = self.state.set(loaded.state);
        self.state
            .get()
            .ok_or_else(|| StoreError::Backend("the store image is not loaded".into()))
    }

    /// The whole image for a change (loaded first if need be; the lazy image is
    /// dropped).
    pub(crate) fn image_mut(&mut self) -> StoreResult<&mut MemoryState> {
        self.image()?;
        self.lazy = None;
        self.state
            .get_mut()
            .ok_or_else(|| StoreError::Backend("the store image is not loaded".into()))
    }

    /// Replaces the whole image (the lazy image is dropped).
    pub(crate) fn set_image(&mut self, state: MemoryState) {
        self.state = OnceLock::from(state);
        self.lazy = None;
    }

    /// The lazy image, while the whole one is not loaded.
    pub(crate) fn lazy(&self) -> Option<&lazy::Lazy> {
        match self.state.get() {
            Some(_) => None,
            None => self.lazy.as_deref(),
        }
    }

    /// Whether an I/O error poisoned this handle.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Whether this handle holds the writer lock now.
    pub(crate) fn lock_held(&self) -> bool {
        self.lock.is_some()
    }

    /// Refuses `what` (a commit, a migration, a repair) unless this handle may
    /// write now: not read-only, holding the writer lock, not poisoned.
    pub(crate) fn may_write(&self, what: &str) -> StoreResult<()> {
        if self.mode == OpenMode::ReadOnly {
            return Err(StoreError::InvalidChange(format!(
                "store {} was opened read-only; {what} needs a writer",
                self.dir.display()
            )));
        }
        if !self.lock_held() {
            return Err(StoreError::InvalidChange(format!(
                "store {}: {what} needs the writer lock (lock_writer first)",
                self.dir.display()
            )));
        }
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        Ok(())
    }

    /// Refuses a write unless this handle may write.
    fn writable(&self) -> StoreResult<&Manifest> {
        self.may_write("a commit")?;
        self.manifest.as_ref().ok_or(StoreError::MigrationNeeded {
            found: self.state.get().map_or(1, |s| s.meta.schema_version),
            want: SCHEMA_VERSION,
        })
    }
}

impl Store for FileStore {
    fn manifest(&self) -> AdapterManifest {
        Self::adapter_manifest()
    }
    fn meta(&self) -> StoreResult<StoreMeta> {
        match (self.lazy(), &self.manifest) {
            (Some(_), Some(m)) => Ok(m.meta.clone()),
            _ => Ok(self.image()?.meta.clone()),
        }
    }
    fn profile_source(&self) -> StoreResult<Option<String>> {
        match self.lazy() {
            Some(l) => Ok(l.profile.clone()),
            None => Ok(self.image()?.profile.clone()),
        }
    }
    fn generation(&self) -> u64 {
        match (self.state.get(), &self.manifest) {
            (Some(s), _) => s.generation,
            (None, Some(m)) => m.generation,
            (None, None) => 0,
        }
    }
    fn commit(&mut self, change: ChangeSet) -> StoreResult<u64> {
        // Commits after the data generation changed no data: the log knows them.
        let before = self.data_generation();
        let profile = change.profile.is_some();
        let ids = phase_memory_store::ChangeLog::ids_of(&change);
        let g = self.commit_change(change)?;
        let log = self
            .changes
            .get_or_insert_with(|| phase_memory_store::ChangeLog::new(before));
        if profile {
            log.reset(g);
        } else {
            log.record_ids(g, ids);
        }
        Ok(g)
    }
    fn check_integrity(&self) -> StoreResult<Vec<IntegrityFinding>> {
        integrity::check(self)
    }
    fn repair_integrity(&mut self, _now: Time) -> StoreResult<Vec<IntegrityFinding>> {
        integrity::repair(self)
    }
    fn pending_migrations(&self) -> StoreResult<Vec<String>> {
        Ok(if self.manifest.is_none() {
            vec![MIGRATION_0002.to_string()]
        } else {
            Vec::new()
        })
    }
    fn migrate(&mut self) -> StoreResult<Vec<String>> {
        migrate::migrate(self)
    }
    fn location(&self) -> String {
        self.dir.display().to_string()
    }
    fn data_generation(&self) -> u64 {
        match (self.state.get(), &self.manifest) {
            (Some(s), _) => s.data_generation,
            (None, Some(m)) => m.data_generation.unwrap_or(m.generation),
            (None, None) => 0,
        }
    }
    fn refresh(&mut self) -> StoreResult<u64> {
        self.catch_up()
    }
    fn data_changes_since(&self, since: u64) -> StoreResult<Option<Vec<String>>> {
        if since >= self.data_generation() {
            return Ok(Some(Vec::new()));
        }
        Ok(self.changes.as_ref().and_then(|log| log.since(since)))
    }
    fn lock_writer(&mut self, wait: Duration) -> StoreResult<u64> {
        match self.mode {
            OpenMode::Write | OpenMode::Repair => return Ok(self.generation()),
            OpenMode::ReadOnly => {
                return Err(StoreError::InvalidChange(format!(
                    "store {} was opened read-only; writing needs a writer",
                    self.dir.display()
                )));
            }
            OpenMode::Shared => {}
        }
        if self.lock.is_none() {
            let lock = acquire_lock(&self.dir, wait)?;
            // Finish what a writer that died mid-commit left behind, then read
            // what the last commit made.
            if let Err(e) = self.recover_under_lock() {
                drop(lock);
                return Err(e);
            }
            self.lock = Some(lock);
        }
        self.catch_up()
    }
    fn unlock_writer(&mut self) {
        if self.mode == OpenMode::Shared {
            self.lock = None;
        }
    }
    fn holds_writer(&self) -> bool {
        self.lock_held()
    }
}

impl phase_memory_store::meta::FolderStore for FileStore {
    fn is_store(dir: &Path) -> bool {
        FileStore::is_store(dir)
    }
    fn init(dir: &Path, meta: StoreMeta) -> StoreResult<Self> {
        FileStore::init(dir, meta)
    }
    fn open(dir: &Path, mode: OpenMode) -> StoreResult<Self> {
        FileStore::open(dir, mode)
    }
}

phase_memory_store::folder_adapter!(
    /// The file adapter as "open any adapter" sees it.
    FileAdapter,
    FileStore,
    "file"
);
