//! Recent writes kept in memory beside the committed index (see
//! [`crate::IndexOptions::pending_docs`]): a write group then costs no tantivy
//! commit (a new segment writer and a handful of new files each time); the
//! documents are written to the folder in one commit once enough of them
//! gathered, after a time, or on [`crate::FullTextIndex::flush`].
//!
//! A search sees exactly what a search of the index committed with these
//! documents would: the committed documents of every id the overlay holds are
//! hidden (*shadowed*), the overlay's own documents are scored with tantivy's
//! BM25 ([`Bm25Weight`]), and both sides use the statistics the committed index
//! would have — document count, tokens per field and document frequencies of the
//! committed segments (deleted documents included, as tantivy counts them until
//! a merge, and without segments the commit would leave empty) plus the
//! overlay's documents.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::{Field, IndexRecordOption, TantivyDocument};
use tantivy::{DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED, Term};

/// The scored text fields: title, body, exact.
pub(crate) const SCORED: usize = 3;

/// One clause of a text query: a term of one scored field with its weight.
#[derive(Clone, Debug)]
pub(crate) struct Clause {
    pub(crate) field: Field,
    /// Which scored field (0 title, 1 body, 2 exact).
    pub(crate) slot: usize,
    pub(crate) term: String,
    pub(crate) weight: f32,
}

/// A document of the overlay.
#[derive(Clone, Debug)]
pub(crate) struct Doc {
    /// What a commit writes.
    pub(crate) document: TantivyDocument,
    pub(crate) scope: String,
    /// Tokens per scored field (the field norm).
    tokens: [u32; SCORED],
    /// Term frequencies per scored field.
    terms: [HashMap<String, u32>; SCORED],
}

impl Doc {
    /// A document from its analysed fields (terms in order, per scored field).
    pub(crate) fn new(
        document: TantivyDocument,
        scope: String,
        fields: [Vec<String>; SCORED],
    ) -> Doc {
        let mut tokens = [0u32; SCORED];
        let mut terms: [HashMap<String, u32>; SCORED] = Default::default();
        for (slot, words) in fields.into_iter().enumerate() {
            tokens[slot] = u32::try_from(words.len()).unwrap_or(u32::MAX);
            for w in words {
                *terms[slot].entry(w).or_insert(0) += 1;
            }
        }
        Doc {
            document,
            scope,
            tokens,
            terms,
        }
    }
}

/// The committed documents of overlay ids, per segment of one searcher.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shadow {
    /// The searcher generation this was computed for.
    generation: Option<u64>,
    /// Shadowed live documents per segment ordinal.
    pub(crate) docs: Vec<Arc<HashSet<DocId>>>,
    /// Segments whose every live document is shadowed (a commit drops them).
    pub(crate) dead: Vec<bool>,
}

/// Recent writes not yet committed to the folder: id → document (`None`:
/// deleted).
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    pub(crate) docs: BTreeMap<String, Option<Doc>>,
    /// Live documents holding a term, per scored field: term → (id → frequency).
    postings: [HashMap<String, BTreeMap<String, u32>>; SCORED],
    /// Tokens of the live documents per scored field.
    tokens: [u64; SCORED],
    live: u64,
    shadow: Shadow,
    /// When the first document came in since the last commit.
    pub(crate) since: Option<Instant>,
}

impl Overlay {
    pub(crate) fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.docs.len()
    }

    pub(crate) fn clear(&mut self) {
        *self = Overlay::default();
    }

    /// Replaces (or deletes, `doc: None`) the document of `id`, keeping the
    /// shadow of `searcher` up to date.
    pub(crate) fn put(&mut self, id: &str, doc: Option<Doc>, searcher: &Searcher, id_field: Field) {
        let known = self.docs.contains_key(id);
        if let Some(Some(old)) = self.docs.remove(id) {
            self.live -= 1;
            for slot in 0..SCORED {
                self.tokens[slot] -= u64::from(old.tokens[slot]);
                for term in old.terms[slot].keys() {
                    if let Some(p) = self.postings[slot].get_mut(term) {
                        p.remove(id);
                        if p.is_empty() {
                            self.postings[slot].remove(term);
                        }
                    }
                }
            }
        }
        if let Some(d) = &doc {
            self.live += 1;
            for slot in 0..SCORED {
                self.tokens[slot] += u64::from(d.tokens[slot]);
                for (term, tf) in &d.terms[slot] {
                    self.postings[slot]
                        .entry(term.clone())
                        .or_default()
                        .insert(id.to_string(), *tf);
                }
            }
        }
        self.since.get_or_insert_with(Instant::now);
        self.docs.insert(id.to_string(), doc);
        if self.shadow.generation != Some(generation_of(searcher)) {
            self.reshadow(searcher, id_field);
        } else if !known {
            shadow_id(&mut self.shadow, searcher, id_field, id);
        }
    }

    /// Computes the shadow of the overlay's ids for `searcher`.
    pub(crate) fn reshadow(&mut self, searcher: &Searcher, id_field: Field) {
        let n = searcher.segment_readers().len();
        self.shadow = Shadow {
            generation: Some(generation_of(searcher)),
            docs: vec![Arc::default(); n],
            dead: vec![false; n],
        };
        let ids: Vec<String> = self.docs.keys().cloned().collect();
        for id in &ids {
            shadow_id(&mut self.shadow, searcher, id_field, id);
        }
    }

    /// The shadow for `searcher` (computed now when it is not the one kept).
    pub(crate) fn shadow_for(
        &self,
        searcher: &Searcher,
        id_field: Field,
    ) -> std::borrow::Cow<'_, Shadow> {
        if self.shadow.generation == Some(generation_of(searcher)) {
            return std::borrow::Cow::Borrowed(&self.shadow);
        }
        let n = searcher.segment_readers().len();
        let mut s = Shadow {
            generation: Some(generation_of(searcher)),
            docs: vec![Arc::default(); n],
            dead: vec![false; n],
        };
        for id in self.docs.keys() {
            shadow_id(&mut s, searcher, id_field, id);
        }
        std::borrow::Cow::Owned(s)
    }

    /// Live documents the overlay holds.
    pub(crate) fn live(&self) -> u64 {
        self.live
    }

    /// Every live document matching `clauses` within `scopes`, with its score
    /// under `stats`.
    pub(crate) fn hits(
        &self,
        clauses: &[Clause],
        scopes: Option<&[String]>,
        stats: &dyn Bm25StatisticsProvider,
    ) -> tantivy::Result<Vec<(String, Score)>> {
        let mut scores: BTreeMap<&str, Score> = BTreeMap::new();
        for c in clauses {
            let Some(postings) = self.postings[c.slot].get(&c.term) else {
                continue;
            };
            let bm25 = clause_weight(stats, c)?;
            for (id, tf) in postings {
                let Some(Some(doc)) = self.docs.get(id) else {
                    continue;
                };
                if let Some(scopes) = scopes
                    && !scopes.contains(&doc.scope)
                {
                    continue;
                }
                let fieldnorm = FieldNormReader::fieldnorm_to_id(doc.tokens[c.slot]);
                *scores.entry(id.as_str()).or_insert(0.0) += bm25.score(fieldnorm, *tf);
            }
        }
        Ok(scores
            .into_iter()
            .map(|(id, s)| (id.to_string(), s))
            .collect())
    }

    /// Live committed documents hidden by the overlay.
    pub(crate) fn shadowed(shadow: &Shadow) -> u64 {
        shadow.docs.iter().map(|d| d.len() as u64).sum()
    }
}

/// The BM25 weight of clause `c` under `stats` (the term's document frequency,
/// the document count and the field's average length), times the clause's
/// weight: what the committed documents' search (`maxscore.rs`) and the
/// overlay's score a clause with, so a document scores the same in either.
pub(crate) fn clause_weight(
    stats: &dyn Bm25StatisticsProvider,
    c: &Clause,
) -> tantivy::Result<Bm25Weight> {
    let n = stats.total_num_docs()?;
    let term = Term::from_field_text(c.field, &c.term);
    let df = stats.doc_freq(&term)?;
    let avg = stats.total_num_tokens(c.field)? as Score / n.max(1) as Score;
    Ok(Bm25Weight::for_one_term_without_explain(df, n, avg).boost_by(c.weight))
}

fn generation_of(searcher: &Searcher) -> u64 {
    searcher.generation().generation_id()
}

/// Adds the live committed documents of `id` to `shadow`.
fn shadow_id(shadow: &mut Shadow, searcher: &Searcher, id_field: Field, id: &str) {
    let term = Term::from_field_text(id_field, id);
    for (ord, seg) in searcher.segment_readers().iter().enumerate() {
        let Ok(inverted) = seg.inverted_index(id_field) else {
            continue;
        };
        let Ok(Some(mut postings)) = inverted.read_postings(&term, IndexRecordOption::Basic) else {
            continue;
        };
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if seg.alive_bitset().is_none_or(|a| a.is_alive(doc))
                && let Some(set) = shadow.docs.get_mut(ord)
            {
                Arc::make_mut(set).insert(doc);
            }
            doc = postings.advance();
        }
        if let (Some(set), Some(dead)) = (shadow.docs.get(ord), shadow.dead.get_mut(ord)) {
            *dead = set.len() as u64 >= u64::from(seg.num_docs());
        }
    }
}

/// The statistics of the index as committed with the overlay.
pub(crate) struct Combined<'a> {
    pub(crate) searcher: &'a Searcher,
    pub(crate) shadow: &'a Shadow,
    pub(crate) overlay: &'a Overlay,
    pub(crate) slots: [Field; SCORED],
}

impl Combined<'_> {
    fn segments(&self) -> impl Iterator<Item = &SegmentReader> {
        self.searcher
            .segment_readers()
            .iter()
            .enumerate()
            .filter(|(ord, _)| !self.shadow.dead.get(*ord).copied().unwrap_or(false))
            .map(|(_, s)| s)
    }

    fn slot(&self, field: Field) -> Option<usize> {
        self.slots.iter().position(|f| *f == field)
    }
}

impl Bm25StatisticsProvider for Combined<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let mut total = 0u64;
        for seg in self.segments() {
            total += seg.inverted_index(field)?.total_num_tokens();
        }
        Ok(total + self.slot(field).map_or(0, |s| self.overlay.tokens[s]))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        let base: u64 = self.segments().map(|s| u64::from(s.max_doc())).sum();
        Ok(base + self.overlay.live)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let mut total = 0u64;
        for seg in self.segments() {
            total += u64::from(seg.inverted_index(term.field())?.doc_freq(term)?);
        }
        let own = match (self.slot(term.field()), term.value().as_str()) {
            (Some(slot), Some(text)) => self.overlay.postings[slot]
                .get(text)
                .map_or(0, |p| p.len() as u64),
            _ => 0,
        };
        Ok(total + own)
    }
}
