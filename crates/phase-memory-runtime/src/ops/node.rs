//! Node operations: `node.get`, `node.upsert`, `node.delete`.

use phase_memory_govern::Target;
use phase_memory_model::interchange::NodeRecord;
use phase_memory_model::{Diagnostic, Node, Status, Time};
use phase_memory_profile::Effect;
use phase_memory_store::ChangeSet;
use serde_json::{Value, json};

use super::support::{self, check_node, effect, hold_for_review, parse, resolve_node};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::request::*;
use crate::response;
use crate::state::Runtime;

/// `node.get`.
pub(crate) fn node_get(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: NodeRef = parse(req)?;
    let node = visible_node(rt, &r.node, "node.get", ctx)?;
    let mut o = Outcome::ok_with(&response::NodeGet { node: node.clone() });
    o.subjects = vec![node.id.clone()];
    if node.tombstone.is_some() {
        o.diagnostics.push(Diagnostic::info(
            "node.forgotten",
            "the node was forgotten; only its tombstone remains",
        ));
    }
    Ok(o)
}

/// Loads a node the actor may see; a node outside the actor's scopes is not found.
fn visible_node(rt: &Runtime, id: &str, op: &str, ctx: &CallContext) -> Result<Node, Outcome> {
    let not_found = || Outcome::not_found("node.not_found", format!("no node {id:?}"));
    let node = rt.store.node(id)?.ok_or_else(not_found)?;
    if !ctx.actor.sees_scope(&node.scope) {
        return Err(not_found());
    }
    if !support::sees(rt, op, ctx, &node) {
        // Hidden is missing to the actor: same status, code and message. The
        // audit record keeps the denial and the rule.
        let d = phase_memory_govern::decide(&rt.profile, op, &ctx.actor, &Target::of(&node));
        let mut o = not_found();
        o.decision = "deny".into();
        o.rule_id = d.rule_id;
        o.subjects = vec![node.id.clone()];
        return Err(o);
    }
    let decision = check_node(rt, op, ctx, &Target::of(&node)).map_err(|mut o| {
        // The requester named the id; the audit record names it too so a denial
        // can be traced back from the node.
        o.subjects = vec![node.id.clone()];
        o
    })?;
    if let Some(d) = decision {
        let mut o = support::denied(&d, &format!("{op} (held for review)"));
        o.subjects = vec![node.id.clone()];
        return Err(o);
    }
    Ok(node)
}

/// `node.upsert`: read the record, check it may be written, decide (admission and
/// policy on the old and the new node), then write or hold for review.
pub(crate) fn node_upsert(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: NodeUpsertRequest = parse(req)?;
    let rec = read_node_record(&r, ctx)?;
    let existing = rt.store.node(&rec.id)?;
    check_existing(rt, ctx, existing.as_ref())?;
    let node = resolve_node(rt, rec, existing.as_ref(), now, false)
        .map_err(|(c, m)| Outcome::invalid(c, m))?;
    check_upsertable(rt, &node)?;
    if let Some(d) = upsert_review(rt, ctx, &node, existing.as_ref())? {
        return Ok(hold_for_review(
            rt,
            "node.upsert",
            req.clone(),
            ctx,
            &d,
            vec![node.id.clone()],
            now,
        ));
    }
    let created = existing.is_none();
    let seq = rt.store.event_head()? + 1;
    let event = support::new_event(
        seq,
        now,
        ctx,
        if created {
            "node.created"
        } else {
            "node.updated"
        },
        vec![node.id.clone()],
        json!({"kind": node.kind, "phase": node.phase}),
    );
    let mut o = Outcome::ok_with(&response::NodeUpsert {
        node: node.clone(),
        created,
    });
    o.subjects = vec![node.id.clone()];
    o.index.upsert = vec![node.clone()];
    o.change = ChangeSet {
        put_nodes: vec![node],
        events: vec![event],
        ..Default::default()
    };
    Ok(o)
}

/// The request's node as an interchange record; record times are the service's
/// clock for network clients.
fn read_node_record(r: &NodeUpsertRequest, ctx: &CallContext) -> Result<NodeRecord, Outcome> {
    let mut raw = r.node.clone();
    if let Value::Object(m) = &mut raw {
        m.remove("record");
        m.remove("tokens");
        if ctx.origin.is_remote() {
            // Record times are the service's clock for network clients.
            m.remove("created_at");
            m.remove("updated_at");
        }
    }
    serde_json::from_value(raw).map_err(|e| {
        Outcome::invalid("import.invalid_record", format!("node: {e}"))
            .with(Diagnostic::info("request.invalid", "see the interchange node record").at("node"))
    })
}

/// An existing node the actor may not see, or a forgotten one, cannot be written.
fn check_existing(rt: &Runtime, ctx: &CallContext, existing: Option<&Node>) -> Result<(), Outcome> {
    if let Some(ex) = existing {
        if !support::sees_for_read(rt, ctx, ex) {
            // Ids are global: the actor learns the id is taken, nothing else.
            let mut o = Outcome::fail(
                Status::Denied,
                Diagnostic::error(
                    "policy.denied",
                    "node.upsert denied: this id is not available to the actor",
                ),
            );
            o.decision = "deny".into();
            o.rule_id = Some("scope".into());
            return Err(o);
        }
        if ex.tombstone.is_some() {
            return Err(Outcome::fail(
                Status::Conflict,
                Diagnostic::error(
                    "node.forgotten",
                    format!("node {:?} was forgotten; its id stays a tombstone", ex.id),
                ),
            ));
        }
    }
    Ok(())
}

/// `node.upsert` never forgets a node nor writes a tombstone.
fn check_upsertable(rt: &Runtime, node: &Node) -> Result<(), Outcome> {
    if rt.profile.forgotten_phase() == Some(node.phase.as_str()) {
        return Err(Outcome::invalid(
            "graph.unknown_phase",
            "a node enters the forgetting phase through lifecycle.apply or node.delete, not node.upsert",
        ));
    }
    if node.tombstone.is_some() {
        return Err(Outcome::invalid(
            "import.invalid_record",
            "node.upsert cannot write a tombstone",
        ));
    }
    Ok(())
}

/// Admission, then policy on the node as it is and as it would be: a deny is an
/// error, a review the decision to hold.
fn upsert_review(
    rt: &Runtime,
    ctx: &CallContext,
    node: &Node,
    existing: Option<&Node>,
) -> Result<Option<phase_memory_govern::Decision>, Outcome> {
    let mut review = None;
    if let Some(a) = phase_memory_govern::admit(&rt.profile, node) {
        match effect(&a, ctx) {
            Effect::Deny => {
                let mut o = Outcome::fail(
                    Status::Denied,
                    Diagnostic::error(
                        "policy.admission",
                        format!(
                            "node.upsert refused by admission rule {}: {}",
                            a.rule_id.as_deref().unwrap_or("admission"),
                            a.reason
                        ),
                    ),
                );
                o.decision = "deny".into();
                o.rule_id = a.rule_id;
                return Err(o);
            }
            Effect::Review => review = Some(a),
            Effect::Allow => {}
        }
    }
    if let Some(ex) = existing
        && let Some(d) = check_node(rt, "node.upsert", ctx, &Target::of(ex))?
    {
        review = review.or(Some(d));
    }
    if let Some(d) = check_node(rt, "node.upsert", ctx, &Target::of(node))? {
        review = review.or(Some(d));
    }
    Ok(review)
}

/// `node.delete`: forgets the node (erases its content, leaves a tombstone and an
/// erasure receipt) and removes its edges. Legal hold blocks it.
pub(crate) fn node_delete(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: NodeRef = parse(req)?;
    let node = rt
        .store
        .node(&r.node)?
        .filter(|n| support::sees_for_read(rt, ctx, n))
        .ok_or_else(|| Outcome::not_found("node.not_found", format!("no node {:?}", r.node)))?;
    if node.tombstone.is_some() {
        return Err(Outcome::fail(
            Status::Conflict,
            Diagnostic::error("node.forgotten", "the node is already forgotten"),
        ));
    }
    let forgotten = rt
        .profile
        .forgotten_phase()
        .unwrap_or("forgotten")
        .to_string();
    if phase_memory_govern::legal_hold(&rt.profile, &node) {
        let mut o = Outcome::fail(
            Status::Denied,
            Diagnostic::error(
                "legal_hold.active",
                format!(
                    "node {:?} is under legal hold ({}) and cannot be deleted or forgotten",
                    node.id, rt.profile.retention.legal_hold_label
                ),
            ),
        );
        o.decision = "deny".into();
        o.rule_id = Some("legal-hold".into());
        o.subjects = vec![node.id.clone()];
        return Err(o);
    }
    let target = Target::of(&node).with_target_phase(&forgotten);
    if let Some(d) = check_node(rt, "node.delete", ctx, &target)? {
        return Ok(hold_for_review(
            rt,
            "node.delete",
            req.clone(),
            ctx,
            &d,
            vec![node.id.clone()],
            now,
        ));
    }
    let reason = ctx
        .approved_review
        .clone()
        .unwrap_or_else(|| format!("node.delete by {}", ctx.actor.id));
    let (tomb, receipt) = phase_memory_govern::forget(&rt.profile, &node, now, &reason);
    let edges = rt.store.edges_of(&node.id)?;
    let seq = rt.store.event_head()? + 1;
    let event = support::new_event(
        seq,
        now,
        ctx,
        "phase.changed",
        vec![node.id.clone()],
        json!({"from": node.phase, "to": forgotten, "reason": "node.delete"}),
    );
    let mut o = Outcome::ok_with(&response::NodeDelete {
        node: node.id.clone(),
        deleted_edges: edges.len() as u64,
        tombstone: tomb.tombstone.clone(),
    });
    o.subjects = vec![node.id.clone()];
    o.extra_audit.push(crate::outcome::AuditDraft {
        operation: "node.erase".into(),
        actor: None,
        status: Status::Ok,
        decision: "allow".into(),
        rule_id: None,
        subjects: vec![node.id.clone()],
        details: json!({"receipt": receipt}),
    });
    o.index.delete = vec![node.id.clone()];
    o.index.purge = true;
    o.change = ChangeSet {
        put_nodes: vec![tomb],
        delete_edges: edges.iter().map(|e| e.key()).collect(),
        events: vec![event],
        purge: true,
        ..Default::default()
    };
    Ok(o)
}
