//! Bulk indexing: the documents of one large write (an import of many nodes)
//! added by a writer sized for it, committed once.
//!
//! The writer of [`FullTextIndex::bulk_upsert`] gets a memory budget large
//! enough that a million small documents make a few segments, not dozens: each
//! indexing thread writes a segment whenever its budget is used up, and many
//! segments of one size are merged (while the indexing threads compete with
//! the merge for the same cores) and make every later search visit each of
//! them. Merges are deferred while the batch is added (a segment written by a
//! full budget is already large) and considered again, with the index's usual
//! policy, from the commit that ends the batch on.

use phase_memory_model::Node;
use tantivy::merge_policy::{LogMergePolicy, NoMergePolicy};

use crate::{FullTextIndex, IndexError, IndexOptions};

/// Smallest memory budget of a bulk writer over all its threads, in bytes
/// (more when [`IndexOptions::memory_budget_bytes`] says so). Near 1 KiB of
/// writer memory per short document (title and a few sentences): about a
/// million such documents fit before a segment is written.
pub const BULK_MEMORY_BUDGET: usize = 1_200_000_000;

/// Fewest documents for which [`FullTextIndex::bulk_upsert`] takes the bulk
/// writer (below, it is [`FullTextIndex::upsert`]).
pub const BULK_WRITER_DOCUMENTS: usize = 10_000;

/// The options of the bulk writer (of a rebuild or a large upsert): the
/// configured ones with the budget raised to [`BULK_MEMORY_BUDGET`] and at
/// least two indexing threads. The budget is a ceiling: memory is taken as
/// documents come.
pub(crate) fn bulk_options(options: IndexOptions) -> IndexOptions {
    IndexOptions {
        num_threads: options.num_threads.max(2),
        memory_budget_bytes: options.memory_budget_bytes.max(BULK_MEMORY_BUDGET),
        ..options
    }
}

impl FullTextIndex {
    /// [`FullTextIndex::upsert`] for one large batch (an import): added by the
    /// bulk writer (see [`bulk_options`]) with merges deferred until the batch
    /// is in (see the module documentation). Documents are built by the same
    /// function as every other write's, so they are the same documents; what
    /// is visible when, and what a dropped batch leaves, are as for `upsert`.
    pub fn bulk_upsert(&mut self, nodes: &[Node]) -> Result<(), IndexError> {
        if nodes.len() < BULK_WRITER_DOCUMENTS {
            return self.upsert(nodes);
        }
        // The bulk writer first: documents kept in memory are then written by
        // it too, before the batch (see `upsert`).
        self.writer_for(true)?
            .set_merge_policy(Box::new(NoMergePolicy));
        let added = self.upsert(nodes);
        if let Some(writer) = &self.writer {
            writer.set_merge_policy(Box::new(LogMergePolicy::default()));
        }
        added
    }
}
