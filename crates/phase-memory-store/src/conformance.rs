//! The conformance suite: written once over the traits, run against every adapter.
//!
//! An adapter's manifest names the checks it claims ([`AdapterManifest::conformance`]);
//! [`run`] executes every check, and reports a check the adapter cannot run (for want
//! of a capability) as skipped *with its reason* — never silently.

use phase_memory_model::audit::GENESIS_HASH;
use phase_memory_model::{
    AuditCheckpoint, AuditRecord, Edge, Event, Node, Review, ReviewStatus, Time,
};
use serde_json::json;

use crate::{AdapterManifest, Capability, ChangeSet, EventQuery, Store, StoreMeta};

/// Creates fresh stores of one adapter and reopens them.
pub trait StoreFactory {
    /// A new, empty store.
    fn create(&self) -> Box<dyn Store>;
    /// Closes `store` and opens the same location again.
    fn reopen(&self, store: Box<dyn Store>) -> Box<dyn Store>;
}

/// One conformance check.
pub struct Check {
    /// Stable name.
    pub name: &'static str,
    /// Capabilities it needs.
    pub needs: &'static [Capability],
    /// The check: Ok or what failed.
    pub run: fn(&dyn StoreFactory) -> Result<(), String>,
}

/// Outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Passed,
    /// Failed, with what went wrong.
    Failed(String),
    /// Not run, with the reason.
    Skipped(String),
}

/// Every check of the suite.
pub const CHECKS: &[Check] = &[
    Check {
        name: "node_round_trip",
        needs: &[Capability::Graph],
        run: node_round_trip,
    },
    Check {
        name: "awkward_ids",
        needs: &[Capability::Graph],
        run: awkward_ids,
    },
    Check {
        name: "edge_round_trip",
        needs: &[Capability::Graph],
        run: edge_round_trip,
    },
    Check {
        name: "event_sequence",
        needs: &[Capability::Events],
        run: event_sequence,
    },
    Check {
        name: "audit_chain",
        needs: &[Capability::Audit],
        run: audit_chain,
    },
    Check {
        name: "audit_prune",
        needs: &[Capability::AuditPrune],
        run: audit_prune,
    },
    Check {
        name: "restore_after_checkpoint",
        needs: &[Capability::AuditPrune],
        run: restore_after_checkpoint,
    },
    Check {
        name: "reviews_round_trip",
        needs: &[Capability::Reviews],
        run: reviews_round_trip,
    },
    Check {
        name: "profile_and_meta",
        needs: &[Capability::Graph],
        run: profile_and_meta,
    },
    Check {
        name: "atomic_refusal",
        needs: &[Capability::AtomicCommit],
        run: atomic_refusal,
    },
    Check {
        name: "durable_reopen",
        needs: &[Capability::Durable],
        run: durable_reopen,
    },
];

/// Names of the checks an adapter with these capabilities claims: every check
/// whose needs it declares.
pub fn claimed(capabilities: &[Capability]) -> Vec<String> {
    CHECKS
        .iter()
        .filter(|c| c.needs.iter().all(|n| capabilities.contains(n)))
        .map(|c| c.name.to_string())
        .collect()
}

/// Runs the suite against an adapter, driven by its manifest.
pub fn run(factory: &dyn StoreFactory) -> Vec<(&'static str, Outcome)> {
    let manifest: AdapterManifest = factory.create().manifest();
    CHECKS
        .iter()
        .map(|c| {
            let missing: Vec<&str> = c
                .needs
                .iter()
                .filter(|n| !manifest.has(**n))
                .map(|n| n.as_str())
                .collect();
            let outcome = if !missing.is_empty() {
                Outcome::Skipped(format!(
                    "adapter {} lacks capability {}",
                    manifest.name,
                    missing.join(", ")
                ))
            } else if !manifest.conformance.iter().any(|n| n == c.name) {
                Outcome::Failed(format!(
                    "adapter {} has the capabilities for {} but does not claim it in its manifest",
                    manifest.name, c.name
                ))
            } else {
                match (c.run)(factory) {
                    Ok(()) => Outcome::Passed,
                    Err(e) => Outcome::Failed(e),
                }
            };
            (c.name, outcome)
        })
        .collect()
}

/// Runs the suite and panics with every failure (for adapter test binaries).
pub fn assert_conforms(factory: &dyn StoreFactory) {
    let results = run(factory);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(n, o)| match o {
            Outcome::Failed(e) => Some(format!("{n}: {e}")),
            _ => None,
        })
        .collect();
    for (n, o) in &results {
        if let Outcome::Skipped(why) = o {
            eprintln!("conformance: {n} skipped: {why}");
        }
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn t(s: i64) -> Time {
    Time::from_millis(1_767_225_600_000 + s * 1000)
}

/// A sample node.
pub fn sample_node(id: &str) -> Node {
    Node {
        id: id.into(),
        kind: "fact".into(),
        phase: "active".into(),
        title: format!("title of {id}"),
        body: format!("body of {id} with ünïcode"),
        labels: vec!["a".into(), "b".into()],
        scope: "default".into(),
        sensitivity: "internal".into(),
        attrs: [("k".to_string(), json!({"n": 1.5}))].into_iter().collect(),
        created_at: t(0),
        updated_at: t(1),
        valid_from: Some(t(0)),
        valid_to: None,
        tokens: 7,
        tombstone: None,
        implicit_time: false,
    }
}

fn edge(from: &str, to: &str, ty: &str) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        edge_type: ty.into(),
        weight: 0.75,
        attrs: Default::default(),
        created_at: t(2),
    }
}

fn event(seq: u64, ty: &str, subjects: &[&str]) -> Event {
    Event {
        seq,
        id: format!("ev-{seq}"),
        at: t(seq as i64 * 10),
        actor: "alice".into(),
        event_type: ty.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        payload: json!({"seq": seq}),
    }
}

fn audit_record(seq: u64, prev: &str) -> AuditRecord {
    AuditRecord {
        seq,
        at: t(seq as i64),
        actor: "alice".into(),
        operation: "node.upsert".into(),
        status: "ok".into(),
        decision: "allow".into(),
        rule_id: Some("r1".into()),
        subjects: vec!["n1".into()],
        request_digest: "blake3:req".into(),
        envelope_digest: "blake3:env".into(),
        details: serde_json::Value::Null,
        prev_hash: String::new(),
        hash: String::new(),
    }
    .seal(prev)
}

fn chain_after(store: &dyn Store, n: u64) -> Result<Vec<AuditRecord>, String> {
    let head = store.audit_head().map_err(|e| e.to_string())?;
    let (mut seq, mut prev) = head
        .map(|h| (h.seq, h.hash))
        .unwrap_or((0, GENESIS_HASH.to_string()));
    let mut out = Vec::new();
    for _ in 0..n {
        seq += 1;
        let r = audit_record(seq, &prev);
        prev = r.hash.clone();
        out.push(r);
    }
    Ok(out)
}

fn commit(store: &mut dyn Store, c: ChangeSet) -> Result<u64, String> {
    store.commit(c).map_err(|e| format!("commit failed: {e}"))
}

fn node_round_trip(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let g0 = s.generation();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("b"), sample_node("a")],
            ..Default::default()
        },
    )?;
    ensure!(s.generation() > g0, "generation did not grow");
    ensure!(
        s.node("a").map_err(|e| e.to_string())? == Some(sample_node("a")),
        "node a differs after round trip"
    );
    ensure!(
        s.node("zz").map_err(|e| e.to_string())?.is_none(),
        "missing node returned something"
    );
    let mut ids = Vec::new();
    s.for_each_node(&mut |n| ids.push(n.id.clone()))
        .map_err(|e| e.to_string())?;
    ensure!(ids == ["a", "b"], "for_each_node order {ids:?}");
    let mut changed = sample_node("a");
    changed.title = "new title".into();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![changed.clone()],
            delete_nodes: vec!["b".into()],
            ..Default::default()
        },
    )?;
    ensure!(
        s.node("a").map_err(|e| e.to_string())? == Some(changed),
        "upsert did not replace"
    );
    ensure!(
        s.node_count().map_err(|e| e.to_string())? == 1,
        "delete did not remove b"
    );
    Ok(())
}

fn awkward_ids(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let ids = [
        "conv-26/D1:3",
        "../x",
        "Ünïcode",
        "a b\"c'",
        "/etc/passwd",
        "..",
        "CON",
        &"x".repeat(256),
    ];
    let nodes: Vec<Node> = ids.iter().map(|i| sample_node(i)).collect();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: nodes,
            ..Default::default()
        },
    )?;
    let s = f.reopen(s);
    for id in ids {
        ensure!(
            s.node(id).map_err(|e| e.to_string())?.is_some(),
            "id {id:?} did not round trip"
        );
    }
    Ok(())
}

fn edge_round_trip(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("a"), sample_node("b"), sample_node("c")],
            put_edges: vec![
                edge("a", "b", "relates_to"),
                edge("c", "a", "mentions"),
                edge("b", "c", "relates_to"),
            ],
            ..Default::default()
        },
    )?;
    ensure!(
        s.edge_count().map_err(|e| e.to_string())? == 3,
        "edge count"
    );
    let of_a = s.edges_of("a").map_err(|e| e.to_string())?;
    ensure!(
        of_a.len() == 2 && of_a[0] == edge("a", "b", "relates_to"),
        "edges_of(a) = {of_a:?}"
    );
    let mut keys = Vec::new();
    s.for_each_edge(&mut |e| keys.push((e.from.clone(), e.to.clone())))
        .map_err(|e| e.to_string())?;
    ensure!(
        keys == [
            ("a".into(), "b".into()),
            ("b".into(), "c".into()),
            ("c".into(), "a".into())
        ],
        "edge order {keys:?}"
    );
    commit(
        s.as_mut(),
        ChangeSet {
            delete_edges: vec![edge("a", "b", "relates_to").key()],
            ..Default::default()
        },
    )?;
    ensure!(
        s.edges_of("a").map_err(|e| e.to_string())?.len() == 1,
        "edge delete"
    );
    Ok(())
}

fn event_sequence(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    commit(
        s.as_mut(),
        ChangeSet {
            events: vec![
                event(1, "node.created", &["a"]),
                event(2, "node.accessed", &["a"]),
                event(3, "observation", &["b"]),
            ],
            ..Default::default()
        },
    )?;
    ensure!(
        s.event_head().map_err(|e| e.to_string())? == 3,
        "event head"
    );
    let q = EventQuery {
        subject: Some("a".into()),
        ..Default::default()
    };
    ensure!(
        s.events(&q).map_err(|e| e.to_string())?.len() == 2,
        "subject filter"
    );
    let q = EventQuery {
        after_seq: 1,
        types: vec!["observation".into()],
        ..Default::default()
    };
    let got = s.events(&q).map_err(|e| e.to_string())?;
    ensure!(
        got.len() == 1 && got[0] == event(3, "observation", &["b"]),
        "type filter {got:?}"
    );
    let q = EventQuery {
        since: Some(t(20)),
        until: Some(t(30)),
        ..Default::default()
    };
    ensure!(
        s.events(&q).map_err(|e| e.to_string())?.len() == 1,
        "time filter"
    );
    let gap = s.commit(ChangeSet {
        events: vec![event(5, "x", &[])],
        ..Default::default()
    });
    ensure!(gap.is_err(), "a seq gap was accepted");
    ensure!(
        s.event_head().map_err(|e| e.to_string())? == 3,
        "refused commit changed the head"
    );
    Ok(())
}

fn audit_chain(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let recs = chain_after(s.as_ref(), 3)?;
    commit(
        s.as_mut(),
        ChangeSet {
            audit: recs.clone(),
            ..Default::default()
        },
    )?;
    let back = s.audit_records(0).map_err(|e| e.to_string())?;
    ensure!(back == recs, "audit records differ after round trip");
    let head = s
        .audit_head()
        .map_err(|e| e.to_string())?
        .ok_or("no head")?;
    ensure!(head.seq == 3 && head.hash == recs[2].hash, "audit head");
    ensure!(
        s.audit_records(2).map_err(|e| e.to_string())?.len() == 1,
        "audit_records(after)"
    );
    Ok(())
}

fn audit_prune(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let recs = chain_after(s.as_ref(), 4)?;
    commit(
        s.as_mut(),
        ChangeSet {
            audit: recs.clone(),
            ..Default::default()
        },
    )?;
    let cp = AuditCheckpoint {
        last_pruned_seq: 2,
        last_pruned_hash: recs[1].hash.clone(),
        pruned_at: Some(t(99)),
        pruned_count: 2,
    };
    commit(
        s.as_mut(),
        ChangeSet {
            prune_audit: Some(cp.clone()),
            ..Default::default()
        },
    )?;
    let s = f.reopen(s);
    ensure!(
        s.audit_checkpoint().map_err(|e| e.to_string())? == cp,
        "checkpoint"
    );
    let left = s.audit_records(0).map_err(|e| e.to_string())?;
    ensure!(
        left.len() == 2 && left[0].seq == 3,
        "records after prune {left:?}"
    );
    ensure!(
        phase_memory_model::audit::verify_chain(&cp, &left).is_empty(),
        "chain after prune does not verify"
    );
    Ok(())
}

fn reviews_round_trip(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let mut r = Review {
        id: "rev-1".into(),
        operation: "lifecycle.apply".into(),
        subjects: vec!["a".into()],
        requested_by: "alice".into(),
        reason: "forget needs review".into(),
        rule_id: Some("forget-review".into()),
        status: ReviewStatus::Pending,
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        created_at: t(0),
        expires_at: Some(t(1000)),
        request: json!({"nodes": ["a"]}),
    };
    commit(
        s.as_mut(),
        ChangeSet {
            put_reviews: vec![r.clone()],
            ..Default::default()
        },
    )?;
    ensure!(
        s.review("rev-1").map_err(|e| e.to_string())? == Some(r.clone()),
        "review round trip"
    );
    r.status = ReviewStatus::Approved;
    r.decided_by = Some("bob".into());
    commit(
        s.as_mut(),
        ChangeSet {
            put_reviews: vec![r.clone()],
            ..Default::default()
        },
    )?;
    let all = s.reviews().map_err(|e| e.to_string())?;
    ensure!(all == vec![r], "review update");
    Ok(())
}

fn profile_and_meta(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let mut meta: StoreMeta = s.meta().map_err(|e| e.to_string())?;
    meta.applied_migrations.push("0002-test".into());
    commit(
        s.as_mut(),
        ChangeSet {
            profile: Some("name = \"p\"\n".into()),
            meta: Some(meta.clone()),
            ..Default::default()
        },
    )?;
    let s = f.reopen(s);
    ensure!(
        s.profile_source().map_err(|e| e.to_string())?.as_deref() == Some("name = \"p\"\n"),
        "profile source"
    );
    ensure!(s.meta().map_err(|e| e.to_string())? == meta, "meta");
    Ok(())
}

fn atomic_refusal(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("a")],
            events: vec![event(1, "x", &["a"])],
            ..Default::default()
        },
    )?;
    let bad = ChangeSet {
        put_nodes: vec![sample_node("b")],
        events: vec![event(7, "x", &["b"])],
        ..Default::default()
    };
    ensure!(s.commit(bad).is_err(), "bad change set accepted");
    ensure!(
        s.node("b").map_err(|e| e.to_string())?.is_none(),
        "half of a refused change set landed"
    );
    let s = f.reopen(s);
    ensure!(
        s.node("b").map_err(|e| e.to_string())?.is_none(),
        "half of a refused change set landed (after reopen)"
    );
    ensure!(
        s.node("a").map_err(|e| e.to_string())?.is_some(),
        "earlier commit lost"
    );
    Ok(())
}

fn durable_reopen(f: &dyn StoreFactory) -> Result<(), String> {
    let mut s = f.create();
    let recs = chain_after(s.as_ref(), 2)?;
    commit(
        s.as_mut(),
        ChangeSet {
            put_nodes: vec![sample_node("a"), sample_node("b")],
            put_edges: vec![edge("a", "b", "relates_to")],
            events: vec![event(1, "node.created", &["a"])],
            audit: recs.clone(),
            ..Default::default()
        },
    )?;
    for i in 0..20 {
        commit(
            s.as_mut(),
            ChangeSet {
                put_nodes: vec![sample_node(&format!("n{i}"))],
                events: vec![event(2 + i, "node.created", &["x"])],
                ..Default::default()
            },
        )?;
    }
    let s = f.reopen(s);
    ensure!(
        s.node_count().map_err(|e| e.to_string())? == 22,
        "node count after reopen"
    );
    ensure!(
        s.node("a").map_err(|e| e.to_string())? == Some(sample_node("a")),
        "node a after reopen"
    );
    ensure!(
        s.edges_of("b").map_err(|e| e.to_string())?.len() == 1,
        "edges after reopen"
    );
    ensure!(
        s.event_head().map_err(|e| e.to_string())? == 21,
        "events after reopen"
    );
    ensure!(
        s.audit_records(0).map_err(|e| e.to_string())? == recs,
        "audit after reopen"
    );
    Ok(())
}

/// A dump restored into an empty store: a checkpoint and the records after it land
/// in one commit (what `store.import` does when moving a pruned store).
fn restore_after_checkpoint(f: &dyn StoreFactory) -> Result<(), String> {
    let mut src = f.create();
    let recs = chain_after(src.as_ref(), 5)?;
    let cp = AuditCheckpoint {
        last_pruned_seq: 3,
        last_pruned_hash: recs[2].hash.clone(),
        pruned_at: Some(t(50)),
        pruned_count: 3,
    };
    let mut dst = f.create();
    commit(
        dst.as_mut(),
        ChangeSet {
            prune_audit: Some(cp.clone()),
            audit: recs[3..].to_vec(),
            ..Default::default()
        },
    )?;
    let dst = f.reopen(dst);
    ensure!(
        dst.audit_checkpoint().map_err(|e| e.to_string())? == cp,
        "checkpoint after restore"
    );
    ensure!(
        dst.audit_records(0).map_err(|e| e.to_string())? == recs[3..].to_vec(),
        "records after restore"
    );
    let head = dst
        .audit_head()
        .map_err(|e| e.to_string())?
        .ok_or("no head")?;
    ensure!(head.seq == 5, "head after restore");
    src.commit(ChangeSet::default())
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Shared access between two handles of one store (the protocol in the crate
/// docs), for adapters that support [`crate::OpenMode::Shared`]. `open_shared`
/// opens a new shared handle on the same, already initialised, empty store. Every
/// durable adapter's test binary runs it.
pub fn shared_access(open_shared: &dyn Fn() -> Box<dyn Store>) -> Result<(), String> {
    use std::time::{Duration, Instant};
    let e = |e: crate::StoreError| e.to_string();
    let mut a = open_shared();
    let mut b = open_shared();
    let g0 = b.generation();

    // Writing needs the lock; a second writer waits, then gets store.locked.
    ensure!(!a.holds_writer(), "a shared handle holds the lock at open");
    ensure!(
        a.commit(ChangeSet {
            put_nodes: vec![sample_node("early")],
            ..Default::default()
        })
        .is_err(),
        "a commit without the writer lock was accepted"
    );
    a.lock_writer(Duration::from_secs(5)).map_err(e)?;
    let started = Instant::now();
    match b.lock_writer(Duration::from_millis(150)) {
        Err(err) if err.code() == "store.locked" => {}
        other => return Err(format!("second writer got {other:?}, want store.locked")),
    }
    ensure!(
        started.elapsed() >= Duration::from_millis(140),
        "the second writer did not wait ({:?})",
        started.elapsed()
    );

    // A commit is invisible to the other handle until it refreshes, then whole.
    let mut c = ChangeSet {
        put_nodes: vec![sample_node("n1"), sample_node("n2")],
        put_edges: vec![edge("n1", "n2", "supports")],
        events: vec![event(1, "note", &["n1"]), event(2, "note", &["n2"])],
        ..Default::default()
    };
    c.audit = chain_after(a.as_ref(), 1)?;
    a.commit(c).map_err(e)?;
    ensure!(
        b.node("n1").map_err(e)?.is_none() && b.generation() == g0,
        "a reader saw a commit before refreshing"
    );
    let g1 = b.refresh().map_err(e)?;
    ensure!(
        g1 == a.generation(),
        "refresh reached {g1}, want {}",
        a.generation()
    );
    ensure!(
        b.node("n1").map_err(e)? == Some(sample_node("n1"))
            && b.edges_of("n2").map_err(e)?.len() == 1
            && b.event_head().map_err(e)? == 2
            && b.audit_head().map_err(e)? == a.audit_head().map_err(e)?,
        "a refreshed reader does not see the whole commit"
    );
    ensure!(
        b.refresh().map_err(e)? == g1,
        "a refresh without commits moved"
    );

    // Audit-only commits move the generation but not the data generation.
    let data = b.data_generation();
    let c = ChangeSet {
        audit: chain_after(a.as_ref(), 2)?,
        ..Default::default()
    };
    a.commit(c).map_err(e)?;
    b.refresh().map_err(e)?;
    ensure!(
        b.generation() > g1 && b.data_generation() == data,
        "an audit-only commit moved the data generation ({data} -> {})",
        b.data_generation()
    );

    // The lock passes to a waiting writer once released.
    let waiter = std::thread::spawn(move || {
        let r = b.lock_writer(Duration::from_secs(10)).map(|_| ());
        (b, r)
    });
    std::thread::sleep(Duration::from_millis(100));
    a.unlock_writer();
    let (mut b, r) = waiter
        .join()
        .map_err(|_| "the waiting writer panicked".to_string())?;
    r.map_err(e)?;
    ensure!(
        b.holds_writer(),
        "the waiting writer does not hold the lock"
    );

    // Many commits (enough to make the file adapter compact), then a prune: the
    // other handle catches up with all of them.
    for i in 0..40u64 {
        let mut c = ChangeSet {
            put_nodes: vec![sample_node(&format!("m{i:02}"))],
            delete_nodes: if i == 5 {
                vec!["n2".into()]
            } else {
                Vec::new()
            },
            events: vec![event(3 + i, "note", &["m"])],
            ..Default::default()
        };
        c.audit = chain_after(b.as_ref(), 1)?;
        b.commit(c).map_err(e)?;
    }
    let head = b.audit_head().map_err(e)?.ok_or("no audit head")?;
    let kept = b.audit_records(0).map_err(e)?;
    let cut = &kept[kept.len() / 2];
    b.commit(ChangeSet {
        prune_audit: Some(AuditCheckpoint {
            last_pruned_seq: cut.seq,
            last_pruned_hash: cut.hash.clone(),
            pruned_at: Some(t(100)),
            pruned_count: cut.seq,
        }),
        ..Default::default()
    })
    .map_err(e)?;
    b.unlock_writer();
    a.refresh().map_err(e)?;
    ensure!(
        a.generation() == b.generation(),
        "generations differ after catch-up"
    );
    ensure!(
        a.node_count().map_err(e)? == b.node_count().map_err(e)?
            && a.node("n2").map_err(e)?.is_none()
            && a.node("m39").map_err(e)?.is_some()
            && a.event_head().map_err(e)? == 42,
        "the catch-up missed commits"
    );
    ensure!(
        a.audit_records(0).map_err(e)? == b.audit_records(0).map_err(e)?
            && a.audit_head().map_err(e)? == Some(head),
        "the catch-up missed the audit prune"
    );
    Ok(())
}
