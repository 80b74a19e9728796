//! Token counting with the profile's tokenizer: real BPE (`o200k_base`,
//! `cl100k_base`, vocabularies embedded in the binary) or the explicit `chars4`
//! estimate (characters / 4, rounded up).
//!
//! Building a BPE tokenizer takes a few hundred milliseconds, so each encoding is
//! built once per process and shared: a [`TokenCounter`] is a cheap handle.

use std::sync::{Arc, OnceLock};

use tiktoken_rs::CoreBPE;

/// Encodings a profile may name.
pub const ENCODINGS: [&str; 3] = ["o200k_base", "cl100k_base", "chars4"];

/// Why a tokenizer could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenizerError {
    /// The encoding is not one of [`ENCODINGS`].
    #[error("unknown tokenizer encoding {0:?} (known: o200k_base, cl100k_base, chars4)")]
    Unknown(String),
    /// The embedded vocabulary could not be loaded.
    #[error("cannot load the {encoding} vocabulary: {reason}")]
    Load {
        /// The encoding.
        encoding: String,
        /// Cause.
        reason: String,
    },
}

#[derive(Clone)]
enum Engine {
    Bpe(Arc<CoreBPE>),
    Chars4,
}

/// Counts tokens of text under one encoding. Clone freely: clones share the
/// vocabulary.
#[derive(Clone)]
pub struct TokenCounter {
    encoding: &'static str,
    engine: Engine,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("encoding", &self.encoding)
            .finish()
    }
}

type Shared = OnceLock<Result<Arc<CoreBPE>, String>>;

fn o200k() -> Result<CoreBPE, String> {
    tiktoken_rs::o200k_base().map_err(|e| e.to_string())
}

fn cl100k() -> Result<CoreBPE, String> {
    tiktoken_rs::cl100k_base().map_err(|e| e.to_string())
}

impl TokenCounter {
    /// The counter for an encoding (`o200k_base`, `cl100k_base` or `chars4`). The
    /// first call per BPE encoding loads its vocabulary; later calls share it.
    pub fn new(encoding: &str) -> Result<TokenCounter, TokenizerError> {
        static O200K: Shared = OnceLock::new();
        static CL100K: Shared = OnceLock::new();
        type Build = fn() -> Result<CoreBPE, String>;
        let (name, cell, build): (&'static str, &'static Shared, Build) = match encoding {
            "o200k_base" => ("o200k_base", &O200K, o200k),
            "cl100k_base" => ("cl100k_base", &CL100K, cl100k),
            "chars4" => {
                return Ok(TokenCounter {
                    encoding: "chars4",
                    engine: Engine::Chars4,
                });
            }
            other => return Err(TokenizerError::Unknown(other.to_string())),
        };
        let bpe = cell
            .get_or_init(|| build().map(Arc::new))
            .clone()
            .map_err(|reason| TokenizerError::Load {
                encoding: name.to_string(),
                reason,
            })?;
        Ok(TokenCounter {
            encoding: name,
            engine: Engine::Bpe(bpe),
        })
    }

    /// The `chars4` estimate (characters / 4, rounded up).
    pub fn chars4() -> TokenCounter {
        TokenCounter {
            encoding: "chars4",
            engine: Engine::Chars4,
        }
    }

    /// The encoding's name.
    pub fn encoding(&self) -> &'static str {
        self.encoding
    }

    /// Tokens of `text` (special-token markers such as `<|endoftext|>` count as
    /// ordinary text). Saturates at `u32::MAX`.
    pub fn count(&self, text: &str) -> u32 {
        let n = match &self.engine {
            Engine::Chars4 => text.chars().count().div_ceil(4),
            Engine::Bpe(bpe) => bpe.count_ordinary(text),
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}
