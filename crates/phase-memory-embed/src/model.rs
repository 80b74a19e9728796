//! Loading all-MiniLM-L6-v2 and embedding texts with it.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::EmbedError;

/// The model's name (part of every cache key, so vectors of another model are
/// never mixed in).
pub const MODEL_NAME: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The environment variable naming the model folder.
pub const MODEL_DIR_ENV: &str = "PHASE_MEMORY_MODEL_DIR";

/// Where `scripts/install-model.sh` puts the model, relative to the repository.
pub const DEFAULT_MODEL_SUBDIR: &str = ".cache/models/all-minilm-l6-v2";

/// The longest input in tokens, as sentence-transformers configures this model
/// (`max_seq_length`); longer texts are truncated.
const MAX_TOKENS: usize = 256;

/// The model folder: `$PHASE_MEMORY_MODEL_DIR` when set, otherwise
/// `.cache/models/all-minilm-l6-v2` in the repository this build came from.
pub fn model_dir() -> PathBuf {
    match std::env::var_os(MODEL_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFAULT_MODEL_SUBDIR),
    }
}

/// all-MiniLM-L6-v2 loaded on the CPU.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &MODEL_NAME)
            .finish()
    }
}

impl Embedder {
    /// Loads the model from [`model_dir`].
    pub fn load_default() -> Result<Embedder, EmbedError> {
        Embedder::load(&model_dir())
    }

    /// Loads the model from `dir` (`config.json`, `tokenizer.json`,
    /// `model.safetensors`).
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        let shown = dir.display().to_string();
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !dir.join(f).is_file() {
                return Err(EmbedError::NotInstalled {
                    dir: shown,
                    missing: f.to_string(),
                    env: MODEL_DIR_ENV,
                });
            }
        }
        let load = |reason: String| EmbedError::Load {
            dir: shown.clone(),
            reason,
        };
        let config: Config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| load(format!("config.json: {e}")))
            .and_then(|s| {
                serde_json::from_str(&s).map_err(|e| load(format!("config.json: {e}")))
            })?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| load(format!("tokenizer.json: {e}")))?;
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| load(format!("model.safetensors: {e}")))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| load(format!("model.safetensors: {e}")))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| load(format!("model.safetensors: {e}")))?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
        })
    }

    /// The L2-normalised sentence vector of each text (384 dimensions), each
    /// computed alone. An empty text gives the vector of the empty sentence.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        texts.iter().map(|t| self.embed_one(t)).collect()
    }

    /// The vector of one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let run = |e: candle_core::Error| EmbedError::Run(e.to_string());
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::Run(format!("tokenizing: {e}")))?;
        let ids = Tensor::new(enc.get_ids(), &self.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(run)?;
        let types = Tensor::new(enc.get_type_ids(), &self.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(run)?;
        // One unpadded text: every token counts, so mean pooling is the plain mean.
        let hidden = self.model.forward(&ids, &types, None).map_err(run)?;
        let pooled = hidden
            .mean(1)
            .and_then(|t| t.squeeze(0))
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(run)?;
        Ok(normalise(pooled))
    }
}

/// `v / max(‖v‖, 1e-12)`, as `torch.nn.functional.normalize` computes it.
fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    for x in &mut v {
        *x /= norm;
    }
    v
}
