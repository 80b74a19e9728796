//! Audit records and the BLAKE3 hash chain over them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{canonical_json, content_hash};
use crate::time::Time;

/// `prev_hash` of the first record of a chain.
pub const GENESIS_HASH: &str = "blake3:genesis";

/// One record per operation and decision, chained by hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When.
    pub at: Time,
    /// Actor id.
    pub actor: String,
    /// Operation name.
    pub operation: String,
    /// Envelope status.
    pub status: String,
    /// Policy decision (allow, deny, review, none).
    pub decision: String,
    /// Rule that decided, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Node / review ids concerned (never withheld ones).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Digest of the request.
    pub request_digest: String,
    /// Digest of the envelope (without its audit field).
    pub envelope_digest: String,
    /// Extra facts: erasure receipts, review ids, counts.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// Hash of the previous record (or of the checkpoint after pruning).
    pub prev_hash: String,
    /// Hash of this record.
    pub hash: String,
}

impl AuditRecord {
    /// The hash this record should carry: BLAKE3 over the canonical JSON of every
    /// field except `hash`.
    pub fn compute_hash(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("hash");
        }
        content_hash(canonical_json(&v).as_bytes())
    }

    /// Sets `prev_hash` and `hash` so the record extends a chain whose head is `prev`.
    pub fn seal(mut self, prev: &str) -> Self {
        self.prev_hash = prev.to_string();
        self.hash = self.compute_hash();
        self
    }
}

/// What survives of a pruned prefix of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct AuditCheckpoint {
    /// Seq of the last pruned record (0 when nothing was pruned).
    pub last_pruned_seq: u64,
    /// Hash of the last pruned record: the next record's `prev_hash`.
    pub last_pruned_hash: String,
    /// When the prune happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_at: Option<Time>,
    /// How many records have been pruned in total.
    pub pruned_count: u64,
}

/// A break found while verifying a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    /// Seq of the record where the chain breaks (as stored).
    pub seq: u64,
    /// Position in the stored list.
    pub index: usize,
    /// What is wrong.
    pub reason: String,
}

/// Verifies a chain of records following a checkpoint. Returns every break found.
pub fn verify_chain(checkpoint: &AuditCheckpoint, records: &[AuditRecord]) -> Vec<ChainBreak> {
    let mut breaks = Vec::new();
    let mut prev_hash = if checkpoint.last_pruned_seq == 0 {
        GENESIS_HASH.to_string()
    } else {
        checkpoint.last_pruned_hash.clone()
    };
    let mut expect_seq = checkpoint.last_pruned_seq + 1;
    let mut last_at: Option<Time> = None;
    for (i, r) in records.iter().enumerate() {
        if let Some(t) = last_at
            && r.at < t
        {
            breaks.push(ChainBreak {
                seq: r.seq,
                index: i,
                reason: format!(
                    "record time {} is before the previous record's {t}: record times never go backwards",
                    r.at
                ),
            });
        }
        last_at = Some(last_at.map_or(r.at, |t| t.max(r.at)));
        if r.seq != expect_seq {
            breaks.push(ChainBreak {
                seq: r.seq,
                index: i,
                reason: format!(
                    "expected seq {expect_seq}, found {}: a record was deleted or reordered",
                    r.seq
                ),
            });
        } else if r.prev_hash != prev_hash {
            breaks.push(ChainBreak {
                seq: r.seq,
                index: i,
                reason: "prev_hash does not match the previous record: a record was deleted, reordered or edited".into(),
            });
        }
        if r.compute_hash() != r.hash {
            breaks.push(ChainBreak {
                seq: r.seq,
                index: i,
                reason: "hash does not match the record's content: the record was edited".into(),
            });
        }
        prev_hash = r.hash.clone();
        expect_seq = r.seq + 1;
    }
    breaks
}
