//! The review rules: when a held operation's review may be decided, and by whom.
//! A review is decided once, before it expires, and never by the actor who asked
//! for it (the four-eyes rule).

use phase_memory_model::{Review, ReviewStatus, Time};

/// The rule id recorded when the requester tries to decide its own review.
pub const FOUR_EYES_RULE: &str = "four-eyes";

/// The status a review has at `now`: a pending review past its expiry is expired.
pub fn review_status(r: &Review, now: Time) -> ReviewStatus {
    if r.status == ReviewStatus::Pending && r.expires_at.is_some_and(|e| e <= now) {
        ReviewStatus::Expired
    } else {
        r.status
    }
}

/// Why a review cannot be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undecidable {
    /// It expired (at its `expires_at`) before anyone decided.
    Expired,
    /// It was already approved or rejected.
    Decided(ReviewStatus),
    /// The decider is the actor who asked for it.
    OwnRequest,
}

/// Whether `decider` may decide review `r` at `now`: it must be pending (not
/// expired, not decided) and `decider` must be a second actor.
pub fn may_decide(r: &Review, decider: &str, now: Time) -> Result<(), Undecidable> {
    match review_status(r, now) {
        ReviewStatus::Pending => {}
        ReviewStatus::Expired => return Err(Undecidable::Expired),
        s => return Err(Undecidable::Decided(s)),
    }
    if r.requested_by == decider {
        return Err(Undecidable::OwnRequest);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(status: ReviewStatus, expires: Option<&str>) -> Review {
        Review {
            id: "rev-1".into(),
            operation: "node.upsert".into(),
            subjects: vec![],
            requested_by: "alice".into(),
            reason: "sensitive".into(),
            rule_id: None,
            status,
            decided_by: None,
            decided_at: None,
            decision_reason: None,
            created_at: "2026-01-01T00:00:00Z".parse().expect("time"),
            expires_at: expires.map(|t| t.parse().expect("time")),
            request: serde_json::json!({}),
        }
    }

    #[test]
    fn a_second_actor_decides_a_pending_review_once_before_it_expires() {
        let now: Time = "2026-01-02T00:00:00Z".parse().expect("time");
        let pending = review(ReviewStatus::Pending, Some("2026-01-03T00:00:00Z"));
        assert_eq!(may_decide(&pending, "bob", now), Ok(()));
        assert_eq!(
            may_decide(&pending, "alice", now),
            Err(Undecidable::OwnRequest)
        );
        let expired = review(ReviewStatus::Pending, Some("2026-01-02T00:00:00Z"));
        assert_eq!(review_status(&expired, now), ReviewStatus::Expired);
        assert_eq!(may_decide(&expired, "bob", now), Err(Undecidable::Expired));
        let done = review(ReviewStatus::Approved, None);
        assert_eq!(
            may_decide(&done, "bob", now),
            Err(Undecidable::Decided(ReviewStatus::Approved))
        );
    }
}
