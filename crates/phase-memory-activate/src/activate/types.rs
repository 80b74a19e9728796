//! The request and result types of activation: the cue, the input, the
//! activated items with their explanation, and the working set.

use std::collections::BTreeMap;

use phase_memory_model::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What activation starts from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    /// Free text, matched lexically by the full-text index (the caller passes the
    /// hits in [`ActivationInput::lexical`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Explicit seed nodes (seed 1.0).
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Semantic-index hints `(node, score)`, times the profile's hint weight.
    #[serde(default)]
    pub hints: Vec<(String, f64)>,
    /// Event-path seeds: nodes touched by observations/accesses after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_since: Option<Time>,
}

/// One activation request, resolved by the runtime.
#[derive(Clone, Copy, Debug)]
pub struct ActivationInput<'a> {
    /// The cue.
    pub cue: &'a Cue,
    /// BM25 hits of `cue.text` from the full-text index: `(node id, raw score)`.
    pub lexical: &'a [(String, f32)],
    /// Semantic-index hits of `cue.text`: `(node id, cosine similarity)`, best
    /// first (empty when the profile's `semantic_weight` is 0).
    pub semantic: &'a [(String, f32)],
    /// Token budget; the packed items never exceed it.
    pub budget_tokens: u64,
    /// Most items returned.
    pub limit: usize,
    /// The instant activation is computed at (base level, validity, event recency).
    pub as_of: Time,
    /// Also activate nodes not valid at `as_of`.
    pub include_invalid: bool,
    /// Fill [`ActivatedItem::explain`].
    pub explain: bool,
}

/// The policy filter's answer for one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// The actor may see the node.
    Visible,
    /// Withheld by this rule id: the node neither appears nor spreads.
    Withheld(String),
}

/// Where a seed came from.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SeedKind {
    /// A BM25 match of the cue text.
    Lexical,
    /// Named in `cue.nodes`.
    Explicit,
    /// A semantic-index hint.
    Hint,
    /// Touched by an observation or access event after `events_since`.
    Event,
    /// A semantic-index match of the cue text (cosine of sentence embeddings).
    Semantic,
}

/// One source of a node's seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeedSource {
    /// The source.
    pub kind: SeedKind,
    /// Its raw value: BM25 score, 1.0, hint score, event recency factor in (0, 1],
    /// or cosine similarity.
    pub raw: f64,
    /// Its weighted value (what competes for the seed).
    pub value: f64,
}

/// The score breakdown of one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Explain {
    /// The seed: the lexical and semantic values summed (fusion), or the largest
    /// other weighted seed source if that is larger.
    pub seed: f64,
    /// The semantic term of the seed (0 when none; not shown then).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub semantic: f64,
    /// Every seed source of the node.
    pub seed_sources: Vec<SeedSource>,
    /// Spread activation received (best path).
    pub spread: f64,
    /// ACT-R base level `B`, if the node has an access or creation time not after `as_of`.
    pub base_level: Option<f64>,
    /// The phase's activation weight.
    pub phase_weight: f64,
    /// Score factor applied for redundancy (1 when none).
    pub redundancy_penalty: f64,
    /// Hub damping factor `hub_degree / arcs` (1 when none; not shown then).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub hub_factor: f64,
    /// Time factor `1 + time_weight` when the node was created in a time the cue
    /// names (1 when none; not shown then).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub time_factor: f64,
    /// Node ids from the seed that reached the item to the item (just the item when
    /// it received no spread).
    pub path: Vec<String>,
}

/// One packed item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActivatedItem {
    /// Node id.
    pub node: String,
    /// Kind.
    pub kind: String,
    /// Phase.
    pub phase: String,
    /// Title.
    pub title: String,
    /// Score (rounded to the wire precision).
    pub score: f64,
    /// Tokens.
    pub tokens: u32,
    /// Score breakdown, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

/// The result of activation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkingSet {
    /// Items in descending score, ties by node id.
    pub items: Vec<ActivatedItem>,
    /// The budget asked for.
    pub budget_limit: u64,
    /// Tokens of the packed items (never above `budget_limit`).
    pub budget_used: u64,
    /// Withheld nodes per policy rule id (each node counted once).
    pub withheld: BTreeMap<String, u64>,
    /// Withheld nodes in total.
    pub withheld_count: u64,
    /// Candidates scored (visible, valid, with a seed or spread).
    pub considered: u64,
    /// Candidates skipped because they did not fit the remaining budget.
    pub not_fitted: u64,
}

fn one() -> f64 {
    1.0
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one(x: &f64) -> bool {
    *x == 1.0
}
