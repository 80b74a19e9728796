//! Bearer tokens of the HTTP service: the tokens file maps the BLAKE3 hash of
//! each token to the actor it stands for. Tokens themselves are never stored;
//! [`add_token`] shows one once, and [`TokenStore::authenticate`] compares hashes
//! in constant time.
//!
//! File format (JSON, written atomically, mode 0600 on Unix):
//! `{"format": "phase-memory-tokens/v1", "tokens": [{"hash": "blake3:…",
//! "actor": {"id", "roles", "scopes"}, "created_at": "…"}]}`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, bail};
use phase_memory_model::{Actor, Time};
use serde::{Deserialize, Serialize};

/// The tokens file format version.
pub const TOKENS_FORMAT: &str = "phase-memory-tokens/v1";

/// Prefix of every token (makes leaked tokens easy to spot for secret scanners).
pub const TOKEN_PREFIX: &str = "pmt_";

/// One entry of the tokens file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// `blake3:` + the hex BLAKE3 hash of the token.
    pub hash: String,
    /// The actor the token stands for.
    pub actor: Actor,
    /// When the token was added.
    pub created_at: String,
}

/// The tokens file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensFile {
    /// Always [`TOKENS_FORMAT`].
    pub format: String,
    /// The tokens, in the order they were added.
    pub tokens: Vec<TokenEntry>,
}

impl Default for TokensFile {
    fn default() -> Self {
        TokensFile {
            format: TOKENS_FORMAT.to_string(),
            tokens: Vec::new(),
        }
    }
}

/// The stored form of a token's hash.
pub fn hash_token(token: &str) -> String {
    format!("blake3:{}", blake3::hash(token.as_bytes()).to_hex())
}

fn read_file(file: &Path) -> anyhow::Result<Option<TokensFile>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading tokens file {}", file.display())),
    };
    let parsed: TokensFile = serde_json::from_str(&text)
        .with_context(|| format!("parsing tokens file {}", file.display()))?;
    if parsed.format != TOKENS_FORMAT {
        bail!(
            "tokens file {} has format {:?}; this version reads {TOKENS_FORMAT:?}",
            file.display(),
            parsed.format
        );
    }
    Ok(Some(parsed))
}

fn write_file(file: &Path, content: &TokensFile) -> anyhow::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut text = serde_json::to_string_pretty(content).context("encoding the tokens file")?;
    text.push('\n');
    // Readable by the owner only: the file holds token hashes.
    phase_memory_fsio::write_atomic_with(
        file,
        text.as_bytes(),
        phase_memory_fsio::AtomicOptions { mode: Some(0o600) },
    )
    .with_context(|| format!("replacing tokens file {}", file.display()))?;
    Ok(())
}

/// A new random token: [`TOKEN_PREFIX`] + 32 bytes from the OS RNG, hex-encoded.
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{TOKEN_PREFIX}{hex}"))
}

/// Adds a token for `actor` to the tokens file (creating it) and returns the
/// token. Only the token's hash is stored; the token is shown this once.
pub fn add_token(file: &Path, actor: &Actor) -> anyhow::Result<String> {
    if actor.id.is_empty() {
        bail!("a token needs an actor id");
    }
    let mut content = read_file(file)?.unwrap_or_default();
    let token = new_token()?;
    content.tokens.push(TokenEntry {
        hash: hash_token(&token),
        actor: actor.clone(),
        created_at: Time::now().to_string(),
    });
    write_file(file, &content)?;
    Ok(token)
}

/// The stamp that tells whether the tokens file changed on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(file: &Path) -> Option<Stamp> {
    std::fs::metadata(file).ok().map(|m| Stamp {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

/// The tokens the HTTP service accepts, loaded from the tokens file.
#[derive(Clone, Debug)]
pub struct TokenStore {
    file: PathBuf,
    entries: Vec<(blake3::Hash, Actor)>,
    stamp: Option<Stamp>,
}

impl TokenStore {
    /// Loads the tokens file. A missing file means no tokens (every
    /// authenticated request is refused); a malformed one is an error.
    pub fn load(file: &Path) -> anyhow::Result<TokenStore> {
        let before = stamp(file);
        let content = read_file(file)?.unwrap_or_default();
        let mut entries = Vec::with_capacity(content.tokens.len());
        for (i, t) in content.tokens.iter().enumerate() {
            let hex = t.hash.strip_prefix("blake3:").unwrap_or(&t.hash);
            let hash = blake3::Hash::from_hex(hex).with_context(|| {
                format!(
                    "tokens file {}: entry {} has a malformed hash",
                    file.display(),
                    i + 1
                )
            })?;
            entries.push((hash, t.actor.clone()));
        }
        Ok(TokenStore {
            file: file.to_path_buf(),
            entries,
            stamp: before,
        })
    }

    /// The tokens file this store was loaded from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Whether the file existed when loaded.
    pub fn file_exists(&self) -> bool {
        self.stamp.is_some()
    }

    /// How many tokens are loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is loaded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the file on disk differs from what was loaded (added, changed or
    /// removed since).
    pub fn is_stale(&self) -> bool {
        stamp(&self.file) != self.stamp
    }

    /// The actor a token stands for. Compares the token's hash with every stored
    /// hash in constant time (no early exit), so timing tells nothing about which
    /// hash, or how much of one, matched.
    pub fn authenticate(&self, token: &str) -> Option<Actor> {
        let presented = blake3::hash(token.as_bytes());
        let mut found = None;
        for (hash, actor) in &self.entries {
            // `blake3::Hash`'s equality is constant-time.
            if presented == *hash && found.is_none() {
                found = Some(actor.clone());
            }
        }
        found
    }
}
