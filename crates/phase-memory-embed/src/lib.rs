//! Sentence embeddings for phase-memory's semantic index: all-MiniLM-L6-v2 (a
//! 6-layer BERT, 384 dimensions) run on the CPU in pure Rust with candle, its
//! WordPiece tokenizer read from `tokenizer.json`, mean pooling over the tokens and
//! L2 normalisation, as sentence-transformers computes it. No network: the model
//! files are installed by `scripts/install-model.sh` and found through
//! [`model_dir`].
//!
//! - [`Embedder`] loads the model once and embeds texts ([`Embedder::embed`]).
//! - [`VectorCache`] keeps vectors keyed by a digest of the embedded text, in
//!   memory and optionally in a file, so a text is embedded once per store.
//! - [`top_k`] is the exact search: a dot product against every candidate.
//!
//! Determinism: a text is always run alone (no padding, no batch neighbours), so
//! its vector does not depend on what else is embedded; the matrix products split
//! work across threads by output block, never along the reduction, so the thread
//! count does not change a result either (a test checks both).

mod cache;
mod model;
pub mod testing;

pub use cache::{CacheError, VectorCache, text_key};
pub use model::{DEFAULT_MODEL_SUBDIR, Embedder, MODEL_DIR_ENV, MODEL_NAME, model_dir};

/// Dimensions of the vectors of all-MiniLM-L6-v2.
pub const DIMENSIONS: usize = 384;

/// An error loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model folder or one of its files is missing.
    #[error(
        "the embedding model is not installed at {dir} ({missing} is missing): run scripts/install-model.sh or set {env} to the folder that holds it"
    )]
    NotInstalled {
        /// The folder looked in.
        dir: String,
        /// The file that is missing.
        missing: String,
        /// The environment variable that names the folder.
        env: &'static str,
    },
    /// A model file could not be read or parsed.
    #[error("the embedding model at {dir} could not be loaded: {reason}")]
    Load {
        /// The folder.
        dir: String,
        /// Why.
        reason: String,
    },
    /// Inference failed.
    #[error("embedding failed: {0}")]
    Run(String),
}

/// The dot product of two vectors (their cosine when both are L2-normalised).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The step similarities are kept to. A model's float kernels sum in an order
/// that depends on the CPU (its vector width and cache sizes), so one text's
/// similarity to another differs between machines in the seventh digit; kept
/// to four decimals, it is the same on every machine but for a value within
/// that difference of a step's midpoint, and envelopes and packages stay
/// byte-identical across machines.
pub const SIMILARITY_STEP: f32 = 1e-4;

/// The similarity of two L2-normalised vectors: their dot product, rounded to
/// [`SIMILARITY_STEP`].
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    (dot(a, b) / SIMILARITY_STEP).round() * SIMILARITY_STEP
}

/// The `k` candidates most similar to `query` ([`similarity`]), best first, ties by
/// the candidate's position (so the caller's order, e.g. by node id, breaks them).
/// Exact: every candidate is scored.
pub fn top_k<'a, I>(query: &[f32], candidates: I, k: usize) -> Vec<(usize, f32)>
where
    I: IntoIterator<Item = &'a [f32]>,
{
    if k == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(usize, f32)> = candidates
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i, similarity(query, v)))
        .filter(|(_, s)| s.is_finite())
        .collect();
    let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, by_score);
        scored.truncate(k);
    }
    scored.sort_by(by_score);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn top_k_is_the_head_of_a_full_sort(
            vs in proptest::collection::vec(proptest::collection::vec(-1.0f32..1.0, 3), 0..40),
            q in proptest::collection::vec(-1.0f32..1.0, 3),
            k in 0usize..50,
        ) {
            let got = top_k(&q, vs.iter().map(Vec::as_slice), k);
            let mut all: Vec<(usize, f32)> = vs.iter().enumerate().map(|(i, v)| (i, similarity(&q, v))).collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
            prop_assert_eq!(got, all);
        }

        /// Two machines' vectors of one text differ in their last bits; their
        /// similarities to a query agree unless the exact one lies that close to
        /// a step's midpoint.
        #[test]
        fn similarity_does_not_see_last_bit_differences(
            v in proptest::collection::vec(-0.2f32..0.2, 8),
            q in proptest::collection::vec(-0.2f32..0.2, 8),
            nudge in proptest::collection::vec(-1i32..=1, 8),
        ) {
            let w: Vec<f32> = v
                .iter()
                .zip(&nudge)
                .map(|(x, n)| f32::from_bits(x.to_bits().wrapping_add_signed(*n)))
                .collect();
            let exact: f64 = v.iter().zip(&q).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            let steps = exact / f64::from(SIMILARITY_STEP);
            prop_assume!((steps - steps.floor() - 0.5).abs() > 1e-3);
            prop_assert_eq!(similarity(&q, &v).to_bits(), similarity(&q, &w).to_bits());
            let off = (f64::from(similarity(&q, &v)) - exact).abs();
            prop_assert!(off <= f64::from(SIMILARITY_STEP) / 2.0 + 1e-6, "{off}");
        }
    }
}
