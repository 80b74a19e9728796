//! Token counting with the profile's tokenizer: real BPE (`o200k_base`,
//! `cl100k_base`, vocabularies embedded in the binary) or the explicit `chars4`
//! estimate (characters / 4, rounded up).
//!
//! Building a BPE tokenizer takes a few hundred milliseconds, so each encoding is
//! built once per process, on the first count (a process that never counts
//! tokens never pays for it), and shared: a [`TokenCounter`] is a cheap handle.
//!
//! ASCII text in `o200k_base` and `cl100k_base` is counted by an exact fast path (`ascii.rs`) once
//! the process has counted [`FAST_AFTER`] texts (a bulk import, a snapshot
//! build): it splits text by hand instead of with the pattern's backtracking
//! regular expression, and needs a map of the vocabulary built once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use tiktoken_rs::CoreBPE;

mod ascii;

/// Counts after which ASCII BPE text takes the fast path (building its
/// vocabulary map costs a few tens of milliseconds, worth it for many texts).
pub const FAST_AFTER: u32 = 256;

static COUNTED: AtomicU32 = AtomicU32::new(0);
static O200K_ASCII: ascii::FastPath = ascii::FastPath::new(ascii::Pattern::O200k);
static CL100K_ASCII: ascii::FastPath = ascii::FastPath::new(ascii::Pattern::Cl100k);

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

type Build = fn() -> Result<CoreBPE, String>;

#[derive(Clone)]
enum Engine {
    /// A BPE vocabulary, built on first use in its process-wide cell (with the
    /// cell of its ASCII fast path, when it has one).
    Bpe(&'static Shared, Build, Option<&'static ascii::FastPath>),
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

static O200K: Shared = OnceLock::new();
static CL100K: Shared = OnceLock::new();

/// The BPE encodings whose vocabulary this process has loaded so far (for
/// diagnostics: a command that counts no tokens loads none).
pub fn loaded_encodings() -> Vec<&'static str> {
    [("o200k_base", &O200K), ("cl100k_base", &CL100K)]
        .into_iter()
        .filter(|(_, cell)| cell.get().is_some())
        .map(|(name, _)| name)
        .collect()
}

fn o200k() -> Result<CoreBPE, String> {
    tiktoken_rs::o200k_base().map_err(|e| e.to_string())
}

fn cl100k() -> Result<CoreBPE, String> {
    tiktoken_rs::cl100k_base().map_err(|e| e.to_string())
}

impl TokenCounter {
    /// The counter for an encoding (`o200k_base`, `cl100k_base` or `chars4`). A BPE
    /// vocabulary is loaded on the first count (or [`TokenCounter::load`]) and
    /// shared by every counter of the process.
    pub fn new(encoding: &str) -> Result<TokenCounter, TokenizerError> {
        type Fast = Option<&'static ascii::FastPath>;
        let (name, cell, build, fast): (&'static str, &'static Shared, Build, Fast) = match encoding
        {
            "o200k_base" => ("o200k_base", &O200K, o200k, Some(&O200K_ASCII)),
            "cl100k_base" => ("cl100k_base", &CL100K, cl100k, Some(&CL100K_ASCII)),
            "chars4" => {
                return Ok(TokenCounter {
                    encoding: "chars4",
                    engine: Engine::Chars4,
                });
            }
            other => return Err(TokenizerError::Unknown(other.to_string())),
        };
        Ok(TokenCounter {
            encoding: name,
            engine: Engine::Bpe(cell, build, fast),
        })
    }

    /// Loads the vocabulary now (it is otherwise loaded on the first count).
    pub fn load(&self) -> Result<(), TokenizerError> {
        match &self.engine {
            Engine::Chars4 => Ok(()),
            Engine::Bpe(cell, build, _) => cell
                .get_or_init(|| build().map(Arc::new))
                .as_ref()
                .map(|_| ())
                .map_err(|reason| TokenizerError::Load {
                    encoding: self.encoding.to_string(),
                    reason: reason.clone(),
                }),
        }
    }

    /// Whether this encoding's vocabulary is loaded in this process (`chars4`
    /// needs none and is always ready).
    pub fn is_loaded(&self) -> bool {
        match &self.engine {
            Engine::Chars4 => true,
            Engine::Bpe(cell, _, _) => cell.get().is_some(),
        }
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
    /// ordinary text). Saturates at `u32::MAX`. The vocabularies are embedded in
    /// the binary, so loading cannot fail in practice; if it ever did, the count
    /// falls back to the `chars4` estimate rather than failing the caller.
    pub fn count(&self, text: &str) -> u32 {
        let fast = COUNTED.load(Ordering::Relaxed) >= FAST_AFTER;
        if !fast {
            COUNTED.fetch_add(1, Ordering::Relaxed);
        }
        self.count_with(text, fast)
    }

    /// [`TokenCounter::count`] always by tiktoken itself (no fast path): the
    /// reference the fast path is tested against.
    #[doc(hidden)]
    pub fn count_reference(&self, text: &str) -> u32 {
        self.count_with(text, false)
    }

    /// [`TokenCounter::count`] by the fast path whenever the text allows it.
    #[doc(hidden)]
    pub fn count_fast(&self, text: &str) -> u32 {
        self.count_with(text, true)
    }

    fn count_with(&self, text: &str, fast: bool) -> u32 {
        let chars4 = |t: &str| t.chars().count().div_ceil(4);
        let n = match &self.engine {
            Engine::Chars4 => chars4(text),
            Engine::Bpe(cell, build, path) => match cell.get_or_init(|| build().map(Arc::new)) {
                Ok(bpe) => path
                    .filter(|_| fast && text.is_ascii())
                    .and_then(|p| p.count(text.as_bytes(), bpe))
                    .unwrap_or_else(|| bpe.count_ordinary(text)),
                Err(_) => chars4(text),
            },
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}
