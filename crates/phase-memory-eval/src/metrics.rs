//! Ranking and latency metrics: pure functions over ranked id lists and relevant-id
//! sets, with binary relevance (an id is relevant when the case expects it).

use std::collections::BTreeSet;

/// The ids of `ranked` within the first `k` that are relevant.
fn hits_in_top(ranked: &[String], relevant: &BTreeSet<String>, k: usize) -> usize {
    let mut seen = BTreeSet::new();
    ranked
        .iter()
        .take(k)
        .filter(|id| relevant.contains(*id) && seen.insert(id.as_str()))
        .count()
}

/// recall@k: the fraction of the relevant ids found in the first `k` ranked ids
/// (1.0 when nothing is relevant).
pub fn recall_at_k(ranked: &[String], relevant: &BTreeSet<String>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 1.0;
    }
    hits_in_top(ranked, relevant, k) as f64 / relevant.len() as f64
}

/// precision@k: relevant ids in the first `k` ranked ids, divided by `k` (an empty
/// slot counts as a miss, so a short list is not rewarded).
pub fn precision_at_k(ranked: &[String], relevant: &BTreeSet<String>, k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    hits_in_top(ranked, relevant, k) as f64 / k as f64
}

/// nDCG@k with binary gains: `DCG = Σ_{i ≤ k, ranked[i] relevant} 1/log2(i + 1)`
/// (1-based `i`, each relevant id counted once), divided by the DCG of the ideal
/// ranking (the `min(|relevant|, k)` relevant ids first). 1.0 when nothing is relevant.
pub fn ndcg_at_k(ranked: &[String], relevant: &BTreeSet<String>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 1.0;
    }
    let mut seen = BTreeSet::new();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, id)| relevant.contains(*id) && seen.insert(id.as_str()))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

/// Reciprocal rank within the first `k`: `1/rank` of the first relevant id, 0 when
/// none is in the first `k`. MRR is its mean over cases.
pub fn reciprocal_rank(ranked: &[String], relevant: &BTreeSet<String>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|id| relevant.contains(id))
        .map_or(0.0, |p| 1.0 / (p + 1) as f64)
}

/// The mean of `values` (0 for none).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The `q`-quantile (0 ≤ q ≤ 1) of `values` by the nearest-rank method: the
/// smallest value with at least `q·n` values at or below it (0 for none).
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Rounds a metric to 4 decimals for the report.
pub fn round4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10_000.0).round() / 10_000.0
    } else {
        0.0
    }
}
