//! Lifecycle planning: each condition at different dates, rule order, review flag,
//! legal hold, skipped nodes.

use std::collections::BTreeSet;

use phase_memory_govern::{NodeFacts, Plan, Transition, plan};
use phase_memory_model::{Edge, Event, Node, Time};
use serde_json::json;

use crate::{node, profile, t};

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Facts with accesses at the given dates (creation 2026-01-01 included).
fn accessed(dates: &[&str]) -> NodeFacts {
    let mut f = NodeFacts {
        access_times: vec![t("2026-01-01")],
        ..NodeFacts::default()
    };
    for d in dates {
        f.access_times.push(t(d));
        f.access_count += 1;
        f.last_access = Some(t(d));
    }
    f
}

/// One rule `r: active → dormant when {when}` on one active fact; does it fire at `as_of`?
fn check(when: &str, labels: &[&str], facts: NodeFacts, as_of: &str, fires: bool) {
    let p = profile(&format!(
        "[[lifecycle]]\nid = \"r\"\nfrom = [\"active\"]\nto = \"dormant\"\nwhen = {{ {when} }}\n"
    ));
    let mut x = node("n1", "fact", "active");
    x.labels = labels.iter().map(|s| s.to_string()).collect();
    let got = plan(&p, &[&x], &|_| facts.clone(), t(as_of));
    let want = if fires {
        vec![Transition {
            node: "n1".into(),
            from: "active".into(),
            to: "dormant".into(),
            rule_id: "r".into(),
            review: false,
        }]
    } else {
        vec![]
    };
    assert_eq!(got.transitions, want, "{when} at {as_of}");
    assert!(got.blocked.is_empty());
}

#[test]
fn each_condition_fires_and_does_not() {
    age_and_idle_conditions();
    access_conditions();
    edge_conditions();
    event_label_and_combined_conditions();
}

fn age_and_idle_conditions() {
    let none = NodeFacts::default;
    // Age: created 2026-01-01; 30 days is not more than 30.
    check("age_days_gt = 30", &[], none(), "2026-01-31", false);
    check(
        "age_days_gt = 30",
        &[],
        none(),
        "2026-01-31T00:00:01Z",
        true,
    );
    check("age_days_gt = 30", &[], none(), "2026-03-01", true);
    check(
        "age_days_gt = 0.5",
        &[],
        none(),
        "2026-01-01T11:00:00Z",
        false,
    );
    check(
        "age_days_gt = 0.5",
        &[],
        none(),
        "2026-01-01T13:00:00Z",
        true,
    );
    // Idle: since the last access, or creation when never accessed.
    check(
        "idle_days_gt = 10",
        &[],
        accessed(&["2026-01-20"]),
        "2026-01-30",
        false,
    );
    check(
        "idle_days_gt = 10",
        &[],
        accessed(&["2026-01-20"]),
        "2026-01-31",
        true,
    );
    check("idle_days_gt = 10", &[], accessed(&[]), "2026-01-11", false);
    check("idle_days_gt = 10", &[], accessed(&[]), "2026-01-12", true);
}

fn access_conditions() {
    let none = NodeFacts::default;
    // Access counts.
    check(
        "access_count_gte = 3",
        &[],
        accessed(&["2026-01-02", "2026-01-03"]),
        "2026-02-01",
        false,
    );
    check(
        "access_count_gte = 3",
        &[],
        accessed(&["2026-01-02", "2026-01-03", "2026-01-04"]),
        "2026-02-01",
        true,
    );
    check(
        "access_count_lt = 3",
        &[],
        accessed(&["2026-01-02", "2026-01-03"]),
        "2026-02-01",
        true,
    );
    check(
        "access_count_lt = 3",
        &[],
        accessed(&["2026-01-02", "2026-01-03", "2026-01-04"]),
        "2026-02-01",
        false,
    );
    // Base level (d = 0.5): one access 100 s ago is ln(100^-0.5) ≈ -2.3; a year ago ≈ -8.6.
    check(
        "base_level_lt = -5.0",
        &[],
        accessed(&[]),
        "2026-01-01T00:01:40Z",
        false,
    );
    check(
        "base_level_lt = -5.0",
        &[],
        accessed(&[]),
        "2027-01-01",
        true,
    );
    check(
        "base_level_lt = -5.0",
        &[],
        accessed(&["2026-12-31T23:58:20Z"]),
        "2027-01-01",
        false,
    );
    // No history at all counts as -infinity.
    check("base_level_lt = -100.0", &[], none(), "2026-01-02", true);
}

fn edge_conditions() {
    let none = NodeFacts::default;
    // Edges.
    let incoming = NodeFacts {
        incoming_edge_types: set(&["supersedes"]),
        ..none()
    };
    let outgoing = NodeFacts {
        outgoing_edge_types: set(&["supersedes"]),
        ..none()
    };
    let edge = |dir: &str| format!("has_edge = {{ type = \"supersedes\", direction = \"{dir}\" }}");
    check(&edge("incoming"), &[], incoming.clone(), "2026-01-02", true);
    check(
        &edge("incoming"),
        &[],
        outgoing.clone(),
        "2026-01-02",
        false,
    );
    check(&edge("outgoing"), &[], outgoing.clone(), "2026-01-02", true);
    check(
        &edge("outgoing"),
        &[],
        incoming.clone(),
        "2026-01-02",
        false,
    );
    check(&edge("any"), &[], incoming.clone(), "2026-01-02", true);
    check(&edge("any"), &[], outgoing, "2026-01-02", true);
    check(&edge("any"), &[], none(), "2026-01-02", false);
    check(
        "has_edge = { type = \"relates_to\" }",
        &[],
        incoming,
        "2026-01-02",
        false,
    );
}

fn event_label_and_combined_conditions() {
    let none = NodeFacts::default;
    // Events.
    let seen = NodeFacts {
        events_seen: set(&["observation"]),
        ..none()
    };
    check(
        "event_seen = \"observation\"",
        &[],
        seen.clone(),
        "2026-01-02",
        true,
    );
    check("event_seen = \"task.done\"", &[], seen, "2026-01-02", false);
    // Labels.
    check("label = \"stale\"", &["stale"], none(), "2026-01-02", true);
    check("label = \"stale\"", &["fresh"], none(), "2026-01-02", false);
    // All conditions must hold.
    check(
        "age_days_gt = 30, label = \"stale\"",
        &["stale"],
        none(),
        "2026-01-15",
        false,
    );
    check(
        "age_days_gt = 30, label = \"stale\"",
        &["stale"],
        none(),
        "2026-02-15",
        true,
    );
    check(
        "age_days_gt = 30, label = \"stale\"",
        &[],
        none(),
        "2026-02-15",
        false,
    );
}

const ORDERED: &str = r#"
[[lifecycle]]
id = "episodes-forgotten"
from = ["dormant"]
to = "forgotten"
kinds = ["episode"]
when = { idle_days_gt = 60 }
review = true

[[lifecycle]]
id = "idle-dormant"
from = ["active", "captured"]
to = "dormant"
when = { idle_days_gt = 30 }

[[lifecycle]]
id = "very-idle-archived"
from = ["active"]
to = "archived"
when = { idle_days_gt = 60 }

[[lifecycle]]
id = "anything-labelled"
to = "archived"
when = { label = "archive-me" }
"#;

fn ids(p: &Plan) -> Vec<(String, String)> {
    p.transitions
        .iter()
        .map(|t| (t.node.clone(), t.rule_id.clone()))
        .collect()
}

#[test]
fn first_rule_in_profile_order_wins() {
    let p = profile(ORDERED);
    let a = node("a", "fact", "active");
    let got = plan(&p, &[&a], &|_| NodeFacts::default(), t("2026-06-01"));
    // Both idle-dormant and very-idle-archived hold; the first declared wins.
    assert_eq!(ids(&got), [("a".to_string(), "idle-dormant".to_string())]);
    assert_eq!(got.transitions[0].to, "dormant");
}

#[test]
fn kinds_filter_and_review_flag() {
    let p = profile(ORDERED);
    let e = node("e", "episode", "dormant");
    let f = node("f", "fact", "dormant");
    let got = plan(&p, &[&f, &e], &|_| NodeFacts::default(), t("2026-06-01"));
    assert_eq!(
        got.transitions,
        vec![Transition {
            node: "e".into(),
            from: "dormant".into(),
            to: "forgotten".into(),
            rule_id: "episodes-forgotten".into(),
            review: true,
        }]
    );
}

#[test]
fn empty_from_means_any_phase_but_the_target() {
    let p = profile(ORDERED);
    let mut c = node("c", "episode", "captured");
    c.labels = vec!["archive-me".into()];
    let mut d = node("d", "fact", "archived");
    d.labels = vec!["archive-me".into()];
    let got = plan(&p, &[&d, &c], &|_| NodeFacts::default(), t("2026-01-02"));
    assert_eq!(
        ids(&got),
        [("c".to_string(), "anything-labelled".to_string())]
    );
}

#[test]
fn legal_hold_blocks_forgetting_only() {
    let p = profile(ORDERED);
    let mut held = node("held", "episode", "dormant");
    held.labels = vec!["legal-hold".into()];
    let mut held_active = node("held-active", "fact", "active");
    held_active.labels = vec!["legal-hold".into()];
    let free = node("free", "episode", "dormant");
    let got = plan(
        &p,
        &[&held, &free, &held_active],
        &|_| NodeFacts::default(),
        t("2026-06-01"),
    );
    assert_eq!(
        ids(&got),
        [
            ("free".to_string(), "episodes-forgotten".to_string()),
            ("held-active".to_string(), "idle-dormant".to_string()),
        ]
    );
    assert_eq!(
        got.blocked,
        vec![(
            "held".to_string(),
            "episodes-forgotten".to_string(),
            "legal hold".to_string()
        )]
    );
}

#[test]
fn forgotten_future_and_duplicate_nodes_are_skipped() {
    let p = profile(ORDERED);
    let mut gone = node("gone", "fact", "forgotten");
    gone.labels = vec!["archive-me".into()];
    let mut future = node("future", "fact", "active");
    future.created_at = t("2027-01-01");
    let z = node("z", "fact", "active");
    let a = node("a", "fact", "active");
    let got = plan(
        &p,
        &[&z, &gone, &future, &a, &z],
        &|_| NodeFacts::default(),
        t("2026-06-01"),
    );
    let nodes: Vec<&str> = got.transitions.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(nodes, ["a", "z"], "sorted by node id, no duplicates");
}

#[test]
fn builtin_profile_plan_snapshot() {
    let p = phase_memory_profile::Profile::builtin();
    let captured = node("captured-1", "episode", "captured");
    let idle = node("idle-1", "fact", "active");
    let superseded = node("old-decision", "decision", "active");
    let mut held = node("held", "fact", "dormant");
    held.labels = vec!["legal-hold".into()];
    let edges = [Edge {
        from: "new-decision".into(),
        to: "old-decision".into(),
        edge_type: "supersedes".into(),
        weight: 1.0,
        attrs: Default::default(),
        created_at: t("2026-02-01"),
    }];
    let events = [Event {
        seq: 1,
        id: "ev-1".into(),
        at: t("2026-03-01"),
        actor: "alice".into(),
        event_type: "node.accessed".into(),
        subjects: vec!["idle-1".into()],
        payload: json!({}),
    }];
    let as_of = t("2026-04-15");
    let all: Vec<&Node> = vec![&captured, &idle, &superseded, &held];
    let facts = |id: &str| {
        all.iter()
            .find(|n| n.id == id)
            .map(|n| NodeFacts::gather(n, &events, &edges, as_of))
            .unwrap_or_default()
    };
    let got = plan(&p, &all, &facts, as_of);
    insta::assert_json_snapshot!("builtin_plan", got);
}

#[test]
fn facts_are_gathered_up_to_as_of() {
    let x = node("n1", "fact", "active");
    let ev = |seq: u64, at: &str, ty: &str, subject: &str| Event {
        seq,
        id: format!("ev-{seq}"),
        at: t(at),
        actor: "a".into(),
        event_type: ty.into(),
        subjects: vec![subject.into()],
        payload: json!({}),
    };
    let events = [
        ev(1, "2026-01-05", "node.accessed", "n1"),
        ev(2, "2026-01-03", "node.accessed", "n1"),
        ev(3, "2026-01-04", "observation", "n1"),
        ev(4, "2026-01-04", "node.accessed", "other"),
        ev(5, "2026-02-01", "node.accessed", "n1"),
    ];
    let edge = |from: &str, to: &str, ty: &str, at: &str| Edge {
        from: from.into(),
        to: to.into(),
        edge_type: ty.into(),
        weight: 1.0,
        attrs: Default::default(),
        created_at: t(at),
    };
    let edges = [
        edge("m", "n1", "supersedes", "2026-01-02"),
        edge("n1", "m", "relates_to", "2026-01-02"),
        edge("n1", "k", "part_of", "2026-03-01"),
    ];
    let f = NodeFacts::gather(&x, &events, &edges, t("2026-01-10"));
    let want = NodeFacts {
        access_times: vec![t("2026-01-01"), t("2026-01-03"), t("2026-01-05")],
        access_count: 2,
        last_access: Some(t("2026-01-05")),
        events_seen: set(&["node.accessed", "observation"]),
        incoming_edge_types: set(&["supersedes"]),
        outgoing_edge_types: set(&["relates_to"]),
    };
    assert_eq!(f, want);
    let _: Time = t("2026-01-01");
}
