//! Ranking a text query: BM25 of the committed index, and of the documents kept
//! in memory beside it (`overlay.rs`) with the statistics the index would have
//! once they are committed.

use std::collections::BTreeSet;

use tantivy::{DocAddress, DocId, Searcher, Term};

use crate::maxscore::{Want, top_docs};
use crate::overlay::{Clause, Combined};
use crate::{FullTextIndex, ID_FIELD, IndexError, tie_key};

impl FullTextIndex {
    /// Runs the text query of `clauses` inside `scopes` (None: every scope;
    /// empty: none) and returns the best `limit` hits by BM25 rounded to
    /// 1/65536, ties by id. It fetches past the limit until the documents tied
    /// at the cut-off are all seen, so the same documents give the same hits
    /// whatever the segment layout, and whether they are committed yet.
    pub(crate) fn ranked(
        &self,
        clauses: &[Clause],
        scopes: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(String, f32)>, IndexError> {
        if limit == 0 || clauses.is_empty() || scopes.is_some_and(|s| s.is_empty()) {
            return Ok(Vec::new());
        }
        let scope_terms: Option<Vec<Term>> = scopes.map(|s| {
            s.iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|s| Term::from_field_text(self.fields.scope, s))
                .collect()
        });
        self.with_stats(|stats| {
            self.ranked_with(clauses, scopes, scope_terms.as_deref(), limit, stats)
        })
    }

    /// [`FullTextIndex::ranked`] on one searcher and its combined statistics.
    fn ranked_with(
        &self,
        clauses: &[Clause],
        scopes: Option<&[String]>,
        scope_terms: Option<&[Term]>,
        limit: usize,
        stats: &Combined<'_>,
    ) -> Result<Vec<(String, f32)>, IndexError> {
        let searcher = stats.searcher;
        let own = if stats.overlay.is_empty() {
            Vec::new()
        } else {
            stats
                .overlay
                .hits(clauses, scopes, stats)
                .map_err(self.err("search"))?
        };
        let mut own_keys: Vec<i64> = own.iter().map(|h| tie_key(h.1)).collect();
        own_keys.sort_unstable_by(|a, b| b.cmp(a));
        // Fetch a little beyond the limit; when the last hit still ties the
        // limit-th (of committed and kept documents together), documents tied
        // at the cut-off may be missing: search once more for every document
        // at or above the limit-th score, pruned by it from the start, so all
        // the tied ones are seen and chosen by id.
        let total = usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX);
        let fetch = limit.saturating_add(16);
        let combined = (!stats.overlay.is_empty()).then_some(stats);
        let mut top: Vec<(f32, DocAddress)> =
            top_docs(searcher, clauses, scope_terms, combined, Want::Best(fetch))
                .map_err(self.err("search"))?;
        let last = top.last().map(|x| tie_key(x.0));
        let cut = if top.len() < fetch || fetch >= total {
            None
        } else if own_keys.is_empty() {
            // `top` is best first and rounding keeps the order: its
            // `limit`-th key is the `limit`-th best.
            top.get(limit - 1).map(|x| tie_key(x.0))
        } else {
            let mut keys: Vec<i64> = top.iter().map(|x| tie_key(x.0)).collect();
            keys.extend(&own_keys);
            keys.sort_unstable_by(|a, b| b.cmp(a));
            keys.get(limit - 1).copied()
        };
        if let Some(key) = cut.filter(|&k| Some(k) == last) {
            top = top_docs(
                searcher,
                clauses,
                scope_terms,
                combined,
                Want::Above(key_floor(key)),
            )
            .map_err(self.err("search"))?;
        }
        let mut hits = self.ids_of(searcher, top)?;
        hits.extend(own);
        crate::rank_hits(&mut hits);
        hits.truncate(limit);
        Ok(hits)
    }

    /// The node ids of `top`'s documents with their scores: from the id
    /// tables of their segments (see `ids.rs`), or, in a segment without one
    /// yet, from its id dictionary (one pass in ordinal order).
    pub(crate) fn ids_of(
        &self,
        searcher: &Searcher,
        top: Vec<(f32, DocAddress)>,
    ) -> Result<Vec<(String, f32)>, IndexError> {
        let segments = searcher.segment_readers().len();
        let mut wanted = vec![false; segments];
        for (_, addr) in &top {
            if let Some(w) = wanted.get_mut(addr.segment_ord as usize) {
                *w = true;
            }
        }
        let tables = self.ids.of(searcher, &wanted).map_err(self.err("search"))?;
        let mut hits = Vec::with_capacity(top.len() + 16);
        let mut rest: Vec<Vec<(DocId, f32)>> = vec![Vec::new(); segments];
        for (score, addr) in top {
            let seg = addr.segment_ord as usize;
            match tables.get(seg).and_then(Option::as_ref) {
                Some(table) => {
                    if let Some(id) = table.id(addr.doc_id) {
                        hits.push((id.to_string(), score));
                    }
                }
                None => {
                    if let Some(r) = rest.get_mut(seg) {
                        r.push((addr.doc_id, score));
                    }
                }
            }
        }
        for (seg, docs) in rest.into_iter().enumerate() {
            if !docs.is_empty() {
                self.ids_from_dictionary(searcher, seg, docs, &mut hits)?;
            }
        }
        Ok(hits)
    }

    /// Adds the ids of `docs` of segment `seg` (with their scores) to `hits`,
    /// read from the segment's id dictionary in ordinal order.
    fn ids_from_dictionary(
        &self,
        searcher: &Searcher,
        seg: usize,
        docs: Vec<(DocId, f32)>,
        hits: &mut Vec<(String, f32)>,
    ) -> Result<(), IndexError> {
        let reader = searcher.segment_reader(seg as u32);
        let Some(column) = reader
            .fast_fields()
            .str(ID_FIELD)
            .map_err(self.err("search"))?
        else {
            return Ok(());
        };
        let mut by_ord: Vec<(u64, f32)> = docs
            .into_iter()
            .filter_map(|(doc, score)| column.term_ords(doc).next().map(|o| (o, score)))
            .collect();
        by_ord.sort_unstable_by_key(|x| x.0);
        let ords: Vec<u64> = by_ord.iter().map(|x| x.0).collect();
        let mut scores = by_ord.iter().map(|x| x.1);
        column
            .dictionary()
            .sorted_ords_to_term_cb(&ords, |bytes| {
                if let (Some(score), Ok(id)) = (scores.next(), std::str::from_utf8(bytes)) {
                    hits.push((id.to_string(), score));
                }
            })
            .map_err(|e| self.err("search")(e.into()))?;
        Ok(())
    }
}

/// A score below every score whose [`tie_key`] is `key` or more: what a
/// search for the documents at or above `key` is pruned by.
fn key_floor(key: i64) -> f32 {
    // Scores of `key` are at least b = (key - 0.5) / 65536, so at least the
    // f32 nearest b when that is above b; two steps below it is below b
    // whichever side of b it lies on.
    let nearest = ((key as f64 - 0.5) / 65536.0) as f32;
    if nearest <= 0.0 || !nearest.is_finite() {
        return f32::MIN;
    }
    f32::from_bits(nearest.to_bits().saturating_sub(2))
}

#[cfg(test)]
mod tests {
    use super::key_floor;
    use crate::tie_key;
    use proptest::prelude::*;

    proptest! {
        /// Every score of a key is above the key's floor, also the f32 scores
        /// right at the key's lower rounding edge.
        #[test]
        fn every_score_of_a_key_is_above_its_floor(score in 0.0f32..5000.0, key in 1i64..300_000_000) {
            prop_assert!(score > key_floor(tie_key(score)), "{} vs floor {}", score, key_floor(tie_key(score)));
            // The f32 scores around the lowest score of `key`.
            let b = ((key as f64 - 0.5) / 65536.0) as f32;
            for d in 0..8u32 {
                let s = f32::from_bits(b.to_bits() - 4 + d);
                if tie_key(s) >= key {
                    prop_assert!(s > key_floor(key), "{} vs floor {} of key {}", s, key_floor(key), key);
                }
            }
        }
    }
}
