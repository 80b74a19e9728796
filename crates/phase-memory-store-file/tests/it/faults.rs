//! Fault injection: every write of a commit (and of a migration) fails in turn — an
//! error, a torn write, a full disk — and the store reopens as exactly the state
//! before or after, repairs clean, and never loses an earlier commit.

use std::path::Path;
use std::sync::Arc;

use phase_memory_model::AuditCheckpoint;
use phase_memory_store::{AuditStore, ChangeSet, Store, StoreError};
use phase_memory_store_file::{Fault, FaultyFs, FileStore, OpenMode, v1};
use tempfile::TempDir;

use crate::{audit_after, edge, event, node, review, snapshot_state};

/// A store with a few commits behind it.
fn base(dir: &Path) {
    let mut s = FileStore::init(dir, crate::meta()).expect("init");
    for i in 0..3u64 {
        let audit = audit_after(&s, 2);
        s.commit(ChangeSet {
            put_nodes: vec![
                node(&format!("n{i}"), &format!("body {i}")),
                node("a", "alpha"),
            ],
            put_edges: vec![edge("a", &format!("n{i}"), "relates_to")],
            events: vec![event(i + 1, "node.created", &["a"])],
            audit,
            profile: Some(format!("version = {i}\n")),
            ..Default::default()
        })
        .expect("base commit");
    }
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    Delta,
    Purge,
    PruneAudit,
}

fn change(s: &FileStore, v: Variant) -> ChangeSet {
    let audit = audit_after(s, 2);
    let mut c = ChangeSet {
        put_nodes: vec![node("a", "alpha v2"), node("new", "fresh")],
        delete_nodes: vec!["n0".into()],
        put_edges: vec![edge("new", "a", "mentions")],
        delete_edges: vec![edge("a", "n1", "relates_to").key()],
        events: vec![event(4, "node.updated", &["a"])],
        audit,
        put_reviews: vec![review("r1")],
        profile: Some("version = 99\n".into()),
        ..Default::default()
    };
    match v {
        Variant::Delta => {}
        Variant::Purge => c.purge = true,
        Variant::PruneAudit => {
            let recs = s.audit_records(0).expect("audit");
            c.prune_audit = Some(AuditCheckpoint {
                last_pruned_seq: recs[2].seq,
                last_pruned_hash: recs[2].hash.clone(),
                pruned_at: Some(crate::t(500)),
                pruned_count: 3,
            });
        }
    }
    c
}

fn reopen_and_repair(dir: &Path, context: &str) -> String {
    let mut s = FileStore::open(dir, OpenMode::Write)
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    s.repair_integrity(phase_memory_model::Time::EPOCH)
        .unwrap_or_else(|e| panic!("{context}: repair failed: {e}"));
    let left = s.check_integrity().expect("check");
    assert!(left.is_empty(), "{context}: after repair: {left:?}");
    let snap = snapshot_state(s.state().expect("image"));
    drop(s);
    let s = FileStore::open(dir, OpenMode::Write).expect("second reopen");
    assert_eq!(
        snapshot_state(s.state().expect("image")),
        snap,
        "{context}: repair changed content"
    );
    snap
}

#[test]
fn a_commit_interrupted_at_any_write_leaves_before_or_after() {
    for variant in [Variant::Delta, Variant::Purge, Variant::PruneAudit] {
        for fault in [Fault::Error, Fault::Torn, Fault::StorageFull] {
            let mut n = 1;
            loop {
                let tmp = TempDir::new().expect("tempdir");
                let dir = tmp.path().join("s");
                base(&dir);
                let (before, after, c) = {
                    let s = FileStore::open(&dir, OpenMode::ReadOnly).expect("open");
                    let c = change(&s, variant);
                    let mut img = s.state().expect("image").clone();
                    img.validate(&c).expect("valid change");
                    img.apply(c.clone());
                    (
                        snapshot_state(s.state().expect("image")),
                        snapshot_state(&img),
                        c,
                    )
                };
                let faulty = Arc::new(FaultyFs::new(n, fault));
                let mut s =
                    FileStore::open_with_fs(&dir, OpenMode::Write, Box::new(faulty.clone()))
                        .expect("open under faults");
                let result = s.commit(c);
                let ops = faulty.operations();
                let context = format!("{variant:?} {fault:?} at write {n}: {:?}", faulty.log());
                if result.is_err() {
                    assert!(s.is_poisoned(), "{context}: not poisoned");
                    assert!(matches!(
                        s.commit(ChangeSet::default()),
                        Err(StoreError::Poisoned)
                    ));
                }
                drop(s);
                let got = reopen_and_repair(&dir, &context);
                if result.is_ok() {
                    assert_eq!(got, after, "{context}: commit said Ok");
                } else {
                    assert!(
                        got == before || got == after,
                        "{context}: neither before nor after:\n{got}"
                    );
                }
                if n > ops {
                    assert!(result.is_ok(), "{context}: failed without a fault");
                    break;
                }
                n += 1;
            }
            assert!(n > 5, "{variant:?}: only {n} writes exercised");
        }
    }
}

#[test]
fn a_migration_interrupted_at_any_write_leaves_v1_or_v2() {
    let image = crate::fixtures::fixture_state();
    for fault in [Fault::Error, Fault::Torn, Fault::StorageFull] {
        let mut n = 1;
        loop {
            let tmp = TempDir::new().expect("tempdir");
            let dir = tmp.path().join("s");
            v1::write_store(&dir, &image).expect("write v1");
            let faulty = Arc::new(FaultyFs::new(n, fault));
            let mut s = FileStore::open_with_fs(&dir, OpenMode::Write, Box::new(faulty.clone()))
                .expect("open v1");
            let result = s.migrate();
            let ops = faulty.operations();
            drop(s);
            let context = format!("{fault:?} at write {n}: {:?}", faulty.log());
            let mut s = FileStore::open(&dir, OpenMode::Write)
                .unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
            let pending = s.pending_migrations().expect("pending");
            if result.is_ok() {
                assert!(pending.is_empty(), "{context}");
            }
            if !pending.is_empty() {
                s.migrate()
                    .unwrap_or_else(|e| panic!("{context}: migrate again: {e}"));
            }
            s.repair_integrity(phase_memory_model::Time::EPOCH)
                .expect("repair");
            assert!(s.check_integrity().expect("check").is_empty(), "{context}");
            crate::fixtures::assert_fixture_content(&s, &context);
            if n > ops {
                assert!(result.is_ok(), "{context}");
                break;
            }
            n += 1;
        }
    }
}
