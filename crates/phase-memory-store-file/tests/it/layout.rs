//! The folder itself: checksums, orphans, tails, purge erasure, delta segments,
//! compaction, path safety and the reserved `index/` folder.

use std::collections::BTreeMap;
use std::path::Path;

use phase_memory_store::{ChangeSet, EventStore, GraphStore, ReviewStore, Store, StoreError};
use phase_memory_store_file::{FileStore, OpenMode, v1};
use tempfile::TempDir;

use crate::{event, files_under, new_store, node, snapshot_state};

fn segment_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("segments"))
        .expect("segments")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// Replaces the first occurrence of `from` by `to` in a file.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

fn store_with_two_commits() -> (TempDir, std::path::PathBuf) {
    let (tmp, dir, mut s) = new_store();
    s.commit(ChangeSet {
        put_nodes: vec![node("a", "alpha"), node("b", "beta"), node("c", "gamma")],
        events: vec![
            event(1, "node.created", &["a"]),
            event(2, "node.created", &["b"]),
        ],
        ..Default::default()
    })
    .expect("commit");
    s.commit(ChangeSet {
        put_nodes: vec![node("d", "delta")],
        events: vec![event(3, "node.created", &["d"])],
        ..Default::default()
    })
    .expect("commit");
    (tmp, dir)
}

#[test]
fn an_edited_segment_line_is_a_corrupt_record_naming_file_and_line() {
    let (_tmp, dir) = store_with_two_commits();
    edit(&dir.join("segments/00000001.jsonl"), "beta", "BETA");
    let err = FileStore::open(&dir, OpenMode::Write).expect_err("opened a corrupt store");
    assert_eq!(err.code(), "store.corrupt_record");
    match &err {
        StoreError::Corrupt { location, .. } => {
            assert_eq!(location, "segments/00000001.jsonl:2", "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert!(FileStore::open(&dir, OpenMode::ReadOnly).is_err());

    let mut s = FileStore::open(&dir, OpenMode::Repair).expect("repair open");
    assert!(
        s.node("b").expect("read").is_none(),
        "the corrupt record was kept"
    );
    assert!(s.node("a").expect("read").is_some());
    assert!(
        s.commit(ChangeSet::default()).is_err(),
        "a damaged store took a commit before repair"
    );
    let found = s.check_integrity().expect("check");
    assert!(
        found
            .iter()
            .any(|f| f.code == "store.corrupt_record" && f.location == "segments/00000001.jsonl:2"),
        "{found:?}"
    );
    let done = s
        .repair_integrity(phase_memory_model::Time::EPOCH)
        .expect("repair");
    assert!(!done.is_empty());
    assert!(s.check_integrity().expect("check").is_empty());
    drop(s);

    let s = FileStore::open(&dir, OpenMode::Write).expect("open after repair");
    assert_eq!(s.node_count().expect("count"), 3);
    assert!(s.check_integrity().expect("check").is_empty());
    let quarantined: Vec<_> = files_under(&dir.join("quarantine"));
    assert!(!quarantined.is_empty(), "nothing was quarantined");
    let all: String = quarantined
        .iter()
        .map(|p| std::fs::read_to_string(dir.join("quarantine").join(p)).unwrap_or_default())
        .collect();
    assert!(
        all.contains("BETA"),
        "the damaged line is not in quarantine"
    );
}

#[test]
fn a_torn_event_line_is_detected_and_quarantined() {
    let (_tmp, dir) = store_with_two_commits();
    let path = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&path).expect("read");
    // Tear the second line: keep its length (so it stays committed) but break it.
    let lines: Vec<&str> = text.lines().collect();
    let torn = format!("{}{}", &lines[1][..20], "x".repeat(lines[1].len() - 20));
    std::fs::write(&path, format!("{}\n{torn}\n{}\n", lines[0], lines[2])).expect("write");
    // A reader opens without reading the whole log (its last line is intact);
    // the first read that needs the whole image finds the damage.
    let r = FileStore::open(&dir, OpenMode::ReadOnly).expect("lazy open");
    assert_eq!(r.event_head().expect("head"), 3);
    match r.events(&Default::default()) {
        Err(StoreError::Corrupt { location, .. }) => assert_eq!(location, "events.jsonl:2"),
        other => panic!("{other:?}"),
    }
    drop(r);
    match FileStore::open(&dir, OpenMode::Write) {
        Err(StoreError::Corrupt { location, .. }) => assert_eq!(location, "events.jsonl:2"),
        other => panic!("{other:?}"),
    }
    let mut s = FileStore::open(&dir, OpenMode::Repair).expect("repair open");
    assert_eq!(s.event_head().expect("head"), 3);
    s.repair_integrity(phase_memory_model::Time::EPOCH)
        .expect("repair");
    drop(s);
    let mut s = FileStore::open(&dir, OpenMode::Write).expect("open");
    let seqs: Vec<u64> = s
        .events(&Default::default())
        .expect("events")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [1, 3]);
    s.commit(ChangeSet {
        events: vec![event(4, "x", &[])],
        ..Default::default()
    })
    .expect("the store takes writes again");
    assert!(s.check_integrity().expect("check").is_empty());
}

#[test]
fn orphans_are_reported_and_quarantined_but_index_is_never_touched() {
    let (_tmp, dir) = store_with_two_commits();
    std::fs::write(dir.join("stray.txt"), "hello").expect("write");
    std::fs::write(dir.join("manifest.json.tmp"), "{").expect("write");
    std::fs::write(dir.join("segments/00000099.jsonl"), "junk\n").expect("write");
    std::fs::create_dir_all(dir.join("index/segments")).expect("mkdir");
    std::fs::write(dir.join("index/segments/meta.json"), "{}").expect("write");

    let orphans = |s: &FileStore| -> Vec<String> {
        s.check_integrity()
            .expect("check")
            .into_iter()
            .filter(|f| f.code == "store.orphaned_path")
            .map(|f| f.location)
            .collect()
    };
    // A reader sees every orphan and changes nothing.
    let r = FileStore::open(&dir, OpenMode::ReadOnly).expect("orphans do not stop an open");
    assert_eq!(
        orphans(&r),
        ["manifest.json.tmp", "segments/00000099.jsonl", "stray.txt"]
    );
    drop(r);
    // The writer clears what an interrupted commit left (a temp file, a segment past
    // `next_segment`); a file added by hand stays for repair to quarantine.
    let mut s = FileStore::open(&dir, OpenMode::Write).expect("orphans do not stop an open");
    assert_eq!(s.node_count().expect("count"), 4);
    assert_eq!(orphans(&s), ["stray.txt"]);
    assert!(!dir.join("manifest.json.tmp").exists());
    s.repair_integrity(phase_memory_model::Time::EPOCH)
        .expect("repair");
    assert!(s.check_integrity().expect("check").is_empty());
    assert!(!dir.join("stray.txt").exists());
    assert!(
        dir.join("index/segments/meta.json").exists(),
        "index/ was touched"
    );
    let q = files_under(&dir.join("quarantine"));
    assert_eq!(q.len(), 1, "{q:?}");
}

#[test]
fn an_uncommitted_tail_is_ignored_then_cut_into_quarantine() {
    let (_tmp, dir) = store_with_two_commits();
    let path = dir.join("events.jsonl");
    let committed = std::fs::metadata(&path).expect("md").len();
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.extend_from_slice(b"{\"sum\":\"0000000000000000\",\"seq\":4,\"half a li");
    std::fs::write(&path, &bytes).expect("write");

    let r = FileStore::open(&dir, OpenMode::ReadOnly).expect("reader ignores the tail");
    assert_eq!(r.event_head().expect("head"), 3);
    assert!(
        r.check_integrity()
            .expect("check")
            .iter()
            .any(|f| f.code == "store.orphaned_path" && f.location == "events.jsonl")
    );
    drop(r);

    let mut w = FileStore::open(&dir, OpenMode::Write).expect("writer");
    assert_eq!(std::fs::metadata(&path).expect("md").len(), committed);
    assert!(
        !w.check_integrity().expect("check").is_empty(),
        "the cut was not reported"
    );
    w.repair_integrity(phase_memory_model::Time::EPOCH)
        .expect("repair");
    assert!(w.check_integrity().expect("check").is_empty());
    assert_eq!(files_under(&dir.join("quarantine")).len(), 1);
}

#[test]
fn purge_leaves_no_earlier_version_in_any_file() {
    let (_tmp, dir, mut s) = new_store();
    let secret = "the launch code is SWORDFISH-4471";
    s.commit(ChangeSet {
        put_nodes: vec![node("x", secret), node("y", "unrelated")],
        ..Default::default()
    })
    .expect("commit");
    let mut v2 = node("x", &format!("{secret}, updated"));
    v2.title = "still secret".into();
    s.commit(ChangeSet {
        put_nodes: vec![v2],
        ..Default::default()
    })
    .expect("commit");
    for i in 0..5 {
        s.commit(ChangeSet {
            put_nodes: vec![node(&format!("n{i}"), "filler")],
            ..Default::default()
        })
        .expect("commit");
    }
    let mut forgotten = node("x", "");
    forgotten.title = String::new();
    forgotten.attrs.clear();
    forgotten.phase = "forgotten".into();
    s.commit(ChangeSet {
        put_nodes: vec![forgotten.clone()],
        purge: true,
        ..Default::default()
    })
    .expect("purge commit");
    for rel in files_under(&dir) {
        let bytes = std::fs::read(dir.join(&rel)).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("SWORDFISH"),
            "{} still holds the erased text",
            rel.display()
        );
    }
    drop(s);
    let s = FileStore::open(&dir, OpenMode::Write).expect("open");
    assert_eq!(s.node("x").expect("read"), Some(forgotten));
    assert_eq!(s.node_count().expect("count"), 7);
}

#[test]
fn one_upsert_after_a_big_import_writes_one_small_segment() {
    let (_tmp, dir, mut s) = new_store();
    let nodes: Vec<_> = (0..10_000)
        .map(|i| {
            node(
                &format!("n{i:05}"),
                "a body of some length, forty words or so",
            )
        })
        .collect();
    s.commit(ChangeSet {
        put_nodes: nodes,
        ..Default::default()
    })
    .expect("import");
    let before = segment_files(&dir);
    assert_eq!(before.len(), 1);
    let big: usize = before.values().map(Vec::len).sum();
    s.commit(ChangeSet {
        put_nodes: vec![node("n00042", "changed")],
        ..Default::default()
    })
    .expect("upsert");
    let after = segment_files(&dir);
    for (name, bytes) in &before {
        assert_eq!(after.get(name), Some(bytes), "{name} was rewritten");
    }
    let new: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(new.len(), 1);
    let small = after[new[0]].len();
    assert!(
        small < 2_000 && small * 100 < big,
        "new segment is {small} bytes"
    );
    drop(s);
    let s = FileStore::open(&dir, OpenMode::ReadOnly).expect("open");
    assert_eq!(
        s.node("n00042").expect("read").map(|n| n.body),
        Some("changed".into())
    );
}

#[test]
fn many_small_commits_are_compacted() {
    let (_tmp, dir, mut s) = new_store();
    for i in 0..80u64 {
        s.commit(ChangeSet {
            put_nodes: vec![node(&format!("n{}", i % 7), &format!("v{i}"))],
            events: vec![event(i + 1, "node.updated", &[])],
            ..Default::default()
        })
        .expect("commit");
        assert!(segment_files(&dir).len() <= phase_memory_store_file::MAX_SEGMENTS);
    }
    let snap = snapshot_state(s.state().expect("image"));
    drop(s);
    let s = FileStore::open(&dir, OpenMode::Write).expect("open");
    assert_eq!(snapshot_state(s.state().expect("image")), snap);
    assert!(s.check_integrity().expect("check").is_empty());
}

#[test]
fn awkward_ids_never_leave_the_store_folder() {
    let tmp = TempDir::new().expect("tempdir");
    let ids = [
        "../x",
        "/etc/passwd",
        "..",
        ".",
        "Ünïcode",
        "a/../../b",
        "CON",
        "nul.txt",
        "A",
        "a",
        "\\windows\\x",
        &"é".repeat(128),
    ];
    let nodes: Vec<_> = ids.iter().map(|i| node(i, "body")).collect();

    let v2_dir = tmp.path().join("box/v2");
    let mut s = FileStore::init(&v2_dir, crate::meta()).expect("init");
    s.commit(ChangeSet {
        put_nodes: nodes.clone(),
        put_reviews: ids.iter().map(|i| crate::review(i)).collect(),
        ..Default::default()
    })
    .expect("commit");
    drop(s);

    let v1_dir = tmp.path().join("box/v1");
    let mut image = phase_memory_store::MemoryState::new(crate::meta());
    for n in &nodes {
        image.nodes.insert(n.id.clone(), n.clone());
    }
    for i in ids {
        image.reviews.insert(i.to_string(), crate::review(i));
    }
    v1::write_store(&v1_dir, &image).expect("write v1");
    let mut s = FileStore::open(&v1_dir, OpenMode::Write).expect("open v1");
    assert_eq!(s.node_count().expect("count"), ids.len());
    s.migrate().expect("migrate");
    drop(s);

    for dir in [&v2_dir, &v1_dir] {
        let s = FileStore::open(dir, OpenMode::ReadOnly).expect("open");
        for id in ids {
            assert!(s.node(id).expect("read").is_some(), "{id:?}");
            assert!(s.review(id).expect("read").is_some(), "{id:?}");
        }
    }
    for rel in files_under(tmp.path()) {
        assert!(
            rel.starts_with("box/v1") || rel.starts_with("box/v2"),
            "{} was written outside the store",
            rel.display()
        );
    }
    assert!(!tmp.path().join("x").exists() && !tmp.path().join("box/x").exists());
}

#[test]
fn a_handle_follows_a_compaction_of_its_image_with_its_change_feed() {
    let (_tmp, dir, mut w) = new_store();
    // `near` refreshes after every commit; `far` only every fifth one.
    let mut near = FileStore::open(&dir, OpenMode::Shared).expect("open shared");
    let mut far = FileStore::open(&dir, OpenMode::Shared).expect("open shared");
    let mut compactions = 0;
    for i in 0..80u64 {
        let id = format!("n{}", i % 7);
        let before = near.data_generation();
        w.commit(ChangeSet {
            put_nodes: vec![node(&id, &format!("v{i}"))],
            events: vec![event(i + 1, "node.updated", &[&id])],
            ..Default::default()
        })
        .expect("commit");
        let manifest = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
        if manifest.contains("\"compaction\"") {
            compactions += 1;
            // The compacting commit's delta is part of the store, not an orphan.
            assert_eq!(w.check_integrity().expect("check"), Vec::new());
        }
        near.refresh().expect("refresh");
        let changed = near
            .data_changes_since(before)
            .expect("changes")
            .unwrap_or_else(|| panic!("commit {i}: the change feed was reset"));
        assert_eq!(changed, vec![id.clone()], "commit {i}");
        assert_eq!(
            snapshot_state(near.state().expect("image")),
            snapshot_state(w.state().expect("image"))
        );
        if i % 5 == 4 {
            far.refresh().expect("refresh");
            assert_eq!(
                snapshot_state(far.state().expect("image")),
                snapshot_state(w.state().expect("image"))
            );
        }
    }
    assert!(compactions >= 2, "{compactions} compactions");
    drop((w, near, far));
    let s = FileStore::open(&dir, OpenMode::Write).expect("reopen");
    assert_eq!(s.check_integrity().expect("check"), Vec::new());
    assert_eq!(
        s.node("n3").expect("read").map(|n| n.body),
        Some("v73".into())
    );
}

#[test]
fn compaction_folds_recent_segments_and_keeps_the_first() {
    let (_tmp, dir, mut s) = new_store();
    s.commit(ChangeSet {
        put_nodes: (0..400)
            .map(|i| node(&format!("big{i:04}"), &"words ".repeat(40)))
            .collect(),
        ..Default::default()
    })
    .expect("commit");
    let first = segment_files(&dir);
    assert_eq!(first.len(), 1);
    for i in 0..70u64 {
        let mut c = ChangeSet {
            put_nodes: vec![node(&format!("n{}", i % 7), &format!("v{i}"))],
            events: vec![event(i + 1, "node.updated", &[])],
            ..Default::default()
        };
        if i % 9 == 8 {
            c.delete_nodes = vec![format!("big{i:04}")];
        }
        s.commit(c).expect("commit");
    }
    let now = segment_files(&dir);
    // The first segment was never rewritten; the rest were folded.
    for (name, bytes) in &first {
        assert_eq!(now.get(name), Some(bytes), "{name} kept as it was");
    }
    assert!(now.len() < 32, "{} segment files", now.len());
    let snap = snapshot_state(s.state().expect("image"));
    drop(s);
    let s = FileStore::open(&dir, OpenMode::Write).expect("open");
    assert_eq!(snapshot_state(s.state().expect("image")), snap);
    assert_eq!(s.node("big0008").expect("read"), None, "deletes replayed");
    assert!(s.check_integrity().expect("check").is_empty());
}

/// A refresh compares the manifest's bytes with those it last followed: the
/// same bytes again are the same generation (nothing parsed), any other bytes
/// are read as a manifest (a damaged one is reported, not taken for the last
/// one), and a commit is always seen.
#[test]
fn a_refresh_sees_every_change_of_the_manifest_bytes() {
    let (_tmp, dir, mut w) = new_store();
    let mut r = FileStore::open(&dir, OpenMode::Shared).expect("open shared");
    for i in 0..3u64 {
        let id = format!("n{i}");
        w.commit(ChangeSet {
            put_nodes: vec![node(&id, "v")],
            events: vec![event(i + 1, "node.updated", &[&id])],
            ..Default::default()
        })
        .expect("commit");
        assert_eq!(r.refresh().expect("refresh"), w.generation(), "commit {i}");
        assert_eq!(r.refresh().expect("again"), w.generation(), "commit {i}");
        assert!(r.node(&id).expect("read").is_some(), "commit {i}");
    }
    let path = dir.join("manifest.json");
    let good = std::fs::read(&path).expect("manifest");
    let mut damaged = good.clone();
    damaged.truncate(good.len() / 2);
    std::fs::write(&path, &damaged).expect("damage");
    let err = r.refresh().expect_err("a damaged manifest is reported");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    std::fs::write(&path, &good).expect("restore");
    assert_eq!(r.refresh().expect("refresh"), w.generation());
}
