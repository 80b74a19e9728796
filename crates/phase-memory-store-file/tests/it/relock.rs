//! A shared handle that takes the writer lock again after its own commit skips
//! the sweep for what an interrupted commit leaves behind (nothing can be left
//! to settle), yet stays correct when a writer died before its commit point in
//! between; the sweep runs when another writer committed, and at least every
//! 64 locks.

use std::path::Path;
use std::time::Duration;

use phase_memory_store::{AuditStore, ChangeSet, GraphStore, Store};
use phase_memory_store_file::{FileStore, OpenMode};
use tempfile::TempDir;

use crate::{audit_after, node};

/// What a writer that died before its commit point leaves: a temp file, a
/// segment under the number the next commit takes, a torn audit line.
fn crash_debris(dir: &Path) -> std::path::PathBuf {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let next = manifest["next_segment"].as_u64().expect("next_segment");
    std::fs::write(
        dir.join("segments").join(format!("{next:08}.jsonl")),
        b"not a record\n",
    )
    .expect("segment");
    let mut audit = std::fs::read(dir.join("audit.jsonl")).expect("audit");
    audit.extend_from_slice(b"{\"seq\": 99, \"torn");
    std::fs::write(dir.join("audit.jsonl"), audit).expect("tail");
    let tmp = dir.join(".manifest.json.99999-1.tmp");
    std::fs::write(&tmp, b"half a manifest").expect("tmp");
    tmp
}

fn commit_audit(s: &mut FileStore) {
    s.lock_writer(Duration::ZERO).expect("lock");
    let audit = audit_after(s, 1);
    s.commit(ChangeSet {
        audit,
        ..Default::default()
    })
    .expect("commit");
    s.unlock_writer();
}

/// A new, empty store (the folder lives as long as the guard).
fn empty_store() -> (TempDir, std::path::PathBuf) {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    drop(FileStore::init(&dir, crate::meta()).expect("init"));
    (tmp, dir)
}

#[test]
fn relocking_its_own_manifest_stays_correct_after_a_crashed_writer() {
    let (_tmp, dir) = empty_store();
    let mut w = FileStore::open(&dir, OpenMode::Shared).expect("writer");
    commit_audit(&mut w);
    let debris = crash_debris(&dir);

    // The next commit writes over the uncommitted segment and after the cut
    // tail: everything reads back, the chain intact.
    w.lock_writer(Duration::ZERO).expect("lock");
    let audit = audit_after(&w, 1);
    w.commit(ChangeSet {
        put_nodes: vec![node("after", "written after the crash")],
        audit,
        ..Default::default()
    })
    .expect("commit");
    w.unlock_writer();
    commit_audit(&mut w);
    let r = FileStore::open(&dir, OpenMode::ReadOnly).expect("reopen");
    assert_eq!(
        r.node("after").expect("read").map(|n| n.body),
        Some("written after the crash".to_string())
    );
    let seqs: Vec<u64> = r
        .audit_records(0)
        .expect("audit")
        .iter()
        .map(|a| a.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3], "the torn line is not part of the log");
    assert!(
        std::fs::read_dir(dir.join("quarantine"))
            .expect("quarantine")
            .count()
            >= 1,
        "the torn tail was kept aside"
    );
    // Unswept so far (this handle found its own manifest each time), swept
    // within 64 locks.
    assert!(debris.exists(), "swept at every lock: the skip is gone");
    for _ in 0..64 {
        commit_audit(&mut w);
    }
    assert!(!debris.exists(), "never swept");
}

#[test]
fn a_lock_after_another_writers_commit_sweeps_at_once() {
    let (_tmp, dir) = empty_store();
    let mut a = FileStore::open(&dir, OpenMode::Shared).expect("a");
    let mut b = FileStore::open(&dir, OpenMode::Shared).expect("b");
    commit_audit(&mut a);
    commit_audit(&mut b);
    let debris = crash_debris(&dir);
    a.lock_writer(Duration::ZERO).expect("lock");
    assert!(
        !debris.exists(),
        "a commit of another writer came in between"
    );
    a.unlock_writer();
    commit_audit(&mut a);
    let r = FileStore::open(&dir, OpenMode::ReadOnly).expect("reopen");
    assert_eq!(r.audit_records(0).expect("audit").len(), 3);
}
