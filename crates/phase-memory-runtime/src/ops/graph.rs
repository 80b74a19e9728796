//! Graph operations: bulk import/export in the interchange format, single-record
//! node and edge writes and reads, event append and query.

use std::collections::{BTreeMap, HashMap};

use phase_memory_govern::Target;
use phase_memory_model::interchange::{EdgeRecord, EventRecord, NodeRecord};
use phase_memory_model::{
    Diagnostic, Edge, Event, ImportRecord, Node, Status, Time, canonical_json_exact, parse_record,
    validate_id,
};
use phase_memory_profile::Effect;
use phase_memory_store::{ChangeSet, EventQuery};
use rayon::prelude::*;
use serde_json::{Value, json};

use super::{
    OpResult, check_node, check_operation, effect, hold_for_review, node_json, parse, resolve_node,
    se,
};
use crate::context::CallContext;
use crate::request::*;
use crate::runner::{Outcome, Runtime};

/// A node as an interchange line (canonical, exact floats).
pub(crate) fn export_node(n: &Node) -> String {
    let mut v = json!({
        "record": "node", "id": n.id, "kind": n.kind, "title": n.title, "body": n.body,
        "labels": n.labels, "scope": n.scope, "sensitivity": n.sensitivity, "phase": n.phase,
        "attrs": n.attrs,
    });
    if let Value::Object(m) = &mut v {
        if !n.implicit_time {
            m.insert("created_at".into(), json!(n.created_at));
        }
        if !n.implicit_time || n.updated_at != n.created_at {
            m.insert("updated_at".into(), json!(n.updated_at));
        }
        if let Some(t) = n.valid_from {
            m.insert("valid_from".into(), json!(t));
        }
        if let Some(t) = n.valid_to {
            m.insert("valid_to".into(), json!(t));
        }
        if let Some(t) = &n.tombstone {
            m.insert("tombstone".into(), json!(t));
        }
    }
    canonical_json_exact(&v)
}

/// An edge as an interchange line.
pub(crate) fn export_edge(e: &Edge, default_time: Option<Time>) -> String {
    let mut v = json!({"record": "edge", "from": e.from, "to": e.to, "type": e.edge_type, "weight": e.weight});
    if let Value::Object(m) = &mut v {
        if default_time != Some(e.created_at) {
            m.insert("created_at".into(), json!(e.created_at));
        }
        if !e.attrs.is_empty() {
            m.insert("attrs".into(), json!(e.attrs));
        }
    }
    canonical_json_exact(&v)
}

/// The time an edge without `created_at` gets on import: when its later endpoint
/// was created (exports omit an edge time equal to it).
pub(crate) fn default_edge_time(from: Option<Time>, to: Option<Time>) -> Option<Time> {
    match (from, to) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// An event as an interchange line (its id only when it is not the default).
pub(crate) fn export_event(e: &Event) -> String {
    let mut v = json!({"record": "event", "event": e.event_type, "at": e.at, "actor": e.actor, "subjects": e.subjects, "payload": e.payload});
    if e.id != format!("ev-{}", e.seq)
        && let Value::Object(m) = &mut v
    {
        m.insert("id".into(), json!(e.id));
    }
    canonical_json_exact(&v)
}

/// Where a record came from, for diagnostics.
fn at(origin: &str, line: usize) -> String {
    format!("{origin}:{line}")
}

struct Parsed {
    nodes: Vec<(usize, NodeRecord)>,
    edges: Vec<(usize, EdgeRecord)>,
    events: Vec<(usize, EventRecord)>,
}

fn read_records(req: &ImportRequest, ctx: &CallContext) -> Result<(String, Parsed), Outcome> {
    let mut parsed = Parsed {
        nodes: Vec::new(),
        edges: Vec::new(),
        events: Vec::new(),
    };
    let mut push = |line: usize, r: ImportRecord| match r {
        ImportRecord::Node(n) => parsed.nodes.push((line, n)),
        ImportRecord::Edge(e) => parsed.edges.push((line, e)),
        ImportRecord::Event(e) => parsed.events.push((line, e)),
    };
    let bad = |origin: &str, e: phase_memory_model::ImportError| {
        let mut d = Diagnostic::error(e.code, format!("line {}: {}", e.line, e.message))
            .at(at(origin, e.line));
        if let Some(c) = e.column {
            d.path = Some(format!("{origin}:{}:{c}", e.line));
        }
        Outcome::fail(Status::Invalid, d)
    };
    match (&req.path, &req.records) {
        (Some(path), None) => {
            let text = crate::files::read_text(ctx, path, "file").map_err(|o| {
                o.with(
                    Diagnostic::info("request.invalid", "give a readable JSONL file")
                        .at(path.clone()),
                )
            })?;
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i + 1, l))
                .collect();
            let total = lines.len() as u64;
            let results: Vec<Result<(usize, ImportRecord), phase_memory_model::ImportError>> =
                lines
                    .par_iter()
                    .map(|(n, l)| parse_record(l, *n).map(|r| (*n, r)))
                    .collect();
            for (i, r) in results.into_iter().enumerate() {
                match r {
                    Ok((n, rec)) => push(n, rec),
                    Err(e) => return Err(bad(path, e)),
                }
                if let Some(p) = &ctx.progress
                    && (i % 10_000 == 0 || i as u64 + 1 == total)
                {
                    p(i as u64 + 1, total);
                }
            }
            Ok((path.clone(), parsed))
        }
        (None, Some(records)) => {
            for (i, v) in records.iter().enumerate() {
                let text = serde_json::to_string(v).unwrap_or_default();
                match parse_record(&text, i + 1) {
                    Ok(r) => push(i + 1, r),
                    Err(e) => return Err(bad("records", e)),
                }
            }
            Ok(("records".into(), parsed))
        }
        _ => Err(Outcome::invalid(
            "request.invalid",
            "give exactly one of `path` or `records`",
        )),
    }
}

/// `graph.import`: all-or-nothing.
pub(crate) fn import(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: ImportRequest = parse(req)?;
    let op_review = check_operation(rt, "graph.import", ctx)?;
    let (origin, parsed) = read_records(&r, ctx)?;
    // Nodes: defaults from the profile, duplicates refused.
    let mut first_line: HashMap<&str, usize> = HashMap::with_capacity(parsed.nodes.len());
    for (line, n) in &parsed.nodes {
        if let Some(prev) = first_line.insert(n.id.as_str(), *line) {
            return Err(Outcome::fail(
                Status::Invalid,
                Diagnostic::error(
                    "import.invalid_record",
                    format!(
                        "line {line}: node {:?} is defined twice (first at line {prev})",
                        n.id
                    ),
                )
                .at(at(&origin, *line)),
            ));
        }
    }
    let resolved: Vec<Result<Node, Outcome>> = parsed
        .nodes
        .par_iter()
        .map(|(line, rec)| {
            let existing = rt.store.node(&rec.id).ok().flatten();
            resolve_node(rt, rec.clone(), existing.as_ref(), now, true).map_err(|(code, msg)| {
                Outcome::fail(
                    Status::Invalid,
                    Diagnostic::error(code, format!("line {line}: {msg}")).at(at(&origin, *line)),
                )
            })
        })
        .collect();
    let mut nodes = Vec::with_capacity(resolved.len());
    for n in resolved {
        nodes.push(n?);
    }
    let in_file: HashMap<&str, Time> = nodes
        .iter()
        .map(|n| (n.id.as_str(), n.created_at))
        .collect();
    // Edges: declared types, both ends somewhere.
    let mut edges = Vec::with_capacity(parsed.edges.len());
    for (line, e) in &parsed.edges {
        let loc = at(&origin, *line);
        if !rt.profile.edge_types.contains_key(&e.edge_type) {
            return Err(Outcome::fail(
                Status::Invalid,
                Diagnostic::error(
                    "graph.unknown_edge_type",
                    format!("line {line}: unknown edge type {:?}", e.edge_type),
                )
                .at(loc),
            ));
        }
        let mut times = Vec::with_capacity(2);
        for end in [&e.from, &e.to] {
            if validate_id(end).is_err() {
                return Err(Outcome::fail(
                    Status::Invalid,
                    Diagnostic::error(
                        "graph.invalid_id",
                        format!("line {line}: invalid node id in edge"),
                    )
                    .at(loc),
                ));
            }
            let known = match in_file.get(end.as_str()) {
                Some(t) => Some(*t),
                None => rt.store.node(end).map_err(se)?.map(|n| n.created_at),
            };
            times.push(known);
            if known.is_none() {
                return Err(Outcome::fail(Status::Invalid, Diagnostic::error("graph.missing_reference", format!("line {line}: edge {} -> {} names node {end:?}, which exists neither in the file nor in the store; nothing was imported", e.from, e.to)).at(loc)));
            }
        }
        let weight = e.weight.unwrap_or(1.0);
        if !weight.is_finite() {
            return Err(Outcome::fail(
                Status::Invalid,
                Diagnostic::error(
                    "import.invalid_record",
                    format!("line {line}: edge weight must be finite"),
                )
                .at(loc),
            ));
        }
        edges.push(Edge {
            from: e.from.clone(),
            to: e.to.clone(),
            edge_type: e.edge_type.clone(),
            weight,
            attrs: e.attrs.clone().unwrap_or_default(),
            created_at: e
                .created_at
                .or_else(|| default_edge_time(times[0], times[1]))
                .unwrap_or(now),
        });
    }
    // Events: appended in file order after the current head.
    let head = rt.store.event_head().map_err(se)?;
    let mut events = Vec::with_capacity(parsed.events.len());
    for (seq, (line, e)) in (head + 1..).zip(&parsed.events) {
        if e.event.trim().is_empty() {
            return Err(Outcome::fail(
                Status::Invalid,
                Diagnostic::error(
                    "import.invalid_record",
                    format!("line {line}: event type is empty"),
                )
                .at(at(&origin, *line)),
            ));
        }
        let subjects = e.subjects.clone().unwrap_or_default();
        if subjects.iter().any(|s| validate_id(s).is_err()) {
            return Err(Outcome::fail(
                Status::Invalid,
                Diagnostic::error(
                    "graph.invalid_id",
                    format!("line {line}: invalid subject id"),
                )
                .at(at(&origin, *line)),
            ));
        }
        events.push(Event {
            seq,
            id: e.id.clone().unwrap_or_else(|| format!("ev-{seq}")),
            at: e.at,
            actor: e.actor.clone().unwrap_or_else(|| ctx.actor.id.clone()),
            event_type: e.event.clone(),
            subjects,
            payload: e
                .payload
                .clone()
                .unwrap_or(Value::Object(Default::default())),
        });
    }
    // Policy: scope and rules per node, then admission.
    let mut review = op_review;
    let mut denials: BTreeMap<String, usize> = BTreeMap::new();
    // Rules and admission patterns per node, in parallel (admission scans every
    // title and body with regular expressions); folded in file order below.
    let admission = phase_memory_govern::CompiledPolicy::new(&rt.profile);
    let decisions: Vec<_> = nodes
        .par_iter()
        .map(|n| {
            let d = phase_memory_govern::decide(
                &rt.profile,
                "graph.import",
                &ctx.actor,
                &Target::of(n),
            );
            (d, admission.admit(n))
        })
        .collect();
    for (d, admitted) in decisions {
        match effect(&d, ctx) {
            Effect::Deny => {
                *denials
                    .entry(d.rule_id.clone().unwrap_or_else(|| "default".into()))
                    .or_default() += 1
            }
            Effect::Review => review = review.or(Some(d)),
            Effect::Allow => {}
        }
        if let Some(a) = admitted {
            match effect(&a, ctx) {
                Effect::Deny => {
                    *denials
                        .entry(a.rule_id.clone().unwrap_or_else(|| "admission".into()))
                        .or_default() += 1
                }
                Effect::Review => review = review.or(Some(a)),
                Effect::Allow => {}
            }
        }
    }
    if !denials.is_empty() {
        let total: usize = denials.values().sum();
        let rules: Vec<String> = denials.iter().map(|(r, n)| format!("{r} ({n})")).collect();
        let mut o = Outcome::fail(
            Status::Denied,
            Diagnostic::error(
                "policy.denied",
                format!(
                    "{total} record(s) refused by policy rules: {}; nothing was imported",
                    rules.join(", ")
                ),
            ),
        );
        o.decision = "deny".into();
        o.rule_id = denials.keys().next().cloned();
        return Err(o);
    }
    if let Some(d) = review {
        let records: Vec<Value> = nodes
            .iter()
            .map(|n| serde_json::from_str(&export_node(n)).unwrap_or(Value::Null))
            .chain(
                edges
                    .iter()
                    .map(|e| serde_json::from_str(&export_edge(e, None)).unwrap_or(Value::Null)),
            )
            .chain(
                events
                    .iter()
                    .map(|e| serde_json::from_str(&export_event(e)).unwrap_or(Value::Null)),
            )
            .collect();
        return Ok(hold_for_review(
            rt,
            "graph.import",
            json!({"records": records}),
            ctx,
            &d,
            Vec::new(),
            now,
        ));
    }
    let counts = json!({"nodes": nodes.len(), "edges": edges.len(), "events": events.len(), "source": origin});
    let mut o = Outcome::ok(counts.clone());
    o.details = counts;
    o.index.upsert = nodes.clone();
    o.change = ChangeSet {
        put_nodes: nodes,
        put_edges: edges,
        events,
        ..Default::default()
    };
    Ok(o)
}

/// Writes text to a file atomically (`phase_memory_fsio::write_atomic`: unique temp
/// file, fsync, rename, folder fsync).
pub(crate) fn write_atomic(path: &str, text: &str) -> Result<(), Outcome> {
    phase_memory_fsio::write_atomic(std::path::Path::new(path), text.as_bytes())
        .map_err(|e| Outcome::error("store.io", format!("writing {path}: {e}")))
}

/// The interchange text of the graph (nodes by id, edges by key, events by seq)
/// as `ctx`'s actor may see it (everything when `None`):
/// nodes it may see, edges between two of them, events whose every subject is
/// one of them (or names no stored node). Withheld records are counted.
pub(crate) fn graph_jsonl_for(
    rt: &Runtime,
    ctx: Option<&CallContext>,
) -> Result<(String, Value), Outcome> {
    let mut out = String::new();
    let (mut n, mut e, mut v) = (0usize, 0usize, 0usize);
    let mut withheld = 0usize;
    let mut created: std::collections::HashMap<String, Time> = std::collections::HashMap::new();
    let mut hidden: std::collections::HashSet<String> = std::collections::HashSet::new();
    rt.store
        .for_each_node(&mut |x| {
            if let Some(c) = ctx
                && !super::sees(rt, "graph.export", c, x)
            {
                hidden.insert(x.id.clone());
                withheld += 1;
                return;
            }
            out.push_str(&export_node(x));
            out.push('\n');
            created.insert(x.id.clone(), x.created_at);
            n += 1;
        })
        .map_err(se)?;
    rt.store
        .for_each_edge(&mut |x| {
            if hidden.contains(&x.from) || hidden.contains(&x.to) {
                withheld += 1;
                return;
            }
            let default =
                default_edge_time(created.get(&x.from).copied(), created.get(&x.to).copied());
            out.push_str(&export_edge(x, default));
            out.push('\n');
            e += 1;
        })
        .map_err(se)?;
    rt.store
        .for_each_event(&mut |x| {
            if x.subjects.iter().any(|s| hidden.contains(s)) {
                withheld += 1;
                return;
            }
            out.push_str(&export_event(x));
            out.push('\n');
            v += 1;
        })
        .map_err(se)?;
    let mut counts = json!({"nodes": n, "edges": e, "events": v});
    if ctx.is_some() {
        counts["withheld"] = json!(withheld);
    }
    Ok((out, counts))
}

/// `graph.export`.
pub(crate) fn export(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: ExportRequest = parse(req)?;
    if let Some(d) = check_operation(rt, "graph.export", ctx)? {
        return Err(super::denied(&d, "graph.export (held for review)"));
    }
    let filter = (!super::is_admin(rt, ctx)).then_some(ctx);
    let (text, counts) = graph_jsonl_for(rt, filter)?;
    let mut data = json!({"counts": counts});
    match &r.path {
        Some(p) => {
            let target = crate::files::resolve(ctx, p, crate::files::Access::Write)?;
            write_atomic(&target.to_string_lossy(), &text)?;
            data["path"] = json!(p);
        }
        None => data["jsonl"] = json!(text),
    }
    let mut o = Outcome::ok(data);
    o.details = json!({"counts": counts});
    Ok(o)
}

/// `node.get`.
pub(crate) fn node_get(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: NodeRef = parse(req)?;
    let node = visible_node(rt, &r.node, "node.get", ctx)?;
    let mut o = Outcome::ok(json!({"node": node_json(&node)}));
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
    let node = rt.store.node(id).map_err(se)?.ok_or_else(not_found)?;
    if !ctx.actor.sees_scope(&node.scope) {
        return Err(not_found());
    }
    if !super::sees(rt, op, ctx, &node) {
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
        let mut o = super::denied(&d, &format!("{op} (held for review)"));
        o.subjects = vec![node.id.clone()];
        return Err(o);
    }
    Ok(node)
}

/// `node.upsert`.
pub(crate) fn node_upsert(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: NodeUpsertRequest = parse(req)?;
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
    let rec: NodeRecord = serde_json::from_value(raw).map_err(|e| {
        Outcome::invalid("import.invalid_record", format!("node: {e}"))
            .with(Diagnostic::info("request.invalid", "see the interchange node record").at("node"))
    })?;
    let existing = rt.store.node(&rec.id).map_err(se)?;
    if let Some(ex) = &existing {
        if !super::sees_for_read(rt, ctx, ex) {
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
    let node = resolve_node(rt, rec, existing.as_ref(), now, false)
        .map_err(|(c, m)| Outcome::invalid(c, m))?;
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
    let mut review = None;
    if let Some(a) = phase_memory_govern::admit(&rt.profile, &node) {
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
    if let Some(ex) = &existing
        && let Some(d) = check_node(rt, "node.upsert", ctx, &Target::of(ex))?
    {
        review = review.or(Some(d));
    }
    if let Some(d) = check_node(rt, "node.upsert", ctx, &Target::of(&node))? {
        review = review.or(Some(d));
    }
    if let Some(d) = review {
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
    let seq = rt.store.event_head().map_err(se)? + 1;
    let event = super::new_event(
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
    let mut o = Outcome::ok(json!({"node": node_json(&node), "created": created}));
    o.subjects = vec![node.id.clone()];
    o.index.upsert = vec![node.clone()];
    o.change = ChangeSet {
        put_nodes: vec![node],
        events: vec![event],
        ..Default::default()
    };
    Ok(o)
}

/// `node.delete`: forgets the node (erases its content, leaves a tombstone and an
/// erasure receipt) and removes its edges. Legal hold blocks it.
pub(crate) fn node_delete(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: NodeRef = parse(req)?;
    let node = rt
        .store
        .node(&r.node)
        .map_err(se)?
        .filter(|n| super::sees_for_read(rt, ctx, n))
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
    let edges = rt.store.edges_of(&node.id).map_err(se)?;
    let seq = rt.store.event_head().map_err(se)? + 1;
    let event = super::new_event(
        seq,
        now,
        ctx,
        "phase.changed",
        vec![node.id.clone()],
        json!({"from": node.phase, "to": forgotten, "reason": "node.delete"}),
    );
    let mut o = Outcome::ok(
        json!({"node": node.id, "deleted_edges": edges.len(), "tombstone": tomb.tombstone}),
    );
    o.subjects = vec![node.id.clone()];
    o.extra_audit.push(crate::runner::AuditDraft {
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

/// Checks that every subject of a write exists and is visible to the actor, and
/// asks policy about each: `Err` is a refusal, `Ok(Some)` means review is needed.
fn check_subjects(
    rt: &Runtime,
    op: &str,
    ctx: &CallContext,
    ids: &[String],
    what: &str,
) -> Result<Option<phase_memory_govern::Decision>, Outcome> {
    let mut review = None;
    for id in ids {
        let node = rt
            .store
            .node(id)
            .map_err(se)?
            .filter(|n| super::sees_for_read(rt, ctx, n));
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
        .edges_of(&rec.from)
        .map_err(se)?
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
    let seq = rt.store.event_head().map_err(se)? + 1;
    let event = super::new_event(
        seq,
        now,
        ctx,
        "edge.created",
        vec![edge.from.clone(), edge.to.clone()],
        json!({"type": edge.edge_type}),
    );
    let mut o = Outcome::ok(json!({"edge": edge, "created": existing.is_none()}));
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
        .edges_of(&k.from)
        .map_err(se)?
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
        if let Some(n) = rt.store.node(end).map_err(se)? {
            if !super::sees_for_read(rt, ctx, &n) {
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
    let mut o = Outcome::ok(
        json!({"edge": {"from": edge.from, "to": edge.to, "type": edge.edge_type}, "deleted": true}),
    );
    o.subjects = vec![edge.from.clone(), edge.to.clone()];
    o.change = ChangeSet {
        delete_edges: vec![edge.key()],
        ..Default::default()
    };
    Ok(o)
}

/// `event.append`.
pub(crate) fn event_append(
    rt: &mut Runtime,
    req: &Value,
    ctx: &CallContext,
    now: Time,
) -> OpResult {
    let r: EventAppendRequest = parse(req)?;
    let mut raw = r.event.clone();
    if let Value::Object(m) = &mut raw {
        m.remove("record");
        if !m.contains_key("event")
            && let Some(t) = m.remove("type")
        {
            m.insert("event".into(), t);
        }
        if !m.contains_key("at") {
            m.insert("at".into(), json!(now));
        }
    }
    let rec: EventRecord = serde_json::from_value(raw)
        .map_err(|e| Outcome::invalid("import.invalid_record", format!("event: {e}")))?;
    if rec.event.trim().is_empty() {
        return Err(Outcome::invalid(
            "import.invalid_record",
            "event type is empty",
        ));
    }
    let subjects = rec.subjects.unwrap_or_default();
    if let Some(d) = check_subjects(rt, "event.append", ctx, &subjects, "event")? {
        return Ok(hold_for_review(
            rt,
            "event.append",
            req.clone(),
            ctx,
            &d,
            subjects,
            now,
        ));
    }
    let seq = rt.store.event_head().map_err(se)? + 1;
    let actor = match rec.actor {
        Some(a) if ctx.trust_request_actor => a,
        _ => ctx.actor.id.clone(),
    };
    // A network client reports when something happened; the record is dated by
    // the service's clock (the reported time stays in the payload).
    let mut payload = rec.payload.unwrap_or(Value::Object(Default::default()));
    let at = if ctx.origin.is_remote() && rec.at != now {
        if let Value::Object(m) = &mut payload {
            m.entry("reported_at").or_insert(json!(rec.at));
        }
        now
    } else {
        rec.at
    };
    let event = Event {
        seq,
        id: rec.id.unwrap_or_else(|| format!("ev-{seq}")),
        at,
        actor,
        event_type: rec.event,
        subjects: subjects.clone(),
        payload,
    };
    let mut o = Outcome::ok(json!({"event": event}));
    o.subjects = subjects;
    o.change = ChangeSet {
        events: vec![event],
        ..Default::default()
    };
    Ok(o)
}

/// `event.query`: events naming a node the actor may not see are withheld.
pub(crate) fn event_query(
    rt: &mut Runtime,
    req: &Value,
    ctx: &CallContext,
    _now: Time,
) -> OpResult {
    let r: EventQueryRequest = parse(req)?;
    let q = EventQuery {
        after_seq: r.after_seq.unwrap_or(0),
        since: r.since,
        until: r.until,
        types: r.event_type.into_iter().collect(),
        subject: r.subject,
        limit: None,
    };
    // Filtering by a node the actor may not see finds what a missing id finds.
    if let Some(subject) = &q.subject
        && let Some(n) = rt.store.node(subject).map_err(se)?
        && !super::sees(rt, "event.query", ctx, &n)
    {
        return Ok(Outcome::ok(json!({"events": [], "withheld": {"count": 0}})));
    }
    let limit = r.limit.unwrap_or(1000);
    let mut withheld = 0u64;
    let mut out = Vec::new();
    let mut visible_cache: BTreeMap<String, bool> = BTreeMap::new();
    for e in rt.store.events(&q).map_err(se)? {
        let mut ok = true;
        for s in &e.subjects {
            let v = match visible_cache.get(s) {
                Some(v) => *v,
                None => {
                    let v = match rt.store.node(s).map_err(se)? {
                        Some(n) => super::sees(rt, "event.query", ctx, &n),
                        None => true,
                    };
                    visible_cache.insert(s.clone(), v);
                    v
                }
            };
            ok &= v;
        }
        if ok {
            if out.len() < limit {
                out.push(e);
            }
        } else {
            withheld += 1;
        }
    }
    let mut o = Outcome::ok(json!({"events": out, "withheld": {"count": withheld}}));
    if withheld > 0 {
        o.diagnostics.push(Diagnostic::info(
            "policy.withheld",
            format!("{withheld} event(s) withheld by policy"),
        ));
    }
    Ok(o)
}
