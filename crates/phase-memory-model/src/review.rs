//! Reviews: operations held until a second actor decides.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Time;

/// Where a review stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved; the held operation was applied.
    Approved,
    /// Rejected; nothing was applied.
    Rejected,
    /// Expired before anyone decided.
    Expired,
}

/// A pending decision created when policy says `review`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Review {
    /// Stable id derived from the held request.
    pub id: String,
    /// The held operation.
    pub operation: String,
    /// Node ids concerned.
    pub subjects: Vec<String>,
    /// Who asked.
    pub requested_by: String,
    /// Why it needs review.
    pub reason: String,
    /// The rule that asked for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Status.
    pub status: ReviewStatus,
    /// Who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Time>,
    /// The decider's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    /// When it was requested.
    pub created_at: Time,
    /// When it expires, if the profile sets an expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// The held request, applied exactly once on approval.
    pub request: Value,
}
