//! Persisted activation snapshots: a runtime that needs a snapshot and holds
//! none reads the one the last process wrote into the store folder instead of
//! building it from every record (docs/storage.md, "A persisted snapshot for
//! cold starts").
//!
//! `DIR/snapshot/activation-<data generation>.bin` holds the bytes of
//! [`Snapshot::encode`], keyed by the profile digest, the store's identity
//! (adapter and creation time) and the event head it covers. A file is used as
//! is when its data generation and event head are the store's; a file of an
//! older data generation is brought forward with [`Store::data_changes_since`]
//! when the adapter can tell what changed; otherwise the runtime builds. After a
//! full build, or after bringing a file forward, the runtime writes the file of
//! the new generation (temporary file + rename, so readers never see half a
//! file) and keeps the newest [`KEEP`]. Several processes may share the folder:
//! every read verifies the checksum, and a file that fails (damaged, partly
//! written, another format) is ignored. A failed write is counted
//! ([`persisted_stats`]) and otherwise ignored: it is never an error of the
//! request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use phase_memory_activate::snapshot::{PersistKey, Snapshot};
use phase_memory_store::EventQuery;

use crate::state::Runtime;

/// The folder of persisted snapshots inside the store folder.
pub const SNAPSHOT_DIR: &str = "snapshot";
/// Persisted generations kept (older ones are removed after a write).
pub const KEEP: usize = 2;
const PREFIX: &str = "activation-";
const SUFFIX: &str = ".bin";
/// Temporary files older than this are left by a writer that died: removed.
const STALE_TEMP: Duration = Duration::from_secs(600);

static LOADS: AtomicU64 = AtomicU64::new(0);
static LOAD_NANOS: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static WRITES: AtomicU64 = AtomicU64::new(0);
static WRITE_FAILURES: AtomicU64 = AtomicU64::new(0);

/// How this process used persisted activation snapshots so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PersistedStats {
    /// Snapshots read from the store folder (used as is or brought forward)
    /// instead of built from the whole store.
    pub loads: u64,
    /// Time spent reading (and bringing forward) them, in nanoseconds.
    pub load_nanos: u64,
    /// Files that were read but not usable (damaged, another format).
    pub rejected: u64,
    /// Snapshots written.
    pub writes: u64,
    /// Writes that failed (the request went on).
    pub write_failures: u64,
}

/// How this process used persisted activation snapshots so far.
pub fn persisted_stats() -> PersistedStats {
    let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
    PersistedStats {
        loads: r(&LOADS),
        load_nanos: r(&LOAD_NANOS),
        rejected: r(&REJECTED),
        writes: r(&WRITES),
        write_failures: r(&WRITE_FAILURES),
    }
}

/// The file of data generation `generation` in a store folder.
pub fn snapshot_file(store_dir: &Path, generation: u64) -> PathBuf {
    store_dir
        .join(SNAPSHOT_DIR)
        .join(format!("{PREFIX}{generation:020}{SUFFIX}"))
}

/// The persisted snapshots in `dir` (`DIR/snapshot`), newest generation first.
fn candidates(dir: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let g = name
                .to_str()?
                .strip_prefix(PREFIX)?
                .strip_suffix(SUFFIX)?
                .parse()
                .ok()?;
            Some((g, e.path()))
        })
        .collect();
    out.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
    out
}

impl Runtime {
    fn persisted_dir(&self) -> Option<PathBuf> {
        Some(self.home.dir.as_ref()?.join(SNAPSHOT_DIR))
    }

    /// What a persisted snapshot of this store under this profile is tagged with.
    fn persist_key(&self, event_head: u64) -> Option<PersistKey> {
        let meta = self.store.meta().ok()?;
        Some(PersistKey {
            event_head,
            profile_digest: self.profile_digest.clone(),
            store: format!("{} {}", meta.adapter, meta.created_at.millis()),
        })
    }

    /// A persisted snapshot for data generation `generation`, used as is or
    /// brought forward (then written for `generation`); held by the runtime
    /// when found. `None`: the caller builds.
    pub(crate) fn load_persisted(&mut self, generation: u64) -> Option<Arc<Snapshot>> {
        let dir = self.persisted_dir()?;
        let started = Instant::now();
        let head = self.store.event_head().ok()?;
        let want = self.persist_key(head)?;
        for (g, path) in candidates(&dir)
            .into_iter()
            .filter(|(g, _)| *g <= generation)
            .take(KEEP)
        {
            // Gone since listed (a newer writer pruned it), unreadable: next.
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            let Ok(meta) = file.metadata() else {
                continue;
            };
            let len = meta.len();
            // Read once, straight into the columns (never whole in memory).
            let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
            let (key, snap) = match Snapshot::read_from(&mut reader, len) {
                Ok(x) => x,
                Err(_) => {
                    REJECTED.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            if key.profile_digest != want.profile_digest
                || key.store != want.store
                || snap.generation() != g
                || key.event_head > head
            {
                continue;
            }
            if g == generation {
                if key.event_head != head {
                    continue;
                }
                let s = Arc::new(snap);
                self.snapshot = Some((g, s.clone()));
                self.snapshot_events = key.event_head;
                count_load(started);
                return Some(s);
            }
            return self.bring_forward(generation, g, key.event_head, snap, started);
        }
        None
    }

    /// Brings a persisted snapshot of data generation `from` forward to
    /// `generation` when the store can tell what changed since.
    fn bring_forward(
        &mut self,
        generation: u64,
        from: u64,
        events_from: u64,
        snap: Snapshot,
        started: Instant,
    ) -> Option<Arc<Snapshot>> {
        let ids = self.store.data_changes_since(from).ok()??;
        let events = self
            .store
            .events(&EventQuery {
                after_seq: events_from,
                ..Default::default()
            })
            .ok()?;
        self.snapshot = Some((from, Arc::new(snap)));
        self.snapshot_events = events_from;
        if !self.advance_snapshot(generation, ids, events) {
            return None;
        }
        let (_, s) = self.snapshot.as_ref()?;
        let s = s.clone();
        count_load(started);
        self.write_persisted(generation, &s);
        Some(s)
    }

    /// Writes the held snapshot of data generation `generation` into the store
    /// folder and removes all but the newest [`KEEP`]. Failures are counted,
    /// never returned: the snapshot is a cache.
    pub(crate) fn write_persisted(&self, generation: u64, snap: &Snapshot) {
        let Some(dir) = self.persisted_dir() else {
            return;
        };
        let Some(key) = self.persist_key(self.snapshot_events) else {
            WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let bytes = snap.encode(&key);
        match write_file(&dir, generation, &bytes) {
            Ok(()) => {
                WRITES.fetch_add(1, Ordering::Relaxed);
                prune(&dir);
            }
            Err(_) => {
                WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Runtime {
    /// Removes every persisted snapshot of the store (after a purge: they may
    /// hold the title of an erased node). Best effort, like the writes.
    pub(crate) fn remove_persisted(&self) {
        let Some(dir) = self.persisted_dir() else {
            return;
        };
        for (_, path) in candidates(&dir) {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn count_load(started: Instant) {
    LOADS.fetch_add(1, Ordering::Relaxed);
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    LOAD_NANOS.fetch_add(nanos, Ordering::Relaxed);
}

/// Writes the file of `generation` through a temporary file renamed into
/// place. Not fsynced: a file torn by a power cut fails its checksum and is
/// ignored, and the snapshot is built again.
fn write_file(dir: &Path, generation: u64, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{PREFIX}{generation:020}{SUFFIX}"));
    phase_memory_fsio::write_atomic_via(
        &path,
        bytes,
        |tmp, data| std::fs::write(tmp, data),
        |tmp, to| std::fs::rename(tmp, to),
        |tmp| {
            let _ = std::fs::remove_file(tmp);
        },
    )
}

/// Removes all but the newest [`KEEP`] generations, and temporary files a dead
/// writer left. Best effort: another process may be removing them too.
fn prune(dir: &Path) {
    for (_, path) in candidates(dir).into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(path);
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let is_temp = name
            .to_str()
            .is_some_and(|n| n.starts_with('.') && n.ends_with(phase_memory_fsio::TMP_SUFFIX));
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP);
        if is_temp && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
