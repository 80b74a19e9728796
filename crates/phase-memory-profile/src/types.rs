//! The profile document's types. Field docs are the reference for docs/profiles.md
//! and the generated JSON Schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A validated profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile name.
    pub name: String,
    /// What the profile is for.
    #[serde(default)]
    pub description: String,
    /// Sensitivity levels, lowest first, and the default level.
    pub sensitivity: SensitivitySpec,
    /// How tokens are counted.
    #[serde(default)]
    pub tokenizer: TokenizerSpec,
    /// Lifecycle phases in order. A phase with `purge = true` (or named `forgotten`)
    /// erases content.
    pub phases: Vec<PhaseSpec>,
    /// Node kinds by name.
    pub kinds: BTreeMap<String, KindSpec>,
    /// Edge types by name.
    pub edge_types: BTreeMap<String, EdgeTypeSpec>,
    /// Activation parameters.
    #[serde(default)]
    pub activation: ActivationSpec,
    /// Lifecycle rules, evaluated in order; the first that fires for a node wins.
    #[serde(default)]
    pub lifecycle: Vec<LifecycleRule>,
    /// Policy and admission rules.
    #[serde(default)]
    pub policy: PolicySpec,
    /// Retention of audit records and reviews; legal hold.
    #[serde(default)]
    pub retention: RetentionSpec,
    /// Package settings.
    #[serde(default)]
    pub package: PackageSpec,
    /// Audit settings.
    #[serde(default)]
    pub audit: AuditSpec,
    /// Who may use which class of operation: roles → operation classes, and the
    /// roles that may decide reviews. Omitted: the built-in table
    /// ([`AccessSpec::default`]).
    #[serde(default, skip_serializing_if = "AccessSpec::is_builtin")]
    pub access: AccessSpec,
}

/// Sensitivity levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SensitivitySpec {
    /// Levels, lowest first.
    pub levels: Vec<String>,
    /// Level given to nodes that name none (and whose kind sets none).
    pub default: String,
}

/// Token counting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    /// `o200k_base` (default), `cl100k_base`, or `chars4` (characters / 4, an explicit estimate).
    pub encoding: String,
}

impl Default for TokenizerSpec {
    fn default() -> Self {
        TokenizerSpec {
            encoding: "o200k_base".into(),
        }
    }
}

/// One lifecycle phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// Phase name.
    pub name: String,
    /// Multiplier on activation scores (0 = never activated).
    pub activation_weight: f64,
    /// Entering this phase erases title, body and attrs and leaves a tombstone.
    /// Defaults to true for a phase named `forgotten`.
    #[serde(default)]
    pub purge: bool,
}

/// One node kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindSpec {
    /// Phase of a new node of this kind.
    pub initial_phase: String,
    /// Sensitivity of a new node of this kind (else the profile default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_sensitivity: Option<String>,
}

/// Which way activation spreads over an edge type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// from → to only.
    Forward,
    /// to → from only.
    Backward,
    /// Both ways.
    Both,
}

/// One edge type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeTypeSpec {
    /// Spreading weight of the type (multiplied by the edge's own weight).
    pub weight: f64,
    /// Direction of spreading.
    #[serde(default = "both")]
    pub direction: Direction,
}

fn both() -> Direction {
    Direction::Both
}

/// Activation parameters (SPEC section 4; docs/activation.md gives the formula).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ActivationSpec {
    /// ACT-R base-level decay `d`.
    pub decay: f64,
    /// Maximum spreading hops.
    pub max_hops: u32,
    /// Multiplier per hop.
    pub hop_decay: f64,
    /// Activation below this is not spread further.
    pub spread_threshold: f64,
    /// Weight of BM25 seeds (normalised to [0,1]).
    pub lexical_weight: f64,
    /// Weight of semantic-index hints.
    pub hint_weight: f64,
    /// Weight of event-path seeds.
    pub event_weight: f64,
    /// Half-life of event-path seed recency, in hours.
    pub event_half_life_hours: f64,
    /// Weight of spread activation in the score.
    pub spread_weight: f64,
    /// Weight of the base level in the score.
    pub base_level_weight: f64,
    /// Token-set similarity above which an item counts as a near-duplicate.
    pub redundancy_threshold: f64,
    /// Score multiplier for a near-duplicate when packing.
    pub redundancy_penalty: f64,
    /// Budget when a request names none.
    pub default_budget: u64,
    /// Item limit when a request names none.
    pub default_limit: u32,
    /// Record `node.accessed` events for returned items.
    pub record_access: bool,
    /// Hub damping: a node with more spreading arcs than this has its score
    /// multiplied by `hub_degree / arcs` (0: off; default 8).
    pub hub_degree: u32,
    /// Time in the cue: candidates created inside a day or month the cue names have
    /// their score multiplied by `1 + time_weight` (0: off; default 0.5).
    pub time_weight: f64,
    /// Weight of a BM25 match in a node's title (lexical seeds; default 1).
    pub title_weight: f64,
    /// Weight of a BM25 match in a node's body.
    pub body_weight: f64,
    /// Weight of a BM25 match of the exact, unstemmed words (default 0: measured
    /// to hurt on conversations; a profile may raise it).
    pub exact_weight: f64,
    /// Pseudo-relevance feedback: how many top BM25 hits are read as relevant and
    /// their salient terms weighted into a second search (RM3; 0: off).
    pub feedback_docs: u32,
    /// Pseudo-relevance feedback: most expansion terms added to the cue.
    pub feedback_terms: u32,
    /// Pseudo-relevance feedback: weight of the original cue terms `λ` in
    /// `λ·cue + (1−λ)·feedback model`, in [0, 1] (1: no expansion).
    pub feedback_weight: f64,
    /// Weight of semantic seeds: the best sentence-embedding match of the cue text
    /// gets this value, added to its lexical value (fusion; 0: no semantic index,
    /// no model needed).
    pub semantic_weight: f64,
    /// Most semantic seeds: the nearest nodes by cosine among those in the
    /// actor's scopes (exact search).
    pub semantic_seeds: u32,
    /// Cosine at or below which a node is no semantic seed; above it the value
    /// grows linearly to `semantic_weight` at the best match.
    pub semantic_floor: f64,
    /// Largest number of nodes in the searched scopes that the semantic index
    /// embeds and searches; above it the request gets lexical seeds only and a
    /// diagnostic (bounds the first, embedding activation of a large store).
    pub semantic_max_nodes: u32,
}

impl Default for ActivationSpec {
    fn default() -> Self {
        ActivationSpec {
            decay: 0.5,
            max_hops: 2,
            hop_decay: 0.5,
            spread_threshold: 0.01,
            lexical_weight: 1.0,
            hint_weight: 0.8,
            event_weight: 0.6,
            event_half_life_hours: 72.0,
            spread_weight: 0.6,
            base_level_weight: 0.1,
            redundancy_threshold: 0.85,
            redundancy_penalty: 0.5,
            default_budget: 2000,
            default_limit: 20,
            record_access: false,
            hub_degree: 8,
            time_weight: 0.5,
            title_weight: 1.0,
            body_weight: 1.0,
            exact_weight: 0.0,
            feedback_docs: 0,
            feedback_terms: 10,
            feedback_weight: 0.5,
            semantic_weight: 0.0,
            semantic_seeds: 100,
            semantic_floor: 0.2,
            semantic_max_nodes: 20_000,
        }
    }
}

/// A lifecycle rule: nodes in `from` move to `to` when every condition holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    /// Stable rule id (named in plans, audit records and reviews).
    pub id: String,
    /// Phases the rule applies to (empty: any non-terminal phase).
    #[serde(default)]
    pub from: Vec<String>,
    /// Target phase.
    pub to: String,
    /// Only nodes of these kinds (empty: all).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Conditions; all must hold.
    #[serde(default)]
    pub when: Conditions,
    /// The transition needs a second actor's review.
    #[serde(default)]
    pub review: bool,
}

/// Lifecycle conditions (all given ones must hold).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Days since creation greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days_gt: Option<f64>,
    /// Days since the last access (or creation) greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_days_gt: Option<f64>,
    /// Access count at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_count_gte: Option<u64>,
    /// Access count below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_count_lt: Option<u64>,
    /// ACT-R base-level activation below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_level_lt: Option<f64>,
    /// Has an edge of a type in a direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_edge: Option<EdgeCondition>,
    /// An event of this type names the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_seen: Option<String>,
    /// The node carries this label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An edge condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeCondition {
    /// Edge type.
    #[serde(rename = "type")]
    pub edge_type: String,
    /// `incoming`, `outgoing` or `any`.
    #[serde(default = "any_dir")]
    pub direction: EdgeDirection,
}

fn any_dir() -> EdgeDirection {
    EdgeDirection::Any
}

/// Direction of an edge condition relative to the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EdgeDirection {
    /// The node is the edge's `to`.
    Incoming,
    /// The node is the edge's `from`.
    Outgoing,
    /// Either.
    Any,
}

/// A policy effect.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Let it happen.
    Allow,
    /// Hold it for a second actor.
    Review,
    /// Refuse it.
    Deny,
}

/// Policy: ordered rules, admission rules, the default effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Effect when no rule matches.
    #[serde(default = "allow")]
    pub default_effect: Effect,
    /// Rules. Deny beats review beats allow among all that match.
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    /// Admission rules checked on writes before they land.
    #[serde(default)]
    pub admission: Vec<AdmissionRule>,
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec {
            default_effect: Effect::Allow,
            rules: Vec::new(),
            admission: Vec::new(),
        }
    }
}

fn allow() -> Effect {
    Effect::Allow
}

/// A policy rule. Every given matcher must match; empty lists match anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// Stable rule id.
    pub id: String,
    /// allow, deny or review.
    pub effect: Effect,
    /// Operations (`*` for all, `family.*` for a family).
    #[serde(default)]
    pub operations: Vec<String>,
    /// The actor has at least one of these roles.
    #[serde(default)]
    pub roles_any: Vec<String>,
    /// The actor has none of these roles.
    #[serde(default)]
    pub roles_none: Vec<String>,
    /// Node kinds.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Node phases.
    #[serde(default)]
    pub phases: Vec<String>,
    /// Node sensitivity levels.
    #[serde(default)]
    pub sensitivity: Vec<String>,
    /// Node scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The node carries at least one of these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Target phase of a lifecycle change.
    #[serde(default)]
    pub target_phase: Vec<String>,
    /// Why (shown in denials and reviews).
    #[serde(default)]
    pub reason: String,
}

/// An admission rule: a pattern over written content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionRule {
    /// Stable rule id.
    pub id: String,
    /// deny or review.
    pub effect: Effect,
    /// A built-in pattern: `api_key`, `private_key`, `email`, `card_number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// A custom regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Fields checked (default title, body, attrs).
    #[serde(default = "default_fields")]
    pub fields: Vec<String>,
}

fn default_fields() -> Vec<String> {
    vec!["title".into(), "body".into(), "attrs".into()]
}

/// Retention and legal hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSpec {
    /// Audit records older than this many days may be pruned (0: keep forever).
    pub audit_days: u64,
    /// Pending reviews expire after this many days (0: never).
    pub review_expiry_days: u64,
    /// Nodes with this label can be neither forgotten nor pruned.
    pub legal_hold_label: String,
}

impl Default for RetentionSpec {
    fn default() -> Self {
        RetentionSpec {
            audit_days: 365,
            review_expiry_days: 30,
            legal_hold_label: "legal-hold".into(),
        }
    }
}

/// Package settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PackageSpec {
    /// Title of index.md.
    pub title: String,
}

impl Default for PackageSpec {
    fn default() -> Self {
        PackageSpec {
            title: "Working memory".into(),
        }
    }
}

/// Audit settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSpec {
    /// Audit reads (node.get, activation.run, package.compile, …) as well as writes.
    pub record_reads: bool,
}

impl Default for AuditSpec {
    fn default() -> Self {
        AuditSpec { record_reads: true }
    }
}

/// The class of an operation: what kind of power it needs. Every registered
/// operation declares one; a profile's [`AccessSpec`] grants classes to roles.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OperationClass {
    /// Liveness only (`health.check`); every actor, even without a role.
    Public,
    /// Reads of what the actor may see (nodes, events, activation, packages,
    /// the profile, the review queue).
    Read,
    /// Writes of nodes, edges and events (and graph imports).
    Write,
    /// Governance: lifecycle planning and application, review decisions.
    Govern,
    /// The audit log (`audit.query`, `audit.verify`).
    Audit,
    /// The whole store and its configuration: `store.*`, repair, migrate,
    /// `audit.prune`, `profile.apply`, `eval.run`, tokens.
    Admin,
}

impl OperationClass {
    /// Every class, in order.
    pub const ALL: [OperationClass; 6] = [
        OperationClass::Public,
        OperationClass::Read,
        OperationClass::Write,
        OperationClass::Govern,
        OperationClass::Audit,
        OperationClass::Admin,
    ];

    /// The class's name as written in profiles (`read`, `write`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            OperationClass::Public => "public",
            OperationClass::Read => "read",
            OperationClass::Write => "write",
            OperationClass::Govern => "govern",
            OperationClass::Audit => "audit",
            OperationClass::Admin => "admin",
        }
    }
}

impl std::fmt::Display for OperationClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Roles and the operation classes they grant; the roles that may decide reviews.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AccessSpec {
    /// Role name → the operation classes it grants. An actor holds the union of
    /// its roles' classes; a role the table does not name grants nothing. The
    /// `owner` role must grant every class.
    pub roles: BTreeMap<String, Vec<OperationClass>>,
    /// Roles whose holders may approve or reject reviews (`review.decide`); each
    /// must grant `govern`. The requester can never decide its own review.
    pub reviewer_roles: Vec<String>,
}

impl Default for AccessSpec {
    fn default() -> Self {
        use OperationClass::*;
        let mut roles = BTreeMap::new();
        roles.insert("owner".to_string(), vec![Read, Write, Govern, Audit, Admin]);
        roles.insert("admin".to_string(), vec![Read, Write, Govern, Audit, Admin]);
        roles.insert("reviewer".to_string(), vec![Read, Govern]);
        roles.insert("member".to_string(), vec![Read, Write]);
        roles.insert("reader".to_string(), vec![Read]);
        roles.insert("auditor".to_string(), vec![Read, Audit]);
        AccessSpec {
            roles,
            reviewer_roles: vec!["owner".into(), "admin".into(), "reviewer".into()],
        }
    }
}

impl AccessSpec {
    /// Whether this is the built-in table (then it is left out of the canonical
    /// form, so profiles written before it existed keep their digest).
    pub fn is_builtin(&self) -> bool {
        *self == AccessSpec::default()
    }

    /// Whether any of the actor's roles grants `class` (`public` needs no role).
    pub fn grants(&self, roles: &[String], class: OperationClass) -> bool {
        class == OperationClass::Public
            || roles
                .iter()
                .filter_map(|r| self.roles.get(r))
                .any(|classes| classes.contains(&class))
    }

    /// The classes the roles grant, in order.
    pub fn classes_of(&self, roles: &[String]) -> Vec<OperationClass> {
        OperationClass::ALL
            .into_iter()
            .filter(|c| *c != OperationClass::Public && self.grants(roles, *c))
            .collect()
    }

    /// Whether one of the roles may decide reviews.
    pub fn may_review(&self, roles: &[String]) -> bool {
        roles.iter().any(|r| self.reviewer_roles.contains(r))
            && self.grants(roles, OperationClass::Govern)
    }
}
