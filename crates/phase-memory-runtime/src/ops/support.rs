//! The helpers handlers share: request parsing, policy outcomes (denial, review
//! hold), visibility, node resolution and new events. Nothing here knows the
//! runner or the dispatcher.

use phase_memory_govern::{Decision, Target};
use phase_memory_model::interchange::NodeRecord;
use phase_memory_model::{
    Diagnostic, Node, Review, ReviewStatus, Status, Time, digest_value, validate_id,
};
use phase_memory_profile::Effect;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::context::CallContext;
use crate::outcome::{AuditDraft, Outcome};
use crate::response::HeldReview;
use crate::state::Runtime;

/// Parses a request into its type; errors name the JSON path.
pub(crate) fn parse<T: DeserializeOwned>(req: &Value) -> Result<T, Outcome> {
    let mut de = req.clone();
    integral_floats(&mut de);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let mut o = Outcome::invalid("request.invalid", format!("{path}: {msg}"));
        if let Some(d) = o.diagnostics.last_mut() {
            d.path = Some(path);
        }
        o
    })
}

/// JSON Schema counts `433.0` as an integer; serde does not. Integral floats in
/// the range of `u64` (or, when negative, of `i64`) become integers so a request
/// that is valid against the published schema is accepted (an `f64` field still
/// takes the integer). Every `f64` at or above 2^53 is integral, so the range
/// ends at 2^64 (exclusive), where the conversion stops being exact; a larger
/// one stays a float and is refused like the same integer written out (the
/// published `uint64` format ends there too).
fn integral_floats(v: &mut Value) {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    match v {
        Value::Number(n) if !n.is_u64() && !n.is_i64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
            {
                if (0.0..TWO_POW_64).contains(&f) {
                    *v = Value::from(f as u64);
                } else if (-TWO_POW_63..0.0).contains(&f) {
                    *v = Value::from(f as i64);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral_floats),
        Value::Object(m) => m.values_mut().for_each(integral_floats),
        _ => {}
    }
}

/// The effective effect of a decision in this call: an approved review turns a
/// `review` into `allow`.
pub(crate) fn effect(d: &Decision, ctx: &CallContext) -> Effect {
    if d.effect == Effect::Review && ctx.approved_review.is_some() {
        Effect::Allow
    } else {
        d.effect
    }
}

/// A denial that names the rule and never the withheld content.
pub(crate) fn denied(d: &Decision, what: &str) -> Outcome {
    let rule = d.rule_id.clone().unwrap_or_else(|| "default".into());
    let mut o = Outcome::fail(
        Status::Denied,
        Diagnostic::error(
            "policy.denied",
            format!("{what} denied by policy rule {rule}: {}", d.reason),
        ),
    );
    o.decision = "deny".into();
    o.rule_id = Some(rule);
    o
}

/// Policy check for an operation on a node; `Err` is the finished outcome
/// (denied) and `Ok(true)` means review is required.
pub(crate) fn check_node(
    rt: &Runtime,
    op: &str,
    ctx: &CallContext,
    target: &Target,
) -> Result<Option<Decision>, Outcome> {
    let d = phase_memory_govern::decide(&rt.profile, op, &ctx.actor, target);
    match effect(&d, ctx) {
        Effect::Deny => Err(denied(&d, op)),
        Effect::Review => Ok(Some(d)),
        Effect::Allow => Ok(None),
    }
}

/// Whether the actor may see a node for `op`: the node's scope is one of the
/// actor's and no rule denies `op` on it. A node the actor may not see is, to the
/// actor, a node that does not exist.
pub(crate) fn sees(rt: &Runtime, op: &str, ctx: &CallContext, node: &Node) -> bool {
    ctx.actor.sees_scope(&node.scope)
        && phase_memory_govern::decide(&rt.profile, op, &ctx.actor, &Target::of(node)).effect
            != Effect::Deny
}

/// Whether the actor may read a node at all (the visibility that decides
/// whether a write names a node the actor knows of).
pub(crate) fn sees_for_read(rt: &Runtime, ctx: &CallContext, node: &Node) -> bool {
    sees(rt, "node.get", ctx, node)
}

/// Whether the actor holds the admin class (exports and queries then show all).
pub(crate) fn is_admin(rt: &Runtime, ctx: &CallContext) -> bool {
    rt.profile.access.grants(
        &ctx.actor.roles,
        phase_memory_profile::OperationClass::Admin,
    )
}

/// Operation-level policy check.
pub(crate) fn check_operation(
    rt: &Runtime,
    op: &str,
    ctx: &CallContext,
) -> Result<Option<Decision>, Outcome> {
    let d = phase_memory_govern::decide_operation(&rt.profile, op, &ctx.actor);
    match effect(&d, ctx) {
        Effect::Deny => Err(denied(&d, op)),
        Effect::Review => Ok(Some(d)),
        Effect::Allow => Ok(None),
    }
}

/// Holds an operation for review: creates (or finds the pending) review and
/// returns the `review_required` outcome with its change set.
pub(crate) fn hold_for_review(
    rt: &Runtime,
    op: &str,
    request: Value,
    ctx: &CallContext,
    decision: &Decision,
    subjects: Vec<String>,
    now: Time,
) -> Outcome {
    let (o, review) = hold(rt, op, request, ctx, decision, subjects, now);
    o.with_data(&review)
}

/// [`hold_for_review`]'s outcome (its data not set) and the review it names.
pub(crate) fn hold(
    rt: &Runtime,
    op: &str,
    request: Value,
    ctx: &CallContext,
    decision: &Decision,
    subjects: Vec<String>,
    now: Time,
) -> (Outcome, HeldReview) {
    let mut held = match request {
        Value::Object(m) => m,
        other => {
            let mut m = serde_json::Map::new();
            m.insert("request".into(), other);
            m
        }
    };
    held.insert(
        "actor".into(),
        serde_json::to_value(&ctx.actor).unwrap_or(Value::Null),
    );
    let held = Value::Object(held);
    let existing = rt.store.reviews().ok().and_then(|all| {
        all.into_iter().find(|r| {
            r.status == ReviewStatus::Pending
                && r.operation == op
                && r.request == held
                && r.expires_at.is_none_or(|e| e > now)
        })
    });
    let mut o = Outcome::fail(
        Status::ReviewRequired,
        Diagnostic::warning(
            "review.required",
            format!(
                "{op} is held for review by a second actor (rule {}): {}",
                decision.rule_id.as_deref().unwrap_or("default"),
                decision.reason
            ),
        ),
    );
    o.decision = "review".into();
    o.rule_id = decision.rule_id.clone();
    o.subjects = subjects.clone();
    let review = match existing {
        Some(r) => r,
        None => {
            let digest =
                digest_value(&json!({"op": op, "request": held, "by": ctx.actor.id, "at": now}));
            let expiry = rt.profile.retention.review_expiry_days;
            let r = Review {
                id: format!("rev-{}", digest.get(7..19).unwrap_or("0")),
                operation: op.to_string(),
                subjects,
                requested_by: ctx.actor.id.clone(),
                reason: decision.reason.clone(),
                rule_id: decision.rule_id.clone(),
                status: ReviewStatus::Pending,
                decided_by: None,
                decided_at: None,
                decision_reason: None,
                created_at: now,
                expires_at: (expiry > 0).then(|| now.plus_seconds(expiry as i64 * 86_400)),
                request: held,
            };
            o.change.put_reviews.push(r.clone());
            o.extra_audit.push(AuditDraft {
                operation: "review.requested".into(),
                actor: None,
                status: Status::ReviewRequired,
                decision: "review".into(),
                rule_id: r.rule_id.clone(),
                subjects: r.subjects.clone(),
                details: json!({"review": r.id, "operation": op}),
            });
            r
        }
    };
    o.details = json!({"review": review.id});
    let held = HeldReview {
        review: review.id,
        operation: op.to_string(),
        expires_at: review.expires_at,
    };
    (o, held)
}

/// Resolves an interchange node record into a node with the profile's defaults.
/// `existing` supplies defaults for an update. Errors are `(code, message)`.
/// `bulk` marks a graph import: a record without `created_at` is then dated by
/// the clock *implicitly* (exports omit such times, see [`Node::implicit_time`]).
pub(crate) fn resolve_node(
    rt: &Runtime,
    rec: NodeRecord,
    existing: Option<&Node>,
    now: Time,
    bulk: bool,
) -> Result<Node, (&'static str, String)> {
    validate_id(&rec.id).map_err(|e| ("graph.invalid_id", format!("node id: {e}")))?;
    let p = &rt.profile;
    let kind = p.kinds.get(&rec.kind).ok_or_else(|| {
        (
            "graph.unknown_kind",
            format!(
                "unknown node kind {:?} (the profile declares {})",
                rec.kind,
                p.kinds.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let phase = rec
        .phase
        .or_else(|| existing.map(|n| n.phase.clone()))
        .unwrap_or_else(|| kind.initial_phase.clone());
    if p.phase(&phase).is_none() {
        return Err(("graph.unknown_phase", format!("unknown phase {phase:?}")));
    }
    let sensitivity = rec
        .sensitivity
        .or_else(|| existing.map(|n| n.sensitivity.clone()))
        .or_else(|| kind.default_sensitivity.clone())
        .unwrap_or_else(|| p.sensitivity.default.clone());
    if !p.sensitivity.levels.contains(&sensitivity) {
        return Err((
            "graph.unknown_sensitivity",
            format!("unknown sensitivity level {sensitivity:?}"),
        ));
    }
    let scope = rec
        .scope
        .or_else(|| existing.map(|n| n.scope.clone()))
        .unwrap_or_else(|| "default".into());
    validate_id(&scope).map_err(|e| ("graph.invalid_id", format!("scope: {e}")))?;
    let implicit_time =
        bulk && rec.created_at.is_none() && existing.is_none_or(|n| n.implicit_time);
    let created_at = rec
        .created_at
        .or_else(|| existing.map(|n| n.created_at))
        .unwrap_or(now);
    let mut node = Node {
        id: rec.id,
        kind: rec.kind,
        phase,
        title: rec.title.unwrap_or_default(),
        body: rec.body.unwrap_or_default(),
        labels: rec.labels.unwrap_or_default(),
        scope,
        sensitivity,
        attrs: rec.attrs.unwrap_or_default(),
        created_at,
        updated_at: rec
            .updated_at
            .unwrap_or(if existing.is_some() && !implicit_time {
                now
            } else {
                created_at
            }),
        valid_from: rec.valid_from,
        valid_to: rec.valid_to,
        tokens: 0,
        tombstone: rec.tombstone,
        implicit_time,
    };
    if let (Some(f), Some(t)) = (node.valid_from, node.valid_to)
        && t < f
    {
        return Err((
            "import.invalid_record",
            "valid_to is before valid_from".into(),
        ));
    }
    node.normalize();
    node.tokens = rt.tokens.count(&node.text());
    Ok(node)
}

/// A new event by the caller at `now`; `seq` continues the history (its id is
/// derived from it, never random).
pub(crate) fn new_event(
    seq: u64,
    now: Time,
    ctx: &CallContext,
    event_type: &str,
    subjects: Vec<String>,
    payload: Value,
) -> phase_memory_model::Event {
    phase_memory_model::Event {
        seq,
        id: format!("ev-{seq}"),
        at: now,
        actor: ctx.actor.id.clone(),
        event_type: event_type.to_string(),
        subjects,
        payload,
    }
}

/// Checks that every subject of a write exists and is visible to the actor, and
/// asks policy about each: `Err` is a refusal, `Ok(Some)` means review is needed.
pub(crate) fn check_subjects(
    rt: &Runtime,
    op: &str,
    ctx: &CallContext,
    ids: &[String],
    what: &str,
) -> Result<Option<phase_memory_govern::Decision>, Outcome> {
    let mut review = None;
    for id in ids {
        let node = rt.store.node(id)?.filter(|n| sees_for_read(rt, ctx, n));
        let Some(node) = node else {
            // Hidden is missing: the same status, code and message.
            return Err(Outcome::not_found(
                "node.not_found",
                format!("{what} names node {id:?}, which does not exist"),
            ));
        };
        if let Some(d) = check_node(rt, op, ctx, &Target::of(&node))? {
            review = review.or(Some(d));
        }
    }
    Ok(review)
}
