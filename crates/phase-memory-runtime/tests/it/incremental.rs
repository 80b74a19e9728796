//! Derived state follows writes incrementally: after writes of this runtime or of
//! another handle on the same store, the activation snapshot equals a fresh build
//! of the store (and answers activations alike), without being rebuilt from the
//! whole store where the adapter can tell what changed.

use std::sync::Arc;

use phase_memory_model::Status;
use phase_memory_runtime::{Adapter, Clock, Runtime, SharedSnapshot, build_snapshot, open_runtime};
use serde_json::{Value, json};

use crate::{T0, check, mem, on_disk, owner, pool, t};

pub(crate) fn upsert(rt: &mut Runtime, id: &str, title: &str) {
    check(
        rt,
        &owner(),
        "node.upsert",
        json!({"node": {"id": id, "kind": "fact", "title": title, "body": format!("{title} body words")}}),
        Status::Ok,
    );
}

/// Every kind of write activation depends on, in an order that inserts ids
/// before, between and after the existing ones.
pub(crate) fn writes(rt: &mut Runtime) -> usize {
    let ops: Vec<(&str, Value)> = vec![
        (
            "node.upsert",
            json!({"node": {"id": "m-middle", "kind": "fact", "title": "Middle", "body": "paris middle"}}),
        ),
        (
            "edge.upsert",
            json!({"edge": {"from": "m-middle", "to": "paris", "type": "relates_to"}}),
        ),
        (
            "node.upsert",
            json!({"node": {"id": "a-first", "kind": "fact", "title": "First", "body": "louvre first", "labels": ["x"]}}),
        ),
        (
            "event.append",
            json!({"event": {"event": "observation", "at": "2026-02-27T00:00:00Z", "subjects": ["a-first", "louvre"]}}),
        ),
        (
            "edge.upsert",
            json!({"edge": {"from": "a-first", "to": "m-middle", "type": "part_of"}}),
        ),
        (
            "node.upsert",
            json!({"node": {"id": "paris", "kind": "fact", "title": "Paris again", "body": "Paris is the capital"}}),
        ),
        (
            "edge.delete",
            json!({"edge": {"from": "m-middle", "to": "paris", "type": "relates_to"}}),
        ),
        (
            "node.upsert",
            json!({"node": {"id": "ghost", "kind": "fact", "title": "Ghost", "body": "seen before it was written"}}),
        ),
        ("node.delete", json!({"node": "a-first"})),
        (
            "node.upsert",
            json!({"node": {"id": "z-last", "kind": "fact", "title": "Last", "body": "paris last"}}),
        ),
    ];
    let n = ops.len();
    for (op, req) in ops {
        let env = rt.run(op, req, &owner());
        assert!(
            matches!(env.status, Status::Ok | Status::ReviewRequired),
            "{op}: {}",
            env.to_json()
        );
    }
    n
}

pub(crate) fn activation(rt: &mut Runtime) -> Value {
    let env = check(
        rt,
        &owner(),
        "activation.run",
        json!({"cue": {"text": "paris louvre middle", "nodes": ["ghost"], "events_since": "2026-02-20T00:00:00Z"}, "explain": true}),
        Status::Ok,
    );
    env.data
}

/// The runtime's snapshot and a fresh build of its store, as dumps.
pub(crate) fn dumps(rt: &mut Runtime) -> (String, String) {
    let snap = rt.activation_snapshot().expect("snapshot");
    let fresh = build_snapshot(rt.store(), rt.profile(), snap.generation()).expect("fresh");
    (snap.canonical_dump(), fresh.canonical_dump())
}

pub(crate) fn seeded(rt: &mut Runtime) {
    upsert(rt, "paris", "Paris");
    upsert(rt, "louvre", "Louvre");
    upsert(rt, "q-other", "Other");
}

#[test]
fn own_writes_bring_the_snapshot_forward_without_a_rebuild() {
    let (_a, file) = on_disk(Adapter::File, None);
    let (_b, sqlite) = on_disk(Adapter::Sqlite, None);
    for mut rt in [mem(), file, sqlite] {
        seeded(&mut rt);
        activation(&mut rt);
        let before = rt.derived_stats();
        assert_eq!(before.snapshot_builds, 1, "{before:?}");
        let n = writes(&mut rt);
        let (snap, fresh) = dumps(&mut rt);
        assert_eq!(snap, fresh);
        assert!(snap.contains("\"ghost\""), "{snap}");
        activation(&mut rt);
        let after = rt.derived_stats();
        assert_eq!(after.snapshot_builds, 1, "no rebuild: {after:?}");
        assert!(
            after.snapshot_updates >= before.snapshot_updates + n as u64 - 1,
            "{after:?}"
        );
    }
}

#[test]
fn another_handles_commits_are_applied_not_reloaded() {
    for adapter in [Adapter::File, Adapter::Sqlite] {
        let (dir, mut writer) = on_disk(adapter, None);
        seeded(&mut writer);
        let mut reader =
            open_runtime(&dir.path().join("store"), Clock::Fixed(t(T0))).expect("open");
        let first = activation(&mut reader);
        writes(&mut writer);
        let second = activation(&mut reader);
        assert_ne!(first, second, "the reader saw the new commits");
        let (snap, fresh) = dumps(&mut reader);
        assert_eq!(snap, fresh, "{adapter:?}");
        // The same answer as a runtime opened now.
        let mut fresh_rt =
            open_runtime(&dir.path().join("store"), Clock::Fixed(t(T0))).expect("open");
        let mut a = activation(&mut reader);
        let mut b = activation(&mut fresh_rt);
        for v in [&mut a, &mut b] {
            if let Some(o) = v.as_object_mut() {
                o.remove("request_id");
            }
        }
        assert_eq!(a, b, "{adapter:?}");
        // Both adapters report what changed (the file adapter from the segments
        // it reads, SQLite from its change feed): one build, then updates.
        let stats = reader.derived_stats();
        assert_eq!(stats.snapshot_builds, 1, "{adapter:?} {stats:?}");
        assert!(stats.snapshot_updates >= 1, "{adapter:?} {stats:?}");
    }
}

#[test]
fn runtimes_sharing_a_snapshot_build_it_once_and_bring_it_forward_once() {
    let (dir, mut writer) = on_disk(Adapter::File, None);
    seeded(&mut writer);
    let path = dir.path().join("store");
    let shared = SharedSnapshot::new();
    let mut pool = pool(&path, &shared, 2);
    let mut alone = open_runtime(&path, Clock::Fixed(t(T0))).expect("open");
    let total = |pool: &[Runtime]| {
        pool.iter().fold((0, 0), |(b, u), rt| {
            let s = rt.derived_stats();
            (b + s.snapshot_builds, u + s.snapshot_updates)
        })
    };
    for rt in &mut pool {
        activation(rt);
    }
    assert_eq!(total(&pool), (1, 0), "one build for the pool");
    let a = pool[0].activation_snapshot().expect("snapshot");
    let b = pool[1].activation_snapshot().expect("snapshot");
    assert!(Arc::ptr_eq(&a, &b), "one snapshot in memory");
    drop((a, b));

    writes(&mut writer);
    let mut answers = Vec::new();
    for rt in pool.iter_mut().chain([&mut alone]) {
        let mut v = activation(rt);
        if let Some(o) = v.as_object_mut() {
            o.remove("request_id");
        }
        answers.push(v);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0], answers[2],
        "the same answer as a runtime of its own"
    );
    let (builds, updates) = total(&pool);
    assert_eq!(builds, 1, "no rebuild");
    assert!(updates >= 1, "brought forward");
    assert_eq!(
        pool[1].derived_stats().snapshot_updates,
        0,
        "found it brought forward"
    );
    for rt in &mut pool {
        let (snap, fresh) = dumps(rt);
        assert_eq!(snap, fresh);
    }
    assert!(
        (1..=2).contains(&shared.versions()),
        "{}",
        shared.versions()
    );
}

/// A pool's writer brings the share's older generation forward in place (the
/// newest stays for readers): from the second commit on, no commit copies the
/// whole snapshot, and every generation equals a fresh build.
#[test]
fn a_pools_writes_reuse_the_older_shared_generation_in_place() {
    let (dir, mut seed) = on_disk(Adapter::File, None);
    seeded(&mut seed);
    drop(seed);
    let path = dir.path().join("store");
    let shared = SharedSnapshot::new();
    let mut pool = pool(&path, &shared, 2);
    activation(&mut pool[1]);
    let mut pointers = Vec::new();
    for (i, title) in ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
        .iter()
        .enumerate()
    {
        upsert(&mut pool[0], &format!("n-{i}"), title);
        // The reader moves to the newest generation.
        activation(&mut pool[1]);
        let (snap, fresh) = dumps(&mut pool[1]);
        assert_eq!(snap, fresh, "after write {i}");
        let s = pool[1].activation_snapshot().expect("snapshot");
        pointers.push(Arc::as_ptr(&s) as usize);
        assert!(shared.versions() <= 2);
    }
    // Two generations alternate in two allocations: each commit brought the
    // older one forward instead of copying the newest.
    assert_eq!(pointers[1], pointers[3], "{pointers:?}");
    assert_eq!(pointers[2], pointers[4], "{pointers:?}");
    assert_ne!(pointers[3], pointers[4], "{pointers:?}");
    let builds: u64 = pool
        .iter()
        .map(|rt| rt.derived_stats().snapshot_builds)
        .sum();
    assert_eq!(builds, 1, "no rebuild");
}
