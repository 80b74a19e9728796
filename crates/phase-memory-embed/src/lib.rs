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

/// The `k` candidates most similar to `query` by dot product, best first, ties by
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
        .map(|(i, v)| (i, dot(query, v)))
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
            let mut all: Vec<(usize, f32)> = vs.iter().enumerate().map(|(i, v)| (i, dot(&q, v))).collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
            prop_assert_eq!(got, all);
        }
    }
}
