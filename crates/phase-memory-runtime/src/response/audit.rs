//! `audit.query`, `audit.verify`, `audit.prune`.

use phase_memory_model::{AuditCheckpoint, AuditRecord, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Human;
use super::text::{opt, table};

/// Retention metadata.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ChainBreak {
    /// Seq of the record.
    pub seq: u64,
    /// Position in the stored chain.
    pub index: u64,
    /// What is wrong.
    pub reason: String,
}

/// `audit.verify`.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
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

impl Human for AuditQuery {
    fn human(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self
            .records
            .iter()
            .map(|r| {
                vec![
                    r.seq.to_string(),
                    r.at.to_string(),
                    r.actor.clone(),
                    r.operation.clone(),
                    r.status.clone(),
                    r.decision.clone(),
                    opt(r.rule_id.as_ref()),
                    r.subjects.join(","),
                ]
            })
            .collect();
        Some(format!(
            "{}\n\nretention: {} days; checkpoint at seq {}",
            table(
                &[
                    "seq",
                    "at",
                    "actor",
                    "operation",
                    "status",
                    "decision",
                    "rule",
                    "subjects"
                ],
                &rows
            ),
            self.retention.audit_days,
            self.retention.checkpoint.last_pruned_seq
        ))
    }
}

impl Human for AuditVerify {
    fn human(&self) -> Option<String> {
        Some(if self.ok {
            format!(
                "audit chain ok: {} record(s), {} erasure receipt(s) checked",
                self.records, self.receipts_checked
            )
        } else {
            "audit chain BROKEN (see diagnostics)".to_string()
        })
    }
}

impl Human for AuditPrune {}
