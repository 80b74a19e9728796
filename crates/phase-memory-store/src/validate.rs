//! The store invariants every adapter checks before it applies a change set, in one
//! place so every adapter refuses the same change sets with the same messages.

use crate::{ChangeSet, StoreError, StoreResult};

/// Where the store's sequences stand before a commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heads {
    /// Seq of the last event (0 when there is none).
    pub event_head: u64,
    /// Seq of the last audit record kept, if any.
    pub last_audit_seq: Option<u64>,
    /// `last_pruned_seq` of the current audit checkpoint (0 when never pruned).
    pub checkpoint_seq: u64,
}

impl Heads {
    /// The seq the change set's first audit record must follow. With a prune in the
    /// same change set the chain continues after what the prune leaves (a restore
    /// writes a checkpoint and the records after it at once).
    pub fn audit_base(&self, c: &ChangeSet) -> u64 {
        match &c.prune_audit {
            Some(cp) => match self.last_audit_seq {
                Some(s) if s > cp.last_pruned_seq => s,
                _ => cp.last_pruned_seq,
            },
            None => self.last_audit_seq.unwrap_or(self.checkpoint_seq),
        }
    }
}

/// Checks a change set against the store invariants without applying it: events
/// and audit records continue their sequences without gaps, node ids are valid.
pub fn validate_change(c: &ChangeSet, heads: Heads) -> StoreResult<()> {
    for (next, e) in (heads.event_head + 1..).zip(&c.events) {
        if e.seq != next {
            return Err(StoreError::InvalidChange(format!(
                "event seq {} does not continue the history (want {next})",
                e.seq
            )));
        }
    }
    for (next, r) in (heads.audit_base(c) + 1..).zip(&c.audit) {
        if r.seq != next {
            return Err(StoreError::InvalidChange(format!(
                "audit seq {} does not continue the chain (want {next})",
                r.seq
            )));
        }
    }
    for n in &c.put_nodes {
        phase_memory_model::validate_id(&n.id)
            .map_err(|e| StoreError::InvalidChange(format!("node id: {e}")))?;
    }
    Ok(())
}
