//! `graph.import` and `graph.export`: the whole graph in the interchange format
//! (JSONL node, edge and event records), all-or-nothing on import.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use phase_memory_govern::{Decision, Target};
use phase_memory_model::interchange::{EdgeRecord, EventRecord, NodeRecord};
use phase_memory_model::{
    Diagnostic, Edge, Event, ImportRecord, Node, Status, Time, canonical_json_exact, parse_record,
    validate_id,
};
use phase_memory_profile::Effect;
use phase_memory_store::ChangeSet;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::{Value, json};

use super::support::{self, check_operation, effect, hold_for_review, parse, resolve_node};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::request::*;
use crate::response::{Counts, GraphExport, GraphImport};
use crate::state::Runtime;

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

#[derive(Default)]
struct Parsed {
    nodes: Vec<(usize, NodeRecord)>,
    edges: Vec<(usize, EdgeRecord)>,
    events: Vec<(usize, EventRecord)>,
}

impl Parsed {
    fn push(&mut self, line: usize, r: ImportRecord) {
        match r {
            ImportRecord::Node(n) => self.nodes.push((line, n)),
            ImportRecord::Edge(e) => self.edges.push((line, e)),
            ImportRecord::Event(e) => self.events.push((line, e)),
        }
    }

    /// Adds the records of `later` (which follow these in the file).
    fn append(&mut self, mut later: Parsed) {
        self.nodes.append(&mut later.nodes);
        self.edges.append(&mut later.edges);
        self.events.append(&mut later.events);
    }
}

fn read_records(req: &ImportRequest, ctx: &CallContext) -> Result<(String, Parsed), Outcome> {
    let mut parsed = Parsed::default();
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
            // Parsed in parallel straight into the three lists (each record kept
            // once, at its own size), in file order; the first error in file
            // order is the refusal.
            let done = AtomicU64::new(0);
            let (chunk, error) = lines
                .par_iter()
                .fold(
                    || (Parsed::default(), None),
                    |(mut acc, mut error): (Parsed, Option<phase_memory_model::ImportError>),
                     (n, l)| {
                        if error.is_none() {
                            match parse_record(l, *n) {
                                Ok(r) => acc.push(*n, r),
                                Err(e) => error = Some(e),
                            }
                        }
                        let i = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if let Some(p) = &ctx.progress
                            && (i.is_multiple_of(10_000) || i == total)
                        {
                            p(i, total);
                        }
                        (acc, error)
                    },
                )
                .reduce(
                    || (Parsed::default(), None),
                    |(mut a, ea), (b, eb)| {
                        // `a` precedes `b` in the file: its error comes first.
                        match ea {
                            Some(e) => (a, Some(e)),
                            None => {
                                a.append(b);
                                (a, eb)
                            }
                        }
                    },
                );
            if let Some(e) = error {
                return Err(bad(path, e));
            }
            parsed = chunk;
            Ok((path.clone(), parsed))
        }
        (None, Some(records)) => {
            for (i, v) in records.iter().enumerate() {
                let text = serde_json::to_string(v).unwrap_or_default();
                match parse_record(&text, i + 1) {
                    Ok(r) => parsed.push(i + 1, r),
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

/// `graph.import`: all-or-nothing. Read the records, resolve and validate them
/// against the profile and the store, decide policy for every node, then commit
/// them in one change set (or hold the whole import for review).
pub(crate) fn import(rt: &mut Runtime, req: &Value, ctx: &CallContext, now: Time) -> OpResult {
    let r: ImportRequest = parse(req)?;
    let op_review = check_operation(rt, "graph.import", ctx)?;
    let (origin, parsed) = read_records(&r, ctx)?;
    refuse_duplicate_nodes(&parsed.nodes, &origin)?;
    // An empty store has no node to look up: importing into it (the common
    // case, and the bulk one) asks the store nothing per record.
    let empty = rt.store.node_count()? == 0;
    let nodes = resolve_nodes(rt, parsed.nodes, &origin, now, empty)?;
    let edges = resolve_edges(rt, parsed.edges, &nodes, &origin, now, empty)?;
    let events = resolve_events(rt, &parsed.events, &origin, ctx)?;
    if let Some(d) = decide_import(rt, ctx, &nodes, op_review)? {
        let records = held_records(&nodes, &edges, &events);
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
    let mut o = Outcome::ok_with(&GraphImport {
        nodes: nodes.len() as u64,
        edges: edges.len() as u64,
        events: events.len() as u64,
        source: origin,
    });
    o.details = o.data.clone();
    // The nodes go to the store once; the index reads them from the change set.
    o.index.upsert_put_nodes = true;
    o.change = ChangeSet {
        put_nodes: nodes,
        put_edges: edges,
        events,
        ..Default::default()
    };
    Ok(o)
}

/// A refusal of one record of the import, located at its line.
fn refused(origin: &str, line: usize, code: &str, message: String) -> Outcome {
    Outcome::fail(
        Status::Invalid,
        Diagnostic::error(code, format!("line {line}: {message}")).at(at(origin, line)),
    )
}

/// A node id defined twice is refused (naming both lines).
fn refuse_duplicate_nodes(nodes: &[(usize, NodeRecord)], origin: &str) -> Result<(), Outcome> {
    let mut first_line: FxHashMap<&str, usize> =
        FxHashMap::with_capacity_and_hasher(nodes.len(), Default::default());
    for (line, n) in nodes {
        if let Some(prev) = first_line.insert(n.id.as_str(), *line) {
            return Err(refused(
                origin,
                *line,
                "import.invalid_record",
                format!("node {:?} is defined twice (first at line {prev})", n.id),
            ));
        }
    }
    Ok(())
}

/// Nodes with the profile's defaults (an existing node supplies its own), in
/// parallel; the first invalid record in file order is the refusal.
fn resolve_nodes(
    rt: &Runtime,
    records: Vec<(usize, NodeRecord)>,
    origin: &str,
    now: Time,
    empty_store: bool,
) -> Result<Vec<Node>, Outcome> {
    let resolved: Vec<Result<Node, Outcome>> = records
        .into_par_iter()
        .map(|(line, rec)| {
            let existing = if empty_store {
                None
            } else {
                rt.store.node(&rec.id).ok().flatten()
            };
            resolve_node(rt, rec, existing.as_ref(), now, true)
                .map_err(|(code, msg)| refused(origin, line, code, msg))
        })
        .collect();
    resolved.into_iter().collect()
}

/// Edges: declared types, finite weights, both ends in the file or the store;
/// resolved in parallel, the first invalid record in file order is the refusal.
fn resolve_edges(
    rt: &Runtime,
    records: Vec<(usize, EdgeRecord)>,
    nodes: &[Node],
    origin: &str,
    now: Time,
    empty_store: bool,
) -> Result<Vec<Edge>, Outcome> {
    let in_file: FxHashMap<&str, Time> = nodes
        .iter()
        .map(|n| (n.id.as_str(), n.created_at))
        .collect();
    let at = EdgeContext {
        rt,
        in_file: &in_file,
        origin,
        now,
        empty_store,
    };
    let resolved: Vec<Result<Edge, Box<Outcome>>> = records
        .into_par_iter()
        .map(|(line, e)| at.resolve(line, e))
        .collect();
    resolved
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|o| *o)
}

/// What resolving one edge record needs.
struct EdgeContext<'a> {
    rt: &'a Runtime,
    /// The file's nodes and their creation times.
    in_file: &'a FxHashMap<&'a str, Time>,
    origin: &'a str,
    now: Time,
    /// The store holds no node (nothing to look up).
    empty_store: bool,
}

impl EdgeContext<'_> {
    /// The edge of the record at `line`, or its refusal.
    fn resolve(&self, line: usize, e: EdgeRecord) -> Result<Edge, Box<Outcome>> {
        let refuse =
            |code: &str, message: String| Box::new(refused(self.origin, line, code, message));
        if !self.rt.profile.edge_types.contains_key(&e.edge_type) {
            return Err(refuse(
                "graph.unknown_edge_type",
                format!("unknown edge type {:?}", e.edge_type),
            ));
        }
        let mut times = [None, None];
        for (k, end) in [&e.from, &e.to].into_iter().enumerate() {
            if validate_id(end).is_err() {
                return Err(refuse("graph.invalid_id", "invalid node id in edge".into()));
            }
            let known = match self.in_file.get(end.as_str()) {
                Some(t) => Some(*t),
                None if self.empty_store => None,
                None => self
                    .rt
                    .store
                    .node(end)
                    .map_err(|err| Box::new(Outcome::from(err)))?
                    .map(|n| n.created_at),
            };
            times[k] = known;
            if known.is_none() {
                return Err(refuse(
                    "graph.missing_reference",
                    format!(
                        "edge {} -> {} names node {end:?}, which exists neither in the file nor in the store; nothing was imported",
                        e.from, e.to
                    ),
                ));
            }
        }
        let weight = e.weight.unwrap_or(1.0);
        if !weight.is_finite() {
            return Err(refuse(
                "import.invalid_record",
                "edge weight must be finite".into(),
            ));
        }
        let created_at = e
            .created_at
            .or_else(|| default_edge_time(times[0], times[1]))
            .unwrap_or(self.now);
        Ok(Edge {
            from: e.from,
            to: e.to,
            edge_type: e.edge_type,
            weight,
            attrs: e.attrs.unwrap_or_default(),
            created_at,
        })
    }
}

/// Events, appended in file order after the store's current head.
fn resolve_events(
    rt: &Runtime,
    records: &[(usize, EventRecord)],
    origin: &str,
    ctx: &CallContext,
) -> Result<Vec<Event>, Outcome> {
    let head = rt.store.event_head()?;
    let mut events = Vec::with_capacity(records.len());
    for (seq, (line, e)) in (head + 1..).zip(records) {
        if e.event.trim().is_empty() {
            return Err(refused(
                origin,
                *line,
                "import.invalid_record",
                "event type is empty".into(),
            ));
        }
        let subjects = e.subjects.clone().unwrap_or_default();
        if subjects.iter().any(|s| validate_id(s).is_err()) {
            return Err(refused(
                origin,
                *line,
                "graph.invalid_id",
                "invalid subject id".into(),
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
    Ok(events)
}

/// Policy for the whole import: scope and rules per node, then admission. Any
/// denial refuses everything (counted per rule, never naming a node);
/// `Ok(Some)` is the first decision that asks for review.
fn decide_import(
    rt: &Runtime,
    ctx: &CallContext,
    nodes: &[Node],
    op_review: Option<Decision>,
) -> Result<Option<Decision>, Outcome> {
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
        let checks = std::iter::once((d, "default")).chain(admitted.map(|a| (a, "admission")));
        for (d, fallback) in checks {
            match effect(&d, ctx) {
                Effect::Deny => {
                    *denials
                        .entry(d.rule_id.clone().unwrap_or_else(|| fallback.into()))
                        .or_default() += 1
                }
                Effect::Review => review = review.or(Some(d)),
                Effect::Allow => {}
            }
        }
    }
    if denials.is_empty() {
        return Ok(review);
    }
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
    Err(o)
}

/// The records a held import keeps for its review, as interchange records.
fn held_records(nodes: &[Node], edges: &[Edge], events: &[Event]) -> Vec<Value> {
    let as_value = |line: String| serde_json::from_str(&line).unwrap_or(Value::Null);
    nodes
        .iter()
        .map(|n| as_value(export_node(n)))
        .chain(edges.iter().map(|e| as_value(export_edge(e, None))))
        .chain(events.iter().map(|e| as_value(export_event(e))))
        .collect()
}

/// The interchange text of the graph (nodes by id, edges by key, events by seq)
/// as `ctx`'s actor may see it (everything when `None`):
/// nodes it may see, edges between two of them, events whose every subject is
/// one of them (or names no stored node). Withheld records are counted.
pub(crate) fn graph_jsonl_for(
    rt: &Runtime,
    ctx: Option<&CallContext>,
) -> Result<(String, Counts), Outcome> {
    let mut out = String::new();
    let (mut n, mut e, mut v) = (0usize, 0usize, 0usize);
    let mut withheld = 0usize;
    let mut created: std::collections::HashMap<String, Time> = std::collections::HashMap::new();
    let mut hidden: std::collections::HashSet<String> = std::collections::HashSet::new();
    rt.store.for_each_node(&mut |x| {
        if let Some(c) = ctx
            && !support::sees(rt, "graph.export", c, x)
        {
            hidden.insert(x.id.clone());
            withheld += 1;
            return;
        }
        out.push_str(&export_node(x));
        out.push('\n');
        created.insert(x.id.clone(), x.created_at);
        n += 1;
    })?;
    rt.store.for_each_edge(&mut |x| {
        if hidden.contains(&x.from) || hidden.contains(&x.to) {
            withheld += 1;
            return;
        }
        let default = default_edge_time(created.get(&x.from).copied(), created.get(&x.to).copied());
        out.push_str(&export_edge(x, default));
        out.push('\n');
        e += 1;
    })?;
    rt.store.for_each_event(&mut |x| {
        if x.subjects.iter().any(|s| hidden.contains(s)) {
            withheld += 1;
            return;
        }
        out.push_str(&export_event(x));
        out.push('\n');
        v += 1;
    })?;
    let counts = Counts {
        nodes: n as u64,
        edges: e as u64,
        events: v as u64,
        withheld: ctx.is_some().then_some(withheld as u64),
    };
    Ok((out, counts))
}

/// `graph.export`.
pub(crate) fn export(rt: &mut Runtime, req: &Value, ctx: &CallContext, _now: Time) -> OpResult {
    let r: ExportRequest = parse(req)?;
    if let Some(d) = check_operation(rt, "graph.export", ctx)? {
        return Err(support::denied(&d, "graph.export (held for review)"));
    }
    let filter = (!support::is_admin(rt, ctx)).then_some(ctx);
    let (text, counts) = graph_jsonl_for(rt, filter)?;
    let details = json!({ "counts": &counts });
    let (path, jsonl) = match &r.path {
        Some(p) => {
            let target = crate::files::resolve(ctx, p, crate::files::Access::Write)?;
            crate::files::write_text(&target, &text)?;
            (Some(p.clone()), None)
        }
        None => (None, Some(text)),
    };
    let mut o = Outcome::ok_with(&GraphExport {
        counts,
        path,
        jsonl,
    });
    o.details = details;
    Ok(o)
}
