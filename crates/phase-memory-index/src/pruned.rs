//! The best documents of a query over every segment, pruned with one threshold.
//!
//! tantivy's top-docs collector starts each segment with an empty top list, so
//! block-max WAND prunes nothing until that segment alone has filled it: an
//! index of two large segments scores about twice the documents one segment
//! would. Here the segments are searched one after the other, largest first,
//! and each starts from the threshold the ones before it left (the score of the
//! `limit`-th best document so far), so the index is searched as if it were one
//! segment, whatever its layout. The same documents come back, up to ties at the
//! last place (which [`crate::FullTextIndex::ranked`] resolves).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tantivy::query::{EnableScoring, Query};
use tantivy::{DocAddress, Score, Searcher};

use crate::overlay::Combined;

thread_local! {
    /// A test's switch: searches on its thread score every match (no pruning).
    static EXHAUSTIVE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes searches on this thread score every matching document instead of
/// pruning (tests: the reference a pruned search must agree with).
pub fn set_exhaustive_for_thread(on: bool) {
    EXHAUSTIVE.with(|c| c.set(on));
}

/// Min-heap entry: the lowest score (then the highest address) on top.
#[derive(PartialEq)]
struct Entry(Score, DocAddress);

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| self.1.cmp(&other.1))
    }
}

/// The best `limit` live documents of `query`, best first (equal scores by
/// address). With `stats` (documents kept in memory beside the index), scores
/// use the combined statistics and documents the overlay shadows are left out.
pub(crate) fn top_docs(
    searcher: &Searcher,
    query: &dyn Query,
    stats: Option<&Combined<'_>>,
    limit: usize,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let scoring = match stats {
        Some(s) => EnableScoring::enabled_from_statistics_provider(s, searcher),
        None => EnableScoring::enabled_from_searcher(searcher),
    };
    let weight = query.weight(scoring)?;
    let readers = searcher.segment_readers();
    let mut order: Vec<usize> = (0..readers.len()).collect();
    // Largest first: its best documents set the threshold the others start from.
    order.sort_by_key(|&o| (Reverse(readers[o].num_docs()), o));
    let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(limit.saturating_add(1));
    let mut threshold = Score::MIN;
    let prune = !EXHAUSTIVE.with(|c| c.get());
    let shadow = stats.map(|s| s.shadow);
    for ord in order {
        if shadow.is_some_and(|s| s.dead.get(ord).copied().unwrap_or(false)) {
            continue;
        }
        let skip = shadow
            .and_then(|s| s.docs.get(ord))
            .filter(|d| !d.is_empty());
        let reader = &readers[ord];
        let alive = reader.alive_bitset();
        let seg = ord as u32;
        weight.for_each_pruning(threshold, reader, &mut |doc, score| {
            if alive.is_some_and(|a| a.is_deleted(doc)) || skip.is_some_and(|s| s.contains(&doc)) {
                return threshold;
            }
            let entry = Entry(score, DocAddress::new(seg, doc));
            if heap.len() < limit {
                heap.push(entry);
            } else if let Some(mut worst) = heap.peek_mut()
                && entry < *worst
            {
                // Replaced in place: one sift down instead of a pop and a push.
                *worst = entry;
            }
            if prune && heap.len() >= limit {
                threshold = heap.peek().map_or(Score::MIN, |e| e.0);
            }
            threshold
        })?;
    }
    // Ascending by `Entry` is best first.
    Ok(heap
        .into_sorted_vec()
        .into_iter()
        .map(|Entry(s, a)| (s, a))
        .collect())
}
