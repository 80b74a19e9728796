//! Policy decisions a runtime keeps from one activation to the next (see
//! `ops/activation.rs`, which makes them): one per policy class of the
//! activation snapshot, valid while the class numbering, the profile, the
//! operation and the actor are the same.

use phase_memory_profile::Effect;

/// What a policy decision of a class depends on besides the class: the
/// snapshot's class numbering, the profile, the operation and the actor.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MemoKey {
    pub(crate) lineage: u64,
    pub(crate) profile_digest: String,
    pub(crate) op: String,
    pub(crate) actor: phase_memory_model::Actor,
}

/// The decisions per class a runtime kept from its last activation, reused by
/// the next while its [`MemoKey`] is the same (for a server's stream of one
/// agent's activations: the few dozen decisions are made once, not per request).
#[derive(Debug, Default)]
pub(crate) struct PolicyMemo {
    pub(crate) key: Option<MemoKey>,
    pub(crate) decided: Vec<Option<(Effect, Option<String>)>>,
}

impl PolicyMemo {
    /// The kept decisions when they were made under `key`, else none.
    pub(crate) fn reuse(self, key: &MemoKey) -> Vec<std::cell::OnceCell<(Effect, Option<String>)>> {
        if self.key.as_ref() != Some(key) {
            return Vec::new();
        }
        self.decided
            .into_iter()
            .map(|d| d.map(std::cell::OnceCell::from).unwrap_or_default())
            .collect()
    }
}
