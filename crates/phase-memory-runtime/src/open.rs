//! Creating and opening stores: picks the adapter, loads the stored profile, opens
//! (and if stale, rebuilds) the full-text index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use phase_memory_activate::tokens::TokenCounter;
use phase_memory_index::FullTextIndex;
use phase_memory_model::{Diagnostic, Envelope, Status, Time};
use phase_memory_profile::{DEFAULT_PROFILE_TOML, Profile};
use phase_memory_store::{ChangeSet, MemoryStore, Store, StoreError, StoreMeta};
use phase_memory_store_file::{FileStore, OpenMode};
use phase_memory_store_sqlite::SqliteStore;
use serde_json::json;

use crate::clock::Clock;
use crate::runner::{Home, Outcome, Runtime};

/// Which adapter backs a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// The embedded default: a human-readable folder.
    File,
    /// One SQLite file in the store folder.
    Sqlite,
    /// In process memory (tests, ephemeral runs).
    Memory,
}

impl Adapter {
    /// Parses an adapter name.
    pub fn parse(s: &str) -> Option<Adapter> {
        match s {
            "file" => Some(Adapter::File),
            "sqlite" => Some(Adapter::Sqlite),
            "memory" => Some(Adapter::Memory),
            _ => None,
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
    if FileStore::is_store(dir) || SqliteStore::is_store(dir) {
        env.status = Status::Conflict;
        env.diagnostics.push(Diagnostic::error(
            "store.exists",
            format!("a store already exists at {}", dir.display()),
        ));
        return env;
    }
    let created: Result<Box<dyn Store>, StoreError> = match adapter {
        Adapter::File => {
            FileStore::init(dir, StoreMeta::new("file", now)).map(|s| Box::new(s) as Box<dyn Store>)
        }
        Adapter::Sqlite => SqliteStore::init(dir, StoreMeta::new("sqlite", now))
            .map(|s| Box::new(s) as Box<dyn Store>),
        Adapter::Memory => {
            env.status = Status::Invalid;
            env.diagnostics.push(Diagnostic::error(
                "request.invalid",
                "the memory adapter lives in one process; use it from the library",
            ));
            return env;
        }
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

/// Opens the store at `dir` for reading and writing (holding the writer lock).
pub fn open_runtime(dir: &Path, clock: Clock) -> Result<Runtime, (Status, Diagnostic)> {
    open_with(dir, clock, OpenMode::Write)
}

/// Opens the store for `repair`: a file store whose records fail their checksums
/// still opens (the damaged records are left out and reported) so that
/// `store.repair` can diagnose and quarantine them. Writes other than the repair
/// are refused until it has run.
pub fn open_runtime_for_repair(dir: &Path, clock: Clock) -> Result<Runtime, (Status, Diagnostic)> {
    open_with(dir, clock, OpenMode::Repair)
}

fn open_with(dir: &Path, clock: Clock, mode: OpenMode) -> Result<Runtime, (Status, Diagnostic)> {
    let store: Box<dyn Store> = if SqliteStore::is_store(dir) {
        Box::new(
            SqliteStore::open(dir, phase_memory_store_sqlite::OpenMode::Write)
                .map_err(|e| from_store_error(&e))?,
        )
    } else if FileStore::is_store(dir) {
        Box::new(FileStore::open(dir, mode).map_err(|e| from_store_error(&e))?)
    } else {
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
    };
    let index = FullTextIndex::open_or_create(Some(&dir.join("index"))).map_err(|e| {
        fail(
            Status::Error,
            Diagnostic::error("store.io", format!("opening the full-text index: {e}")),
        )
    })?;
    build(store, index, Some(dir.to_path_buf()), clock)
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
    build(store, index, None, clock)
}

fn build(
    store: Box<dyn Store>,
    index: FullTextIndex,
    dir: Option<PathBuf>,
    clock: Clock,
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
    let mut rt = Runtime {
        store,
        profile_digest: profile.digest(),
        profile,
        clock,
        index,
        snapshot: None,
        tokens,
        index_tag_lags: false,
        extensions: BTreeMap::new(),
        home: Home { dir },
    };
    if !rt.index_fresh() {
        rt.rebuild_index().map_err(|e| {
            fail(
                Status::Error,
                Diagnostic::error(
                    "store.stale_index",
                    format!("rebuilding the full-text index: {e}"),
                ),
            )
        })?;
    }
    Ok(rt)
}
