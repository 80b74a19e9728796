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
