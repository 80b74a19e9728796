//! A quick check of what bringing a snapshot forward costs (not a timed test):
//! builds a synthetic snapshot, then applies single-node commits to it the way
//! a server applies each upsert, and prints the per-commit figures as JSON.
//!
//! ```text
//! cargo run --release -p phase-memory-activate --example apply -- [NODES] [COMMITS]
//! ```
//!
//! NODES defaults to 100000 (edges = 5 × NODES, events = 5 × NODES), COMMITS to
//! 500. Three commit shapes are timed, each `COMMITS` times: a new node (a
//! random id, so it falls anywhere in id order) with two edges to existing
//! nodes and its creation event; an update of an existing node's title and
//! body with its update event; an access event on an existing node. Then up to
//! 50 new nodes are applied while a reader holds the snapshot (as in a server:
//! `Arc::make_mut` copies it before applying).

use std::time::Instant;

use phase_memory_activate::{Snapshot, SnapshotBuilder, SnapshotChanges};
use phase_memory_model::{Edge, Event, Node, Time};
use phase_memory_profile::Profile;
use rustc_hash::FxHashMap;

/// 2026-06-01T00:00:00Z
const T0: i64 = 1_780_272_000_000;
const HOUR: i64 = 3_600_000;

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn id_of(k: u64) -> String {
    format!("node-{k:016x}")
}

fn node(id: &str, version: u64, rng: &mut Rng) -> Node {
    Node {
        id: id.into(),
        kind: "fact".into(),
        phase: "active".into(),
        title: format!("title {} of {id}", version),
        body: format!("body words {} {} {id}", rng.below(4000), rng.below(4000)),
        labels: vec![format!("label{}", rng.below(8))],
        scope: "default".into(),
        sensitivity: "internal".into(),
        attrs: Default::default(),
        created_at: Time(T0 + rng.below(1000) as i64 * HOUR),
        updated_at: Time(T0),
        valid_from: None,
        valid_to: None,
        tokens: 40,
        tombstone: None,
        implicit_time: false,
    }
}

fn edge(from: &str, to: &str) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        edge_type: "relates_to".into(),
        weight: 1.0,
        attrs: Default::default(),
        created_at: Time(T0),
    }
}

fn event(seq: u64, ty: &str, subject: &str) -> Event {
    Event {
        seq,
        id: format!("ev-{seq}"),
        at: Time(T0 + 2000 * HOUR + seq as i64),
        actor: "bench".into(),
        event_type: ty.into(),
        subjects: vec![subject.to_string()],
        payload: serde_json::Value::Null,
    }
}

/// The store the snapshot reflects: ids and every edge by end.
struct World {
    ids: Vec<String>,
    edges: FxHashMap<String, Vec<Edge>>,
    seq: u64,
}

impl World {
    fn add_edge(&mut self, e: Edge) {
        self.edges
            .entry(e.from.clone())
            .or_default()
            .push(e.clone());
        self.edges.entry(e.to.clone()).or_default().push(e);
    }
}

fn build(n: u64, rng: &mut Rng, profile: &Profile) -> (World, Snapshot) {
    let mut world = World {
        ids: Vec::new(),
        edges: FxHashMap::default(),
        seq: 0,
    };
    let mut b = SnapshotBuilder::new(profile).with_generation(1);
    for _ in 0..n {
        let id = id_of(rng.next());
        b.add_node(&node(&id, 0, rng));
        world.ids.push(id);
    }
    for _ in 0..5 * n {
        let (a, c) = (rng.below(n) as usize, rng.below(n) as usize);
        let e = edge(&world.ids[a], &world.ids[c]);
        b.add_edge(&e);
        world.add_edge(e);
    }
    for _ in 0..5 * n {
        world.seq += 1;
        let k = rng.below(n) as usize;
        b.add_event(&event(world.seq, "node.accessed", &world.ids[k]));
    }
    (world, b.finish())
}

/// Makes one commit's changes (and records them in the world).
type Commit = fn(&mut World, &mut Rng) -> SnapshotChanges;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let k = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(k).copied().unwrap_or(0.0)
}

/// Times `commits` commits made by `make`, in microseconds: (p50, p90, max).
fn time_commits(
    snap: &mut Snapshot,
    world: &mut World,
    rng: &mut Rng,
    commits: usize,
    make: Commit,
) -> (f64, f64, f64) {
    let mut took = Vec::with_capacity(commits);
    for _ in 0..commits {
        let changes = make(world, rng);
        let generation = snap.generation() + 1;
        let edges = &world.edges;
        let started = Instant::now();
        snap.apply(generation, &changes, &mut |id| {
            edges.get(id).cloned().unwrap_or_default()
        });
        took.push(started.elapsed().as_secs_f64() * 1e6);
    }
    took.sort_by(f64::total_cmp);
    (
        percentile(&took, 0.5),
        percentile(&took, 0.9),
        took.last().copied().unwrap_or(0.0),
    )
}

/// Times `commits` new-node commits applied the way a server does while a
/// reader still holds the current snapshot: `Arc::make_mut` copies it first.
fn time_shared(
    snap: Snapshot,
    world: &mut World,
    rng: &mut Rng,
    commits: usize,
) -> (Snapshot, (f64, f64, f64)) {
    let mut shared = std::sync::Arc::new(snap);
    let mut took = Vec::with_capacity(commits);
    for _ in 0..commits {
        let changes = new_node(world, rng);
        let generation = shared.generation() + 1;
        let edges = &world.edges;
        let reader = std::sync::Arc::clone(&shared);
        let started = Instant::now();
        std::sync::Arc::make_mut(&mut shared).apply(generation, &changes, &mut |id| {
            edges.get(id).cloned().unwrap_or_default()
        });
        took.push(started.elapsed().as_secs_f64() * 1e6);
        drop(reader);
    }
    took.sort_by(f64::total_cmp);
    let figures = (
        percentile(&took, 0.5),
        percentile(&took, 0.9),
        took.last().copied().unwrap_or(0.0),
    );
    let snap = std::sync::Arc::try_unwrap(shared).unwrap_or_else(|a| (*a).clone());
    (snap, figures)
}

fn new_node(world: &mut World, rng: &mut Rng) -> SnapshotChanges {
    let id = id_of(rng.next());
    let n = world.ids.len() as u64;
    let targets = [rng.below(n) as usize, rng.below(n) as usize];
    let mut c = SnapshotChanges::default();
    for t in targets {
        let e = edge(&id, &world.ids[t]);
        world.add_edge(e);
        c.edge_ends.extend([id.clone(), world.ids[t].clone()]);
    }
    world.seq += 1;
    c.events.push(event(world.seq, "node.created", &id));
    c.nodes.push((id.clone(), Some(node(&id, 0, rng))));
    world.ids.push(id);
    c
}

fn update_node(world: &mut World, rng: &mut Rng) -> SnapshotChanges {
    let id = world.ids[rng.below(world.ids.len() as u64) as usize].clone();
    world.seq += 1;
    let mut c = SnapshotChanges::default();
    c.events.push(event(world.seq, "node.updated", &id));
    c.nodes.push((id.clone(), Some(node(&id, world.seq, rng))));
    c
}

fn access(world: &mut World, rng: &mut Rng) -> SnapshotChanges {
    let id = world.ids[rng.below(world.ids.len() as u64) as usize].clone();
    world.seq += 1;
    let mut c = SnapshotChanges::default();
    c.events.push(event(world.seq, "node.accessed", &id));
    c
}

fn main() {
    let mut args = std::env::args().skip(1);
    let nodes: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let commits: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let profile = Profile::builtin();
    let mut rng = Rng(0x5eed_2026);
    let started = Instant::now();
    let (mut world, mut snap) = build(nodes, &mut rng, &profile);
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let shapes: [(&str, Commit); 3] = [
        ("new_node", new_node),
        ("update_node", update_node),
        ("access_event", access),
    ];
    let mut out = serde_json::Map::new();
    out.insert("nodes".into(), nodes.into());
    out.insert("arcs".into(), snap.edge_count().into());
    out.insert("commits_per_shape".into(), commits.into());
    out.insert("build_ms".into(), build_ms.into());
    for (name, make) in shapes {
        let (p50, p90, max) = time_commits(&mut snap, &mut world, &mut rng, commits, make);
        out.insert(
            name.into(),
            serde_json::json!({"p50_us": p50, "p90_us": p90, "max_us": max}),
        );
    }
    let shared_commits = commits.min(50);
    let (snap, (p50, p90, max)) = time_shared(snap, &mut world, &mut rng, shared_commits);
    out.insert(
        "new_node_while_read".into(),
        serde_json::json!({"commits": shared_commits, "p50_us": p50, "p90_us": p90, "max_us": max}),
    );
    out.insert("nodes_after".into(), snap.node_count().into());
    println!(
        "{}",
        serde_json::to_string_pretty(&out).unwrap_or_else(|e| e.to_string())
    );
}
