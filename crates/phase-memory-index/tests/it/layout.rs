//! Hits do not depend on how the index is split into segments: the segments
//! are searched one after the other with one pruning threshold, so a document
//! a later segment holds must still come back when it beats the earlier ones'.

use phase_memory_index::{FullTextIndex, set_exhaustive_for_thread};
use proptest::prelude::*;

use crate::{node, small};

const WORDS: [&str; 8] = [
    "river", "stone", "garden", "lamp", "harbour", "violin", "orchard", "candle",
];

fn text(words: &[u8]) -> String {
    words
        .iter()
        .map(|&w| WORDS[w as usize % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Documents written in random commit batches (several segments, some
    /// rewritten or deleted in later ones): the best `limit` hits pruned with one
    /// threshold across segments are those of scoring every match, and without
    /// deletes those of the same documents rebuilt into one segment.
    #[test]
    fn segments_searched_in_turn_give_the_hits_of_one_segment(
        docs in prop::collection::vec(
            (prop::collection::vec(0u8..8, 0..3), prop::collection::vec(0u8..8, 1..12)),
            20..160,
        ),
        batch in 3usize..40,
        rewrites in prop::collection::vec((0usize..160, prop::collection::vec(0u8..8, 1..6)), 0..20),
        deletes in prop::collection::vec(0usize..160, 0..15),
        cue in prop::collection::vec(0u8..8, 1..4),
        limit in 1usize..60,
    ) {
        let mut nodes: Vec<_> = docs
            .iter()
            .enumerate()
            .map(|(i, (t, b))| node(&format!("n{i:04}"), &text(t), &text(b)))
            .collect();
        let mut layered = FullTextIndex::open_or_create_with(None, small()).expect("ram index");
        let mut generation = 0;
        for chunk in nodes.chunks(batch) {
            generation += 1;
            layered.upsert(chunk).expect("upsert");
            layered.commit(generation).expect("commit");
        }
        for (i, body) in &rewrites {
            if let Some(n) = nodes.get_mut(i % docs.len()) {
                n.body = text(body);
                generation += 1;
                layered.upsert(std::slice::from_ref(n)).expect("upsert");
                layered.commit(generation).expect("commit");
            }
        }
        let mut gone: Vec<String> = deletes.iter().map(|i| format!("n{:04}", i % docs.len())).collect();
        gone.sort();
        gone.dedup();
        if !gone.is_empty() {
            generation += 1;
            layered.delete(&gone).expect("delete");
            layered.commit(generation).expect("commit");
        }
        nodes.retain(|n| !gone.contains(&n.id));

        // The same search scoring every match: what the pruned one must return.
        let cue = text(&cue);
        let top = layered.search(&cue, limit).expect("search");
        set_exhaustive_for_thread(true);
        let all = layered.search(&cue, limit);
        set_exhaustive_for_thread(false);
        let all = all.expect("search");
        let ids = |h: &[(String, f32)]| h.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        prop_assert_eq!(ids(&top), ids(&all), "cue {:?}, {} segments", cue, layered.segment_count());
        for (x, y) in top.iter().zip(&all) {
            prop_assert!((x.1 - y.1).abs() <= 1e-4 * x.1.abs().max(1.0), "{:?} vs {:?}", x, y);
        }
        // Without rewrites or deletes, one rebuilt segment has the same statistics
        // and so the same hits.
        if rewrites.is_empty() && gone.is_empty() {
            let mut one = FullTextIndex::open_or_create_with(None, small()).expect("ram index");
            one.rebuild(nodes.iter(), 1).expect("rebuild");
            let b = one.search(&cue, limit).expect("search");
            prop_assert_eq!(ids(&top), ids(&b), "cue {:?}", cue);
        }
    }
}
