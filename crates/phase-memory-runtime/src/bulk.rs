//! A bulk write (an import into the store) indexes its full-text documents while
//! the store commits, instead of after: analysing the text of a million nodes
//! and writing them to the database are both long, and use different resources
//! (this process's indexing threads, the database server). The index still
//! commits only after the store did, at the store's new generation; when the
//! store commit fails, the documents added meanwhile are dropped uncommitted.

use phase_memory_model::{Diagnostic, Node};
use phase_memory_store::{ChangeSet, StoreError};

use crate::outcome::Outcome;
use crate::state::{Runtime, stale};

/// From this many upserted nodes in one write, their documents are indexed
/// during the store commit.
pub(crate) const INDEX_DURING_COMMIT: usize = 10_000;

impl Runtime {
    /// Whether this outcome's index update is done during its commit: many nodes
    /// to index and nothing else (no deletes, purge, rebuild or new profile), into
    /// an index in step with the store.
    pub(crate) fn indexes_during_commit(&self, outcome: &Outcome, index_in_step: bool) -> bool {
        let u = &outcome.index;
        index_in_step
            && u.upsert.len() >= INDEX_DURING_COMMIT
            && u.delete.is_empty()
            && !u.purge
            && !u.rebuild
            && outcome.new_profile.is_none()
    }

    /// Commits `change` while the documents of `upsert` are added to the index,
    /// then commits the index at the new generation. `Err`: the store commit
    /// failed (nothing indexed either); `Ok(Some)`: the store committed but the
    /// index could not be updated (a warning; the next open rebuilds it).
    pub(crate) fn commit_change_indexing(
        &mut self,
        change: ChangeSet,
        upsert: &[Node],
    ) -> Result<Option<Diagnostic>, StoreError> {
        self.index_tag_lags = false;
        let (stored, indexed) = self.commit_change_with(change, Some(upsert));
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
}
