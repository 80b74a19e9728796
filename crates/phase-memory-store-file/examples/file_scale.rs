//! Scale check of the file adapter: commits N nodes (about 40-word bodies) and 5N
//! edges in one change set, reopens the store, and prints the timings as JSON.
//!
//! `cargo run --release -p phase-memory-store-file --example file_scale -- 100000`

use std::time::Instant;

use anyhow::{Context, Result};
use phase_memory_model::{Edge, Node, Time};
use phase_memory_store::{ChangeSet, GraphStore, Store, StoreMeta};
use phase_memory_store_file::{FileStore, OpenMode};

const WORDS: &[&str] = &[
    "memory",
    "graph",
    "phase",
    "agent",
    "policy",
    "review",
    "audit",
    "token",
    "budget",
    "cue",
    "node",
    "edge",
    "event",
    "scope",
    "profile",
    "package",
    "lifecycle",
    "active",
    "dormant",
    "archive",
    "fact",
    "decision",
    "episode",
    "task",
    "entity",
    "note",
    "paris",
    "france",
    "river",
    "mountain",
    "project",
    "tenant",
    "index",
    "search",
    "segment",
];

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// CPU seconds (user + system) this process has used so far, where Linux tells us.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() -> Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().context("N must be a number")?,
        None => 100_000,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let at = Time::from_millis(1_767_225_600_000);
    let nodes: Vec<Node> = (0..n)
        .map(|i| {
            let body: Vec<&str> = (0..40)
                .map(|_| WORDS[(rng.next() % WORDS.len() as u64) as usize])
                .collect();
            Node {
                id: format!("node-{i:07}"),
                kind: "fact".into(),
                phase: "active".into(),
                title: format!("Node {i}"),
                body: body.join(" "),
                labels: vec!["generated".into()],
                scope: "default".into(),
                sensitivity: "internal".into(),
                attrs: Default::default(),
                created_at: at,
                updated_at: at,
                valid_from: None,
                valid_to: None,
                tokens: 48,
                tombstone: None,
                implicit_time: false,
            }
        })
        .collect();
    let types = [
        "relates_to",
        "part_of",
        "mentions",
        "follows",
        "derived_from",
    ];
    let edges: Vec<Edge> = (0..n)
        .flat_map(|i| (0..5).map(move |k| (i, k)))
        .map(|(i, k)| {
            let to = (i + 1 + (k * 7919 + i * 31) % (n.max(2) - 1)) % n.max(1);
            Edge {
                from: format!("node-{i:07}"),
                to: format!("node-{to:07}"),
                edge_type: types[k].into(),
                weight: 1.0,
                attrs: Default::default(),
                created_at: at,
            }
        })
        .collect();
    let edge_count = edges.len();

    let tmp = tempfile::TempDir::new()?;
    let dir = tmp.path().join("store");
    let mut store = FileStore::init(&dir, StoreMeta::new("file", at))?;
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    store.commit(ChangeSet {
        put_nodes: nodes,
        put_edges: edges,
        ..Default::default()
    })?;
    let commit_s = t0.elapsed().as_secs_f64();
    let commit_cpu = c0
        .zip(cpu_seconds())
        .map(|(a, b)| ((b - a) * 100.0).round() / 100.0);
    drop(store);
    let bytes: u64 = std::fs::read_dir(dir.join("segments"))?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();

    // Best of three: the machine may be shared.
    let mut opens = Vec::new();
    let mut open_cpu = Vec::new();
    let mut store = None;
    for _ in 0..3 {
        drop(store.take());
        let c1 = cpu_seconds();
        let t1 = Instant::now();
        store = Some(FileStore::open(&dir, OpenMode::ReadOnly)?);
        opens.push(t1.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (c1, cpu_seconds()) {
            open_cpu.push(((b - a) * 100.0).round() / 100.0);
        }
    }
    let store = store.context("opened")?;
    let open_s = opens.iter().copied().fold(f64::INFINITY, f64::min);
    anyhow::ensure!(store.node_count()? == n, "node count after reopen");
    anyhow::ensure!(store.edge_count()? == edge_count, "edge count after reopen");

    let mut writer = FileStore::open(&dir, OpenMode::Write)?;
    let t2 = Instant::now();
    let mut one = writer.node("node-0000042")?.context("node 42")?;
    one.body = "changed".into();
    writer.commit(ChangeSet {
        put_nodes: vec![one],
        ..Default::default()
    })?;
    let upsert_s = t2.elapsed().as_secs_f64();

    println!(
        "{}",
        serde_json::json!({
            "nodes": n,
            "edges": edge_count,
            "segment_bytes": bytes,
            "commit_seconds": (commit_s * 1000.0).round() / 1000.0,
            "open_seconds": (open_s * 1000.0).round() / 1000.0,
            "open_seconds_all": opens.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            "commit_cpu_seconds": commit_cpu,
            "open_cpu_seconds": open_cpu,
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "single_upsert_seconds": (upsert_s * 10000.0).round() / 10000.0,
            "generation": writer.generation(),
        })
    );
    Ok(())
}
