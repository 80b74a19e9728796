//! Lifecycle: plan the transitions the profile's rules fire at `as_of`, apply them;
//! review-gated transitions become reviews; forgetting erases and leaves a receipt.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use phase_memory_govern::{NodeFacts, Target, Transition};
use phase_memory_model::{Diagnostic, Node, Status, Time};
use phase_memory_profile::Effect;
use serde_json::{Value, json};

use super::support::{self, effect, hold, parse};
use crate::context::CallContext;
use crate::outcome::{AuditDraft, OpResult, Outcome};
use crate::request::LifecycleRequest;
use crate::response::{Blocked, HeldTransitionApplied, LifecycleApply, LifecyclePlan};
use crate::state::Runtime;

/// Per-node facts from the event history and the edges.
fn gather_facts(rt: &Runtime, now: Time) -> Result<HashMap<String, NodeFacts>, Outcome> {
    let mut facts: HashMap<String, NodeFacts> = HashMap::new();
    rt.store.for_each_node(&mut |n| {
        let f = facts.entry(n.id.clone()).or_insert_with(empty_facts);
        if n.created_at <= now {
            f.access_times.push(n.created_at);
        }
    })?;
    rt.store.for_each_event(&mut |e| {
        if e.at > now {
            return;
        }
        for s in &e.subjects {
            let f = facts.entry(s.clone()).or_insert_with(empty_facts);
            f.events_seen.insert(e.event_type.clone());
            if e.event_type == "node.accessed" || e.event_type == "observation" {
                f.access_times.push(e.at);
                f.access_count += 1;
                f.last_access = Some(f.last_access.map_or(e.at, |l| l.max(e.at)));
            }
        }
    })?;
    rt.store.for_each_edge(&mut |e| {
        facts
            .entry(e.from.clone())
            .or_insert_with(empty_facts)
            .outgoing_edge_types
            .insert(e.edge_type.clone());
        facts
            .entry(e.to.clone())
            .or_insert_with(empty_facts)
            .incoming_edge_types
            .insert(e.edge_type.clone());
    })?;
    Ok(facts)
}

fn empty_facts() -> NodeFacts {
    NodeFacts {
        access_times: Vec::new(),
        access_count: 0,
        last_access: None,
        events_seen: BTreeSet::new(),
        incoming_edge_types: BTreeSet::new(),
        outgoing_edge_types: BTreeSet::new(),
    }
}

/// The nodes a request covers that the actor may see.
fn nodes_in_scope(
    rt: &Runtime,
    r: &LifecycleRequest,
    ctx: &CallContext,
) -> Result<Vec<Node>, Outcome> {
    let mut nodes = Vec::new();
    match &r.nodes {
        Some(ids) => {
            for id in ids {
                if let Some(n) = rt.store.node(id)? {
                    nodes.push(n);
                }
            }
        }
        None => rt.store.for_each_node(&mut |n| nodes.push(n.clone()))?,
    }
    nodes.retain(|n| support::sees_for_read(rt, ctx, n));
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(nodes)
}

fn compute_plan(
    rt: &Runtime,
    r: &LifecycleRequest,
    ctx: &CallContext,
    now: Time,
) -> Result<(phase_memory_govern::Plan, BTreeMap<String, Node>), Outcome> {
    let nodes = nodes_in_scope(rt, r, ctx)?;
    let facts = gather_facts(rt, now)?;
    let refs: Vec<&Node> = nodes.iter().collect();
    let lookup = |id: &str| facts.get(id).cloned().unwrap_or_else(empty_facts);
    let plan = phase_memory_govern::plan(&rt.profile, &refs, &lookup, now);
    let by_id = nodes.into_iter().map(|n| (n.id.clone(), n)).collect();
    Ok((plan, by_id))
}

fn blocked(plan: &phase_memory_govern::Plan) -> Vec<Blocked> {
    plan.blocked
        .iter()
        .map(|(node, rule_id, why)| Blocked {
            node: node.clone(),
            rule_id: rule_id.clone(),
            why: why.clone(),
        })
        .collect()
}

/// `lifecycle.plan`.
pub(crate) fn plan(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: LifecycleRequest = parse(req)?;
    let (plan, _) = compute_plan(rt, &r, ctx, now)?;
    Ok(Outcome::ok_with(&LifecyclePlan {
        as_of: now,
        blocked: blocked(&plan),
        transitions: plan.transitions,
    }))
}

/// `lifecycle.apply`. A transition it held for review comes back, on approval,
/// as `{"transition": …}` and is applied alone (see [`apply_held`]).
pub(crate) fn apply(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    if let Some(review) = &ctx.approved_review
        && let Some(t) = req.get("transition")
    {
        let t: Transition = serde_json::from_value(t.clone()).map_err(|e| {
            Outcome::error(
                "store.corrupt_record",
                format!("review {review} holds an unreadable transition: {e}"),
            )
        })?;
        return apply_held(rt, &t, ctx, now);
    }
    let r: LifecycleRequest = parse(req)?;
    let (plan, nodes) = compute_plan(rt, &r, ctx, now)?;
    let mut o = Outcome::ok(Value::Null);
    let mut applied = Vec::new();
    let mut reviews = Vec::new();
    let mut denied: BTreeMap<String, u64> = BTreeMap::new();
    let head = rt.store.event_head()?;
    for t in &plan.transitions {
        let Some(node) = nodes.get(&t.node) else {
            continue;
        };
        let target = Target::of(node).with_target_phase(&t.to);
        let d = phase_memory_govern::decide(&rt.profile, "lifecycle.apply", &ctx.actor, &target);
        let mut eff = effect(&d, ctx);
        if t.review && ctx.approved_review.is_none() && eff == Effect::Allow {
            eff = Effect::Review;
        }
        match eff {
            Effect::Deny => {
                *denied
                    .entry(d.rule_id.clone().unwrap_or_else(|| "default".into()))
                    .or_default() += 1
            }
            Effect::Review => {
                let decision = if d.effect == Effect::Review {
                    d.clone()
                } else {
                    phase_memory_govern::Decision {
                        effect: Effect::Review,
                        rule_id: Some(t.rule_id.clone()),
                        reason: format!("lifecycle rule {} requires review", t.rule_id),
                    }
                };
                let (held, review) = hold(
                    rt,
                    "lifecycle.apply",
                    json!({"transition": t}),
                    ctx,
                    &decision,
                    vec![t.node.clone()],
                    now,
                );
                reviews.push(review);
                o.change.put_reviews.extend(held.change.put_reviews);
                o.extra_audit.extend(held.extra_audit);
            }
            Effect::Allow => {
                let seq = head + o.change.events.len() as u64 + 1;
                apply_transition(rt, node, t, ctx, now, seq, &mut o);
                applied.push(t.clone());
            }
        }
    }
    o.subjects = applied.iter().map(|t| t.node.clone()).collect();
    o.details = json!({"applied": applied.len(), "reviews": reviews.len(), "denied": denied});
    if !reviews.is_empty() {
        o.diagnostics.push(Diagnostic::warning(
            "review.required",
            format!("{} transition(s) held for review", reviews.len()),
        ));
        if applied.is_empty() {
            o.status = Status::ReviewRequired;
            o.decision = "review".into();
        }
    }
    for (rule, n) in &denied {
        o.diagnostics.push(Diagnostic::warning(
            "policy.denied",
            format!("{n} transition(s) denied by policy rule {rule}"),
        ));
    }
    for (node, rule, why) in &plan.blocked {
        let _ = node;
        o.diagnostics.push(Diagnostic::warning(
            "legal_hold.active",
            format!("a transition of rule {rule} was blocked: {why}"),
        ));
    }
    Ok(o.with_data(&LifecycleApply {
        as_of: now,
        blocked: blocked(&plan),
        applied,
        reviews,
        denied,
    }))
}

/// Applies one transition into the outcome's change set.
pub(crate) fn apply_transition(
    rt: &Runtime,
    node: &Node,
    t: &Transition,
    ctx: &CallContext,
    now: Time,
    seq: u64,
    o: &mut Outcome,
) {
    let purge_phase = rt.profile.phase(&t.to).is_some_and(|p| p.purge);
    let reason = ctx
        .approved_review
        .clone()
        .unwrap_or_else(|| t.rule_id.clone());
    let new = if purge_phase {
        let (tomb, receipt) = phase_memory_govern::forget(&rt.profile, node, now, &reason);
        o.extra_audit.push(AuditDraft {
            operation: "node.erase".into(),
            actor: None,
            status: Status::Ok,
            decision: "allow".into(),
            rule_id: Some(t.rule_id.clone()),
            subjects: vec![node.id.clone()],
            details: json!({"receipt": receipt}),
        });
        o.change.purge = true;
        o.index.delete.push(node.id.clone());
        o.index.purge = true;
        tomb
    } else {
        let mut n = node.clone();
        n.phase = t.to.clone();
        n.updated_at = now;
        o.index.upsert.push(n.clone());
        n
    };
    o.change.events.push(support::new_event(
        seq,
        now,
        ctx,
        "phase.changed",
        vec![node.id.clone()],
        json!({"from": t.from, "to": t.to, "rule_id": t.rule_id, "review": ctx.approved_review}),
    ));
    o.change.put_nodes.push(new);
}

/// Applies a transition held by an approved review, exactly once: the node must
/// still be in the phase the review saw.
fn apply_held(rt: &Runtime, t: &Transition, ctx: &CallContext, now: Time) -> OpResult {
    let node = rt.store.node(&t.node)?.ok_or_else(|| {
        Outcome::not_found(
            "node.not_found",
            format!("node {:?} no longer exists", t.node),
        )
    })?;
    if node.phase != t.from {
        return Err(Outcome::fail(
            Status::Conflict,
            Diagnostic::error(
                "review.conflict",
                format!(
                    "node {:?} left phase {} since the review was requested",
                    t.node, t.from
                ),
            ),
        ));
    }
    if rt.profile.phase(&t.to).is_some_and(|p| p.purge)
        && phase_memory_govern::legal_hold(&rt.profile, &node)
    {
        return Err(Outcome::fail(
            Status::Denied,
            Diagnostic::error(
                "legal_hold.active",
                "the node is under legal hold and cannot be forgotten",
            ),
        ));
    }
    let target = Target::of(&node).with_target_phase(&t.to);
    let d = phase_memory_govern::decide(&rt.profile, "lifecycle.apply", &ctx.actor, &target);
    if effect(&d, ctx) == Effect::Deny {
        return Err(support::denied(&d, "lifecycle.apply"));
    }
    let seq = rt.store.event_head()? + 1;
    let mut o = Outcome::ok_with(&HeldTransitionApplied {
        applied: vec![t.clone()],
    });
    apply_transition(rt, &node, t, ctx, now, seq, &mut o);
    o.subjects = vec![t.node.clone()];
    Ok(o)
}
