//! Creating and opening stores: "open any adapter" (the one list of adapters, used
//! by every front end and the benchmark), the stored profile, the full-text index,
//! and the shared-access protocol around each request (catch up with other
//! processes' commits; take the writer lock only around a write).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use phase_memory_activate::tokens::TokenCounter;
use phase_memory_index::FullTextIndex;
use phase_memory_model::{Diagnostic, Envelope, Status, Time};
use phase_memory_profile::{DEFAULT_PROFILE_TOML, Profile};
use phase_memory_store::{
    AdapterKind, ChangeSet, MemoryStore, OpenMode, Store, StoreConfig, StoreError, StoreMeta,
};
use phase_memory_store_file::FileAdapter;
use phase_memory_store_postgres::PgAdapter;
use phase_memory_store_sqlite::SqliteAdapter;
use serde_json::json;

use crate::clock::Clock;
use crate::outcome::{IndexUpdate, Outcome};
use crate::registry::StoreUse;
use crate::sharing::{Sharing, WriteGate};
use crate::state::{Home, Runtime};

pub use phase_memory_store::DEFAULT_WRITE_WAIT;

/// Documents of small writes the full-text index of a store folder keeps in
/// memory before it writes them to its folder (also after a second at most).
const INDEX_PENDING_DOCS: usize = 1_000;

/// Every adapter this build can open, in detection order. To add an adapter:
/// implement [`AdapterKind`] in its crate and add it here; `init --adapter NAME`,
/// `DIR/store.json` (`{"adapter": NAME, "url": …}`) and detection pick it up.
pub const ADAPTERS: &[&dyn AdapterKind] = &[&SqliteAdapter, &FileAdapter, &PgAdapter];

/// Opens the store at `dir` with whichever adapter backs it (see [`ADAPTERS`]).
pub fn open_store(dir: &Path, mode: OpenMode) -> Result<Box<dyn Store>, StoreError> {
    phase_memory_store::open_any(ADAPTERS, dir, mode)
}

/// Which adapter backs a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// The embedded default: a human-readable folder.
    File,
    /// One SQLite file in the store folder.
    Sqlite,
    /// In process memory (tests, ephemeral runs).
    Memory,
    /// Another adapter of [`ADAPTERS`], by name.
    Other(&'static str),
}

impl Adapter {
    /// Parses an adapter name (`file`, `sqlite`, `memory`, or any of [`ADAPTERS`]).
    pub fn parse(s: &str) -> Option<Adapter> {
        match s {
            "file" => Some(Adapter::File),
            "sqlite" => Some(Adapter::Sqlite),
            "memory" => Some(Adapter::Memory),
            _ => ADAPTERS
                .iter()
                .find(|k| k.name() == s)
                .map(|k| Adapter::Other(k.name())),
        }
    }

    /// The adapter's name.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::File => "file",
            Adapter::Sqlite => "sqlite",
            Adapter::Memory => "memory",
            Adapter::Other(n) => n,
        }
    }
}

/// Where a store is.
#[derive(Clone, Debug)]
pub struct StoreLocation {
    /// The store folder.
    pub dir: PathBuf,
}

fn fail(status: Status, d: Diagnostic) -> (Status, Diagnostic) {
    (status, d)
}

fn from_store_error(e: &StoreError) -> (Status, Diagnostic) {
    let o = Outcome::store_error(e);
    let d = o
        .diagnostics
        .into_iter()
        .next()
        .unwrap_or_else(|| Diagnostic::error("store.io", e.to_string()));
    (o.status, d)
}

/// Creates a store at `dir` with `adapter` and a profile (TOML source and its
/// origin for diagnostics; the built-in profile when `None`).
pub fn init_store(
    dir: &Path,
    adapter: Adapter,
    profile: Option<(&str, &str)>,
    now: Time,
) -> Envelope {
    init_store_with(dir, adapter, None, profile, now)
}

/// Like [`init_store`], with the `store.json` an adapter whose data lives elsewhere
/// needs (postgres: the database URL, or none to read `PHASE_MEMORY_DATABASE_URL`
/// at every open); `None` reads `DIR/store.json` if there is one.
pub fn init_store_with(
    dir: &Path,
    adapter: Adapter,
    config: Option<StoreConfig>,
    profile: Option<(&str, &str)>,
    now: Time,
) -> Envelope {
    let (origin, source) = profile.unwrap_or(("<built-in default profile>", DEFAULT_PROFILE_TOML));
    let mut env = Envelope::new("store.init", Status::Ok, "req-init", "");
    let parsed = match Profile::parse(source, origin) {
        Ok(p) => p,
        Err(e) => {
            env.status = Status::Invalid;
            for p in &e.problems {
                env.diagnostics.push(
                    Diagnostic::error("profile.invalid", format!("{}: {}", p.field, p.message))
                        .at(p.location(&e.origin)),
                );
            }
            return env;
        }
    };
    env.profile_digest = parsed.digest();
    if ADAPTERS.iter().any(|k| k.detect(dir)) || dir.join(phase_memory_store::CONFIG_FILE).exists()
    {
        env.status = Status::Conflict;
        env.diagnostics.push(Diagnostic::error(
            "store.exists",
            format!("a store already exists at {}", dir.display()),
        ));
        return env;
    }
    let kind = match adapter {
        Adapter::Memory => {
            env.status = Status::Invalid;
            env.diagnostics.push(Diagnostic::error(
                "request.invalid",
                "the memory adapter lives in one process; use it from the library",
            ));
            return env;
        }
        other => ADAPTERS.iter().find(|k| k.name() == other.name()),
    };
    let created = match kind {
        None => Err(StoreError::Backend(format!(
            "adapter {} is not part of this build",
            adapter.name()
        ))),
        Some(kind) => match config {
            Some(cfg) => Ok(Some(cfg)),
            None => StoreConfig::read(dir),
        }
        .and_then(|cfg| kind.init(dir, cfg.as_ref(), StoreMeta::new(kind.name(), now))),
    };
    let mut store = match created {
        Ok(s) => s,
        Err(e) => {
            let (status, d) = from_store_error(&e);
            env.status = status;
            env.diagnostics.push(d);
            return env;
        }
    };
    if let Err(e) = store.commit(ChangeSet {
        profile: Some(source.to_string()),
        ..Default::default()
    }) {
        let (status, d) = from_store_error(&e);
        env.status = status;
        env.diagnostics.push(d);
        return env;
    }
    env.data = json!({
        "adapter": store.manifest().name,
        "location": dir.display().to_string(),
        "profile": {"name": parsed.name, "digest": parsed.digest()},
        "schema_version": phase_memory_store::SCHEMA_VERSION,
    });
    env
}

/// Opens the store at `dir` for shared access: the runtime reads the latest
/// committed generation at the start of every request and takes the writer lock
/// only around writes, waiting up to [`DEFAULT_WRITE_WAIT`] for it.
pub fn open_runtime(dir: &Path, clock: Clock) -> Result<Runtime, (Status, Diagnostic)> {
    open_with(dir, clock, OpenMode::Shared, DEFAULT_WRITE_WAIT)
}

/// [`open_runtime`] with the time a write waits for the writer lock before
/// `store.locked`.
pub fn open_runtime_waiting(
    dir: &Path,
    clock: Clock,
    wait: Duration,
) -> Result<Runtime, (Status, Diagnostic)> {
    open_with(dir, clock, OpenMode::Shared, wait)
}

/// Opens the store for `repair`: a file store whose records fail their checksums
/// still opens (the damaged records are left out and reported) so that
/// `store.repair` can diagnose and quarantine them. Writes other than the repair
/// are refused until it has run. Holds the writer lock for the runtime's life.
pub fn open_runtime_for_repair(dir: &Path, clock: Clock) -> Result<Runtime, (Status, Diagnostic)> {
    open_with(dir, clock, OpenMode::Repair, DEFAULT_WRITE_WAIT)
}

/// Opens what `operation` needs (its registry entry's [`StoreUse`]): the store
/// at `dir` with shared access (writes wait up to `wait` for the writer lock),
/// the store in repair mode, or an in-memory runtime with the built-in profile
/// for operations that need no store.
pub fn open_for_operation(
    operation: &str,
    dir: &Path,
    clock: Clock,
    wait: Duration,
) -> Result<Runtime, (Status, Diagnostic)> {
    match crate::registry::store_use(operation) {
        StoreUse::Open => open_runtime_waiting(dir, clock, wait),
        StoreUse::Repair => open_runtime_for_repair(dir, clock),
        StoreUse::None => memory_runtime(DEFAULT_PROFILE_TOML, clock),
    }
}

fn open_with(
    dir: &Path,
    clock: Clock,
    mode: OpenMode,
    wait: Duration,
) -> Result<Runtime, (Status, Diagnostic)> {
    let store = match open_store(dir, mode) {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => {
            return Err(fail(
                Status::NotFound,
                Diagnostic::error(
                    "store.not_found",
                    format!(
                        "no store at {}; run `phase-memory init` first",
                        dir.display()
                    ),
                ),
            ));
        }
        Err(e) => return Err(from_store_error(&e)),
    };
    // The index is derived from the store and caught up from its change feed,
    // so its commits are not synced, and the documents of small writes are kept
    // in memory until enough gathered (see docs/storage.md: what a crash costs).
    let options = phase_memory_index::IndexOptions {
        durable: false,
        pending_docs: INDEX_PENDING_DOCS,
        ..Default::default()
    };
    let index =
        FullTextIndex::open_or_create_with(Some(&dir.join("index")), options).map_err(|e| {
            fail(
                Status::Error,
                Diagnostic::error("store.io", format!("opening the full-text index: {e}")),
            )
        })?;
    let mut rt = build(store, index, Some(dir.to_path_buf()), clock, wait)?;
    rt.sync_after_refresh().map_err(|e| from_store_error(&e))?;
    Ok(rt)
}

/// A runtime over a fresh in-memory store with `profile` (tests, evaluation).
pub fn memory_runtime(profile_source: &str, clock: Clock) -> Result<Runtime, (Status, Diagnostic)> {
    let mut store: Box<dyn Store> = Box::new(MemoryStore::new(clock.now()));
    Profile::parse(profile_source, "<profile>").map_err(|e| {
        fail(
            Status::Invalid,
            Diagnostic::error("profile.invalid", e.to_string()),
        )
    })?;
    store
        .commit(ChangeSet {
            profile: Some(profile_source.to_string()),
            ..Default::default()
        })
        .map_err(|e| from_store_error(&e))?;
    let index = FullTextIndex::open_or_create(None).map_err(|e| {
        fail(
            Status::Error,
            Diagnostic::error("store.io", format!("full-text index: {e}")),
        )
    })?;
    build(store, index, None, clock, DEFAULT_WRITE_WAIT)
}

fn build(
    store: Box<dyn Store>,
    index: FullTextIndex,
    dir: Option<PathBuf>,
    clock: Clock,
    wait: Duration,
) -> Result<Runtime, (Status, Diagnostic)> {
    let source = store.profile_source().map_err(|e| from_store_error(&e))?;
    let profile = match &source {
        Some(src) => Profile::parse(src, "<stored profile>").map_err(|e| {
            fail(
                Status::Error,
                Diagnostic::error(
                    "profile.invalid",
                    format!("the stored profile is invalid: {e}"),
                ),
            )
        })?,
        None => Profile::builtin(),
    };
    let tokens = TokenCounter::new(&profile.tokenizer.encoding).map_err(|e| {
        fail(
            Status::Error,
            Diagnostic::error("profile.invalid", format!("tokenizer: {e}")),
        )
    })?;
    let semantic = crate::semantic::SemanticIndex::new(dir.as_deref());
    let mut rt = Runtime {
        store,
        profile_digest: profile.digest(),
        profile,
        clock,
        index,
        snapshot: None,
        snapshot_events: 0,
        derived: Default::default(),
        tokens,
        index_tag_lags: false,
        extensions: BTreeMap::new(),
        home: Home { dir },
        sharing: Sharing::new(wait, source),
        group: Default::default(),
        semantic,
        shared_snapshot: None,
        policy_memo: Default::default(),
    };
    rt.ensure_index().map_err(|e| {
        fail(
            Status::Error,
            Diagnostic::error(
                "store.stale_index",
                format!("rebuilding the full-text index: {e}"),
            ),
        )
    })?;
    Ok(rt)
}

impl Runtime {
    /// Sets how long a write waits for the store's writer lock before
    /// `store.locked`.
    pub fn set_write_wait(&mut self, wait: Duration) {
        self.sharing.wait = wait;
    }

    /// Queues this runtime's writes behind `gate` (shared by the runtimes of one
    /// process) before they wait for the store's writer lock.
    pub fn share_write_gate(&mut self, gate: Arc<WriteGate>) {
        self.sharing.gate = Some(gate);
    }

    /// Start of every request: catch up with what other handles committed; a
    /// writing operation also takes the writer lock now, so its handler decides on
    /// the latest generation and nothing commits in between.
    pub(crate) fn begin_request(&mut self, writes: bool) -> Result<(), StoreError> {
        self.store.refresh()?;
        if writes {
            self.lock_for_write()
        } else {
            self.sync_after_refresh()
        }
    }

    /// Takes the writer lock (waiting at most the configured time) unless the
    /// handle already holds it, and brings derived state to the generation the
    /// lock showed. Released by [`Runtime::end_request`].
    pub(crate) fn lock_for_write(&mut self) -> Result<(), StoreError> {
        if self.store.holds_writer() {
            return Ok(());
        }
        if let Some(gate) = &self.sharing.gate {
            if !gate.enter(self.sharing.wait) {
                return Err(StoreError::Locked(self.store.location()));
            }
            self.sharing.in_gate = true;
        }
        if let Err(e) = self.store.lock_writer(self.sharing.wait) {
            self.leave_gate();
            return Err(e);
        }
        self.sharing.locked_here = true;
        self.sync_after_refresh()
    }

    /// End of every request: gives up the writer lock (and the index writer) if
    /// the request took them.
    pub(crate) fn end_request(&mut self) {
        if self.sharing.locked_here {
            self.index.release_writer();
            self.store.unlock_writer();
            self.sharing.locked_here = false;
        }
        self.leave_gate();
    }

    fn leave_gate(&mut self) {
        if self.sharing.in_gate {
            if let Some(gate) = &self.sharing.gate {
                gate.leave();
            }
            self.sharing.in_gate = false;
        }
    }

    /// After the store moved to a newer generation: picks up a profile another
    /// handle stored and what other handles committed to the full-text index;
    /// rebuilds the index if a writer died between its store and index commits.
    /// Cheap when the data generation did not move.
    pub(crate) fn sync_after_refresh(&mut self) -> Result<(), StoreError> {
        let data = self.store.data_generation();
        if self.sharing.synced_data == Some(data) {
            return Ok(());
        }
        let source = self.store.profile_source()?;
        if source != self.sharing.profile_source {
            if let Some(src) = &source {
                let profile = Profile::parse(src, "<stored profile>").map_err(|e| {
                    StoreError::Backend(format!("the stored profile is invalid: {e}"))
                })?;
                if let Ok(t) = TokenCounter::new(&profile.tokenizer.encoding) {
                    self.tokens = t;
                }
                self.profile_digest = profile.digest();
                self.profile = profile;
                // The snapshot was derived under the old profile.
                self.snapshot = None;
            }
            self.sharing.profile_source = source;
        }
        if self.home.dir.is_some() {
            // Another process may have committed to the index: read its last commit.
            let _ = self.index.reload();
        }
        self.ensure_index().map_err(StoreError::Backend)?;
        self.sharing.synced_data = Some(data);
        Ok(())
    }

    /// Brings a full-text index that trails the store (a writer that died between
    /// its store and index commits; an index folder another host's commits never
    /// reached) forward with the nodes changed since its generation tag, when the
    /// adapter can tell which. False when it cannot (the caller rebuilds).
    fn catch_up_index(&mut self) -> bool {
        let Some(tag) = self.index.generation() else {
            return false;
        };
        if tag > self.store.generation() {
            return false;
        }
        let ids = match self.store.data_changes_since(tag) {
            Ok(Some(ids)) => ids,
            // The store cannot tell (a file store opened after those commits):
            // the ids a process that kept them in memory noted in the index
            // folder, when they reach the store's data generation.
            _ => match self.index.noted_since(tag) {
                Some((ids, reached)) if reached >= self.store.data_generation() => ids,
                _ => return false,
            },
        };
        let mut u = IndexUpdate::default();
        for id in ids {
            match self.store.node(&id) {
                Ok(Some(n)) => {
                    u.purge |= n.tombstone.is_some();
                    u.upsert.push(n);
                }
                Ok(None) => {
                    u.purge = true;
                    u.delete.push(id);
                }
                Err(_) => return false,
            }
        }
        let started = std::time::Instant::now();
        let ok = self.update_index(u).is_ok();
        if ok {
            crate::sharing::stats::record_index(false, started.elapsed());
            self.derived.index_catch_ups += 1;
        }
        ok && self.index_fresh()
    }

    /// Rebuilds the full-text index when it does not reflect the store, taking
    /// the writer lock for it if this handle does not hold it.
    pub(crate) fn ensure_index(&mut self) -> Result<(), String> {
        if self.index_fresh() {
            return Ok(());
        }
        let took = !self.store.holds_writer();
        if took {
            if let Some(gate) = &self.sharing.gate
                && !gate.enter(self.sharing.wait)
            {
                return Err(format!("store {} is locked", self.store.location()));
            }
            if let Err(e) = self.store.lock_writer(self.sharing.wait) {
                if let Some(gate) = &self.sharing.gate {
                    gate.leave();
                }
                return Err(e.to_string());
            }
            let _ = self.index.reload();
        }
        let out = if self.index_fresh() {
            Ok(())
        } else if self.catch_up_index() {
            // Written at once, so other processes need not catch up too.
            self.index.flush().map_err(|e| e.to_string())
        } else {
            self.rebuild_index()
        };
        if took {
            self.index.release_writer();
            self.store.unlock_writer();
            if let Some(gate) = &self.sharing.gate {
                gate.leave();
            }
        }
        out
    }
}
