//! The review queue: list, approve (applying the held operation exactly once),
//! reject; reviews expire per the profile.

use phase_memory_govern::{FOUR_EYES_RULE, Target, Undecidable, may_decide, review_status};
use phase_memory_model::{Actor, Diagnostic, Review, ReviewStatus, Status, Time};
use phase_memory_profile::Effect;
use serde_json::{Value, json};

use super::support::{self, check_operation, parse};
use crate::context::CallContext;
use crate::outcome::{AuditDraft, OpResult, Outcome};
use crate::request::{ReviewDecideRequest, ReviewListRequest};
use crate::response::{ReviewDecide, ReviewList, ReviewSummary, WithheldCount};
use crate::state::Runtime;

/// Whether the actor may see every subject of a review.
fn sees(rt: &Runtime, r: &Review, actor: &Actor, op: &str) -> bool {
    r.subjects.iter().all(|s| match rt.store.node(s) {
        Ok(Some(n)) => {
            actor.sees_scope(&n.scope)
                && phase_memory_govern::decide(&rt.profile, op, actor, &Target::of(&n)).effect
                    != Effect::Deny
        }
        _ => true,
    })
}

/// `review.list`.
pub(crate) fn list(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: ReviewListRequest = parse(req)?;
    let want = match r.status.as_deref() {
        None => None,
        Some(s) => Some(
            serde_json::from_value::<ReviewStatus>(json!(s)).map_err(|_| {
                Outcome::invalid(
                    "request.invalid",
                    format!("unknown review status {s:?} (pending, approved, rejected, expired)"),
                )
            })?,
        ),
    };
    let mut withheld = 0u64;
    let mut out = Vec::new();
    for rev in rt.store.reviews()? {
        if want.is_some_and(|w| w != review_status(&rev, now)) {
            continue;
        }
        if sees(rt, &rev, &ctx.actor, "review.list") {
            out.push(ReviewSummary::of(&rev, now));
        } else {
            withheld += 1;
        }
    }
    Ok(Outcome::ok_with(&ReviewList {
        reviews: out,
        withheld: WithheldCount { count: withheld },
    }))
}

/// `review.decide`: read the review, check the decider may decide it, then
/// (on approval) apply the held operation exactly once.
pub(crate) fn decide(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: ReviewDecideRequest = parse(req)?;
    let approve = match r.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(Outcome::invalid(
                "request.invalid",
                format!("decision {other:?} must be approve or reject"),
            ));
        }
    };
    // Deciding needs a reviewer role the profile declares (beside the govern
    // class the runner checked); checked before the review is looked up so a
    // non-reviewer learns nothing about review ids.
    refuse_non_reviewer(rt, ctx)?;
    let mut rev = rt
        .store
        .review(&r.review)?
        .filter(|rev| {
            sees(rt, rev, &ctx.actor, "review.list") || sees(rt, rev, &ctx.actor, "review.decide")
        })
        .ok_or_else(|| {
            Outcome::not_found("review.not_found", format!("no review {:?}", r.review))
        })?;
    may_decide(&rev, &ctx.actor.id, now).map_err(|why| undecidable(&rev, why))?;
    if let Some(d) = check_operation(rt, "review.decide", ctx)? {
        return Err(support::denied(
            &d,
            "review.decide (a review cannot itself be held)",
        ));
    }
    rev.status = if approve {
        ReviewStatus::Approved
    } else {
        ReviewStatus::Rejected
    };
    rev.decided_by = Some(ctx.actor.id.clone());
    rev.decided_at = Some(now);
    rev.decision_reason = r.reason.clone();
    let mut o = if approve {
        apply_approved(rt, &rev, ctx, now)?
    } else {
        Outcome::ok_with(&ReviewDecide {
            review: ReviewSummary::of(&rev, now),
            applied: None,
        })
    };
    o.subjects = rev.subjects.clone();
    o.decision = if approve { "approve" } else { "reject" }.into();
    o.rule_id = rev.rule_id.clone();
    o.details = json!({"review": rev.id, "decision": r.decision, "operation": rev.operation});
    o.change.put_reviews.push(rev);
    Ok(o)
}

/// Deciding needs one of the profile's reviewer roles.
fn refuse_non_reviewer(rt: &Runtime, ctx: &CallContext) -> Result<(), Outcome> {
    if rt.profile.access.may_review(&ctx.actor.roles) {
        return Ok(());
    }
    let mut o = Outcome::fail(
        Status::Denied,
        Diagnostic::error(
            "auth.forbidden",
            format!(
                "review.decide needs a reviewer role ({}); the actor has {}",
                rt.profile.access.reviewer_roles.join(", "),
                if ctx.actor.roles.is_empty() {
                    "none".to_string()
                } else {
                    ctx.actor.roles.join(", ")
                }
            ),
        ),
    );
    o.decision = "deny".into();
    o.rule_id = Some("access".into());
    Err(o)
}

/// The refusal for a review that cannot be decided (see `govern::may_decide`).
fn undecidable(rev: &Review, why: Undecidable) -> Outcome {
    let mut o = match why {
        Undecidable::Expired => Outcome::fail(
            Status::Conflict,
            Diagnostic::error(
                "review.conflict",
                format!(
                    "review {} expired at {}",
                    rev.id,
                    rev.expires_at.map(|t| t.to_string()).unwrap_or_default()
                ),
            ),
        ),
        Undecidable::Decided(s) => Outcome::fail(
            Status::Conflict,
            Diagnostic::error(
                "review.conflict",
                format!(
                    "review {} was already decided ({})",
                    rev.id,
                    json!(s).as_str().unwrap_or("decided")
                ),
            ),
        ),
        Undecidable::OwnRequest => {
            let mut o = Outcome::fail(
                Status::Denied,
                Diagnostic::error(
                    "review.self_approval",
                    "the requester cannot decide its own review; a second actor must",
                ),
            );
            o.decision = "deny".into();
            o.rule_id = Some(FOUR_EYES_RULE.into());
            o
        }
    };
    o.subjects = rev.subjects.clone();
    o
}

/// Applies the operation an approved review held, as its requester, exactly
/// once. If it cannot be applied any more the review stays pending.
fn apply_approved(rt: &mut Runtime, rev: &Review, ctx: &CallContext, now: Time) -> OpResult {
    let mut held = rev.request.clone();
    let requester: Actor = held
        .as_object_mut()
        .and_then(|m| m.remove("actor"))
        .and_then(|a| serde_json::from_value(a).ok())
        .unwrap_or(Actor {
            id: rev.requested_by.clone(),
            roles: Vec::new(),
            scopes: Vec::new(),
        });
    let mut held_ctx = CallContext::new(requester);
    held_ctx.approved_review = Some(rev.id.clone());
    // The held request is resolved with the approver's file rules.
    held_ctx.origin = ctx.origin.clone();
    held_ctx.as_of = Some(now);
    let applied = rt.dispatch(&rev.operation, &held, &held_ctx, now);
    if applied.status != Status::Ok {
        let mut f = Outcome::fail(
            if applied.status == Status::ReviewRequired {
                Status::Conflict
            } else {
                applied.status
            },
            Diagnostic::error(
                "review.conflict",
                format!(
                    "approving review {} could not apply {}",
                    rev.id, rev.operation
                ),
            ),
        );
        f.diagnostics.extend(applied.diagnostics);
        return Err(f);
    }
    let mut o = applied;
    o.extra_audit.push(AuditDraft {
        operation: rev.operation.clone(),
        actor: Some(rev.requested_by.clone()),
        status: Status::Ok,
        decision: "allow".into(),
        rule_id: rev.rule_id.clone(),
        subjects: rev.subjects.clone(),
        details: json!({"review": rev.id, "approved_by": ctx.actor.id, "applied": o.details.clone()}),
    });
    let applied = std::mem::take(&mut o.data);
    Ok(o.with_data(&ReviewDecide {
        review: ReviewSummary::of(rev, now),
        applied: Some(applied),
    }))
}
