//! Scale check of the SQLite adapter: generates N nodes (about 40-word bodies), 5N
//! edges and 2N events, commits them in one change set, reopens the store and counts.
//! Prints the timings as one JSON object.
//!
//! `cargo run --release -p phase-memory-store-sqlite --example sqlite_scale -- N [DIR]`
//! (without DIR the store goes to a temporary directory removed at the end).

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_store::{ChangeSet, EventStore, GraphStore, Store, StoreMeta};
use phase_memory_store_sqlite::{DB_FILE, OpenMode, SqliteStore};
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

fn generate(n: usize) -> ChangeSet {
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
    let events = (1..=2 * n as u64)
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

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(a) => a.parse().map_err(|e| format!("N must be a number: {e}"))?,
        None => 100_000,
    };
    let tmp = tempfile::tempdir()?;
    let dir: PathBuf = match args.next() {
        Some(d) => PathBuf::from(d),
        None => tmp.path().join("store"),
    };

    let started = Instant::now();
    let change = generate(n);
    let (nodes, edges, events) = (
        change.put_nodes.len(),
        change.put_edges.len(),
        change.events.len(),
    );
    let generate_s = started.elapsed().as_secs_f64();

    let mut store = SqliteStore::init(&dir, StoreMeta::new("sqlite", Time::now()))?;
    let started = Instant::now();
    store.commit(change)?;
    let commit_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    drop(store);
    let close_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let store = SqliteStore::open(&dir, OpenMode::Write)?;
    let open_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let counted = (
        store.node_count()?,
        store.edge_count()?,
        store.event_head()?,
    );
    let count_s = started.elapsed().as_secs_f64();

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

    let report = json!({
        "adapter": "sqlite",
        "nodes": nodes,
        "edges": edges,
        "events": events,
        "generate_s": round(generate_s),
        "commit_s": round(commit_s),
        "commit_rows_per_s": ((nodes + edges + events) as f64 / commit_s).round(),
        "close_s": round(close_s),
        "open_s": round(open_s),
        "count_s": round(count_s),
        "counted": {"nodes": counted.0, "edges": counted.1, "event_head": counted.2},
        "node_plus_edges_of_us": round(lookup_us),
        "rows_touched_by_lookups": touched,
        "db_bytes": std::fs::metadata(dir.join(DB_FILE)).map(|m| m.len()).unwrap_or(0),
        "dir_bytes": dir_size(&dir),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if counted != (nodes, edges, events as u64) {
        return Err(format!("counts after reopen differ: {counted:?}").into());
    }
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
