//! Governance of phase-memory, as pure functions over a [`Profile`] and values:
//! policy decisions ([`decide`], [`decide_operation`]), admission checks on writes
//! ([`admit`], [`CompiledPolicy`]), lifecycle planning ([`plan`]), legal hold
//! ([`legal_hold`]), the four-eyes rule on reviews ([`may_decide`]) and forgetting with verifiable erasure receipts ([`forget`],
//! [`verify_erasure`]). Nothing here reads a clock, a file or a store: the runtime
//! gathers the facts and applies the results.
//!
//! [`Profile`]: phase_memory_profile::Profile

mod admission;
mod erasure;
mod lifecycle;
mod policy;
mod review;

pub use admission::{CompiledPolicy, admit, luhn_valid};
pub use erasure::{
    ERASED_FIELDS, ErasureReceipt, GovernError, forget, forget_checked, legal_hold, verify_erasure,
};
pub use lifecycle::{
    ACCESS_EVENT, LEGAL_HOLD_REASON, NodeFacts, Plan, Transition, conditions_hold, plan,
};
pub use policy::{
    DEFAULT_REASON, Decision, SCOPE_RULE_ID, Target, decide, decide_operation, operation_matches,
};

pub use review::{FOUR_EYES_RULE, Undecidable, may_decide, review_status};

pub use phase_memory_profile::Effect;
