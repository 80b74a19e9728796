//! Shared access between runtimes: the in-process write queue ([`WriteGate`]) and
//! a runtime's lock and refresh state ([`Sharing`]). The protocol itself (refresh,
//! writer lock per request) is in `open.rs`.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// An in-process queue in front of a store's writer lock, shared by the runtimes
/// of one front end (the server's pool): writers of one process take turns here
/// instead of polling the lock file.
#[derive(Debug, Default)]
pub struct WriteGate {
    busy: Mutex<bool>,
    freed: Condvar,
}

impl WriteGate {
    /// A new, free gate.
    pub fn new() -> Arc<WriteGate> {
        Arc::new(WriteGate::default())
    }

    /// Waits up to `wait` to pass; false when the gate stayed busy.
    pub(crate) fn enter(&self, wait: Duration) -> bool {
        let deadline = std::time::Instant::now() + wait;
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            busy = match self.freed.wait_timeout(busy, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        *busy = true;
        true
    }

    pub(crate) fn leave(&self) {
        *self.busy.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.freed.notify_one();
    }
}

/// The activation snapshots shared by the runtimes of one process over one store
/// (a server's pool): one copy in memory instead of one per runtime, brought
/// forward once per data generation by whichever runtime needs it first. It
/// keeps the newest [`SHARED_VERSIONS`] generations, so a runtime whose store
/// handle is one commit behind another's still finds its own.
#[derive(Debug, Default)]
pub struct SharedSnapshot {
    pub(crate) versions: Mutex<Vec<SnapshotVersion>>,
    /// The full-text index handle the runtimes share (the first one's).
    pub(crate) index: Mutex<Option<phase_memory_index::FullTextIndex>>,
}

impl SharedSnapshot {
    /// A new, empty share.
    pub fn new() -> Arc<SharedSnapshot> {
        Arc::new(SharedSnapshot::default())
    }

    /// How many generations it holds now (for tests).
    pub fn versions(&self) -> usize {
        self.versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// Generations a [`SharedSnapshot`] keeps.
pub(crate) const SHARED_VERSIONS: usize = 2;

/// One generation of a [`SharedSnapshot`].
#[derive(Debug, Clone)]
pub(crate) struct SnapshotVersion {
    /// Digest of the profile it was derived under.
    pub(crate) profile_digest: String,
    /// The data generation it reflects.
    pub(crate) data_generation: u64,
    /// The sequence number of the last event it holds.
    pub(crate) events: u64,
    pub(crate) snapshot: Arc<phase_memory_activate::snapshot::Snapshot>,
}

/// The shared-access state of a runtime (see [`Runtime::begin_request`]).
#[derive(Debug)]
pub(crate) struct Sharing {
    /// How long a write waits for the writer lock.
    pub(crate) wait: Duration,
    /// The stored profile source the runtime's profile was parsed from.
    pub(crate) profile_source: Option<String>,
    /// The store's data generation when derived state was last brought in step.
    pub(crate) synced_data: Option<u64>,
    /// The in-process queue in front of the writer lock, if shared with others.
    pub(crate) gate: Option<Arc<WriteGate>>,
    /// This runtime passed the gate.
    pub(crate) in_gate: bool,
    /// The writer lock was taken for the current request (released after it).
    pub(crate) locked_here: bool,
}

impl Sharing {
    pub(crate) fn new(wait: Duration, profile_source: Option<String>) -> Self {
        Sharing {
            wait,
            profile_source,
            synced_data: None,
            gate: None,
            in_gate: false,
            locked_here: false,
        }
    }
}

/// The group-commit state of a runtime (see `group.rs`).
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    /// The current request may leave its audit record unsealed.
    pub(crate) defer: bool,
    /// The record the current request left.
    pub(crate) pending: Option<phase_memory_model::AuditRecord>,
}

/// Process-wide counts of how derived state (activation snapshot, full-text
/// index) was brought in step with the store: built from the whole store, or
/// brought forward with what changed. Read with [`derived_stats`].
pub(crate) mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    pub(super) static SNAPSHOT_BUILDS: AtomicU64 = AtomicU64::new(0);
    pub(super) static SNAPSHOT_UPDATES: AtomicU64 = AtomicU64::new(0);
    pub(super) static SNAPSHOT_NANOS: AtomicU64 = AtomicU64::new(0);
    pub(super) static INDEX_REBUILDS: AtomicU64 = AtomicU64::new(0);
    pub(super) static INDEX_CATCH_UPS: AtomicU64 = AtomicU64::new(0);
    pub(super) static STORE_COMMITS: AtomicU64 = AtomicU64::new(0);

    /// A durable commit of the store.
    pub(crate) fn record_commit() {
        STORE_COMMITS.fetch_add(1, Ordering::Relaxed);
    }

    fn nanos(d: Duration) -> u64 {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    /// A snapshot built from the whole store (`full`) or brought forward.
    pub(crate) fn record_snapshot(full: bool, took: Duration) {
        let c = if full {
            &SNAPSHOT_BUILDS
        } else {
            &SNAPSHOT_UPDATES
        };
        c.fetch_add(1, Ordering::Relaxed);
        SNAPSHOT_NANOS.fetch_add(nanos(took), Ordering::Relaxed);
    }

    /// The full-text index rebuilt (`full`) or caught up with changed nodes.
    pub(crate) fn record_index(full: bool, _took: Duration) {
        let c = if full {
            &INDEX_REBUILDS
        } else {
            &INDEX_CATCH_UPS
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// How this process kept derived state in step with the store so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DerivedStats {
    /// Activation snapshots built from the whole store.
    pub snapshot_builds: u64,
    /// Activation snapshots brought forward with what commits changed.
    pub snapshot_updates: u64,
    /// Time spent building and bringing forward snapshots, in nanoseconds.
    pub snapshot_nanos: u64,
    /// Full-text index rebuilds from the whole store.
    pub index_rebuilds: u64,
    /// Full-text index catch-ups with changed nodes (after another handle's commit
    /// that did not reach the index).
    pub index_catch_ups: u64,
    /// Durable store commits (writes, group commits of audit records).
    pub store_commits: u64,
}

/// How this process kept derived state in step with the store so far.
pub fn derived_stats() -> DerivedStats {
    use std::sync::atomic::Ordering::Relaxed;
    DerivedStats {
        snapshot_builds: stats::SNAPSHOT_BUILDS.load(Relaxed),
        snapshot_updates: stats::SNAPSHOT_UPDATES.load(Relaxed),
        snapshot_nanos: stats::SNAPSHOT_NANOS.load(Relaxed),
        index_rebuilds: stats::INDEX_REBUILDS.load(Relaxed),
        index_catch_ups: stats::INDEX_CATCH_UPS.load(Relaxed),
        store_commits: stats::STORE_COMMITS.load(Relaxed),
    }
}
