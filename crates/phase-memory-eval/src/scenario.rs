//! The scenario format: a folder with `scenario.toml`, an optional `profile.toml`,
//! `graph.jsonl`, `cues.jsonl` and/or `transitions.jsonl` (docs/evaluation.md),
//! parsed into a [`Scenario`]. Every parse error names the file and line.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use phase_memory_model::{Actor, Time};
use phase_memory_profile::{DEFAULT_PROFILE_TOML, Profile};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file that makes a folder a scenario.
pub const SCENARIO_FILE: &str = "scenario.toml";

/// Default cut-off for the ranking metrics.
pub const DEFAULT_K: usize = 5;

/// `scenario.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Scenario name (unique within its family).
    pub name: String,
    /// Family (policy-denied, lifecycle, event-path, …).
    pub family: String,
    /// What the scenario checks.
    #[serde(default)]
    pub description: String,
    /// The evaluation instant: the clock of the scenario's store and the default
    /// `as_of` of every cue.
    pub as_of: Time,
    /// Cut-off of the ranking metrics (default 5).
    #[serde(default)]
    pub k: Option<usize>,
    /// Default token budget of a cue (default: the profile's).
    #[serde(default)]
    pub budget_tokens: Option<u64>,
    /// Default item limit of a cue (default: the profile's).
    #[serde(default)]
    pub limit: Option<usize>,
    /// A profile file relative to the scenario folder, instead of `profile.toml`.
    #[serde(default)]
    pub profile: Option<String>,
    /// Thresholds; a scenario fails when one is not met.
    #[serde(default)]
    pub gates: Gates,
    /// Generate the graph and cues in memory instead of reading the files.
    #[serde(default)]
    pub generate: Option<GenerateSpec>,
    /// A chat file (REALTALK shape, relative to the folder) imported as a
    /// conversation in its own scope (named after the scenario); each question
    /// becomes a cue asked by a reader of that scope, expecting its evidence turns
    /// (`crate::chats`).
    #[serde(default)]
    pub chat: Option<String>,
}

/// Gates of a scenario. Leaks and budget adherence are always gated.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// Minimum mean recall@k of activation.
    #[serde(default)]
    pub recall_at_k_min: Option<f64>,
    /// Minimum mean precision@k of activation.
    #[serde(default)]
    pub precision_at_k_min: Option<f64>,
    /// Minimum mean nDCG@k of activation.
    #[serde(default)]
    pub ndcg_at_k_min: Option<f64>,
    /// Minimum MRR (within k) of activation.
    #[serde(default)]
    pub mrr_min: Option<f64>,
    /// Most forbidden ids allowed to appear (default 0).
    #[serde(default)]
    pub max_policy_leaks: u64,
    /// Minimum fraction of cues within their budget (default 1.0).
    #[serde(default = "one")]
    pub budget_adherence_min: f64,
    /// Minimum lifecycle accuracy.
    #[serde(default)]
    pub lifecycle_accuracy_min: Option<f64>,
    /// Activation must beat plain BM25 on nDCG@k or recall@k.
    #[serde(default)]
    pub beats_bm25: bool,
    /// Maximum p99 activation latency in milliseconds (machine-dependent; off by default).
    #[serde(default)]
    pub latency_p99_ms_max: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl Default for Gates {
    fn default() -> Self {
        Gates {
            recall_at_k_min: None,
            precision_at_k_min: None,
            ndcg_at_k_min: None,
            mrr_min: None,
            max_policy_leaks: 0,
            budget_adherence_min: 1.0,
            lifecycle_accuracy_min: None,
            beats_bm25: false,
            latency_p99_ms_max: None,
        }
    }
}

/// `generate = {nodes = 5000, seed = 7}`: a synthetic graph and cues built in memory.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    /// Number of nodes.
    pub nodes: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Number of cues (default 24).
    #[serde(default)]
    pub cues: Option<usize>,
}

/// A semantic-index hint of a cue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HintSpec {
    /// Node id.
    pub node: String,
    /// Similarity in [0, 1].
    pub score: f64,
}

/// The cue of a case: the `cue` object of `activation.run`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueSpec {
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Explicit seed nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Semantic hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<HintSpec>,
    /// Event-path seeds since this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_since: Option<Time>,
}

/// One line of `cues.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueCase {
    /// Case id (unique within the scenario).
    pub id: String,
    /// The cue.
    pub cue: CueSpec,
    /// Who asks (default: the local owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// Token budget (default: the scenario's, then the profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u64>,
    /// Item limit (default: the scenario's, then the profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// The instant of this cue (default: the scenario's `as_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<Time>,
    /// Relevant node ids (the evidence). Empty: the case only checks leaks and budget.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Node ids that must never appear in the envelope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbid: Vec<String>,
    /// Free note (e.g. the question's answer), not used by the harness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One expected lifecycle transition.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedTransition {
    /// Node id.
    pub node: String,
    /// Target phase.
    pub to: String,
    /// The rule that must fire.
    pub rule_id: String,
}

/// One line of `transitions.jsonl`: the plan expected at an instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionCase {
    /// When the plan is computed.
    pub as_of: Time,
    /// Every transition the plan must hold, and no other.
    #[serde(default)]
    pub expect: Vec<ExpectedTransition>,
    /// Apply the plan (`lifecycle.apply`) after checking it, so later lines see it.
    #[serde(default)]
    pub apply: bool,
    /// Who plans (default: the local owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
}

/// A loaded scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its folder.
    pub dir: PathBuf,
    /// `scenario.toml`.
    pub spec: ScenarioSpec,
    /// The profile TOML source.
    pub profile_source: String,
    /// The profile, parsed.
    pub profile: Profile,
    /// Interchange records to import (empty for generated scenarios until generated).
    pub records: Vec<Value>,
    /// Activation cases.
    pub cues: Vec<CueCase>,
    /// Lifecycle cases.
    pub transitions: Vec<TransitionCase>,
}

impl Scenario {
    /// The ranking cut-off.
    pub fn k(&self) -> usize {
        self.spec.k.unwrap_or(DEFAULT_K).max(1)
    }
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with("//") {
            continue;
        }
        let v = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid line", path.display(), i + 1))?;
        out.push(v);
    }
    Ok(out)
}

/// Loads the scenario in `dir` (which holds `scenario.toml`).
pub fn load(dir: &Path) -> Result<Scenario> {
    let spec_path = dir.join(SCENARIO_FILE);
    let text = std::fs::read_to_string(&spec_path)
        .with_context(|| format!("reading {}", spec_path.display()))?;
    let spec: ScenarioSpec =
        toml::from_str(&text).with_context(|| format!("parsing {}", spec_path.display()))?;
    let profile_path = match &spec.profile {
        Some(p) => Some(dir.join(p)),
        None => Some(dir.join("profile.toml")).filter(|p| p.exists()),
    };
    let (origin, profile_source) = match profile_path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(&p)
                .with_context(|| format!("reading the profile {}", p.display()))?,
        ),
        None => (
            "<built-in default profile>".to_string(),
            DEFAULT_PROFILE_TOML.to_string(),
        ),
    };
    let profile = Profile::parse(&profile_source, &origin)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("the profile of scenario {}", dir.display()))?;
    let mut records: Vec<Value> = read_jsonl(&dir.join("graph.jsonl"))?;
    let mut cues: Vec<CueCase> = read_jsonl(&dir.join("cues.jsonl"))?;
    if let Some(file) = &spec.chat {
        let mut chat = crate::chats::load_chat(&dir.join(file))?;
        chat.id = spec.name.clone();
        records.extend(crate::chats::records(&chat));
        cues.extend(chat_cue_cases(&chat));
    }
    let transitions: Vec<TransitionCase> = read_jsonl(&dir.join("transitions.jsonl"))?;
    let mut ids = std::collections::BTreeSet::new();
    for c in &cues {
        if !ids.insert(c.id.as_str()) {
            bail!(
                "{}: cue id {:?} is used twice",
                dir.join("cues.jsonl").display(),
                c.id
            );
        }
    }
    if spec.generate.is_none() && cues.is_empty() && transitions.is_empty() {
        bail!(
            "scenario {} has neither cues.jsonl nor transitions.jsonl (nor `generate`)",
            dir.display()
        );
    }
    Ok(Scenario {
        dir: dir.to_path_buf(),
        spec,
        profile_source,
        profile,
        records,
        cues,
        transitions,
    })
}

/// Every scenario folder under `dir` (itself included), recursively, in sorted order.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if dir.join(SCENARIO_FILE).is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    children.sort();
    for c in children {
        walk(&c, out)?;
    }
    Ok(())
}

/// The questions of a conversation with evidence, as scenario cues: asked by
/// [`crate::chats::reader`], expecting the evidence turns, the answer as the note.
fn chat_cue_cases(chat: &crate::chats::Chat) -> Vec<CueCase> {
    chat.questions
        .iter()
        .filter(|q| !q.evidence.is_empty())
        .map(|q| CueCase {
            id: format!("{}-q{}", chat.id, q.index + 1),
            cue: CueSpec {
                text: Some(q.question.clone()),
                ..Default::default()
            },
            actor: Some(crate::chats::reader(chat)),
            budget_tokens: None,
            limit: None,
            as_of: None,
            expect: q.evidence.iter().map(|e| chat.turn_node(e)).collect(),
            forbid: Vec::new(),
            note: Some(format!(
                "{} (category {})",
                q.answer,
                crate::chats::category_name(q.category)
            )),
        })
        .collect()
}
