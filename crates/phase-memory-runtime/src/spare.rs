//! Bringing a pool's shared activation snapshot forward after a commit of this
//! runtime: the share's older generation is advanced in place. It sits above
//! both the runtime state (`state.rs`) and the sharing types (`sharing.rs`), so
//! neither imports the other both ways.

use std::sync::Arc;

use crate::sharing::{SHARED_VERSIONS, SnapshotVersion, stats};

impl crate::state::Runtime {
    /// After this runtime committed data (no new profile) with a snapshot
    /// shared by a pool: brings the share's *older* generation forward to the
    /// store's data generation in place, instead of copying the newest one.
    /// Readers take the newest generation, so by the next commit nobody holds
    /// the older one any more and `Arc::make_mut` finds it unshared: no copy of
    /// the whole snapshot per commit (only the rows the two commits changed are
    /// derived again). The newest generation stays for readers whose store
    /// handle has not seen this commit yet. False (nothing changed) when there
    /// is no such spare, someone still holds it, or the adapter cannot tell
    /// what changed since it: the caller then brings the newest one forward.
    pub(crate) fn advance_spare_snapshot(&mut self, before: u64) -> bool {
        let Some(shared) = self.shared_snapshot.clone() else {
            return false;
        };
        let mut versions = shared.versions.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.store.data_generation();
        let newest_is_before = versions.last().is_some_and(|v| {
            v.data_generation == before && v.profile_digest == self.profile_digest
        });
        if !newest_is_before || self.snapshot.is_some() {
            return false;
        }
        let Some(i) = versions.iter().position(|v| {
            v.data_generation < before
                && v.profile_digest == self.profile_digest
                && Arc::strong_count(&v.snapshot) == 1
        }) else {
            return false;
        };
        let spare_generation = versions[i].data_generation;
        let Ok(Some(ids)) = self.store.data_changes_since(spare_generation) else {
            return false;
        };
        let Ok(events) = self.store.events(&phase_memory_store::EventQuery {
            after_seq: versions[i].events,
            ..Default::default()
        }) else {
            return false;
        };
        let started = std::time::Instant::now();
        let spare = versions.remove(i);
        self.snapshot = Some((spare.data_generation, spare.snapshot));
        self.snapshot_events = spare.events;
        let advanced = self.advance_snapshot(generation, ids, events);
        let taken = self.snapshot.take();
        if let (true, Some((g, snapshot))) = (advanced, taken) {
            stats::record_snapshot(false, started.elapsed());
            self.derived.snapshot_updates += 1;
            self.derived.snapshot_nanos +=
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            versions.push(SnapshotVersion {
                profile_digest: self.profile_digest.clone(),
                data_generation: g,
                events: self.snapshot_events,
                snapshot,
            });
            let extra = versions.len().saturating_sub(SHARED_VERSIONS);
            versions.drain(..extra);
        }
        // Not advanced: the spare is gone, the newest generation is still there
        // and the next request brings it forward.
        true
    }
}
