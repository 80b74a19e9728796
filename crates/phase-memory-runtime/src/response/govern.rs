//! `lifecycle.plan`, `lifecycle.apply`, `review.list`, `review.decide`, and the
//! `review_required` answer of any operation.

use std::collections::BTreeMap;

use phase_memory_govern::Transition;
use phase_memory_model::{Review, ReviewStatus, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Human;
use super::graph::WithheldCount;
use super::text::{table, wire};

/// A transition blocked (legal hold).
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Blocked {
    /// Node id.
    pub node: String,
    /// Rule.
    pub rule_id: String,
    /// Why.
    pub why: String,
}

/// `lifecycle.plan`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct LifecyclePlan {
    /// When the rules were evaluated.
    pub as_of: Time,
    /// Transitions by node id.
    pub transitions: Vec<Transition>,
    /// Blocked transitions.
    pub blocked: Vec<Blocked>,
}

/// A review created for a held operation.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct HeldReview {
    /// Review id.
    pub review: String,
    /// The held operation.
    pub operation: String,
    /// When the review expires.
    pub expires_at: Option<Time>,
}

/// `lifecycle.apply`.
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct HeldTransitionApplied {
    /// The transition, applied.
    pub applied: Vec<Transition>,
}

/// A review as listed: a projection of the stored [`Review`], not the type
/// itself, because a listing leaves out the held request (it can carry content
/// of nodes the lister may not see, and is applied only through
/// `review.decide`) and shows the status as at `as_of` (a pending review past
/// its expiry is `expired`, which the stored review never says).
#[derive(Serialize, Deserialize, JsonSchema)]
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
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ReviewList {
    /// Reviews by id.
    pub reviews: Vec<ReviewSummary>,
    /// Reviews on nodes the actor may not see.
    pub withheld: WithheldCount,
}

/// `review.decide`.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ReviewDecide {
    /// The review after the decision.
    pub review: ReviewSummary,
    /// The held operation's data, when approved (absent on rejection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<Value>,
}

/// The `data` of a `review_required` envelope, for any operation.
pub type ReviewRequired = HeldReview;

impl Human for LifecyclePlan {
    fn human(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self
            .transitions
            .iter()
            .map(|t| {
                vec![
                    t.node.clone(),
                    t.from.clone(),
                    t.to.clone(),
                    t.rule_id.clone(),
                    if t.review {
                        "yes".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        Some(format!(
            "{}\n\n{} transition(s) at {}",
            table(&["node", "from", "to", "rule", "review"], &rows),
            rows.len(),
            self.as_of
        ))
    }
}

impl Human for LifecycleApply {
    fn human(&self) -> Option<String> {
        Some(format!(
            "applied {} transition(s); {} held for review",
            self.applied.len(),
            self.reviews.len()
        ))
    }
}

impl Human for ReviewList {
    fn human(&self) -> Option<String> {
        let rows: Vec<Vec<String>> = self
            .reviews
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    wire(&r.status),
                    r.operation.clone(),
                    r.requested_by.clone(),
                    r.subjects.join(","),
                    r.reason.clone(),
                ]
            })
            .collect();
        Some(table(
            &[
                "id",
                "status",
                "operation",
                "requested by",
                "subjects",
                "reason",
            ],
            &rows,
        ))
    }
}

impl Human for ReviewDecide {}

impl HeldReview {
    /// What the command line adds on stderr when an operation is held.
    pub fn hint(&self) -> String {
        format!(
            "review {} created: a second actor approves it with `phase-memory review approve {}`",
            self.review, self.review
        )
    }
}
