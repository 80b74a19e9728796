//! The shapes of `data` in each operation's envelope, as Rust types from which the
//! registry generates the response JSON Schemas (`contracts`, OpenAPI, MCP). A test
//! runs every operation and checks that the data it returns fits its declared shape.
//! Handlers build their answers from these types (`Outcome::ok_with`), reusing
//! domain types where the wire shape is theirs (`Node`, `Edge`, `Event`, audit
//! records, govern's `Transition`, the activation crate's `ActivatedItem`).

use std::collections::BTreeMap;

use phase_memory_activate::activate::{ActivatedItem, WorkingSet};
use phase_memory_govern::Transition;
use phase_memory_model::{
    AuditCheckpoint, AuditRecord, AuditRef, Edge, Event, Node, Review, ReviewStatus, Time,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// Token budget of an activation.
#[derive(Serialize, JsonSchema)]
pub struct Budget {
    /// The budget asked for.
    pub limit: u64,
    /// Tokens used by the returned items (never above `limit`).
    pub used: u64,
}

/// What policy withheld: counts per rule, never ids.
#[derive(Serialize, JsonSchema)]
pub struct Withheld {
    /// How many nodes were withheld.
    pub count: u64,
    /// Per rule id.
    pub rules: BTreeMap<String, u64>,
}

/// A count of withheld records.
#[derive(Serialize, JsonSchema)]
pub struct WithheldCount {
    /// How many.
    pub count: u64,
}

/// The schema of one activated item as sent: [`ActivatedItem`] (the activation
/// crate has no schema support), documented here; the answers serialize the
/// activation crate's type itself.
#[derive(Serialize, JsonSchema)]
pub struct Item {
    /// Node id.
    pub node: String,
    /// Kind.
    pub kind: String,
    /// Phase.
    pub phase: String,
    /// Title.
    pub title: String,
    /// Score (6 decimals).
    pub score: f64,
    /// Tokens under the profile's tokenizer.
    pub tokens: u32,
    /// Every score term and the path that reached the item (with `explain`).
    pub explain: Option<Value>,
}

/// `activation.run`.
#[derive(Serialize, JsonSchema)]
pub struct Activation {
    /// Items in descending score, ties by node id.
    #[schemars(with = "Vec<Item>")]
    pub items: Vec<ActivatedItem>,
    /// Budget.
    pub budget: Budget,
    /// Withheld by policy.
    pub withheld: Withheld,
    /// Candidates considered.
    pub considered: u64,
    /// Candidates that did not fit the budget.
    pub not_fitted: u64,
}

impl Activation {
    /// The answer for a working set; score terms and paths only with `explain`.
    pub fn of(set: &WorkingSet, explain: bool) -> Self {
        let items = set
            .items
            .iter()
            .map(|i| ActivatedItem {
                explain: if explain { i.explain.clone() } else { None },
                ..i.clone()
            })
            .collect();
        Activation {
            items,
            budget: Budget {
                limit: set.budget_limit,
                used: set.budget_used,
            },
            withheld: Withheld {
                count: set.withheld_count,
                rules: set.withheld.clone(),
            },
            considered: set.considered,
            not_fitted: set.not_fitted,
        }
    }
}

/// `package.compile`.
#[derive(Serialize, JsonSchema)]
pub struct Compile {
    /// Items packaged.
    #[schemars(with = "Vec<Item>")]
    pub items: Vec<ActivatedItem>,
    /// Budget.
    pub budget: Budget,
    /// Withheld by policy.
    pub withheld: Withheld,
    /// Candidates considered.
    pub considered: u64,
    /// Candidates that did not fit.
    pub not_fitted: u64,
    /// Where the package was written (absent when it is returned inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// The package's files by relative path, when no `out` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<std::collections::BTreeMap<String, String>>,
    /// Package id (BLAKE3 of the contents).
    pub id: String,
    /// Written as a .tar.
    pub archive: bool,
    /// Number of files.
    pub files: u64,
}

/// A package problem.
#[derive(Serialize, JsonSchema)]
pub struct PackageProblem {
    /// `package.hash_mismatch` or `package.invalid`.
    pub code: String,
    /// File inside the package.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// `package.verify`.
#[derive(Serialize, JsonSchema)]
pub struct PackageVerify {
    /// Package id.
    pub id: String,
    /// Items.
    pub items: u64,
    /// Problems found.
    pub problems: Vec<PackageProblem>,
    /// No problems.
    pub ok: bool,
}

/// Retention metadata.
#[derive(Serialize, JsonSchema)]
pub struct Retention {
    /// Audit retention in days.
    pub audit_days: u64,
    /// Review expiry in days.
    pub review_expiry_days: u64,
    /// The legal-hold label.
    pub legal_hold_label: String,
    /// The pruning checkpoint.
    pub checkpoint: AuditCheckpoint,
}

/// `audit.query`.
#[derive(Serialize, JsonSchema)]
pub struct AuditQuery {
    /// Matching records in chain order.
    pub records: Vec<AuditRecord>,
    /// Records returned.
    pub matched_total: u64,
    /// Records in the chain after the checkpoint.
    pub records_total: u64,
    /// Whether `limit` cut the oldest matches.
    pub truncated: bool,
    /// Retention.
    pub retention: Retention,
}

/// A break in the chain.
#[derive(Serialize, JsonSchema)]
pub struct ChainBreak {
    /// Seq of the record.
    pub seq: u64,
    /// Position in the stored chain.
    pub index: u64,
    /// What is wrong.
    pub reason: String,
}

/// `audit.verify`.
#[derive(Serialize, JsonSchema)]
pub struct AuditVerify {
    /// Chain and receipts verify.
    pub ok: bool,
    /// Records checked.
    pub records: u64,
    /// Checkpoint the chain starts from.
    pub checkpoint: AuditCheckpoint,
    /// Breaks found.
    pub breaks: Vec<ChainBreak>,
    /// Erasure receipts checked.
    pub receipts_checked: u64,
    /// Receipts that do not match their tombstone.
    pub receipt_problems: Vec<Value>,
}

/// `audit.prune`.
#[derive(Serialize, JsonSchema)]
pub struct AuditPrune {
    /// Records pruned.
    pub pruned: u64,
    /// Records before this time were candidates (absent when retention keeps
    /// records forever and no `before` was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<Time>,
    /// Retention in days.
    pub retention_days: u64,
    /// The checkpoint now in force.
    pub checkpoint: AuditCheckpoint,
}

/// `graph.import`.
#[derive(Serialize, JsonSchema)]
pub struct GraphImport {
    /// Nodes written.
    pub nodes: u64,
    /// Edges written.
    pub edges: u64,
    /// Events appended.
    pub events: u64,
    /// The file or `records`.
    pub source: String,
}

/// Record counts.
#[derive(Serialize, JsonSchema)]
pub struct Counts {
    /// Nodes.
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Events.
    pub events: u64,
    /// Records withheld by policy (below the admin class only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<u64>,
}

/// `graph.export`.
#[derive(Serialize, JsonSchema)]
pub struct GraphExport {
    /// Counts.
    pub counts: Counts,
    /// The file written (absent when the text is returned inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The JSONL text when no path was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonl: Option<String>,
}

/// `node.get`.
#[derive(Serialize, JsonSchema)]
pub struct NodeGet {
    /// The node (a tombstone when forgotten).
    pub node: Node,
}

/// `node.upsert`.
#[derive(Serialize, JsonSchema)]
pub struct NodeUpsert {
    /// The node as stored.
    pub node: Node,
    /// Whether it is new.
    pub created: bool,
}

/// `node.delete`.
#[derive(Serialize, JsonSchema)]
pub struct NodeDelete {
    /// Node id.
    pub node: String,
    /// Edges removed with it.
    pub deleted_edges: u64,
    /// What remains.
    pub tombstone: Option<phase_memory_model::Tombstone>,
}

/// `edge.upsert`.
#[derive(Serialize, JsonSchema)]
pub struct EdgeUpsert {
    /// The edge as stored.
    pub edge: Edge,
    /// Whether it is new.
    pub created: bool,
}

/// An edge's identity.
#[derive(Serialize, JsonSchema)]
pub struct EdgeId {
    /// Source.
    pub from: String,
    /// Target.
    pub to: String,
    /// Type.
    #[serde(rename = "type")]
    pub edge_type: String,
}

/// `edge.delete`.
#[derive(Serialize, JsonSchema)]
pub struct EdgeDelete {
    /// The edge.
    pub edge: EdgeId,
    /// Deleted.
    pub deleted: bool,
}

/// `event.append`.
#[derive(Serialize, JsonSchema)]
pub struct EventAppend {
    /// The event as stored.
    pub event: Event,
}

/// `event.query`.
#[derive(Serialize, JsonSchema)]
pub struct EventQuery {
    /// Events in seq order.
    pub events: Vec<Event>,
    /// Events withheld by policy.
    pub withheld: WithheldCount,
}

/// A transition blocked (legal hold).
#[derive(Serialize, JsonSchema)]
pub struct Blocked {
    /// Node id.
    pub node: String,
    /// Rule.
    pub rule_id: String,
    /// Why.
    pub why: String,
}

/// `lifecycle.plan`.
#[derive(Serialize, JsonSchema)]
pub struct LifecyclePlan {
    /// When the rules were evaluated.
    pub as_of: Time,
    /// Transitions by node id.
    pub transitions: Vec<Transition>,
    /// Blocked transitions.
    pub blocked: Vec<Blocked>,
}

/// A review created for a held operation.
#[derive(Serialize, JsonSchema)]
pub struct HeldReview {
    /// Review id.
    pub review: String,
    /// The held operation.
    pub operation: String,
    /// When the review expires.
    pub expires_at: Option<Time>,
}

/// `lifecycle.apply`.
#[derive(Serialize, JsonSchema)]
pub struct LifecycleApply {
    /// When.
    pub as_of: Time,
    /// Transitions applied.
    pub applied: Vec<Transition>,
    /// Reviews created for held transitions.
    pub reviews: Vec<HeldReview>,
    /// Blocked transitions.
    pub blocked: Vec<Blocked>,
    /// Transitions denied, per rule.
    pub denied: BTreeMap<String, u64>,
}

/// `lifecycle.apply` of one transition a review held, once approved (the
/// `applied` of `review.decide`).
#[derive(Serialize, JsonSchema)]
pub struct HeldTransitionApplied {
    /// The transition, applied.
    pub applied: Vec<Transition>,
}

/// `profile.apply`.
#[derive(Serialize, JsonSchema)]
pub struct ProfileApply {
    /// Profile name.
    pub name: String,
    /// New digest.
    pub digest: String,
    /// Digest before.
    pub previous_digest: String,
}

/// `profile.show`.
#[derive(Serialize, JsonSchema)]
pub struct ProfileShow {
    /// Name.
    pub name: String,
    /// Digest.
    pub digest: String,
    /// The validated profile.
    pub profile: Value,
    /// The TOML source.
    pub source: String,
}

/// `profile.validate`.
#[derive(Serialize, JsonSchema)]
pub struct ProfileValidate {
    /// Name.
    pub name: String,
    /// Digest.
    pub digest: String,
    /// The file validated.
    pub origin: String,
}

/// A review as listed: the stored review without its held request, its status
/// as at `as_of` (a pending review past its expiry is `expired`).
#[derive(Serialize, JsonSchema)]
pub struct ReviewSummary {
    /// Id.
    pub id: String,
    /// Held operation.
    pub operation: String,
    /// Subjects.
    pub subjects: Vec<String>,
    /// Requester.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// Rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// pending, approved, rejected or expired (at as_of).
    pub status: ReviewStatus,
    /// Decider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Time>,
    /// The decider's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    /// Created.
    pub created_at: Time,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
}

impl ReviewSummary {
    /// The summary of a stored review at `now`.
    pub fn of(r: &Review, now: Time) -> Self {
        ReviewSummary {
            id: r.id.clone(),
            operation: r.operation.clone(),
            subjects: r.subjects.clone(),
            requested_by: r.requested_by.clone(),
            reason: r.reason.clone(),
            rule_id: r.rule_id.clone(),
            status: phase_memory_govern::review_status(r, now),
            decided_by: r.decided_by.clone(),
            decided_at: r.decided_at,
            decision_reason: r.decision_reason.clone(),
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// `review.list`.
#[derive(Serialize, JsonSchema)]
pub struct ReviewList {
    /// Reviews by id.
    pub reviews: Vec<ReviewSummary>,
    /// Reviews on nodes the actor may not see.
    pub withheld: WithheldCount,
}

/// `review.decide`.
#[derive(Serialize, JsonSchema)]
pub struct ReviewDecide {
    /// The review after the decision.
    pub review: ReviewSummary,
    /// The held operation's data, when approved (absent on rejection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<Value>,
}

/// Index freshness.
#[derive(Serialize, JsonSchema)]
pub struct IndexHealth {
    /// The index reflects the store.
    pub fresh: bool,
    /// Store generation the index reflects.
    pub generation: Option<u64>,
    /// Current store generation.
    pub store_generation: u64,
    /// Documents indexed.
    pub documents: u64,
}

/// Profile identity.
#[derive(Serialize, JsonSchema)]
pub struct ProfileRef {
    /// Name.
    pub name: String,
    /// Digest.
    pub digest: String,
}

/// `health.check`.
#[derive(Serialize, JsonSchema)]
pub struct Health {
    /// Everything current.
    pub ok: bool,
    /// This store's adapter manifest.
    pub adapter: Value,
    /// Every adapter this build has.
    pub adapters: Vec<Value>,
    /// Stored schema version.
    pub schema_version: u32,
    /// Version this build writes.
    pub current_schema_version: u32,
    /// Pending migrations.
    pub pending_migrations: Vec<String>,
    /// Audit chain head.
    pub audit_head: Option<AuditRef>,
    /// Full-text index.
    pub index: IndexHealth,
    /// Active profile.
    pub profile: ProfileRef,
}

/// Store counts.
#[derive(Serialize, JsonSchema)]
pub struct StoreCounts {
    /// Nodes.
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Events.
    pub events: u64,
    /// Audit records after the checkpoint.
    pub audit_records: u64,
    /// Pending reviews.
    pub reviews_pending: u64,
}

/// The audit head.
#[derive(Serialize, JsonSchema)]
pub struct AuditHead {
    /// Head record.
    pub head: Option<AuditRef>,
}

/// `store.status`.
#[derive(Serialize, JsonSchema)]
pub struct StoreStatus {
    /// Adapter name.
    pub adapter: String,
    /// Where.
    pub location: String,
    /// Stored schema version.
    pub schema_version: u32,
    /// Version this build writes.
    pub current_schema_version: u32,
    /// Applied migrations.
    pub applied_migrations: Vec<String>,
    /// Pending migrations.
    pub pending_migrations: Vec<String>,
    /// Store creation.
    pub created_at: Time,
    /// Counts.
    pub counts: StoreCounts,
    /// Audit head.
    pub audit: AuditHead,
    /// Retention.
    pub retention: Retention,
    /// Active profile.
    pub profile: ProfileRef,
}

/// `store.migrate`.
#[derive(Serialize, JsonSchema)]
pub struct StoreMigrate {
    /// Migrations applied now (empty when current).
    pub applied: Vec<String>,
    /// Schema version after.
    pub schema_version: u32,
}

/// A repair finding.
#[derive(Serialize, JsonSchema)]
pub struct Finding {
    /// Diagnostic code.
    pub code: String,
    /// Where.
    pub location: String,
    /// What.
    pub message: String,
    /// `repair --apply` can fix it.
    pub fixable: bool,
}

/// A repair action.
#[derive(Serialize, JsonSchema)]
pub struct RepairAction {
    /// Code.
    pub code: String,
    /// Where.
    pub location: String,
    /// What was done.
    pub action: String,
}

/// `store.repair`.
#[derive(Serialize, JsonSchema)]
pub struct StoreRepair {
    /// Nothing found.
    pub clean: bool,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Whether fixes were applied.
    pub applied: bool,
    /// What was done (with apply; absent without).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<RepairAction>>,
}

/// Dump counts.
#[derive(Serialize, JsonSchema)]
pub struct DumpCounts {
    /// Nodes.
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Events.
    pub events: u64,
    /// Reviews.
    pub reviews: u64,
    /// Audit records.
    pub audit_records: u64,
}

/// `store.export`.
#[derive(Serialize, JsonSchema)]
pub struct StoreExport {
    /// `phase-memory-store-dump/1`.
    pub format: String,
    /// Counts.
    pub counts: DumpCounts,
    /// File written (absent when the dump is returned inline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The dump when no path was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonl: Option<String>,
}

/// `store.import`.
#[derive(Serialize, JsonSchema)]
pub struct StoreImport {
    /// Counts restored.
    pub counts: DumpCounts,
    /// The dump.
    pub path: String,
}

/// `store.init`.
#[derive(Serialize, JsonSchema)]
pub struct StoreInit {
    /// Adapter.
    pub adapter: String,
    /// Where.
    pub location: String,
    /// Profile.
    pub profile: ProfileRef,
    /// Schema version.
    pub schema_version: u32,
}

/// `eval.run`: the evaluation report (families, scenarios, gates).
#[derive(Serialize, JsonSchema)]
pub struct EvalRun {
    /// Report format.
    pub format: String,
    /// Whether every gate passed.
    pub passed: bool,
    /// The folder run.
    pub root: String,
    /// Per-family summaries (activation vs BM25 vs recency).
    pub families: Vec<Value>,
    /// Per-scenario metrics and gates.
    pub scenarios: Vec<Value>,
}

/// The `data` of a `review_required` envelope, for any operation.
pub type ReviewRequired = HeldReview;
