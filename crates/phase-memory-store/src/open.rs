//! What every adapter shares about opening a store: the open modes, the writer
//! lock with a bounded wait, the optional `store.json` naming an adapter, and the
//! seam through which the runtime opens "any adapter" ([`AdapterKind`]).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, StoreMeta, StoreResult};

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Shared access, what the CLI, `serve` and `mcp` use: the handle reads an
    /// immutable snapshot of one committed generation and takes no lock to read.
    /// It writes only between [`Store::lock_writer`] (which waits for the writer
    /// lock and catches up with the latest commit) and [`Store::unlock_writer`].
    Shared,
    /// The one writer for the life of the handle: takes the writer lock at open
    /// (without waiting), finishes interrupted work and accepts commits.
    Write,
    /// A reader: never takes the writer lock and refuses commits, migrations and
    /// repairs.
    ReadOnly,
    /// A writer that tolerates corrupt records: a store whose records fail their
    /// checksums still opens, so `repair` can diagnose and quarantine them. The
    /// file adapter leaves what it cannot read out of the image and refuses other
    /// commits until the repair has run; the SQLite adapter reads rows only on
    /// demand, so it opens exactly like [`OpenMode::Write`] (a corrupt row fails the
    /// read that meets it and `repair_integrity` quarantines it).
    Repair,
}

impl OpenMode {
    /// Whether the handle takes the writer lock at open and keeps it.
    pub fn locks_at_open(self) -> bool {
        matches!(self, OpenMode::Write | OpenMode::Repair)
    }
}

/// How long a writer waits for the writer lock before `store.locked`, by default.
pub const DEFAULT_WRITE_WAIT: Duration = Duration::from_secs(10);

/// The exclusive writer lock of a store (an advisory lock on a file in the store
/// folder, released when dropped or when the process dies).
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock on `path`, waiting up to `wait` (polling with a growing
    /// pause of at most 20 ms). [`StoreError::Locked`] naming `store` when another
    /// handle — in this process or another — still holds it after the wait.
    pub fn acquire(path: &Path, store: &str, wait: Duration) -> StoreResult<WriterLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| StoreError::io(format!("opening lock file {}", path.display()), e))?;
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_micros(500);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(WriterLock { _file: file }),
                Err(TryLockError::WouldBlock) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(StoreError::Locked(store.to_string()));
                    }
                    std::thread::sleep(pause.min(deadline - now));
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(StoreError::io(format!("locking {}", path.display()), e));
                }
            }
        }
    }
}

/// File name of the optional store configuration inside a store folder.
pub const CONFIG_FILE: &str = "store.json";

/// `DIR/store.json`: names the adapter of a store whose data does not live in the
/// folder (a database server), and where it is. File and SQLite stores need none:
/// they are recognised by what is in the folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Adapter name (`file`, `sqlite`, `postgres`, …).
    pub adapter: String,
    /// Where the data lives (a connection URL) for adapters that need one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl StoreConfig {
    /// Reads `DIR/store.json`; `None` when there is none.
    pub fn read(dir: &Path) -> StoreResult<Option<StoreConfig>> {
        let path = dir.join(CONFIG_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                location: CONFIG_FILE.into(),
                detail: format!("does not parse: {e}"),
            })
    }

    /// Writes `DIR/store.json` atomically.
    pub fn write(&self, dir: &Path) -> StoreResult<()> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| StoreError::Backend(format!("encoding {CONFIG_FILE}: {e}")))?;
        bytes.push(b'\n');
        phase_memory_fsio::write_atomic(&dir.join(CONFIG_FILE), &bytes)
            .map_err(|e| StoreError::io(format!("writing {CONFIG_FILE}"), e))
    }
}

/// One adapter as the "open any adapter" code sees it. The runtime keeps a list of
/// these (file, SQLite, and any other adapter crate); adding an adapter means
/// implementing this trait and adding it to that list.
pub trait AdapterKind: Sync {
    /// Adapter name, as in `init --adapter NAME` and `store.json`.
    fn name(&self) -> &'static str;
    /// Whether `dir` holds a store of this adapter (without a `store.json`).
    fn detect(&self, dir: &Path) -> bool;
    /// Creates a new store (folder `dir`; `config` from `store.json` when the
    /// adapter needs one) and opens it with [`OpenMode::Write`].
    fn init(
        &self,
        dir: &Path,
        config: Option<&StoreConfig>,
        meta: StoreMeta,
    ) -> StoreResult<Box<dyn Store>>;
    /// Opens an existing store.
    fn open(
        &self,
        dir: &Path,
        config: Option<&StoreConfig>,
        mode: OpenMode,
    ) -> StoreResult<Box<dyn Store>>;
}

/// Which of `kinds` backs the store at `dir`: the one `store.json` names, else the
/// first that recognises the folder. [`StoreError::NotFound`] when none does.
pub fn detect_adapter<'a>(
    kinds: &[&'a dyn AdapterKind],
    dir: &Path,
) -> StoreResult<(&'a dyn AdapterKind, Option<StoreConfig>)> {
    if let Some(cfg) = StoreConfig::read(dir)? {
        return match kinds.iter().find(|k| k.name() == cfg.adapter) {
            Some(k) => Ok((*k, Some(cfg))),
            None => Err(StoreError::Backend(format!(
                "{} names adapter {:?}, which this build does not include",
                dir.join(CONFIG_FILE).display(),
                cfg.adapter
            ))),
        };
    }
    kinds
        .iter()
        .find(|k| k.detect(dir))
        .map(|k| (*k, None))
        .ok_or_else(|| StoreError::NotFound(dir.display().to_string()))
}

/// Opens the store at `dir` with whichever of `kinds` backs it.
pub fn open_any(
    kinds: &[&dyn AdapterKind],
    dir: &Path,
    mode: OpenMode,
) -> StoreResult<Box<dyn Store>> {
    let (kind, cfg) = detect_adapter(kinds, dir)?;
    kind.open(dir, cfg.as_ref(), mode)
}
