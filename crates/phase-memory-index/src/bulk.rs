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

#[cfg(test)]
mod tests {
    use phase_memory_model::{Node, Time};

    use crate::{FullTextIndex, IndexOptions};

    fn node(id: &str, title: &str, body: &str) -> Node {
        Node {
            id: id.into(),
            kind: "fact".into(),
            phase: "active".into(),
            title: title.into(),
            body: body.into(),
            labels: vec![],
            scope: "default".into(),
            sensitivity: "internal".into(),
            attrs: Default::default(),
            created_at: Time::EPOCH,
            updated_at: Time::EPOCH,
            valid_from: None,
            valid_to: None,
            tokens: 0,
            tombstone: None,
            implicit_time: false,
        }
    }

    fn batch(count: usize, word: &str) -> Vec<Node> {
        (0..count)
            .map(|k| {
                node(
                    &format!("n{k:05}"),
                    &format!("Note {k}"),
                    &format!("{word} {k}"),
                )
            })
            .collect()
    }

    fn ids(hits: Vec<(String, f32)>) -> Vec<String> {
        hits.into_iter().map(|(id, _)| id).collect()
    }

    #[test]
    fn a_bulk_batch_is_searchable_at_its_commit_and_later_writes_replace_its_documents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut index =
            FullTextIndex::open_or_create_with(Some(dir.path()), IndexOptions::default())
                .expect("open");
        let count = super::BULK_WRITER_DOCUMENTS + 2_000;
        index.bulk_upsert(&batch(count, "walrus")).expect("bulk");
        assert_eq!(index.doc_count(), 0, "nothing visible before the commit");
        index.commit(7).expect("commit");
        assert_eq!(index.doc_count(), count as u64);
        assert_eq!(index.generation(), Some(7));
        assert_eq!(index.search("walrus", 3).expect("search").len(), 3);
        // A later small write goes through the same handle and replaces one
        // document; a second bulk batch replaces the others.
        index
            .upsert(&[node("n00042", "Changed", "pelican")])
            .expect("upsert");
        index.commit(8).expect("commit");
        assert_eq!(ids(index.search("pelican", 5).expect("search")), ["n00042"]);
        assert_eq!(index.doc_count(), count as u64);
        index
            .bulk_upsert(&batch(count, "heron"))
            .expect("bulk again");
        index.commit(9).expect("commit");
        assert_eq!(index.doc_count(), count as u64, "replaced, not added");
        assert!(index.search("walrus", 3).expect("search").is_empty());
        assert!(index.search("pelican", 3).expect("search").is_empty());
        drop(index);
        let reopened =
            FullTextIndex::open_or_create_with(Some(dir.path()), IndexOptions::default())
                .expect("reopen");
        assert_eq!(reopened.generation(), Some(9));
        assert_eq!(reopened.doc_count(), count as u64);
    }

    #[test]
    fn a_dropped_bulk_batch_leaves_the_last_commit() {
        let mut index =
            FullTextIndex::open_or_create_with(None, IndexOptions::default()).expect("open");
        index.upsert(&batch(10, "walrus")).expect("upsert");
        index.commit(1).expect("commit");
        index
            .bulk_upsert(&batch(super::BULK_WRITER_DOCUMENTS, "heron"))
            .expect("bulk");
        index.release_writer();
        assert_eq!(index.doc_count(), 10);
        assert!(index.search("heron", 3).expect("search").is_empty());
        index.commit(2).expect("commit");
        assert_eq!(index.doc_count(), 10, "the dropped batch stays dropped");
    }

    #[test]
    fn documents_kept_in_memory_are_written_before_a_bulk_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = IndexOptions {
            pending_docs: 1_000,
            durable: false,
            ..IndexOptions::default()
        };
        let mut index =
            FullTextIndex::open_or_create_with(Some(dir.path()), options).expect("open");
        let _pool = index.share();
        index
            .upsert(&[node("kept", "Kept", "albatross")])
            .expect("upsert");
        index.commit(1).expect("commit");
        assert_eq!(index.pending(), 1, "kept in memory");
        index
            .bulk_upsert(&batch(super::BULK_WRITER_DOCUMENTS, "heron"))
            .expect("bulk");
        index.commit(2).expect("commit");
        assert_eq!(index.pending(), 0);
        assert_eq!(index.doc_count(), super::BULK_WRITER_DOCUMENTS as u64 + 1);
        assert_eq!(ids(index.search("albatross", 3).expect("search")), ["kept"]);
    }
}
