//! The best documents of a text query: MaxScore over the terms' postings, every
//! segment pruned with one threshold.
//!
//! A cue is a handful of words, each a term of the title and of the body (and
//! of the exact field); a memory's common words are in most documents and can
//! add little to a score. MaxScore (Turtle and Flood, 1995) orders the clauses
//! by the most each can add (its BM25 at the highest frequency) and, once the
//! top list is full, calls the clauses whose bounds together cannot lift a
//! document past the list's worst score *non-essential*: documents are then
//! taken only from the postings of the essential clauses, and a non-essential
//! clause's postings are only skipped forward to the documents found, largest
//! bound first, until what the rest could add is too little. (Tantivy's
//! block-max WAND over the same terms re-sorts every cursor at each candidate;
//! with the long postings of common words most of a search went there.)
//!
//! Segments are searched one after the other, largest first, each starting
//! from the worst score of the list the ones before left, so the index is
//! searched as if it were one segment whatever its layout.
//!
//! A document's score is tantivy's BM25 of each matching clause ([`Bm25Weight`]
//! with the statistics of the search: the searcher's, or those of committed and
//! kept documents together) times the clause's weight, summed in clause order,
//! as `overlay.rs` scores the documents kept in memory: the same document gets
//! the same score whatever the segments, the pruning or where it is kept.

use std::cell::Cell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED, Term};

use crate::overlay::{Clause, Combined, clause_weight};

thread_local! {
    /// A test's switch: searches on its thread score every match (no pruning).
    static EXHAUSTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Makes searches on this thread score every matching document instead of
/// pruning (tests: the reference a pruned search must agree with).
pub fn set_exhaustive_for_thread(on: bool) {
    EXHAUSTIVE.with(|c| c.set(on));
}

/// Bounds are sums taken in another order than a score's; this margin keeps
/// rounding from pruning a document whose score equals a bound.
const BOUND_MARGIN: Score = 1.0e-5;

/// How many documents [`top_docs`] lists.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Want {
    /// The best `n`.
    Best(usize),
    /// Every document scoring above this (and the search pruned by it from
    /// the start): what a search whose cut-off fell among tied scores needs.
    Above(Score),
}

/// The best live documents (best first, equal scores by address) of the
/// disjunction of `clauses` as `want` says, limited to documents with one of
/// the `scopes` terms (`None`: every document). With `stats`, scores use the
/// combined statistics and documents the overlay shadows are left out.
pub(crate) fn top_docs(
    searcher: &Searcher,
    clauses: &[Clause],
    scopes: Option<&[Term]>,
    stats: Option<&Combined<'_>>,
    want: Want,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    if matches!(want, Want::Best(0)) || clauses.is_empty() {
        return Ok(Vec::new());
    }
    let provider: &dyn Bm25StatisticsProvider = match stats {
        Some(s) => s,
        None => searcher,
    };
    let mut weights = Vec::with_capacity(clauses.len());
    for c in clauses {
        let term = Term::from_field_text(c.field, &c.term);
        let weight = clause_weight(provider, c)?;
        let once = ScoresOfOne::new(&weight);
        weights.push((term, weight, once));
    }
    let readers = searcher.segment_readers();
    let mut order: Vec<usize> = (0..readers.len()).collect();
    // Largest first: its best documents set the threshold the others start from.
    order.sort_by_key(|&o| (Reverse(readers[o].num_docs()), o));
    let prune = !EXHAUSTIVE.with(Cell::get);
    let mut top = match want {
        Want::Best(limit) => Top {
            heap: BinaryHeap::with_capacity(limit.saturating_add(1)),
            limit,
            threshold: Score::MIN,
            prune,
        },
        // The threshold is fixed (the list never fills); without pruning
        // every match is listed and the caller's cut-off drops the rest.
        Want::Above(floor) => Top {
            heap: BinaryHeap::new(),
            limit: usize::MAX,
            threshold: if prune { floor } else { Score::MIN },
            prune,
        },
    };
    let shadow = stats.map(|s| s.shadow);
    for ord in order {
        if shadow.is_some_and(|s| s.dead.get(ord).copied().unwrap_or(false)) {
            continue;
        }
        let skip = shadow
            .and_then(|s| s.docs.get(ord))
            .filter(|d| !d.is_empty());
        let reader = &readers[ord];
        let mut cursors = Vec::with_capacity(weights.len());
        for (clause, (term, weight, once)) in weights.iter().enumerate() {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(postings) = inverted.read_postings(term, IndexRecordOption::WithFreqs)? {
                let norms = reader.get_fieldnorms_reader(term.field())?;
                cursors.push(Cursor {
                    postings,
                    norms,
                    bound: weight.max_score(),
                    weight: weight.clone(),
                    once,
                    clause,
                });
            }
        }
        let mut filter = match scopes {
            None => None,
            Some(terms) => Some(ScopeFilter::new(reader, terms)?),
        };
        let alive = reader.alive_bitset();
        let admit = |doc: DocId| {
            !(alive.is_some_and(|a| a.is_deleted(doc))
                || skip.is_some_and(|s| s.contains(&doc))
                || filter.as_mut().is_some_and(|f| !f.contains(doc)))
        };
        search_segment(&mut cursors, &mut top, admit, ord as u32);
    }
    Ok(top
        .heap
        .into_sorted_vec()
        .into_iter()
        .map(|Entry(s, a)| (s, a))
        .collect())
}

/// A clause's BM25 of a term found once in a document, for each of the 256
/// field-norm ids: what `Bm25Weight::score(id, 1)` gives, computed once per
/// search. In a memory's short texts most postings have a frequency of one,
/// and a table read is cheaper than the division the score takes.
struct ScoresOfOne([Score; 256]);

impl ScoresOfOne {
    fn new(weight: &Bm25Weight) -> Self {
        let mut t = [0.0; 256];
        for (id, s) in (0..=u8::MAX).zip(t.iter_mut()) {
            *s = weight.score(id, 1);
        }
        ScoresOfOne(t)
    }
}

/// One clause's postings in one segment with its BM25 weight.
struct Cursor<'w> {
    postings: SegmentPostings,
    norms: FieldNormReader,
    weight: Bm25Weight,
    once: &'w ScoresOfOne,
    /// The most this clause adds to a document's score.
    bound: Score,
    /// The clause's place in the query (the order scores are summed in).
    clause: usize,
}

impl Cursor<'_> {
    fn doc(&self) -> DocId {
        self.postings.doc()
    }

    /// The clause's score of the document the cursor is on.
    fn score(&self, doc: DocId) -> Score {
        let norm = self.norms.fieldnorm_id(doc);
        match self.postings.term_freq() {
            1 => self.once.0[usize::from(norm)],
            tf => self.weight.score(norm, tf),
        }
    }
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

/// The best documents so far and the score a document must beat to enter
/// once the list is full.
struct Top {
    heap: BinaryHeap<Entry>,
    limit: usize,
    threshold: Score,
    /// Whether the threshold rises (off: every match is scored).
    prune: bool,
}

impl Top {
    fn offer(&mut self, score: Score, addr: DocAddress) {
        let entry = Entry(score, addr);
        if self.heap.len() < self.limit {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && entry < *worst
        {
            // Replaced in place: one sift down instead of a pop and a push.
            *worst = entry;
        }
        if self.prune && self.heap.len() >= self.limit {
            self.threshold = self.heap.peek().map_or(Score::MIN, |e| e.0);
        }
    }
}

/// MaxScore over one segment's cursors; `admit` says whether a document may be
/// listed (alive, not shadowed, in scope), asked in increasing document order.
fn search_segment(
    cursors: &mut [Cursor<'_>],
    top: &mut Top,
    mut admit: impl FnMut(DocId) -> bool,
    seg: u32,
) {
    if cursors.is_empty() {
        return;
    }
    // Smallest bound first; `prefix[i]` bounds what cursors `0..=i` add together.
    cursors.sort_by(|a, b| a.bound.total_cmp(&b.bound).then(a.clause.cmp(&b.clause)));
    let mut prefix = Vec::with_capacity(cursors.len());
    let mut sum: Score = 0.0;
    for c in cursors.iter() {
        sum += c.bound;
        prefix.push(sum * (1.0 + BOUND_MARGIN));
    }
    // The matching clauses of a candidate: (clause, score).
    let mut parts: Vec<(usize, Score)> = Vec::with_capacity(cursors.len());
    // Cursors `essential..` give the candidates; those before cannot lift a
    // document past the threshold together. The threshold only rises, so the
    // split only moves right.
    let mut essential = 0;
    loop {
        while essential < cursors.len() && prefix[essential] <= top.threshold {
            essential += 1;
        }
        let Some(doc) = cursors[essential..].iter().map(Cursor::doc).min() else {
            return;
        };
        if doc == TERMINATED {
            return;
        }
        parts.clear();
        let mut score: Score = 0.0;
        for c in cursors[essential..].iter_mut() {
            if c.doc() == doc {
                let s = c.score(doc);
                score += s;
                parts.push((c.clause, s));
                c.postings.advance();
            }
        }
        let mut bounded = false;
        for i in (0..essential).rev() {
            if score + prefix[i] <= top.threshold {
                bounded = true;
                break;
            }
            let c = &mut cursors[i];
            if c.doc() < doc {
                c.postings.seek(doc);
            }
            if c.doc() == doc {
                let s = c.score(doc);
                score += s;
                parts.push((c.clause, s));
            }
        }
        if bounded {
            continue;
        }
        // The score in clause order, as every other path sums it.
        parts.sort_unstable_by_key(|p| p.0);
        let score = parts.iter().fold(0.0, |acc: Score, p| acc + p.1);
        if score > top.threshold && admit(doc) {
            top.offer(score, DocAddress::new(seg, doc));
        }
    }
}

/// Whether documents of one segment have one of the scope terms: the scopes'
/// postings, skipped forward to each document asked about (in increasing order).
struct ScopeFilter {
    postings: Vec<SegmentPostings>,
}

impl ScopeFilter {
    fn new(reader: &SegmentReader, scopes: &[Term]) -> tantivy::Result<ScopeFilter> {
        let mut postings = Vec::with_capacity(scopes.len());
        for term in scopes {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(p) = inverted.read_postings(term, IndexRecordOption::Basic)? {
                postings.push(p);
            }
        }
        Ok(ScopeFilter { postings })
    }

    fn contains(&mut self, doc: DocId) -> bool {
        let mut found = false;
        for p in &mut self.postings {
            if p.doc() < doc {
                p.seek(doc);
            }
            found |= p.doc() == doc;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    //! MaxScore against tantivy's own boolean query of the same clauses (term
    //! queries boosted by their weights, OR-ed, and with scopes a required
    //! filter scoring nothing): every match, the same documents, the same BM25.

    use std::collections::BTreeMap;

    use phase_memory_model::{Node, Time};
    use proptest::prelude::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
    use tantivy::schema::IndexRecordOption;
    use tantivy::{DocAddress, Term};

    use crate::{FieldWeights, FullTextIndex, IndexOptions, Search};

    const WORDS: [&str; 6] = ["river", "stones", "garden", "lamp", "harbour", "violin"];
    const SCOPES: [&str; 3] = ["alpha", "beta", "gamma"];

    fn text(words: &[u8]) -> String {
        let w: Vec<&str> = words
            .iter()
            .map(|&w| WORDS[w as usize % WORDS.len()])
            .collect();
        w.join(" ")
    }

    fn node(i: usize, title: &[u8], body: &[u8], scope: u8) -> Node {
        Node {
            id: format!("n{i:04}"),
            kind: "fact".into(),
            phase: "active".into(),
            title: text(title),
            body: text(body),
            labels: vec![],
            scope: SCOPES[scope as usize % SCOPES.len()].into(),
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

    /// Tantivy's scores of every match of `search`, by node id.
    fn reference(idx: &FullTextIndex, search: &Search<'_>) -> BTreeMap<String, f32> {
        let w = search.weights;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        // Each term once, as a search asks for it.
        let terms: std::collections::BTreeSet<String> =
            idx.terms(search.text).into_iter().collect();
        let exact: std::collections::BTreeSet<String> = idx
            .analyse(crate::EXACT_ANALYZER, search.text)
            .into_iter()
            .collect();
        for term in terms {
            for (field, weight) in [(idx.fields.title, w.title), (idx.fields.body, w.body)] {
                let q = TermQuery::new(
                    Term::from_field_text(field, &term),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), weight)),
                ));
            }
        }
        for term in exact {
            let q = TermQuery::new(
                Term::from_field_text(idx.fields.exact, &term),
                IndexRecordOption::WithFreqs,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(q), w.exact)),
            ));
        }
        let mut query: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
        if let Some(scopes) = search.scopes {
            let any: Vec<(Occur, Box<dyn Query>)> = scopes
                .iter()
                .map(|s| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(idx.fields.scope, s),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            let filter = ConstScoreQuery::new(Box::new(BooleanQuery::new(any)), 0.0);
            query = Box::new(BooleanQuery::new(vec![
                (Occur::Must, query),
                (Occur::Must, Box::new(filter)),
            ]));
        }
        let searcher = idx.reader.searcher();
        let top: Vec<(f32, DocAddress)> = searcher
            .search(&*query, &TopDocs::with_limit(10_000).order_by_score())
            .expect("tantivy search");
        idx.ids_of(&searcher, top)
            .expect("ids")
            .into_iter()
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn maxscore_scores_what_tantivys_boolean_query_scores(
            docs in prop::collection::vec(
                (prop::collection::vec(0u8..6, 0..3), prop::collection::vec(0u8..6, 1..10), 0u8..3),
                10..120,
            ),
            batch in 5usize..50,
            cue in prop::collection::vec(0u8..6, 1..4),
            weights in (0u8..3, 0u8..3, 0u8..3),
            scopes in prop::option::of(prop::collection::vec(0u8..4, 0..3)),
        ) {
            let options = IndexOptions { num_threads: 1, memory_budget_bytes: 20_000_000, ..IndexOptions::default() };
            let mut idx = FullTextIndex::open_or_create_with(None, options).expect("ram index");
            let nodes: Vec<Node> = docs.iter().enumerate().map(|(i, (t, b, s))| node(i, t, b, *s)).collect();
            for (g, chunk) in nodes.chunks(batch).enumerate() {
                idx.upsert(chunk).expect("upsert");
                idx.commit(g as u64 + 1).expect("commit");
            }
            // Scope names past the list are scopes no document has.
            let scopes: Option<Vec<String>> = scopes.map(|s| {
                s.iter().map(|&i| SCOPES.get(i as usize).map_or("none", |x| x).to_string()).collect()
            });
            let weight = |w: u8| [0.5f32, 1.0, 2.0][w as usize];
            let cue = text(&cue);
            let search = Search {
                text: &cue,
                limit: 10_000,
                scopes: scopes.as_deref(),
                weights: FieldWeights { title: weight(weights.0), body: weight(weights.1), exact: weight(weights.2) },
            };
            let ours: BTreeMap<String, f32> = idx.search_with(&search).expect("search").into_iter().collect();
            let theirs = reference(&idx, &search);
            prop_assert_eq!(ours.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
            for (id, s) in &ours {
                let t = theirs[id];
                prop_assert!((s - t).abs() <= 1e-5 * t.abs().max(1.0), "{}: {} vs {}", id, s, t);
            }
        }
    }
}
