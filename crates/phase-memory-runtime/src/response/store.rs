//! `health.check`, `store.*`, `profile.*`, `eval.run`.

use phase_memory_model::{AuditRef, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Human;
use super::audit::Retention;
use super::text::{cell, facts, opt, short, table};

/// Index freshness.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ProfileRef {
    /// Name.
    pub name: String,
    /// Digest.
    pub digest: String,
}

/// `health.check`.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct AuditHead {
    /// Head record.
    pub head: Option<AuditRef>,
}

/// `store.status`.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct StoreMigrate {
    /// Migrations applied now (empty when current).
    pub applied: Vec<String>,
    /// Schema version after.
    pub schema_version: u32,
}

/// A repair finding.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct RepairAction {
    /// Code.
    pub code: String,
    /// Where.
    pub location: String,
    /// What was done.
    pub action: String,
}

/// `store.repair`.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct StoreImport {
    /// Counts restored.
    pub counts: DumpCounts,
    /// The dump.
    pub path: String,
}

/// `store.init`.
#[derive(Serialize, Deserialize, JsonSchema)]
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

/// `profile.apply`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ProfileApply {
    /// Profile name.
    pub name: String,
    /// New digest.
    pub digest: String,
    /// Digest before.
    pub previous_digest: String,
}

/// `profile.show`.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ProfileValidate {
    /// Name.
    pub name: String,
    /// Digest.
    pub digest: String,
    /// The file validated.
    pub origin: String,
}

/// `eval.run`: the evaluation report (families, scenarios, gates).
#[derive(Serialize, Deserialize, JsonSchema)]
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

/// `seq N hash…` of an audit head.
fn head_text(head: Option<&AuditRef>, none: &str) -> String {
    head.map_or_else(
        || none.to_string(),
        |h| format!("seq {} {}", h.seq, short(&h.hash)),
    )
}

impl ProfileRef {
    fn text(&self) -> String {
        format!("{} ({})", self.name, short(&self.digest))
    }
}

impl Human for Health {
    /// A checklist.
    fn human(&self) -> Option<String> {
        let mark = |ok: bool| if ok { "ok" } else { "FAIL" };
        let pending = self.pending_migrations.len();
        let caps = self.adapter["capabilities"]
            .as_array()
            .map(|a| a.iter().map(cell).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        let rows = vec![
            vec![
                "store".into(),
                "ok".into(),
                format!("{} adapter", cell(&self.adapter["name"])),
            ],
            vec![
                "schema".into(),
                mark(pending == 0).into(),
                format!(
                    "v{} of v{}{}",
                    self.schema_version,
                    self.current_schema_version,
                    if pending > 0 {
                        format!(", {pending} pending")
                    } else {
                        String::new()
                    }
                ),
            ],
            vec![
                "index".into(),
                mark(self.index.fresh).into(),
                format!(
                    "{} documents, generation {} of {}",
                    self.index.documents,
                    opt(self.index.generation),
                    self.index.store_generation
                ),
            ],
            vec![
                "audit head".into(),
                "ok".into(),
                head_text(self.audit_head.as_ref(), "empty"),
            ],
            vec!["profile".into(), "ok".into(), self.profile.text()],
            vec!["capabilities".into(), String::new(), caps],
        ];
        Some(format!(
            "{}\n\nhealth: {}",
            table(&["check", "", "detail"], &rows),
            if self.ok {
                "ok"
            } else {
                "NOT OK (see diagnostics)"
            }
        ))
    }
}

impl Human for StoreStatus {
    /// Key facts.
    fn human(&self) -> Option<String> {
        let c = &self.counts;
        let pending = self.pending_migrations.len();
        let rows = vec![
            vec!["adapter".into(), self.adapter.clone()],
            vec!["location".into(), self.location.clone()],
            vec![
                "schema".into(),
                format!(
                    "v{} (binary v{}){}",
                    self.schema_version,
                    self.current_schema_version,
                    if pending > 0 {
                        format!(", {pending} migration(s) pending: run `phase-memory migrate`")
                    } else {
                        String::new()
                    }
                ),
            ],
            vec!["created".into(), self.created_at.to_string()],
            vec!["profile".into(), self.profile.text()],
            vec!["nodes".into(), c.nodes.to_string()],
            vec!["edges".into(), c.edges.to_string()],
            vec!["events".into(), c.events.to_string()],
            vec!["audit records".into(), c.audit_records.to_string()],
            vec!["reviews pending".into(), c.reviews_pending.to_string()],
            vec![
                "audit head".into(),
                head_text(self.audit.head.as_ref(), "none"),
            ],
            vec![
                "retention".into(),
                format!(
                    "audit {} days, reviews expire after {} days",
                    self.retention.audit_days, self.retention.review_expiry_days
                ),
            ],
        ];
        Some(facts(&rows))
    }
}

impl Human for StoreRepair {
    /// The findings, or that there are none.
    fn human(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self
            .findings
            .iter()
            .map(|f| vec![f.code.clone(), f.location.clone(), f.message.clone()])
            .collect();
        Some(if rows.is_empty() {
            "store is clean: nothing to repair".into()
        } else {
            table(&["code", "location", "message"], &rows)
        })
    }
}

impl Human for StoreMigrate {}

impl Human for StoreExport {}

impl Human for StoreImport {}

impl Human for StoreInit {}

impl Human for ProfileApply {}

impl Human for ProfileShow {}

impl Human for ProfileValidate {}

impl Human for EvalRun {
    /// Per-family metrics (activation against the BM25 and recency baselines)
    /// and every failed gate. The report's rows are the evaluation crate's JSON.
    fn human(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self.families.iter().map(family_row).collect();
        let mut failed = Vec::new();
        for sc in &self.scenarios {
            for g in sc["gates"].as_array().into_iter().flatten() {
                if g["passed"] == Value::Bool(false) {
                    failed.push(format!(
                        "  FAILED {} {}: {} (threshold {})",
                        cell(&sc["path"]),
                        cell(&g["gate"]),
                        cell(&g["value"]),
                        cell(&g["threshold"])
                    ));
                }
            }
        }
        let mut o = table(
            &[
                "family",
                "passed",
                "recall@k act/bm25/rec",
                "nDCG@k act/bm25/rec",
                "MRR",
                "budget",
                "leaks",
                "p99 ms",
            ],
            &rows,
        );
        if failed.is_empty() {
            o.push_str("\n\nevery gate passed");
        } else {
            o.push_str(&format!("\n\n{}", failed.join("\n")));
        }
        Some(o)
    }
}

/// One family of an evaluation report as a table row.
fn family_row(f: &Value) -> Vec<String> {
    let three = |metric: &str| {
        format!(
            "{} / {} / {}",
            cell(&f["activation"][metric]),
            cell(&f["bm25"][metric]),
            cell(&f["recency"][metric])
        )
    };
    vec![
        cell(&f["family"]),
        format!("{}/{}", cell(&f["passed"]), cell(&f["scenarios"])),
        three("recall_at_k"),
        three("ndcg_at_k"),
        cell(&f["activation"]["mrr"]),
        cell(&f["budget_adherence"]),
        cell(&f["policy_leaks"]),
        cell(&f["latency_p99_ms"]),
    ]
}
