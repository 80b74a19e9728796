//! Legal hold and forgetting: turning a node into a tombstone and issuing an erasure
//! receipt that the audit chain keeps and that can be verified against the store.

use phase_memory_model::graph::Attrs;
use phase_memory_model::{Node, Time, Tombstone};
use serde::{Deserialize, Serialize};

use phase_memory_profile::Profile;

/// The fields a forget erases, in the order receipts list them.
pub const ERASED_FIELDS: [&str; 3] = ["attrs", "body", "title"];

/// Phase a forgotten node is put in when the profile declares no purge phase.
const FALLBACK_PURGE_PHASE: &str = "forgotten";

/// A governance refusal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GovernError {
    /// The node carries the profile's legal-hold label.
    #[error("node {node:?} is under legal hold ({label:?}) and cannot be forgotten")]
    LegalHold {
        /// Node id.
        node: String,
        /// The legal-hold label.
        label: String,
    },
}

/// Proof that a node's content was erased: kept in the audit chain (as the
/// `details` of the forget's audit record) and checked by [`verify_erasure`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReceipt {
    /// Node id.
    pub node: String,
    /// Node kind.
    pub kind: String,
    /// BLAKE3 of the erased content (see `Node::content_hash`).
    pub content_hash: String,
    /// When the content was erased.
    pub erased_at: Time,
    /// Why: the lifecycle rule id or review id that decided it.
    pub reason: String,
    /// The fields that were erased, sorted.
    pub erased_fields: Vec<String>,
}

impl ErasureReceipt {
    /// Whether `original` is the content this receipt says was erased (for someone
    /// who still holds a copy, e.g. a backup being reconciled).
    pub fn matches_content(&self, original: &Node) -> bool {
        original.id == self.node && original.content_hash() == self.content_hash
    }
}

/// Whether a node is under the profile's legal hold: it carries the
/// `retention.legal_hold_label`. Such a node can be neither forgotten nor pruned.
pub fn legal_hold(profile: &Profile, node: &Node) -> bool {
    node.has_label(&profile.retention.legal_hold_label)
}

/// Forgets a node: returns the tombstoned node (title, body and attrs erased,
/// tokens 0, phase = the profile's purge phase, `tombstone = {content_hash,
/// forgotten_at, reason}`, `updated_at = at`) and the erasure receipt for the audit
/// chain. Id, kind, scope, sensitivity, labels and validity stay, so policy still
/// applies to the tombstone.
///
/// Does not check legal hold: callers check [`legal_hold`] first, or use
/// [`forget_checked`]. Forgetting a node that already has a tombstone keeps the
/// original tombstone, and the receipt repeats it.
pub fn forget(profile: &Profile, node: &Node, at: Time, reason: &str) -> (Node, ErasureReceipt) {
    let tombstone = match &node.tombstone {
        Some(t) => t.clone(),
        None => Tombstone {
            content_hash: node.content_hash(),
            forgotten_at: at,
            reason: reason.to_string(),
        },
    };
    let mut out = node.clone();
    out.title = String::new();
    out.body = String::new();
    out.attrs = Attrs::new();
    out.tokens = 0;
    out.phase = profile
        .forgotten_phase()
        .unwrap_or(FALLBACK_PURGE_PHASE)
        .to_string();
    if node.tombstone.is_none() {
        out.updated_at = at;
    }
    let receipt = ErasureReceipt {
        node: node.id.clone(),
        kind: node.kind.clone(),
        content_hash: tombstone.content_hash.clone(),
        erased_at: tombstone.forgotten_at,
        reason: tombstone.reason.clone(),
        erased_fields: ERASED_FIELDS.iter().map(|s| s.to_string()).collect(),
    };
    out.tombstone = Some(tombstone);
    (out, receipt)
}

/// [`forget`], refusing a node under legal hold.
pub fn forget_checked(
    profile: &Profile,
    node: &Node,
    at: Time,
    reason: &str,
) -> Result<(Node, ErasureReceipt), GovernError> {
    if legal_hold(profile, node) {
        return Err(GovernError::LegalHold {
            node: node.id.clone(),
            label: profile.retention.legal_hold_label.clone(),
        });
    }
    Ok(forget(profile, node, at, reason))
}

/// Verifies an erasure receipt against the node now in the store: the node exists
/// with the receipt's id and kind, carries a tombstone with the receipt's content
/// hash, time and reason, and every erased field is empty. The error says what
/// does not hold (never any content).
pub fn verify_erasure(receipt: &ErasureReceipt, node: Option<&Node>) -> Result<(), String> {
    let id = &receipt.node;
    let Some(node) = node else {
        return Err(format!("node {id:?} is missing: its tombstone was removed"));
    };
    if &node.id != id {
        return Err(format!("the receipt is for node {id:?}, not {:?}", node.id));
    }
    if node.kind != receipt.kind {
        return Err(format!(
            "node {id:?} has kind {:?}, the receipt says {:?}",
            node.kind, receipt.kind
        ));
    }
    let Some(t) = &node.tombstone else {
        return Err(format!("node {id:?} has no tombstone"));
    };
    if t.content_hash != receipt.content_hash {
        return Err(format!(
            "node {id:?}: the tombstone's content hash differs from the receipt's"
        ));
    }
    if t.forgotten_at != receipt.erased_at {
        return Err(format!(
            "node {id:?}: the tombstone says forgotten at {}, the receipt {}",
            t.forgotten_at, receipt.erased_at
        ));
    }
    if t.reason != receipt.reason {
        return Err(format!(
            "node {id:?}: the tombstone's reason {:?} differs from the receipt's {:?}",
            t.reason, receipt.reason
        ));
    }
    for f in &receipt.erased_fields {
        let present = match f.as_str() {
            "title" => !node.title.is_empty(),
            "body" => !node.body.is_empty(),
            "attrs" => !node.attrs.is_empty(),
            other => return Err(format!("the receipt names an unknown field {other:?}")),
        };
        if present {
            return Err(format!("node {id:?}: field {f} holds content again"));
        }
    }
    Ok(())
}
