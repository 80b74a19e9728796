//! A snapshot brought forward with `Snapshot::apply` after a sequence of commits
//! equals a fresh build of the store after them: the same canonical dump and
//! byte-identical activations.

use std::collections::BTreeMap;

use phase_memory_activate::SnapshotChanges;

use super::*;

/// One write to the model store.
#[derive(Clone, Debug)]
pub(super) enum Op {
    PutNode {
        k: usize,
        text: u8,
        phase: usize,
        created: i64,
        labels: Vec<usize>,
        tokens: u32,
        invalid: bool,
    },
    DeleteNode(usize),
    PutEdge(usize, usize, usize, f64),
    DeleteEdge(usize, usize, usize),
    Event(Vec<usize>, usize, i64),
}

pub(super) const IDS: usize = 12;
const LABELS: [&str; 3] = ["red", "green", "blue"];
const EVENT_TYPES: [&str; 3] = ["observation", "node.accessed", "node.updated"];

fn id(k: usize) -> String {
    format!("n{k:02}")
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            0..IDS,
            0u8..6,
            0usize..5,
            0i64..4,
            prop::collection::vec(0usize..3, 0..3),
            prop_oneof![Just(0u32), 1u32..50],
            prop::bool::weighted(0.2),
        )
            .prop_map(|(k, text, phase, created, labels, tokens, invalid)| Op::PutNode {
                k,
                text,
                phase,
                created,
                labels,
                tokens,
                invalid,
            }),
        1 => (0..IDS).prop_map(Op::DeleteNode),
        3 => (0..IDS, 0..IDS, 0usize..5, prop_oneof![Just(0.0f64), 0.1f64..2.0])
            .prop_map(|(a, b, t, w)| Op::PutEdge(a, b, t, w)),
        1 => (0..IDS, 0..IDS, 0usize..5).prop_map(|(a, b, t)| Op::DeleteEdge(a, b, t)),
        2 => (prop::collection::vec(0..IDS, 1..3), 0usize..3, 0i64..48)
            .prop_map(|(s, t, h)| Op::Event(s, t, h)),
    ]
}

#[derive(Default)]
pub(super) struct Model {
    pub(super) nodes: BTreeMap<String, Node>,
    pub(super) edges: BTreeMap<(String, String, String), Edge>,
    pub(super) events: Vec<Event>,
}

impl Model {
    pub(super) fn build(&self, p: &Profile, generation: u64) -> Snapshot {
        let mut b = SnapshotBuilder::new(p).with_generation(generation);
        self.nodes.values().for_each(|n| b.add_node(n));
        self.edges.values().for_each(|e| b.add_edge(e));
        self.events.iter().for_each(|e| b.add_event(e));
        b.finish()
    }

    pub(super) fn edges_of(&self, id: &str) -> Vec<Edge> {
        self.edges
            .values()
            .filter(|e| e.from == id || e.to == id)
            .cloned()
            .collect()
    }

    /// Applies one op to the model and records what it changed.
    pub(super) fn apply(&mut self, op: &Op, c: &mut SnapshotChanges) {
        match op {
            Op::PutNode {
                k,
                text,
                phase,
                created,
                labels,
                tokens,
                invalid,
            } => {
                let mut x = node(
                    &id(*k),
                    &format!("title {text}"),
                    &format!("shared words {text} {}", text % 3),
                );
                x.phase = PHASES[*phase].into();
                x.created_at = Time(T0 + created * HOUR);
                x.labels = labels.iter().map(|l| LABELS[*l].to_string()).collect();
                x.tokens = *tokens;
                if *invalid {
                    x.valid_to = Some(Time(T0));
                }
                self.nodes.insert(x.id.clone(), x);
                c.nodes.push((id(*k), None));
            }
            Op::DeleteNode(k) => {
                self.nodes.remove(&id(*k));
                c.nodes.push((id(*k), None));
            }
            Op::PutEdge(a, b, t, w) => {
                let mut e = edge(&id(*a), &id(*b), TYPES[*t]);
                e.weight = *w;
                self.edges
                    .insert((e.from.clone(), e.to.clone(), e.edge_type.clone()), e);
                c.edge_ends.extend([id(*a), id(*b)]);
            }
            Op::DeleteEdge(a, b, t) => {
                self.edges.remove(&(id(*a), id(*b), TYPES[*t].to_string()));
                c.edge_ends.extend([id(*a), id(*b)]);
            }
            Op::Event(subjects, t, h) => {
                let seq = self.events.len() as u64 + 1;
                let subjects: Vec<String> = subjects.iter().map(|k| id(*k)).collect();
                let refs: Vec<&str> = subjects.iter().map(String::as_str).collect();
                let e = event(seq, EVENT_TYPES[*t], T0 + h * HOUR, &refs);
                self.events.push(e.clone());
                c.events.push(e);
            }
        }
    }
}

pub(super) fn activations(s: &Snapshot, p: &Profile, cue_ids: &[usize], withheld: usize) -> String {
    let mut out = String::new();
    for (k, since) in [(0usize, 30i64), (1, 48), (2, 4)] {
        let cue = Cue {
            text: Some("anything".into()),
            nodes: cue_ids.iter().skip(k).map(|i| id(*i)).collect(),
            hints: vec![(id((k * 5) % IDS), 0.5)],
            events_since: Some(Time(as_of().millis() - since * HOUR)),
        };
        let lexical: Vec<(String, f32)> = cue_ids
            .iter()
            .map(|i| (id((i + k) % IDS), 1.0 + (*i % 3) as f32))
            .collect();
        let input = ActivationInput {
            cue: &cue,
            lexical: &lexical,
            semantic: &[],
            budget_tokens: 60 + 40 * k as u64,
            limit: 8,
            as_of: as_of(),
            include_invalid: k == 2,
            explain: true,
        };
        let visible = |v: phase_memory_activate::NodeView<'_>| {
            if v.id() == id(withheld) || v.has_label("blue") {
                Visibility::Withheld("rule".into())
            } else {
                Visibility::Visible
            }
        };
        let ws = activate(s, &p.activation, &input, &visible);
        // The lexical hits' indices looked up by the caller give the same set.
        let indices: Vec<Option<u32>> = lexical.iter().map(|h| s.index_of(&h.0)).collect();
        let indexed =
            phase_memory_activate::activate_indexed(s, &p.activation, &input, &indices, &visible);
        assert_eq!(
            serde_json::to_string(&indexed).expect("serialises"),
            serde_json::to_string(&ws).expect("serialises")
        );
        out.push_str(&serde_json::to_string(&ws).expect("serialises"));
        out.push('\n');
    }
    out
}

/// A class number of `old` means the same policy key in `new` (a snapshot
/// brought forward from it).
pub(super) fn classes_agree(old: &Snapshot, new: &Snapshot) -> Result<(), String> {
    fn keys(s: &Snapshot) -> Vec<(u32, phase_memory_activate::snapshot::PolicyKey<'_>)> {
        (0..s.index_bound() as u32)
            .filter_map(|i| s.node(i))
            .map(|v| (v.policy_class(), v.policy_key()))
            .collect()
    }
    let new_keys = keys(new);
    for (class, key) in keys(old) {
        if let Some((_, k)) = new_keys.iter().find(|(c, _)| *c == class)
            && *k != key
        {
            return Err(format!("class {class} changed its meaning"));
        }
    }
    Ok(())
}

/// Nodes share a policy class exactly when their policy keys are equal, and
/// every class is below the snapshot's class count.
pub(super) fn classes_follow_keys(s: &Snapshot) -> Result<(), String> {
    let n = s.index_bound() as u32;
    let views: Vec<_> = (0..n).filter_map(|i| s.node(i)).collect();
    for a in &views {
        if a.policy_class() as usize >= s.policy_class_count() {
            return Err(format!("class of {} out of range", a.id()));
        }
        for b in &views {
            if (a.policy_class() == b.policy_class()) != (a.policy_key() == b.policy_key()) {
                return Err(format!(
                    "{} and {}: classes disagree with keys",
                    a.id(),
                    b.id()
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn applying_commits_equals_a_fresh_build(
        start in prop::collection::vec(op(), 0..20),
        commits in prop::collection::vec(prop::collection::vec(op(), 1..5), 1..12),
        cue_ids in prop::collection::vec(0..IDS, 1..5),
        withheld in 0..IDS,
    ) {
        let p = profile();
        let mut model = Model::default();
        let mut ignored = SnapshotChanges::default();
        for o in &start {
            model.apply(o, &mut ignored);
        }
        let mut snap = model.build(&p, 1);
        for (g, commit) in commits.iter().enumerate() {
            let mut c = SnapshotChanges::default();
            for o in commit {
                model.apply(o, &mut c);
            }
            // The records after the commit, as a store answers them.
            for (id, n) in &mut c.nodes {
                *n = model.nodes.get(id).cloned();
            }
            // A reader holds the snapshot while it is brought forward.
            let reader = snap.clone();
            let before = reader.canonical_dump();
            snap.apply(g as u64 + 2, &c, &mut |id| model.edges_of(id));
            let fresh = model.build(&p, g as u64 + 2);
            prop_assert_eq!(snap.canonical_dump(), fresh.canonical_dump());
            prop_assert_eq!(reader.canonical_dump(), before, "the reader's generation changed");
            // What it persists is the fresh build's canonical form.
            let (_, back) = Snapshot::decode(&snap.encode(&Default::default())).expect("decodes");
            prop_assert_eq!(back.canonical_dump(), fresh.canonical_dump());
            prop_assert_eq!(back.index_bound(), fresh.node_count());
            prop_assert_eq!(classes_follow_keys(&snap), Ok(()));
            prop_assert_eq!(classes_follow_keys(&fresh), Ok(()));
            // One lineage numbers alike (decisions kept per class number stay
            // right): a commit that numbered no class keeps it, one that did
            // starts a new one; a fresh build or a decoded copy starts a
            // lineage of its own.
            if snap.policy_class_count() == reader.policy_class_count() {
                prop_assert_eq!(snap.policy_class_lineage(), reader.policy_class_lineage());
            } else {
                prop_assert_ne!(snap.policy_class_lineage(), reader.policy_class_lineage());
            }
            prop_assert_eq!(classes_agree(&reader, &snap), Ok(()));
            prop_assert_ne!(fresh.policy_class_lineage(), snap.policy_class_lineage());
            prop_assert_ne!(back.policy_class_lineage(), snap.policy_class_lineage());
            prop_assert_eq!(
                activations(&snap, &p, &cue_ids, withheld),
                activations(&fresh, &p, &cue_ids, withheld)
            );
        }
    }
}

#[test]
fn a_node_added_after_its_events_and_edges_picks_them_up() {
    let p = profile();
    let mut model = Model::default();
    let mut c = SnapshotChanges::default();
    model.apply(&Op::Event(vec![3], 0, 20), &mut c);
    model.apply(&Op::PutEdge(3, 1, 0, 1.0), &mut c);
    model.apply(
        &Op::PutNode {
            k: 1,
            text: 1,
            phase: 1,
            created: 0,
            labels: vec![],
            tokens: 5,
            invalid: false,
        },
        &mut c,
    );
    let mut snap = model.build(&p, 1);
    assert_eq!(snap.node_count(), 1);
    assert_eq!(
        snap.edge_count(),
        0,
        "the edge names a node that is not there"
    );
    let mut c = SnapshotChanges::default();
    model.apply(
        &Op::PutNode {
            k: 3,
            text: 2,
            phase: 1,
            created: 1,
            labels: vec![0],
            tokens: 0,
            invalid: false,
        },
        &mut c,
    );
    for (id, n) in &mut c.nodes {
        *n = model.nodes.get(id).cloned();
    }
    snap.apply(2, &c, &mut |id| model.edges_of(id));
    let fresh = model.build(&p, 2);
    assert_eq!(snap.node_count(), 2);
    assert_eq!(snap.edge_count(), 2, "relates_to spreads both ways");
    assert_eq!(snap.canonical_dump(), fresh.canonical_dump());
    assert!(
        snap.canonical_dump().contains("touch"),
        "{}",
        snap.canonical_dump()
    );
}

/// Thousands of commits over thousands of ids, most of them new (so most
/// lookups go through the list of added rows, and rows move):
/// the snapshot brought forward still equals a fresh build, and so does what
/// it persists.
#[test]
fn many_commits_over_many_new_ids_stay_equal_to_a_fresh_build() {
    const MANY: usize = 2600;
    let p = profile();
    let mut model = Model::default();
    let mut ignored = SnapshotChanges::default();
    for k in 0..IDS {
        model.apply(&put(k, k as u64), &mut ignored);
    }
    let mut snap = model.build(&p, 1);
    let mut x: u64 = 0x5eed;
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize % n
    };
    for g in 0..3000u64 {
        let mut c = SnapshotChanges::default();
        let k = next(MANY);
        let o = match next(10) {
            0..=4 => put(k, g),
            5 => Op::DeleteNode(k),
            6 | 7 => Op::PutEdge(k, next(MANY), next(5), 1.0),
            8 => Op::DeleteEdge(k, next(MANY), next(5)),
            _ => Op::Event(vec![k, next(IDS)], next(3), next(48) as i64),
        };
        model.apply(&o, &mut c);
        for (id, n) in &mut c.nodes {
            *n = model.nodes.get(id).cloned();
        }
        snap.apply(g + 2, &c, &mut |id| model.edges_of(id));
        if g % 500 == 499 || g == 2999 {
            let fresh = model.build(&p, g + 2);
            assert_eq!(snap.canonical_dump(), fresh.canonical_dump(), "commit {g}");
            let (_, back) = Snapshot::decode(&snap.encode(&Default::default())).expect("decodes");
            assert_eq!(back.canonical_dump(), fresh.canonical_dump(), "commit {g}");
            for cue in [[0usize, 1, 2], [3, 7, 11]] {
                let applied = activations(&snap, &p, &cue, 5);
                assert_eq!(applied, activations(&fresh, &p, &cue, 5), "commit {g}");
                assert_eq!(applied, activations(&back, &p, &cue, 5), "commit {g}");
            }
        }
    }
    assert!(snap.index_bound() > 1100, "rows were added");
}

/// Readers hold clones of a snapshot of several chunks and pages (thousands
/// of rows) taken at many generations while it is brought forward by
/// thousands of commits: each clone still answers as the generation it was
/// taken at (never a later or half-applied commit), and the snapshot as a
/// fresh build of each generation.
#[test]
fn readers_keep_their_generation_while_the_snapshot_moves_on() {
    const START: usize = 5000;
    const MANY: usize = 7000;
    let p = profile();
    let mut model = Model::default();
    let mut ignored = SnapshotChanges::default();
    for k in 0..START {
        model.apply(&put(k, k as u64), &mut ignored);
        if k % 3 == 0 {
            model.apply(&Op::PutEdge(k, (k * 7) % START, k % 5, 1.0), &mut ignored);
        }
        model.apply(&Op::Event(vec![k], k % 3, (k % 48) as i64), &mut ignored);
    }
    let mut snap = model.build(&p, 1);
    let mut readers: Vec<(Snapshot, String)> = Vec::new();
    let mut x: u64 = 0x0dd5_eed5;
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize % n
    };
    for g in 0..2000u64 {
        if g % 250 == 0 {
            let dump = snap.canonical_dump();
            assert_eq!(dump, model.build(&p, g + 1).canonical_dump(), "commit {g}");
            readers.push((snap.clone(), dump));
        }
        let mut c = SnapshotChanges::default();
        for _ in 0..1 + next(3) {
            let k = next(MANY);
            let o = match next(12) {
                0..=4 => put(k, g),
                5 => Op::DeleteNode(next(START)),
                6 | 7 => Op::PutEdge(k, next(MANY), next(5), 1.0),
                8 => Op::DeleteEdge(k, next(MANY), next(5)),
                _ => Op::Event(vec![k, next(START)], next(3), next(48) as i64),
            };
            model.apply(&o, &mut c);
        }
        for (id, n) in &mut c.nodes {
            *n = model.nodes.get(id).cloned();
        }
        // Another reader holds this generation only while the commit applies.
        let held = snap.clone();
        snap.apply(g + 2, &c, &mut |id| model.edges_of(id));
        drop(held);
    }
    assert_eq!(
        snap.canonical_dump(),
        model.build(&p, 2001).canonical_dump()
    );
    assert!(
        snap.index_bound() > START + 300,
        "rows were added: {}",
        snap.index_bound()
    );
    for (k, (reader, dump)) in readers.iter().enumerate() {
        assert_eq!(&reader.canonical_dump(), dump, "reader {k}");
    }
}

/// A node put with text, phase, labels and time varying with `v`.
fn put(k: usize, v: u64) -> Op {
    Op::PutNode {
        k,
        text: (v % 6) as u8,
        phase: (v % 5) as usize,
        created: (v % 4) as i64,
        labels: (0..(v % 3) as usize).collect(),
        tokens: (v % 40) as u32,
        invalid: v.is_multiple_of(7),
    }
}

/// A node added with the lowest id takes the last row: equal spreading paths
/// and equal scores still go to the lower id, as in a fresh build.
#[test]
fn ties_go_by_id_not_by_row() {
    let p = profile();
    let mut model = Model::default();
    let mut ignored = SnapshotChanges::default();
    for k in [5, 7, 9] {
        model.apply(&put(k, 1), &mut ignored);
    }
    for k in [5, 9] {
        model.apply(&Op::PutEdge(k, 7, 0, 1.0), &mut ignored);
    }
    let mut snap = model.build(&p, 1);
    let mut c = SnapshotChanges::default();
    model.apply(&put(1, 1), &mut c);
    model.apply(&Op::PutEdge(1, 7, 0, 1.0), &mut c);
    for (id, n) in &mut c.nodes {
        *n = model.nodes.get(id).cloned();
    }
    snap.apply(2, &c, &mut |id| model.edges_of(id));
    assert_eq!(
        snap.index_of("n01"),
        Some(3),
        "the new node takes the last row"
    );
    let fresh = model.build(&p, 2);
    assert_eq!(fresh.index_of("n01"), Some(0));
    let cue = Cue {
        text: None,
        nodes: vec!["n09".into(), "n05".into(), "n01".into()],
        hints: vec![],
        events_since: None,
    };
    let input = ActivationInput {
        cue: &cue,
        lexical: &[],
        semantic: &[],
        budget_tokens: 10_000,
        limit: 20,
        as_of: as_of(),
        include_invalid: true,
        explain: true,
    };
    let visible = |_: phase_memory_activate::NodeView<'_>| Visibility::Visible;
    let applied = activate(&snap, &p.activation, &input, &visible);
    let built = activate(&fresh, &p.activation, &input, &visible);
    assert_eq!(
        serde_json::to_string(&applied).expect("serialises"),
        serde_json::to_string(&built).expect("serialises")
    );
    let target = applied
        .items
        .iter()
        .find(|i| i.node == "n07")
        .and_then(|i| i.explain.as_ref())
        .expect("n07 is reached and explained");
    assert_eq!(target.path, ["n01", "n07"], "the tie goes to the lowest id");
}

/// A thread's activations reuse one touched-node map: what an earlier, larger
/// activation left in it never shows in the next one (the same answers as on a
/// thread that ran nothing before).
#[test]
fn activations_after_others_on_the_same_thread_equal_a_fresh_threads() {
    let p = profile();
    let mut model = Model::default();
    let mut ignored = SnapshotChanges::default();
    for k in 0..IDS {
        model.apply(&put(k, k as u64 * 3 + 1), &mut ignored);
    }
    for k in 0..IDS {
        for j in [1, 3, 7] {
            model.apply(&Op::PutEdge(k, (k + j) % IDS, 0, 1.0), &mut ignored);
        }
    }
    let snap = model.build(&p, 1);
    let small = [2usize];
    let fresh = std::thread::scope(|s| {
        s.spawn(|| activations(&snap, &p, &small, 0))
            .join()
            .expect("thread")
    });
    // Larger activations first on this thread, then the small one.
    let all: Vec<usize> = (0..IDS).collect();
    let _ = activations(&snap, &p, &all, 1);
    let _ = activations(&snap, &p, &all[..IDS / 2], 3);
    assert_eq!(activations(&snap, &p, &small, 0), fresh);
}

/// Two snapshots brought forward from one along different paths (two runtimes
/// of a process may each bring their own copy forward) can give one class
/// number to different classes: numbering a class starts a new lineage, so
/// policy decisions kept per class number are never shared between them; a
/// commit that numbers no class keeps the lineage.
#[test]
fn snapshots_that_number_classes_apart_never_share_a_lineage() {
    let p = profile();
    let mut model = Model::default();
    let mut ignored = SnapshotChanges::default();
    let plain = |k: usize, labels: Vec<usize>| Op::PutNode {
        k,
        text: 1,
        phase: 1,
        created: 0,
        labels,
        tokens: 5,
        invalid: false,
    };
    model.apply(&plain(0, vec![]), &mut ignored);
    let base = model.build(&p, 1);
    // The same commit from both copies' point of view, but each copy sees a
    // different new node first: one labelled red, the other green.
    let bring = |snap: &Snapshot, op: Op| {
        let mut m = Model::default();
        let mut ignored = SnapshotChanges::default();
        m.apply(&plain(0, vec![]), &mut ignored);
        let mut c = SnapshotChanges::default();
        m.apply(&op, &mut c);
        for (id, n) in &mut c.nodes {
            *n = m.nodes.get(id).cloned();
        }
        let mut s = snap.clone();
        s.apply(2, &c, &mut |id| m.edges_of(id));
        s
    };
    let red = bring(&base, plain(1, vec![0]));
    let green = bring(&base, plain(2, vec![1]));
    assert_eq!(red.policy_class_count(), base.policy_class_count() + 1);
    assert_eq!(green.policy_class_count(), base.policy_class_count() + 1);
    let lineages = [
        base.policy_class_lineage(),
        red.policy_class_lineage(),
        green.policy_class_lineage(),
    ];
    assert_ne!(lineages[0], lineages[1]);
    assert_ne!(lineages[0], lineages[2]);
    assert_ne!(lineages[1], lineages[2], "one class number, two classes");
    // A node of a class the snapshot has: no class numbered, the lineage stays.
    let same = bring(&base, plain(3, vec![]));
    assert_eq!(same.policy_class_count(), base.policy_class_count());
    assert_eq!(same.policy_class_lineage(), base.policy_class_lineage());
}
