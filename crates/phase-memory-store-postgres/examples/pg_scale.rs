//! Scale check of the PostgreSQL adapter: generates N nodes (about 40-word bodies)
//! and 5N edges (and 2N events with `--events`), commits them in one change set
//! (binary COPY), reopens the store and counts. Prints the timings as one JSON
//! object.
//!
//! `cargo run --release -p phase-memory-store-postgres --example pg_scale -- N [--events]`
//! against `PHASE_MEMORY_TEST_DATABASE_URL`, or a throwaway cluster started with
//! `scripts/pg-cluster.sh` when it is unset.

use std::error::Error;
use std::time::Instant;

use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_store::{ChangeSet, EventStore, GraphStore, Store, StoreMeta};
use phase_memory_store_postgres::{PgStore, testing};
use serde_json::json;

const WORDS: &[&str] = &[
    "memory", "graph", "phase", "agent", "policy", "review", "audit", "event", "node", "edge",
    "river", "stone", "paper", "signal", "garden", "window", "market", "engine", "harbor", "light",
    "north", "copper", "violet", "summer", "ledger", "bridge", "forest", "planet", "anchor",
    "quiet", "rapid", "golden", "hollow", "tender", "silver", "narrow", "broad", "early", "late",
    "fact", "decision", "episode", "task", "entity", "document", "note", "capital", "France",
    "Paris", "budget", "token", "cue", "spread", "weight", "decay", "recall", "archive", "dormant",
];
const KINDS: &[&str] = &[
    "fact", "decision", "episode", "task", "entity", "document", "note",
];
const EDGE_TYPES: &[&str] = &[
    "relates_to",
    "part_of",
    "mentions",
    "follows",
    "derived_from",
];
const EVENT_TYPES: &[&str] = &["node.accessed", "observation", "node.updated"];

/// A small deterministic generator (xorshift64*), so runs are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn node_id(i: usize) -> String {
    format!("n{i:08}")
}

fn generate(n: usize, with_events: bool) -> ChangeSet {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t0 = Time::from_millis(1_767_225_600_000);
    let nodes: Vec<Node> = (0..n)
        .map(|i| {
            let body: Vec<&str> = (0..40).map(|_| WORDS[rng.below(WORDS.len())]).collect();
            Node {
                id: node_id(i),
                kind: KINDS[i % KINDS.len()].into(),
                phase: "active".into(),
                title: format!(
                    "{} {} {i}",
                    WORDS[rng.below(WORDS.len())],
                    WORDS[i % WORDS.len()]
                ),
                body: body.join(" "),
                labels: vec!["synthetic".into()],
                scope: "default".into(),
                sensitivity: "internal".into(),
                attrs: Default::default(),
                created_at: t0,
                updated_at: t0,
                valid_from: None,
                valid_to: None,
                tokens: 52,
                tombstone: None,
                implicit_time: false,
            }
        })
        .collect();
    let mut edges = Vec::with_capacity(5 * n);
    for i in 0..n {
        for ty in EDGE_TYPES {
            edges.push(Edge {
                from: node_id(i),
                to: node_id(rng.below(n)),
                edge_type: (*ty).into(),
                weight: 1.0,
                attrs: Default::default(),
                created_at: t0,
            });
        }
    }
    let event_count = if with_events { 2 * n as u64 } else { 0 };
    let events = (1..=event_count)
        .map(|seq| {
            let mut subjects = vec![node_id(rng.below(n))];
            if seq % 3 == 0 {
                subjects.push(node_id(rng.below(n)));
            }
            Event {
                seq,
                id: format!("ev-{seq}"),
                at: t0.plus_seconds(seq as i64),
                actor: "bench".into(),
                event_type: EVENT_TYPES[rng.below(EVENT_TYPES.len())].into(),
                subjects,
                payload: json!({}),
            }
        })
        .collect();
    ChangeSet {
        put_nodes: nodes,
        put_edges: edges,
        events,
        ..Default::default()
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = match args.iter().find(|a| !a.starts_with("--")) {
        Some(a) => a.parse().map_err(|e| format!("N must be a number: {e}"))?,
        None => 100_000,
    };
    let with_events = args.iter().any(|a| a == "--events");
    let location = testing::fresh_location();

    let started = Instant::now();
    let change = generate(n, with_events);
    let (nodes, edges, events) = (
        change.put_nodes.len(),
        change.put_edges.len(),
        change.events.len(),
    );
    let generate_s = started.elapsed().as_secs_f64();

    let mut store = PgStore::init(&location, StoreMeta::new("postgres", Time::now()))?;
    let started = Instant::now();
    store.commit(change)?;
    let commit_s = started.elapsed().as_secs_f64();
    drop(store);

    let started = Instant::now();
    let store = PgStore::open(&location)?;
    let open_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let counted = (
        store.node_count()?,
        store.edge_count()?,
        store.event_head()?,
    );
    let count_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut streamed = 0usize;
    store.for_each_node(&mut |_| streamed += 1)?;
    store.for_each_edge(&mut |_| streamed += 1)?;
    let stream_s = started.elapsed().as_secs_f64();

    let mut rng = Rng(42);
    let started = Instant::now();
    let lookups = 1000;
    let mut touched = 0usize;
    for _ in 0..lookups {
        let id = node_id(rng.below(n.max(1)));
        touched += usize::from(store.node(&id)?.is_some());
        touched += store.edges_of(&id)?.len();
    }
    let lookup_us = started.elapsed().as_secs_f64() * 1e6 / lookups as f64;
    let mut c = location.connect()?;
    let db_bytes: i64 = c
        .query_one("SELECT pg_database_size(current_database())", &[])?
        .get(0);

    let report = json!({
        "adapter": "postgres",
        "nodes": nodes,
        "edges": edges,
        "events": events,
        "generate_s": round(generate_s),
        "commit_s": round(commit_s),
        "commit_rows_per_s": ((nodes + edges + events) as f64 / commit_s).round(),
        "open_s": round(open_s),
        "count_s": round(count_s),
        "stream_nodes_and_edges_s": round(stream_s),
        "counted": {"nodes": counted.0, "edges": counted.1, "event_head": counted.2},
        "node_plus_edges_of_us": round(lookup_us),
        "rows_touched_by_lookups": touched,
        "db_bytes": db_bytes,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if counted != (nodes, edges, events as u64) || streamed != nodes + edges {
        return Err(format!("counts after reopen differ: {counted:?}").into());
    }
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
