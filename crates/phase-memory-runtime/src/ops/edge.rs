//! Edge operations: `edge.upsert`, `edge.delete`.

use phase_memory_govern::Target;
use phase_memory_model::interchange::EdgeRecord;
use phase_memory_model::{Edge, Time};
use phase_memory_store::ChangeSet;
use serde_json::{Value, json};

use super::support::{self, check_node, check_subjects, hold_for_review, parse};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::request::*;
use crate::response;
use crate::state::Runtime;

/// `edge.upsert`.
pub(crate) fn edge_upsert(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: EdgeUpsertRequest = parse(req)?;
    let mut raw = r.edge.clone();
    if let Value::Object(m) = &mut raw {
        m.remove("record");
        if ctx.origin.is_remote() {
            m.remove("created_at");
        }
    }
    let rec: EdgeRecord = serde_json::from_value(raw)
        .map_err(|e| Outcome::invalid("import.invalid_record", format!("edge: {e}")))?;
    if !rt.profile.edge_types.contains_key(&rec.edge_type) {
        return Err(Outcome::invalid(
            "graph.unknown_edge_type",
            format!("unknown edge type {:?}", rec.edge_type),
        ));
    }
    let ends = [rec.from.clone(), rec.to.clone()];
    if let Some(d) = check_subjects(rt, "edge.upsert", ctx, &ends, "edge")? {
        return Ok(hold_for_review(
            rt,
            "edge.upsert",
            req.clone(),
            ctx,
            &d,
            vec![rec.from.clone(), rec.to.clone()],
            now,
        ));
    }
    let weight = rec.weight.unwrap_or(1.0);
    if !weight.is_finite() {
        return Err(Outcome::invalid(
            "import.invalid_record",
            "edge weight must be finite",
        ));
    }
    let existing = rt
        .store
        .edges_of(&rec.from)?
        .into_iter()
        .find(|e| e.to == rec.to && e.edge_type == rec.edge_type);
    let edge = Edge {
        from: rec.from,
        to: rec.to,
        edge_type: rec.edge_type,
        weight,
        attrs: rec.attrs.unwrap_or_default(),
        created_at: rec
            .created_at
            .or(existing.as_ref().map(|e| e.created_at))
            .unwrap_or(now),
    };
    let seq = rt.store.event_head()? + 1;
    let event = support::new_event(
        seq,
        now,
        ctx,
        "edge.created",
        vec![edge.from.clone(), edge.to.clone()],
        json!({"type": edge.edge_type}),
    );
    let mut o = Outcome::ok_with(&response::EdgeUpsert {
        edge: edge.clone(),
        created: existing.is_none(),
    });
    o.subjects = vec![edge.from.clone(), edge.to.clone()];
    o.change = ChangeSet {
        put_edges: vec![edge],
        events: vec![event],
        ..Default::default()
    };
    Ok(o)
}

/// `edge.delete`.
pub(crate) fn edge_delete(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: EdgeDeleteRequest = parse(req)?;
    let k = r.edge;
    let existing = rt
        .store
        .edges_of(&k.from)?
        .into_iter()
        .find(|e| e.to == k.to && e.edge_type == k.edge_type);
    let no_edge = || {
        Outcome::not_found(
            "node.not_found",
            format!("no edge {} -{}-> {}", k.from, k.edge_type, k.to),
        )
    };
    let Some(edge) = existing else {
        return Err(no_edge());
    };
    let mut review = None;
    for end in [&edge.from, &edge.to] {
        if let Some(n) = rt.store.node(end)? {
            if !support::sees_for_read(rt, ctx, &n) {
                return Err(no_edge());
            }
            if let Some(d) = check_node(rt, "edge.delete", ctx, &Target::of(&n))? {
                review = review.or(Some(d));
            }
        }
    }
    if let Some(d) = review {
        return Ok(hold_for_review(
            rt,
            "edge.delete",
            req.clone(),
            ctx,
            &d,
            vec![edge.from.clone(), edge.to.clone()],
            now,
        ));
    }
    let mut o = Outcome::ok_with(&response::EdgeDelete {
        edge: response::EdgeId {
            from: edge.from.clone(),
            to: edge.to.clone(),
            edge_type: edge.edge_type.clone(),
        },
        deleted: true,
    });
    o.subjects = vec![edge.from.clone(), edge.to.clone()];
    o.change = ChangeSet {
        delete_edges: vec![edge.key()],
        ..Default::default()
    };
    Ok(o)
}
