//! Documents kept in memory (`IndexOptions::pending_docs`): searches over them
//! give what the same documents committed give, a flush writes them under the
//! generation they reflect, shared handles see them, and a handle dropped
//! without a flush leaves the folder at its last written generation.

use std::time::Duration;

use phase_memory_index::{Feedback, FieldWeights, FullTextIndex, IndexOptions, Search};
use phase_memory_model::{Time, Tombstone};
use proptest::prelude::*;

use super::{node, small};

fn kept() -> IndexOptions {
    IndexOptions {
        durable: false,
        pending_docs: 10_000,
        pending_age: Duration::from_secs(3600),
        ..small()
    }
}

const WORDS: &[&str] = &[
    "paris", "france", "movie", "movies", "capital", "wine", "lake", "trail", "the", "cat",
];

/// One write: node `id` with title/body words and scope, forgotten, or deleted.
#[derive(Clone, Debug)]
enum Write {
    Put(usize, Vec<usize>, Vec<usize>, bool),
    Forget(usize),
    Delete(usize),
}

fn write() -> impl Strategy<Value = Write> {
    let words = || proptest::collection::vec(0..WORDS.len(), 0..6);
    prop_oneof![
        6 => (0usize..12, words(), words(), any::<bool>())
            .prop_map(|(i, t, b, s)| Write::Put(i, t, b, s)),
        1 => (0usize..12).prop_map(Write::Forget),
        1 => (0usize..12).prop_map(Write::Delete),
    ]
}

fn text(words: &[usize]) -> String {
    words
        .iter()
        .map(|w| WORDS[*w])
        .collect::<Vec<_>>()
        .join(" ")
}

fn apply(idx: &mut FullTextIndex, writes: &[Write], generation: u64) {
    for w in writes {
        match w {
            Write::Put(i, t, b, other) => {
                let mut n = node(&format!("n{i}"), &text(t), &text(b));
                if *other {
                    n.scope = "other".into();
                }
                idx.upsert(&[n]).expect("upsert");
            }
            Write::Forget(i) => {
                let mut n = node(&format!("n{i}"), "", "");
                n.tombstone = Some(Tombstone {
                    content_hash: "blake3:00".into(),
                    forgotten_at: Time::EPOCH,
                    reason: "test".into(),
                });
                idx.upsert(&[n]).expect("forget");
            }
            Write::Delete(i) => idx.delete(&[format!("n{i}")]).expect("delete"),
        }
    }
    idx.commit(generation).expect("commit");
}

/// Every search the test compares: (cue, limit, scopes, exact weight).
fn searches(idx: &FullTextIndex) -> Vec<Vec<(String, f32)>> {
    let scopes = vec!["other".to_string()];
    let mut out = Vec::new();
    for cue in [
        "paris",
        "movie capital",
        "the cat lake trail",
        "wine france paris movies",
    ] {
        for limit in [2, 50] {
            for (scoped, exact) in [(false, 0.0), (true, 0.0), (false, 0.5)] {
                let s = Search {
                    text: cue,
                    limit,
                    scopes: scoped.then_some(scopes.as_slice()),
                    weights: FieldWeights {
                        exact,
                        ..FieldWeights::default()
                    },
                };
                out.push(idx.search_with(&s).expect("search"));
            }
        }
        let fb = Feedback {
            docs: 3,
            terms: 3,
            original_weight: 0.5,
        };
        out.push(
            idx.search_with_feedback(&Search::new(cue, 5), &fb, &|id| {
                Some(format!("{id} paris wine"))
            })
            .expect("feedback search"),
        );
    }
    out
}

fn same(a: &[Vec<(String, f32)>], b: &[Vec<(String, f32)>]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        let ids = |v: &[(String, f32)]| v.iter().map(|h| h.0.clone()).collect::<Vec<_>>();
        prop_assert_eq!(ids(x), ids(y), "{:?} vs {:?}", x, y);
        for (p, q) in x.iter().zip(y) {
            prop_assert!(
                (p.1 - q.1).abs() <= 1e-4 * p.1.abs().max(1.0),
                "{:?} vs {:?}",
                x,
                y
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Over random writes in two rounds (the second on a folder whose commit
    /// holds deleted documents), searches, document count and document
    /// frequencies with the writes in memory equal those of the same handle
    /// after the flush and of a fresh handle on the folder.
    #[test]
    fn kept_documents_search_as_committed_ones(
        base in proptest::collection::vec(write(), 0..10),
        rounds in proptest::collection::vec(proptest::collection::vec(write(), 1..12), 1..3),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut idx = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("open");
        // Only a shared handle keeps documents.
        let _other = idx.share();
        apply(&mut idx, &base, 1);
        idx.flush().expect("flush");
        for (r, writes) in rounds.iter().enumerate() {
            let generation = 2 + r as u64;
            apply(&mut idx, writes, generation);
            prop_assert!(idx.pending() > 0);
            prop_assert_eq!(idx.generation(), Some(generation));
            let kept_hits = searches(&idx);
            let kept_count = idx.doc_count();
            let kept_df: Vec<u64> = WORDS.iter().map(|w| idx.doc_freq(w)).collect();
            // Not on disk yet.
            let before = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("reopen");
            prop_assert_eq!(before.generation(), Some(generation - 1));
            drop(before);
            idx.flush().expect("flush");
            prop_assert_eq!(idx.pending(), 0);
            let fresh = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("reopen");
            prop_assert_eq!(fresh.generation(), Some(generation));
            for other in [&idx, &fresh] {
                same(&kept_hits, &searches(other))?;
                prop_assert_eq!(kept_count, other.doc_count());
                let df: Vec<u64> = WORDS.iter().map(|w| other.doc_freq(w)).collect();
                prop_assert_eq!(&kept_df, &df);
            }
        }
    }
}

fn put(idx: &mut FullTextIndex, id: &str, title: &str, generation: u64) {
    idx.upsert(&[node(id, title, "")]).expect("upsert");
    idx.commit(generation).expect("commit");
}

#[test]
fn shared_handles_see_kept_documents_and_a_flush_by_either() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("open");
    let mut b = a.share();
    assert!(a.shares_with(&b));
    put(&mut a, "paris", "Paris", 1);
    assert_eq!(b.generation(), Some(1));
    assert_eq!(b.search("paris", 5).expect("search")[0].0, "paris");
    // Uncommitted writes are the handle's own.
    b.upsert(&[node("lyon", "Lyon", "")]).expect("upsert");
    assert!(a.search("lyon", 5).expect("search").is_empty());
    b.commit(2).expect("commit");
    assert_eq!(a.search("lyon", 5).expect("search").len(), 1);
    b.flush().expect("flush");
    b.release_writer();
    for idx in [&a, &b] {
        assert_eq!(idx.pending(), 0);
        assert_eq!(idx.doc_count(), 2);
        assert_eq!(idx.search("paris lyon", 5).expect("search").len(), 2);
    }
    // A reload of an unchanged folder keeps everything.
    a.reload().expect("reload");
    assert_eq!(a.generation(), Some(2));
}

#[test]
fn kept_documents_are_written_when_enough_gathered_or_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = IndexOptions {
        pending_docs: 3,
        ..kept()
    };
    let mut idx = FullTextIndex::open_or_create_with(Some(dir.path()), opts).expect("open");
    // A lone handle writes at every commit.
    put(&mut idx, "x", "Lone", 1);
    assert_eq!(idx.pending(), 0);
    let _other = idx.share();
    put(&mut idx, "a", "Alpha", 1);
    put(&mut idx, "b", "Beta", 2);
    assert_eq!(idx.pending(), 2);
    put(&mut idx, "c", "Gamma", 3);
    assert_eq!(idx.pending(), 0, "the third document wrote all three");
    let disk = FullTextIndex::open_or_create_with(Some(dir.path()), opts).expect("reopen");
    assert_eq!(disk.generation(), Some(3));
    assert_eq!(disk.doc_count(), 4);
    drop(disk);
    let opts = IndexOptions {
        pending_age: Duration::ZERO,
        ..opts
    };
    idx.release_writer();
    drop(idx);
    let mut idx = FullTextIndex::open_or_create_with(Some(dir.path()), opts).expect("open");
    let _other = idx.share();
    put(&mut idx, "d", "Delta", 4);
    assert_eq!(idx.pending(), 0, "older than the age bound: written");
}

#[test]
fn a_handle_dropped_without_a_flush_leaves_the_last_written_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut idx = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("open");
    let other = idx.share();
    put(&mut idx, "a", "Alpha", 1);
    idx.flush().expect("flush");
    put(&mut idx, "b", "Beta", 2);
    idx.release_writer();
    drop((idx, other));
    let idx = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("reopen");
    assert_eq!(idx.generation(), Some(1), "the user catches up from 1");
    assert!(idx.search("beta", 5).expect("search").is_empty());
    // ...with the ids the process noted (none for another generation).
    assert_eq!(idx.noted_since(1), Some((vec!["b".to_string()], 2)));
    assert_eq!(idx.noted_since(0), None);
    // A line torn by a kill ends the note.
    let journal = dir.path().join("pending.ids");
    let mut text = std::fs::read_to_string(&journal).expect("journal");
    text.push_str("{\"generation\":3,\"ids\":[\"c");
    std::fs::write(&journal, text).expect("write");
    assert_eq!(idx.noted_since(1), Some((vec!["b".to_string()], 2)));
    // A commit to the folder starts it again.
    let mut idx = idx;
    let _other = idx.share();
    idx.upsert(&[node("b", "Beta", "")]).expect("upsert");
    idx.commit(2).expect("commit");
    idx.flush().expect("flush");
    assert_eq!(idx.noted_since(2), Some((vec![], 2)));
    assert_eq!(idx.noted_since(1), None);
}

#[test]
fn a_folder_written_by_another_handle_replaces_older_kept_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("open");
    let _a2 = a.share();
    put(&mut a, "a", "Alpha", 1);
    a.release_writer();
    // Another process (its own handle) catches up to 2 and writes the folder.
    let mut other = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("open");
    other
        .upsert(&[node("a", "Alpha", ""), node("b", "Beta", "")])
        .expect("upsert");
    other.commit(2).expect("commit");
    other.flush().expect("flush");
    other.release_writer();
    a.reload().expect("reload");
    assert_eq!(a.pending(), 0, "the folder is at least as new");
    assert_eq!(a.generation(), Some(2));
    assert_eq!(a.doc_count(), 2);
    // Kept documents newer than the folder stay, and the generation is the
    // folder's, so the user catches up from it.
    put(&mut a, "c", "Gamma", 4);
    a.release_writer();
    let mut other = FullTextIndex::open_or_create_with(Some(dir.path()), kept()).expect("open");
    put(&mut other, "d", "Delta", 3);
    assert_eq!(other.pending(), 0, "a lone handle writes at once");
    other.flush().expect("flush");
    other.release_writer();
    a.reload().expect("reload");
    assert_eq!(a.generation(), Some(3));
    assert_eq!(a.search("gamma", 5).expect("search").len(), 1);
    assert_eq!(a.search("delta", 5).expect("search").len(), 1);
}
