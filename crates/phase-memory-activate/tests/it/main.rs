//! Integration tests of activation: hand-built graphs that show each term of the
//! score, the policy filter inside spreading, budget packing, token counting, and
//! proptests of the invariants (budget, withheld never shown, determinism, order).

use std::collections::BTreeSet;

use phase_memory_activate::{
    ActivationInput, Cue, SeedKind, Snapshot, SnapshotBuilder, TokenCounter, Visibility,
    WorkingSet, activate, signature_similarity, simhash,
};
use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::{Direction, EdgeTypeSpec, Profile};
use proptest::prelude::*;

const HOUR: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z
const T0: i64 = 1_767_225_600_000;

fn as_of() -> Time {
    Time(T0 + 24 * HOUR)
}

fn node(id: &str, title: &str, body: &str) -> Node {
    Node {
        id: id.into(),
        kind: "fact".into(),
        phase: "active".into(),
        title: title.into(),
        body: body.into(),
        labels: vec![],
        scope: "default".into(),
        sensitivity: "internal".into(),
        attrs: Default::default(),
        created_at: Time(T0),
        updated_at: Time(T0),
        valid_from: None,
        valid_to: None,
        tokens: 10,
        tombstone: None,
        implicit_time: false,
    }
}

fn n(id: &str) -> Node {
    node(
        id,
        &format!("Title {id}"),
        &format!("body of {id} unique{id}"),
    )
}

fn edge(from: &str, to: &str, ty: &str) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        edge_type: ty.into(),
        weight: 1.0,
        attrs: Default::default(),
        created_at: Time(T0),
    }
}

fn event(seq: u64, ty: &str, at: i64, subjects: &[&str]) -> Event {
    Event {
        seq,
        id: format!("ev-{seq}"),
        at: Time(at),
        actor: "alice".into(),
        event_type: ty.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        payload: serde_json::Value::Null,
    }
}

/// A profile with an extra backward-spreading edge type `cites` (weight 1.0).
fn profile() -> Profile {
    let mut p = Profile::builtin();
    p.edge_types.insert(
        "cites".into(),
        EdgeTypeSpec {
            weight: 1.0,
            direction: Direction::Backward,
        },
    );
    p
}

fn build(p: &Profile, nodes: &[Node], edges: &[Edge], events: &[Event]) -> Snapshot {
    let mut b = SnapshotBuilder::new(p).with_generation(3);
    for x in nodes {
        b.add_node(x);
    }
    for x in edges {
        b.add_edge(x);
    }
    for x in events {
        b.add_event(x);
    }
    b.finish()
}

/// One request's knobs, with defaults that never constrain.
#[derive(Clone)]
struct Req {
    cue: Cue,
    lexical: Vec<(String, f32)>,
    budget: u64,
    limit: usize,
    include_invalid: bool,
}

fn req() -> Req {
    Req {
        cue: Cue::default(),
        lexical: vec![],
        budget: 10_000,
        limit: 100,
        include_invalid: false,
    }
}

impl Req {
    fn lexical(mut self, hits: &[(&str, f32)]) -> Self {
        self.lexical = hits.iter().map(|(a, b)| (a.to_string(), *b)).collect();
        self
    }
    fn nodes(mut self, ids: &[&str]) -> Self {
        self.cue.nodes = ids.iter().map(|s| s.to_string()).collect();
        self
    }
    fn hints(mut self, hints: &[(&str, f64)]) -> Self {
        self.cue.hints = hints.iter().map(|(a, b)| (a.to_string(), *b)).collect();
        self
    }
}

fn run_with(
    snap: &Snapshot,
    p: &Profile,
    r: &Req,
    visible: &dyn Fn(phase_memory_activate::NodeView<'_>) -> Visibility,
) -> WorkingSet {
    let input = ActivationInput {
        cue: &r.cue,
        lexical: &r.lexical,
        semantic: &[],
        budget_tokens: r.budget,
        limit: r.limit,
        as_of: as_of(),
        include_invalid: r.include_invalid,
        explain: true,
    };
    activate(snap, &p.activation, &input, visible)
}

fn run(snap: &Snapshot, p: &Profile, r: &Req) -> WorkingSet {
    run_with(snap, p, r, &|_| Visibility::Visible)
}

/// Checks the item ids of a working set, in order.
fn check(ws: &WorkingSet, expect: &[&str]) {
    let ids: Vec<&str> = ws.items.iter().map(|i| i.node.as_str()).collect();
    assert_eq!(ids, expect, "working set: {ws:#?}");
}

fn item<'a>(ws: &'a WorkingSet, id: &str) -> &'a phase_memory_activate::ActivatedItem {
    match ws.items.iter().find(|i| i.node == id) {
        Some(i) => i,
        None => panic!("{id} not in {ws:#?}"),
    }
}

fn explain<'a>(ws: &'a WorkingSet, id: &str) -> &'a phase_memory_activate::Explain {
    match &item(ws, id).explain {
        Some(e) => e,
        None => panic!("no explain for {id}"),
    }
}

#[test]
fn lexical_seeds_are_normalised_by_the_top_score() {
    let p = profile();
    let s = build(&p, &[n("a"), n("b"), n("c")], &[], &[]);
    let ws = run(
        &s,
        &p,
        &req().lexical(&[("b", 4.0), ("a", 8.0), ("ghost", 2.0)]),
    );
    check(&ws, &["a", "b"]);
    assert_eq!(explain(&ws, "a").seed, 1.0);
    assert_eq!(explain(&ws, "b").seed, 0.5);
    let src = &explain(&ws, "b").seed_sources;
    assert_eq!(src.len(), 1);
    assert_eq!(src[0].kind, SeedKind::Lexical);
    assert_eq!(src[0].raw, 4.0);
    assert_eq!(ws.considered, 2);
    assert_eq!(ws.budget_used, 20);
    // The base level is small and bounded: one creation a day ago.
    let b = explain(&ws, "a").base_level.expect("created before as_of");
    assert!((b - (-(86_400f64.ln()) / 2.0)).abs() < 1e-5, "{b}");
    assert!(item(&ws, "a").score > 1.0 && item(&ws, "a").score < 1.01);
}

#[test]
fn explicit_nodes_seed_at_one() {
    let p = profile();
    let s = build(&p, &[n("a"), n("b"), n("c")], &[], &[]);
    let ws = run(
        &s,
        &p,
        &req()
            .lexical(&[("a", 3.0), ("b", 1.0)])
            .nodes(&["c", "nope"]),
    );
    // a and c both have seed 1.0 and the same history: the tie breaks by id.
    check(&ws, &["a", "c", "b"]);
    assert_eq!(explain(&ws, "c").seed_sources[0].kind, SeedKind::Explicit);
}

#[test]
fn hints_reorder_lexical_matches() {
    let p = profile();
    let s = build(&p, &[n("a"), n("b"), n("c")], &[], &[]);
    let plain = req().lexical(&[("a", 10.0), ("b", 5.0), ("c", 2.0)]);
    check(&run(&s, &p, &plain), &["a", "b", "c"]);
    // hint 0.9 × hint_weight 0.8 = 0.72 beats b's 0.5; the seed is the max of sources.
    let hinted = plain.clone().hints(&[("c", 0.9), ("b", 0.1)]);
    let ws = run(&s, &p, &hinted);
    check(&ws, &["a", "c", "b"]);
    assert!((explain(&ws, "c").seed - 0.72).abs() < 1e-9);
    assert_eq!(explain(&ws, "c").seed_sources.len(), 2);
    assert_eq!(explain(&ws, "b").seed, 0.5);
}

#[test]
fn event_path_seeds_weigh_recent_observations_more() {
    let p = profile();
    let now = as_of().millis();
    let events = [
        event(1, "observation", now - HOUR, &["recent"]),
        event(2, "node.accessed", now - 72 * HOUR, &["older"]),
        event(3, "observation", now - 500 * HOUR, &["before-window"]),
        event(4, "observation", now + HOUR, &["future"]),
        event(5, "node.updated", now - HOUR, &["updated"]),
    ];
    let nodes: Vec<Node> = ["recent", "older", "before-window", "future", "updated"]
        .iter()
        .map(|id| n(id))
        .collect();
    let s = build(&p, &nodes, &[], &events);
    let mut r = req();
    r.cue.events_since = Some(Time(now - 200 * HOUR));
    let ws = run(&s, &p, &r);
    check(&ws, &["recent", "older"]);
    // 72 h = one half-life: 0.5 × event_weight 0.6.
    assert!((explain(&ws, "older").seed - 0.3).abs() < 1e-6);
    assert_eq!(explain(&ws, "older").seed_sources[0].kind, SeedKind::Event);
    // No events_since: no event seeds.
    check(&run(&s, &p, &req()), &[]);
}

#[test]
fn base_level_counts_accesses_and_reorders_ties() {
    let p = profile();
    let now = as_of().millis();
    let events = [
        event(1, "node.accessed", now - HOUR, &["b"]),
        event(2, "node.accessed", now - 2 * HOUR, &["b"]),
    ];
    let s = build(&p, &[n("a"), n("b")], &[], &events);
    let ws = run(&s, &p, &req().lexical(&[("a", 2.0), ("b", 2.0)]));
    check(&ws, &["b", "a"]);
    assert!(explain(&ws, "b").base_level > explain(&ws, "a").base_level);
    // The base level alone never makes a candidate.
    assert_eq!(ws.considered, 2);
}

#[test]
fn spreading_follows_typed_edges_and_their_direction() {
    let p = profile();
    let nodes: Vec<Node> = ["a", "b", "c", "old", "new", "paper", "source", "x"]
        .iter()
        .map(|id| n(id))
        .collect();
    let edges = [
        edge("a", "b", "relates_to"),
        edge("b", "c", "relates_to"),
        edge("new", "old", "supersedes"), // forward only
        edge("paper", "source", "cites"), // backward only: source → paper
        edge("a", "ghost", "relates_to"), // unknown node: ignored
        edge("a", "x", "undeclared"),     // undeclared type: ignored
    ];
    let s = build(&p, &nodes, &edges, &[]);
    assert_eq!(s.node_count(), 8);
    // relates_to ×2 (both ways), supersedes ×1, cites ×1.
    assert_eq!(s.edge_count(), 6);

    let ws = run(&s, &p, &req().nodes(&["a"]));
    check(&ws, &["a", "b", "c"]);
    // b: 1.0 × hop_decay 0.5 × weight 0.6 / out-degree 1 = 0.3.
    assert!((explain(&ws, "b").spread - 0.3).abs() < 1e-9);
    // c: 0.3 × 0.5 × 0.6 / out-degree of b (2) = 0.045.
    assert!((explain(&ws, "c").spread - 0.045).abs() < 1e-9);
    assert_eq!(explain(&ws, "c").path, ["a", "b", "c"]);
    assert_eq!(explain(&ws, "a").path, ["a"]);
    assert_eq!(explain(&ws, "a").spread, 0.0, "no echo back to the seed");

    check(&run(&s, &p, &req().nodes(&["new"])), &["new", "old"]);
    check(&run(&s, &p, &req().nodes(&["old"])), &["old"]);
    check(
        &run(&s, &p, &req().nodes(&["source"])),
        &["source", "paper"],
    );
    check(&run(&s, &p, &req().nodes(&["paper"])), &["paper"]);

    let mut one_hop = p.clone();
    one_hop.activation.max_hops = 1;
    check(&run(&s, &one_hop, &req().nodes(&["a"])), &["a", "b"]);
    let mut high = p.clone();
    high.activation.spread_threshold = 0.1;
    check(&run(&s, &high, &req().nodes(&["a"])), &["a", "b"]);
}

#[test]
fn a_strong_direct_match_is_not_outranked_by_second_hand_activation() {
    let p = profile();
    let mut nodes = vec![n("direct"), n("hub")];
    let mut edges = vec![];
    let mut hits = vec![("direct".to_string(), 10.0f32)];
    for k in 0..20 {
        let id = format!("s{k:02}");
        nodes.push(n(&id));
        edges.push(edge(&id, "hub", "part_of"));
        hits.push((id, 9.5));
    }
    let s = build(&p, &nodes, &edges, &[]);
    let mut r = req();
    r.lexical = hits;
    let ws = run(&s, &p, &r);
    assert_eq!(ws.items[0].node, "direct");
    let hub = item(&ws, "hub");
    assert!(hub.score < 0.5, "hub {}", hub.score);
}

#[test]
fn phase_weight_scales_and_zero_weight_neither_appears_nor_spreads() {
    let p = profile();
    let mut dormant = n("dormant");
    dormant.phase = "dormant".into();
    let mut gone = n("gone");
    gone.phase = "forgotten".into();
    let mut odd = n("odd");
    odd.phase = "undeclared-phase".into();
    let nodes = [n("active"), dormant, gone, odd, n("behind")];
    let edges = [edge("gone", "behind", "relates_to")];
    let s = build(&p, &nodes, &edges, &[]);
    let ws = run(
        &s,
        &p,
        &req()
            .lexical(&[("dormant", 5.0), ("active", 5.0), ("odd", 5.0)])
            .nodes(&["gone"]),
    );
    check(&ws, &["active", "dormant"]);
    assert_eq!(explain(&ws, "dormant").phase_weight, 0.5);
    let ratio = item(&ws, "dormant").score / item(&ws, "active").score;
    assert!((ratio - 0.5).abs() < 1e-4);
    assert!(ws.withheld.is_empty());
}

#[test]
fn validity_at_as_of_unless_include_invalid() {
    let p = profile();
    let mut expired = n("expired");
    expired.valid_to = Some(Time(as_of().millis() - HOUR));
    let mut future = n("future");
    future.valid_from = Some(Time(as_of().millis() + HOUR));
    let mut current = n("current");
    current.valid_from = Some(Time(T0));
    current.valid_to = Some(Time(as_of().millis() + 1));
    let s = build(&p, &[expired, future, current], &[], &[]);
    let mut r = req().nodes(&["expired", "future", "current"]);
    check(&run(&s, &p, &r), &["current"]);
    r.include_invalid = true;
    check(&run(&s, &p, &r), &["current", "expired", "future"]);
}

#[test]
fn a_withheld_bridge_blocks_spreading_through_it() {
    let p = profile();
    let mut bridge = n("bridge");
    bridge.sensitivity = "secret".into();
    let mut other = n("other-secret");
    other.sensitivity = "secret".into();
    let nodes = [n("a"), bridge, n("c"), other];
    let edges = [
        edge("a", "bridge", "relates_to"),
        edge("bridge", "c", "relates_to"),
    ];
    let s = build(&p, &nodes, &edges, &[]);
    let r = req().nodes(&["a"]).lexical(&[("other-secret", 1.0)]);
    check(&run(&s, &p, &r), &["a", "other-secret", "bridge", "c"]);
    let deny = |v: phase_memory_activate::NodeView<'_>| {
        if v.sensitivity() == "secret" {
            Visibility::Withheld("secret-owner-only".into())
        } else {
            Visibility::Visible
        }
    };
    let ws = run_with(&s, &p, &r, &deny);
    check(&ws, &["a"]);
    assert_eq!(ws.withheld_count, 2);
    assert_eq!(ws.withheld.get("secret-owner-only"), Some(&2));
    let json = serde_json::to_string(&ws).expect("json");
    assert!(!json.contains("bridge") && !json.contains("other-secret"));
}

#[test]
fn packing_respects_budget_and_limit_and_counts_what_did_not_fit() {
    let p = profile();
    let mut big = n("a-big");
    big.tokens = 80;
    let mut mid = n("b-mid");
    mid.tokens = 30;
    let mut small = n("c-small");
    small.tokens = 15;
    let s = build(&p, &[big, mid, small], &[], &[]);
    let mut r = req().lexical(&[("a-big", 9.0), ("b-mid", 8.0), ("c-small", 7.0)]);
    r.budget = 50;
    let ws = run(&s, &p, &r);
    check(&ws, &["b-mid", "c-small"]);
    assert_eq!(
        (ws.budget_used, ws.budget_limit, ws.not_fitted),
        (45, 50, 1)
    );
    r.budget = 1000;
    r.limit = 1;
    let ws = run(&s, &p, &r);
    check(&ws, &["a-big"]);
    assert_eq!(ws.not_fitted, 0);
    r.budget = 0;
    r.limit = 10;
    let ws = run(&s, &p, &r);
    check(&ws, &[]);
    assert_eq!((ws.not_fitted, ws.considered), (3, 3));
}

#[test]
fn near_duplicates_are_penalised_and_requeued() {
    let p = profile();
    let text =
        "the quarterly sales report for the northern region shows growth in every product line";
    let a = node("a", "Sales report", text);
    let b = node("b", "Sales report", &format!("{text} again"));
    let c = node("c", "Weather", "rain is expected tomorrow in the hills");
    assert!(signature_similarity(simhash(&a.title, &a.body), simhash(&b.title, &b.body)) > 0.85);
    assert!(signature_similarity(simhash(&a.title, &a.body), simhash(&c.title, &c.body)) < 0.85);
    let s = build(&p, &[a, b, c], &[], &[]);
    let ws = run(
        &s,
        &p,
        &req().lexical(&[("a", 10.0), ("b", 9.9), ("c", 7.0)]),
    );
    // b (0.99) × penalty 0.5 falls below c (0.7).
    check(&ws, &["a", "c", "b"]);
    assert_eq!(explain(&ws, "b").redundancy_penalty, 0.5);
    assert_eq!(explain(&ws, "a").redundancy_penalty, 1.0);
}

#[test]
fn snapshot_is_independent_of_insertion_order() {
    let p = profile();
    let nodes: Vec<Node> = (0..30).map(|k| n(&format!("n{k}"))).collect();
    let edges: Vec<Edge> = (0..30)
        .map(|k| {
            edge(
                &format!("n{k}"),
                &format!("n{}", (k * 7 + 3) % 30),
                "relates_to",
            )
        })
        .collect();
    let s1 = build(&p, &nodes, &edges, &[]);
    let rev_nodes: Vec<Node> = nodes.iter().rev().cloned().collect();
    let rev_edges: Vec<Edge> = edges.iter().rev().cloned().collect();
    // Edges before nodes, reversed.
    let mut b = SnapshotBuilder::new(&p).with_generation(3);
    for e in &rev_edges {
        b.add_edge(e);
    }
    for x in &rev_nodes {
        b.add_node(x);
    }
    let s2 = b.finish();
    assert_eq!(s1.generation(), 3);
    assert_eq!(s1.node_count(), s2.node_count());
    assert_eq!(s1.index_of("n10"), s2.index_of("n10"));
    assert_eq!(s1.index_of("missing"), None);
    let r = req().nodes(&["n0", "n5"]).lexical(&[("n9", 3.0)]);
    assert_eq!(run(&s1, &p, &r), run(&s2, &p, &r));
    let view = s1.node(s1.index_of("n3").expect("n3")).expect("view");
    assert_eq!(
        (
            view.id(),
            view.kind(),
            view.phase(),
            view.scope(),
            view.tokens()
        ),
        ("n3", "fact", "active", "default", 10)
    );
}

#[test]
fn node_view_exposes_labels_and_missing_tokens_are_counted() {
    let p = profile();
    let mut x = node("x", "Hello", "world");
    x.tokens = 0;
    x.labels = vec!["b".into(), "a".into()];
    let s = build(&p, &[x], &[], &[]);
    let v = s.node(0).expect("node");
    assert_eq!(v.labels().collect::<Vec<_>>(), ["b", "a"]);
    assert!(v.has_label("a") && !v.has_label("c"));
    assert_eq!(v.tokens(), 3, "\"Hello\\n\\nworld\" in o200k_base");
}

#[test]
fn working_set_serialises_for_envelopes() {
    let p = profile();
    let s = build(&p, &[n("a")], &[], &[]);
    let ws = run(&s, &p, &req().nodes(&["a"]));
    let v = serde_json::to_value(&ws).expect("json");
    assert_eq!(v["items"][0]["node"], "a");
    assert_eq!(
        v["items"][0]["explain"]["seed_sources"][0]["kind"],
        "explicit"
    );
    assert_eq!(v["items"][0]["explain"]["path"][0], "a");
    assert_eq!(v["budget_used"], 10);
}

#[test]
fn token_counters() {
    let o = TokenCounter::new("o200k_base").expect("o200k");
    let c = TokenCounter::new("cl100k_base").expect("cl100k");
    let q = TokenCounter::new("chars4").expect("chars4");
    assert_eq!(o.count("hello world"), 2);
    assert_eq!(c.count("hello world"), 2);
    assert_eq!(o.count(""), 0);
    assert_eq!(q.count("hello"), 2);
    assert_eq!(q.count("héllo wörld!"), 3);
    assert!(
        o.count("<|endoftext|>") > 1,
        "special markers count as text"
    );
    assert!(TokenCounter::new("gpt2-ish").is_err());
    // Shared: a second handle is cheap and equal.
    assert_eq!(
        TokenCounter::new("o200k_base")
            .expect("again")
            .count("hello world"),
        2
    );
}

// ---- invariants over random graphs, cues and policies ----

#[derive(Clone, Debug)]
struct World {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    events: Vec<Event>,
    hits: Vec<(String, f32)>,
    explicit: Vec<String>,
    hints: Vec<(String, f64)>,
    withheld: BTreeSet<String>,
    budget: u64,
    limit: usize,
}

const TYPES: [&str; 5] = ["relates_to", "part_of", "supersedes", "cites", "mentions"];
const PHASES: [&str; 5] = ["captured", "active", "dormant", "archived", "forgotten"];

fn world() -> impl Strategy<Value = World> {
    (2usize..40).prop_flat_map(|count| {
        let id = move || (0..count).prop_map(|k| format!("n{k:02}"));
        (
            prop::collection::vec((1u32..60, 0usize..5, any::<bool>(), 0u8..6), count),
            prop::collection::vec((id(), id(), 0usize..5, 0.1f64..2.0), 0..count * 3),
            prop::collection::vec((id(), 0i64..48), 0..count),
            prop::collection::vec((id(), 0.1f32..20.0), 0..count),
            prop::collection::vec(id(), 0..3),
            prop::collection::vec((id(), 0.0f64..1.0), 0..4),
            prop::collection::btree_set(id(), 0..count / 2 + 1),
            (0u64..300, 0usize..12),
        )
            .prop_map(
                move |(specs, edges, events, hits, explicit, hints, withheld, (budget, limit))| {
                    let nodes = specs
                        .iter()
                        .enumerate()
                        .map(|(k, &(tokens, phase, invalid, text))| {
                            let mut x = node(
                                &format!("n{k:02}"),
                                &format!("title {}", text),
                                &format!("shared words {} {}", text, text % 3),
                            );
                            x.tokens = tokens;
                            x.phase = PHASES[phase].into();
                            if invalid {
                                x.valid_to = Some(Time(T0));
                            }
                            x
                        })
                        .collect();
                    World {
                        nodes,
                        edges: edges
                            .into_iter()
                            .map(|(a, b, t, w)| {
                                let mut e = edge(&a, &b, TYPES[t]);
                                e.weight = w;
                                e
                            })
                            .collect(),
                        events: events
                            .into_iter()
                            .enumerate()
                            .map(|(k, (id, h))| {
                                event(
                                    k as u64 + 1,
                                    "observation",
                                    as_of().millis() - h * HOUR,
                                    &[&id],
                                )
                            })
                            .collect(),
                        hits,
                        explicit,
                        hints,
                        withheld,
                        budget,
                        limit,
                    }
                },
            )
    })
}

fn run_world(w: &World, s: &Snapshot, p: &Profile) -> WorkingSet {
    let cue = Cue {
        text: Some("anything".into()),
        nodes: w.explicit.clone(),
        hints: w.hints.clone(),
        events_since: Some(Time(as_of().millis() - 30 * HOUR)),
    };
    let input = ActivationInput {
        cue: &cue,
        lexical: &w.hits,
        semantic: &[],
        budget_tokens: w.budget,
        limit: w.limit,
        as_of: as_of(),
        include_invalid: false,
        explain: true,
    };
    let visible = |v: phase_memory_activate::NodeView<'_>| {
        if w.withheld.contains(v.id()) {
            Visibility::Withheld(format!("rule-{}", v.id().len() % 2))
        } else {
            Visibility::Visible
        }
    };
    activate(s, &p.activation, &input, &visible)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn activation_invariants(w in world()) {
        let p = profile();
        let s = build(&p, &w.nodes, &w.edges, &w.events);
        let ws = run_world(&w, &s, &p);

        // The budget is never exceeded, and used = the items' tokens.
        prop_assert!(ws.budget_used <= w.budget);
        prop_assert_eq!(ws.budget_used, ws.items.iter().map(|i| u64::from(i.tokens)).sum::<u64>());
        prop_assert!(ws.items.len() <= w.limit);

        // Withheld nodes never appear, not even on a path.
        for it in &ws.items {
            prop_assert!(!w.withheld.contains(&it.node));
            let ex = it.explain.as_ref().expect("explain");
            for hop in &ex.path {
                prop_assert!(!w.withheld.contains(hop), "{} on path {:?}", hop, ex.path);
            }
            prop_assert_eq!(ex.path.last(), Some(&it.node));
        }
        prop_assert_eq!(ws.withheld.values().sum::<u64>(), ws.withheld_count);
        prop_assert!(ws.withheld_count <= w.withheld.len() as u64);

        // Forgotten and invalid nodes never appear.
        for it in &ws.items {
            let x = w.nodes.iter().find(|x| x.id == it.node).expect("known node");
            prop_assert!(x.phase != "forgotten" && x.valid_to.is_none());
        }

        // Descending score, ties by id.
        for pair in ws.items.windows(2) {
            prop_assert!(
                pair[0].score > pair[1].score
                    || (pair[0].score == pair[1].score && pair[0].node < pair[1].node),
                "{:?}", pair
            );
        }

        // Deterministic: two runs, and a snapshot built in another order, agree.
        prop_assert_eq!(&ws, &run_world(&w, &s, &p));
        let mut rev = w.clone();
        rev.nodes.reverse();
        rev.edges.reverse();
        rev.events.reverse();
        let s2 = build(&p, &rev.nodes, &rev.edges, &rev.events);
        prop_assert_eq!(&ws, &run_world(&w, &s2, &p));
    }
}
mod incremental;
mod persist;
mod tokens;
