//! A bulk write (an import into the store) indexes its full-text documents while
//! the store commits, instead of after: analysing the text of a million nodes
//! and writing them to the database are both long, and use different resources
//! (this process's indexing threads, the database server). The index still
//! commits only after the store did, at the store's new generation; when the
//! store commit fails, the documents added meanwhile are dropped uncommitted.
//!
//! An import hands its nodes over once, in the change set
//! ([`IndexUpdate::upsert_put_nodes`]): with an adapter that writes from a
//! borrowed change set ([`Store::commits_borrowed`]), the indexing thread reads
//! the very nodes the store is writing, so a million nodes are not copied for
//! the index.
//!
//! [`IndexUpdate::upsert_put_nodes`]: crate::outcome::IndexUpdate::upsert_put_nodes
//! [`Store::commits_borrowed`]: phase_memory_store::Store::commits_borrowed

use phase_memory_index::IndexError;
use phase_memory_model::{Diagnostic, Node};
use phase_memory_store::{ChangeSet, StoreError};

use crate::outcome::Outcome;
use crate::state::{OwnCommit, Runtime, stale};

/// What a store commit gives: its outcome, the outcome of the documents added
/// to the index meanwhile (if any), and what it changes for the activation
/// snapshot (when asked for).
pub(crate) type Committed = (
    Result<(), StoreError>,
    Option<Result<(), IndexError>>,
    Option<OwnCommit>,
);

/// From this many upserted nodes in one write, their documents are indexed
/// during the store commit.
pub(crate) const INDEX_DURING_COMMIT: usize = 10_000;

/// What a store commit indexes meanwhile.
#[derive(Clone, Copy)]
pub(crate) enum IndexDuring<'a> {
    /// Nothing.
    Nothing,
    /// These nodes.
    Nodes(&'a [Node]),
    /// The change set's own `put_nodes` (the store commits it borrowed).
    PutNodes,
}

/// Drops `change` on a thread of its own (freeing a bulk write's millions of
/// strings is not worth waiting for); here when no thread can be started (the
/// refused closure is dropped at once).
fn drop_aside(change: ChangeSet) {
    let _ = std::thread::Builder::new()
        .name("drop-change".into())
        .spawn(move || drop(change));
}

fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl Runtime {
    /// How many nodes this outcome's index update writes.
    fn upserted(outcome: &Outcome, change: &ChangeSet) -> usize {
        let u = &outcome.index;
        u.upsert.len()
            + if u.upsert_put_nodes {
                change.put_nodes.len()
            } else {
                0
            }
    }

    /// Whether this outcome's index update is done during its commit: many nodes
    /// to index and nothing else (no deletes, purge, rebuild or new profile), into
    /// an index in step with the store.
    fn indexes_during_commit(
        &self,
        outcome: &Outcome,
        change: &ChangeSet,
        index_in_step: bool,
    ) -> bool {
        let u = &outcome.index;
        index_in_step
            && Self::upserted(outcome, change) >= INDEX_DURING_COMMIT
            && u.delete.is_empty()
            && !u.purge
            && !u.rebuild
            && outcome.new_profile.is_none()
    }

    /// Commits the outcome's change set: a bulk write with its documents indexed
    /// meanwhile (see [`Runtime::commit_change_indexing`]), any other with its
    /// index update left for after the commit (the nodes it names from the
    /// change set copied into it first). `Ok(Some)`: committed, index stale.
    pub(crate) fn commit_outcome_change(
        &mut self,
        change: ChangeSet,
        outcome: &mut Outcome,
        index_in_step: bool,
    ) -> Result<Option<Diagnostic>, StoreError> {
        if self.indexes_during_commit(outcome, &change, index_in_step) {
            let put_nodes = std::mem::take(&mut outcome.index.upsert_put_nodes);
            let mut upsert = std::mem::take(&mut outcome.index.upsert);
            if !put_nodes {
                return self.commit_change_indexing(change, IndexDuring::Nodes(&upsert));
            }
            if upsert.is_empty() && self.store.commits_borrowed() {
                return self.commit_change_indexing(change, IndexDuring::PutNodes);
            }
            upsert.extend(change.put_nodes.iter().cloned());
            return self.commit_change_indexing(change, IndexDuring::Nodes(&upsert));
        }
        if std::mem::take(&mut outcome.index.upsert_put_nodes) {
            let u = &mut outcome.index;
            u.upsert.extend(change.put_nodes.iter().cloned());
        }
        self.commit_change(change).map(|()| None)
    }

    /// Commits `change` while the documents `during` names are added to the
    /// index, then commits the index at the new generation. `Err`: the store
    /// commit failed (nothing indexed either); `Ok(Some)`: the store committed
    /// but the index could not be updated (a warning; the next open rebuilds
    /// it).
    fn commit_change_indexing(
        &mut self,
        change: ChangeSet,
        during: IndexDuring<'_>,
    ) -> Result<Option<Diagnostic>, StoreError> {
        self.index_tag_lags = false;
        let (stored, indexed) = self.commit_change_with(change, during);
        if let Err(e) = stored {
            self.index.release_writer();
            return Err(e);
        }
        let generation = self.store.generation();
        let committed = match indexed {
            Some(Ok(())) | None => self.index.commit(generation),
            Some(Err(e)) => Err(e),
        };
        Ok(committed.err().map(|e| {
            self.index.release_writer();
            stale(e.to_string())
        }))
    }

    /// The store commit of `change` (nothing to do when it is empty), with the
    /// documents `during` names added to the index on a second thread
    /// meanwhile; with what the commit changes for the activation snapshot
    /// when `own` (worked out on a third thread during a borrowed commit).
    pub(crate) fn store_and_index(
        &mut self,
        change: ChangeSet,
        during: IndexDuring<'_>,
        own: bool,
    ) -> Committed {
        let index = &mut self.index;
        let store = &mut self.store;
        let recorded =
            |r: Result<u64, StoreError>| r.map(|_| crate::sharing::stats::record_commit());
        match during {
            IndexDuring::Nothing => {
                let own = own.then(|| OwnCommit::of(&change));
                let stored = if change.is_empty() {
                    Ok(())
                } else {
                    recorded(store.commit(change))
                };
                (stored, None, own)
            }
            IndexDuring::Nodes(nodes) => std::thread::scope(|s| {
                let own = own.then(|| OwnCommit::of(&change));
                let indexing = s.spawn(move || index.upsert(nodes));
                let stored = recorded(store.commit(change));
                (stored, Some(joined(indexing)), own)
            }),
            IndexDuring::PutNodes => {
                let out = std::thread::scope(|s| {
                    let change = &change;
                    let indexing = s.spawn(move || index.upsert(&change.put_nodes));
                    let own = own.then(|| s.spawn(move || OwnCommit::of(change)));
                    let stored = recorded(store.commit_borrowed(change));
                    (stored, Some(joined(indexing)), own.map(joined))
                });
                // Freeing millions of records takes a while: not before the
                // index commit.
                drop_aside(change);
                out
            }
        }
    }
}
