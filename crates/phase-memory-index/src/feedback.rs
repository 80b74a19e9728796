//! Pseudo-relevance feedback (RM3): the top hits of a first search are taken as
//! relevant, their salient terms are weighted into a second, expanded query.
//!
//! Bounded and deterministic: at most [`Feedback::docs`] documents are read and
//! at most [`Feedback::terms`] expansion terms are added; weights are summed in
//! hit order and terms are kept in a sorted map, so the same hits give the same
//! expanded query. The index stores no text, so the caller supplies each feedback
//! document's text (title and body) by id.

use std::collections::{BTreeMap, BTreeSet};

use tantivy::Term;
use tantivy::query::Bm25StatisticsProvider;

use crate::{Analysis, EXACT_ANALYZER, FullTextIndex, IndexError, MAX_QUERY_TERMS, Search};

/// Feedback settings (the profile's `activation.feedback_*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Feedback {
    /// How many top hits are read as feedback documents (0: no feedback).
    pub docs: usize,
    /// Most expansion terms added to the query.
    pub terms: usize,
    /// Weight `λ` of the original query in `λ·q + (1−λ)·P(w|R)`, in [0, 1].
    pub original_weight: f64,
}

impl Feedback {
    /// Whether these settings change a search at all.
    pub fn active(&self) -> bool {
        self.docs > 0 && self.terms > 0 && self.original_weight < 1.0
    }
}

/// The RM3 query: every original term with weight `λ·|q|⁻¹` plus the `fb.terms`
/// terms of the relevance model `P(w|R) = Σ_d P(d|q)·tf(w,d)/|d|` (with
/// `P(d|q)` the hit's score over the sum of scores) that score highest by
/// `P(w|R)·idf(w)`, their weights renormalised to sum to `1−λ`. Terms in fewer
/// than two documents (`df`) are skipped: they can only lift a feedback document
/// itself. All weights are multiplied by `|q|` so an original term alone weighs
/// `λ`. Sorted by term.
///
/// `docs` are the feedback documents' analysed terms with their first-search
/// scores, in hit order; `n` is the number of documents in the index.
pub fn rm3_weights(
    query: &[String],
    docs: &[(Vec<String>, f32)],
    df: &dyn Fn(&str) -> u64,
    n: u64,
    fb: &Feedback,
) -> Vec<(String, f32)> {
    let original: BTreeSet<&str> = query.iter().map(String::as_str).collect();
    let lambda = if fb.original_weight.is_finite() {
        fb.original_weight.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let nq = original.len().max(1) as f64;
    let mut out: BTreeMap<String, f64> = original
        .iter()
        .map(|t| ((*t).to_string(), lambda / nq))
        .collect();
    let docs = &docs[..docs.len().min(fb.docs)];
    let total: f64 = docs
        .iter()
        .map(|d| f64::from(d.1))
        .filter(|s| s.is_finite() && *s > 0.0)
        .sum();
    if lambda < 1.0 && fb.terms > 0 && total > 0.0 {
        let mut model: BTreeMap<&str, f64> = BTreeMap::new();
        for (terms, score) in docs {
            let score = f64::from(*score);
            if terms.is_empty() || !(score.is_finite() && score > 0.0) {
                continue;
            }
            let p_doc = score / total;
            let len = terms.len() as f64;
            for t in terms {
                *model.entry(t.as_str()).or_insert(0.0) += p_doc / len;
            }
        }
        let n = n.max(1) as f64;
        let mut salient: Vec<(&str, f64, f64)> = model
            .into_iter()
            .filter_map(|(t, p)| {
                let d = df(t);
                (d >= 2).then(|| (t, p, p * (1.0 + (n / d as f64).ln().max(0.0))))
            })
            .collect();
        salient.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(b.0)));
        salient.truncate(fb.terms);
        let mass: f64 = salient.iter().map(|s| s.2).sum();
        if mass > 0.0 {
            for (t, _, s) in salient {
                *out.entry(t.to_string()).or_insert(0.0) += (1.0 - lambda) * s / mass;
            }
        }
    }
    out.into_iter()
        .map(|(t, w)| (t, (w * nq) as f32))
        .filter(|(_, w)| w.is_finite() && *w > 0.0)
        .collect()
}

/// CombSUM of two rankings, each score over its list's best:
/// `λ·s₁/top₁ + (1−λ)·s₂/top₂`, times `top₁` (so scores stay on the first
/// search's scale); highest first, ties by id, at most `limit`.
pub fn fuse(
    first: &[(String, f32)],
    second: &[(String, f32)],
    lambda: f64,
    limit: usize,
) -> Vec<(String, f32)> {
    let lambda = if lambda.is_finite() {
        lambda.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let top = |l: &[(String, f32)]| l.iter().map(|h| f64::from(h.1)).fold(0.0f64, f64::max);
    let (t1, t2) = (top(first), top(second));
    let mut sum: BTreeMap<&str, f64> = BTreeMap::new();
    for (list, w, t) in [(first, lambda, t1), (second, 1.0 - lambda, t2)] {
        if t > 0.0 {
            for (id, s) in list {
                let s = f64::from(*s);
                if s.is_finite() && s > 0.0 {
                    *sum.entry(id.as_str()).or_insert(0.0) += w * s / t;
                }
            }
        }
    }
    let scale = if t1 > 0.0 { t1 } else { 1.0 };
    let mut out: Vec<(String, f32)> = sum
        .into_iter()
        .filter(|(_, s)| *s > 0.0)
        .map(|(id, s)| (id.to_string(), (s * scale) as f32))
        .collect();
    crate::rank_hits(&mut out);
    out.truncate(limit);
    out
}

impl FullTextIndex {
    /// How many documents hold `term` (an analysed term) in title or body; the
    /// larger of the two fields' counts.
    pub fn doc_freq(&self, term: &str) -> u64 {
        self.with_stats(|stats| {
            [self.fields.title, self.fields.body]
                .into_iter()
                .map(|f| stats.doc_freq(&Term::from_field_text(f, term)).unwrap_or(0))
                .max()
                .unwrap_or(0)
        })
    }

    /// [`FullTextIndex::search_with`], then, when `fb` is active and the first
    /// search found anything, a second search with the RM3 query of its top
    /// `fb.docs` hits ([`rm3_weights`]), fused with the first ([`fuse`], `λ =
    /// fb.original_weight`); `text_of` gives a hit's title and body (`None`: the
    /// hit is not used as feedback). The exact-word clauses of the original text
    /// are kept in the second search.
    pub fn search_with_feedback(
        &self,
        search: &Search<'_>,
        fb: &Feedback,
        text_of: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, f32)>, IndexError> {
        let first = self.search_with(search)?;
        if !fb.active() || first.is_empty() || search.limit == 0 {
            return Ok(first);
        }
        let query: Vec<String> = self.terms(search.text);
        let docs: Vec<(Vec<String>, f32)> = first
            .iter()
            .take(fb.docs)
            .filter_map(|(id, score)| text_of(id).map(|t| (self.terms(&t), *score)))
            .collect();
        let n = self.doc_count();
        let weighted = rm3_weights(&query, &docs, &|t| self.doc_freq(t), n, fb);
        let second = self.search_weighted(search, &weighted)?;
        Ok(fuse(&first, &second, fb.original_weight, search.limit))
    }

    /// BM25 of weighted analysed terms over title and body (each clause times
    /// the term's weight and the field's), plus the exact words of
    /// `search.text` at the exact weight, limited to `search.scopes`, ties by id.
    pub fn search_weighted(
        &self,
        search: &Search<'_>,
        terms: &[(String, f32)],
    ) -> Result<Vec<(String, f32)>, IndexError> {
        let limit = search.limit;
        let w = search.weights;
        let mut clauses = Vec::new();
        for (term, weight) in terms.iter().take(MAX_QUERY_TERMS) {
            self.clause(&mut clauses, 0, term, w.title * weight);
            self.clause(&mut clauses, 1, term, w.body * weight);
        }
        if self.options.analysis == Analysis::English && w.exact > 0.0 {
            let exact: BTreeSet<String> = self
                .analyse(EXACT_ANALYZER, search.text)
                .into_iter()
                .collect();
            for term in exact.iter().take(MAX_QUERY_TERMS) {
                self.clause(&mut clauses, 2, term, w.exact);
            }
        }
        self.ranked(&clauses, search.scopes, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(x: &[&str]) -> Vec<String> {
        x.iter().map(|t| (*t).to_string()).collect()
    }

    const FB: Feedback = Feedback {
        docs: 3,
        terms: 2,
        original_weight: 0.5,
    };

    #[test]
    fn salient_shared_terms_are_added_singletons_and_common_words_are_not() {
        let df = |t: &str| match t {
            "hike" => 5,
            "trail" => 3,
            "rare" => 1,
            _ => 50,
        };
        let docs = vec![
            (s(&["hike", "trail", "rare"]), 2.0),
            (s(&["hike", "trail", "good"]), 1.0),
        ];
        let w = rm3_weights(&s(&["hike"]), &docs, &df, 100, &FB);
        let terms: Vec<&str> = w.iter().map(|x| x.0.as_str()).collect();
        // "rare" is in one document only; "good" is common and loses the second
        // of the two expansion slots to "trail".
        assert_eq!(terms, ["hike", "trail"]);
        // The original term keeps λ and gets its share of the model on top.
        let hike = w[0].1;
        let trail = w[1].1;
        assert!(hike > 0.5 && hike < 1.0, "{hike}");
        assert!(trail > 0.0 && trail < hike, "{trail}");
    }

    #[test]
    fn lambda_one_or_no_feedback_keeps_the_query_terms_at_equal_weights() {
        let df = |_: &str| 10;
        let docs = vec![(s(&["a", "b"]), 1.0)];
        let q = s(&["x", "y"]);
        for fb in [
            Feedback {
                original_weight: 1.0,
                ..FB
            },
            Feedback { docs: 0, ..FB },
            Feedback { terms: 0, ..FB },
        ] {
            let w = rm3_weights(&q, &docs, &df, 100, &fb);
            let terms: Vec<&str> = w.iter().map(|x| x.0.as_str()).collect();
            assert_eq!(terms, ["x", "y"], "{fb:?}");
            // Equal weights rank as the original query does.
            assert_eq!(w[0].1, w[1].1, "{fb:?}");
        }
    }

    #[test]
    fn fusion_keeps_first_hits_and_breaks_ties_by_id() {
        let first = vec![("b".to_string(), 4.0), ("a".to_string(), 2.0)];
        let second = vec![("c".to_string(), 10.0), ("a".to_string(), 5.0)];
        let f = fuse(&first, &second, 0.5, 10);
        let ids: Vec<&str> = f.iter().map(|h| h.0.as_str()).collect();
        // b: 0.5·1 = 0.5, c: 0.5·1 = 0.5 (tie: by id), a: 0.25 + 0.25 = 0.5 too.
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(fuse(&first, &second, 1.0, 10)[..2], first[..]);
        assert_eq!(fuse(&first, &second, 0.5, 2).len(), 2);
    }

    #[test]
    fn fused_scores_within_the_tie_resolution_go_by_id() {
        // b: 0.5000022 · 0.1, a: 0.4999978 · 0.1: within 1/65536 of each other.
        let first = vec![("b".to_string(), 0.1)];
        let second = vec![("a".to_string(), 0.1)];
        let f = fuse(&first, &second, 0.500_002_2, 2);
        let ids: Vec<&str> = f.iter().map(|h| h.0.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(f[0].1 < f[1].1);
    }

    proptest! {
        #[test]
        fn fusion_is_bounded_sorted_and_scaled_to_the_first_search(
            first in proptest::collection::btree_map("[a-f]", 0.1f32..10.0, 0..6),
            second in proptest::collection::btree_map("[a-f]", 0.1f32..10.0, 0..6),
            lambda in 0.0f64..=1.0,
            limit in 0usize..8,
        ) {
            // Search hits name each id once.
            let first: Vec<(String, f32)> = first.into_iter().collect();
            let second: Vec<(String, f32)> = second.into_iter().collect();
            let f = fuse(&first, &second, lambda, limit);
            prop_assert!(f.len() <= limit);
            let top1 = first.iter().map(|h| h.1).fold(0.0f32, f32::max);
            // Best first as the ranking orders hits: by score rounded to the tie
            // resolution (scores within it tie and go by id).
            for w in f.windows(2) {
                let (a, b) = (crate::tie_key(w[0].1), crate::tie_key(w[1].1));
                prop_assert!(a > b || (a == b && w[0].0 < w[1].0), "{:?}", f);
            }
            for (_, s) in &f {
                prop_assert!(s.is_finite() && *s > 0.0);
                if top1 > 0.0 {
                    prop_assert!(*s <= top1 * 2.0 + 1e-3);
                }
            }
            prop_assert_eq!(f.clone(), fuse(&first, &second, lambda, limit));
        }
    }

    proptest! {
        #[test]
        fn weights_are_bounded_positive_sorted_and_sum_to_the_query_size(
            query in proptest::collection::vec("[a-e]", 1..4),
            docs in proptest::collection::vec(
                (proptest::collection::vec("[a-h]", 0..8), 0.0f32..20.0), 0..6),
            terms in 0usize..6,
            lambda in 0.0f64..=1.0,
        ) {
            let fb = Feedback { docs: 4, terms, original_weight: lambda };
            let df = |t: &str| u64::from(t.as_bytes()[0] - b'a') + 1;
            let w = rm3_weights(&query, &docs, &df, 20, &fb);
            let nq = query.iter().collect::<BTreeSet<_>>().len();
            let added = w.iter().filter(|(t, _)| !query.contains(t)).count();
            prop_assert!(added <= terms);
            prop_assert!(w.windows(2).all(|p| p[0].0 < p[1].0));
            prop_assert!(w.iter().all(|(_, x)| x.is_finite() && *x > 0.0));
            let sum: f64 = w.iter().map(|(_, x)| f64::from(*x)).sum();
            // λ·|q| always; the model's (1−λ)·|q| only when it had any mass.
            prop_assert!(sum <= nq as f64 + 1e-3, "{sum}");
            prop_assert!(sum >= lambda * nq as f64 - 1e-3, "{sum}");
            // Deterministic.
            prop_assert_eq!(w, rm3_weights(&query, &docs, &df, 20, &fb));
        }
    }
}
