//! The lazy image of shared and read-only handles: node reads through the
//! locator answer exactly as the loaded image does, a missing, stale or corrupt
//! locator falls back to scanning or loading with the same answers, commits of
//! audit records and events alone write the same bytes without the image, a
//! crash while writing the locator leaves the store correct, and refresh follows
//! other handles' commits.

use std::path::Path;
use std::sync::{Arc, Mutex};

use phase_memory_store::conformance::{self, StoreFactory};
use phase_memory_store::{
    AuditStore, ChangeSet, EventQuery, EventStore, GraphStore, MemoryState, Store, StoreMeta,
};
use phase_memory_store_file::{
    Fault, FaultyFs, FileStore, LOCATOR, OpenMode, set_scan_limit_for_thread,
};
use proptest::prelude::*;
use tempfile::TempDir;

use crate::roundtrip::{draw, realize, realize_lazily};
use crate::{audit_after, edge, event, node, snapshot_state};

/// Every id the tests ask about: the ids the round-trip draws use and some that
/// never exist.
fn asked_ids() -> Vec<String> {
    (0u8..14)
        .map(crate::roundtrip::id)
        .chain(["missing".to_string(), "a".into(), "zz".into()])
        .collect()
}

/// Every answer a lazy handle gives without its image, as text.
fn cheap_answers(s: &FileStore) -> String {
    let nodes: Vec<_> = asked_ids()
        .iter()
        .map(|id| s.node(id).expect("node"))
        .collect();
    let edges: Vec<_> = asked_ids()
        .iter()
        .map(|id| s.edges_of(id).expect("edges_of"))
        .collect();
    let event_head = s.event_head().expect("event head");
    let recent: Vec<_> = [1u64, 2, 5]
        .iter()
        .map(|k| {
            let q = EventQuery {
                after_seq: event_head.saturating_sub(*k),
                ..Default::default()
            };
            let limited = EventQuery {
                limit: Some(1),
                types: vec!["node.accessed".into()],
                ..q.clone()
            };
            (
                s.events(&q).expect("events"),
                s.events(&limited).expect("events"),
            )
        })
        .collect();
    let head = s.audit_head().expect("audit head");
    let tail = head
        .as_ref()
        .map(|h| s.audit_records(h.seq.saturating_sub(1)).expect("records"));
    format!(
        "nodes={nodes:?}\nedges={edges:?}\nrecent={recent:?}\ncount={}\nevent_head={}\naudit_head={head:?}\ntail={tail:?}\ncheckpoint={:?}\nprofile={:?}\nmeta={:?}\ngen={} data={}",
        s.node_count().expect("count"),
        s.event_head().expect("head"),
        s.audit_checkpoint().expect("checkpoint"),
        s.profile_source().expect("profile"),
        s.meta().expect("meta"),
        s.generation(),
        s.data_generation(),
    )
}

/// A loaded handle's answers (the reference).
fn loaded_answers(dir: &Path) -> String {
    let s = FileStore::open(dir, OpenMode::Write).expect("writer open");
    assert!(!s.is_lazy());
    cheap_answers(&s)
}

fn store_with(dir: &Path, n: usize) {
    let mut s = FileStore::init(dir, crate::meta()).expect("init");
    for i in 0..n {
        let audit = audit_after(&s, 1);
        s.commit(ChangeSet {
            put_nodes: vec![
                node(&format!("n{i}"), &format!("body {i}")),
                node("a", "alpha"),
            ],
            put_edges: vec![edge("a", &format!("n{i}"), "relates_to")],
            events: vec![event(i as u64 + 1, "node.created", &["a"])],
            audit,
            ..Default::default()
        })
        .expect("commit");
    }
}

fn write_locator(dir: &Path) {
    let s = FileStore::open(dir, OpenMode::Write).expect("open");
    assert!(s.write_locator(), "locator written");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any store, with a locator written at some point of its history (then
    /// more commits on top), answers node reads lazily exactly as loaded.
    #[test]
    fn lazy_reads_answer_as_the_loaded_image(
        draws in prop::collection::vec(draw(), 1..30),
        at in 0usize..30,
    ) {
        let tmp = TempDir::new().expect("tempdir");
        let dir = tmp.path().join("s");
        let mut s = FileStore::init(&dir, crate::meta()).expect("init");
        for (i, d) in draws.iter().enumerate() {
            if i == at.min(draws.len() - 1) {
                prop_assert!(s.write_locator());
            }
            let c = realize(d, &s);
            s.commit(c).expect("commit");
        }
        drop(s);
        let want = loaded_answers(&dir);
        let lazy = FileStore::open(&dir, OpenMode::Shared).expect("shared open");
        prop_assert!(lazy.is_lazy());
        prop_assert_eq!(cheap_answers(&lazy), want.clone());
        prop_assert_eq!(lazy.loads(), 0);
        // Forcing the load gives the same image as a writer's.
        let w = FileStore::open(&dir, OpenMode::Write).expect("writer");
        let mut nodes = Vec::new();
        lazy.for_each_node(&mut |n| nodes.push(n.clone())).expect("nodes");
        prop_assert_eq!(lazy.loads(), 1);
        prop_assert_eq!(
            snapshot_state(lazy.state().expect("image")),
            snapshot_state(w.state().expect("image"))
        );
        drop(w);
        // With no scanning allowed, the stale locator means a full load, same answers.
        set_scan_limit_for_thread(Some(0));
        let strict = FileStore::open(&dir, OpenMode::ReadOnly).expect("read open");
        set_scan_limit_for_thread(None);
        prop_assert_eq!(cheap_answers(&strict), want);
    }
}

/// Every file of a store folder but the locator and the lock, with its bytes.
fn folder_bytes(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    crate::files_under(dir)
        .into_iter()
        .filter(|p| !p.ends_with(LOCATOR) && !p.ends_with("LOCK"))
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).expect("read");
            (p, bytes)
        })
        .collect()
}

/// Two copies of the store at `a` (its locator written): `a` opened lazily,
/// `b` (a copy) with its image loaded. Returns `b` and both handles.
fn lazy_and_loaded(a: &Path) -> (std::path::PathBuf, FileStore, FileStore) {
    write_locator(a);
    let b = a.with_file_name(format!(
        "{}-loaded",
        a.file_name().and_then(|n| n.to_str()).unwrap_or("s")
    ));
    crate::copy_tree(a, &b);
    let lazy = FileStore::open(a, OpenMode::Shared).expect("open");
    let loaded = FileStore::open(&b, OpenMode::Shared).expect("open");
    loaded.state().expect("load");
    assert!(lazy.is_lazy() && !loaded.is_lazy());
    (b, lazy, loaded)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Data commits (nodes, edges, reviews, profiles, compactions) on a handle
    /// that never loads its image write the same bytes as on a loaded handle,
    /// and the lazy handle then answers reads (nodes, edges of a node) as the
    /// loaded one does.
    #[test]
    fn data_commits_on_a_lazy_handle_match_a_loaded_one(
        before in prop::collection::vec(draw(), 0..20),
        draws in prop::collection::vec(draw(), 1..45),
    ) {
        let tmp = TempDir::new().expect("tempdir");
        let a = tmp.path().join("a");
        store_with(&a, 3);
        {
            // History the locator covers (the lazy commits override some of it).
            let mut w = FileStore::open(&a, OpenMode::Write).expect("writer");
            for d in &before {
                let c = realize(d, &w);
                w.commit(c).expect("commit");
            }
        }
        let (b, mut lazy, mut loaded) = lazy_and_loaded(&a);
        lazy.lock_writer(std::time::Duration::ZERO).expect("lock");
        loaded.lock_writer(std::time::Duration::ZERO).expect("lock");
        for d in &draws {
            let c = realize_lazily(d, &lazy);
            prop_assert_eq!(format!("{c:?}"), format!("{:?}", realize_lazily(d, &loaded)));
            let g = lazy.commit(c.clone()).expect("lazy commit");
            prop_assert_eq!(g, loaded.commit(c).expect("loaded commit"));
            prop_assert!(lazy.is_lazy(), "a commit loaded the image");
        }
        prop_assert_eq!(folder_bytes(&a), folder_bytes(&b));
        prop_assert_eq!(cheap_answers(&lazy), cheap_answers(&loaded));
        lazy.unlock_writer();
        loaded.unlock_writer();
        // A fresh lazy open (through whatever locator the commits left) agrees.
        let want = loaded_answers(&b);
        let again = FileStore::open(&a, OpenMode::Shared).expect("reopen");
        prop_assert_eq!(cheap_answers(&again), want);
        drop((again, lazy, loaded));
        let w = FileStore::open(&a, OpenMode::Write).expect("writer");
        prop_assert_eq!(w.check_integrity().expect("check"), Vec::new());
    }
}

#[test]
fn missing_corrupt_and_stale_locators_fall_back_with_the_same_answers() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    store_with(&dir, 5);
    let want = loaded_answers(&dir);
    let loc = dir.join(LOCATOR);
    assert!(!loc.exists());

    // Missing, no scanning: the full load, which writes a locator.
    set_scan_limit_for_thread(Some(0));
    let s = FileStore::open(&dir, OpenMode::Shared).expect("open");
    assert!(!s.is_lazy());
    assert_eq!(s.loads(), 1);
    assert_eq!(cheap_answers(&s), want);
    drop(s);
    assert!(loc.exists(), "a loaded reader writes the locator");
    let s = FileStore::open(&dir, OpenMode::Shared).expect("open");
    assert!(s.is_lazy());
    assert_eq!(cheap_answers(&s), want);
    assert_eq!(s.loads(), 0);
    drop(s);

    // Corrupt: a flipped byte of the head (magic, segments, node table and its
    // checksum) is refused at open; one of the edge-end table (read on first
    // use) leaves the node lookups lazy and makes the edge answers fall back to
    // the full load. The answers stay the same either way.
    let good = std::fs::read(&loc).expect("locator");
    let head_len = u64::from_le_bytes(good[8..16].try_into().expect("8 bytes")) as usize;
    let edge_table_at = head_len + 32;
    let mut flipped = (0..good.len())
        .step_by(good.len() / 7 + 1)
        .collect::<Vec<_>>();
    flipped.extend([edge_table_at, good.len() - 1]);
    for i in flipped {
        let mut bad = good.clone();
        bad[i] ^= 0x20;
        std::fs::write(&loc, &bad).expect("write");
        let s = FileStore::open(&dir, OpenMode::ReadOnly).expect("open");
        if i < edge_table_at {
            assert!(!s.is_lazy(), "byte {i}: a corrupt locator head was used");
        } else {
            assert!(s.is_lazy(), "byte {i}: the head is intact");
        }
        assert_eq!(cheap_answers(&s), want, "byte {i}");
    }
    std::fs::write(&loc, &good).expect("restore");

    // Stale: another commit; the old locator is a prefix (scanned when allowed).
    set_scan_limit_for_thread(None);
    {
        let mut w = FileStore::open(&dir, OpenMode::Write).expect("writer");
        let audit = audit_after(&w, 1);
        w.commit(ChangeSet {
            put_nodes: vec![node("n1", "changed")],
            delete_nodes: vec!["n2".into()],
            audit,
            ..Default::default()
        })
        .expect("commit");
    }
    let want = loaded_answers(&dir);
    let s = FileStore::open(&dir, OpenMode::Shared).expect("open");
    assert!(s.is_lazy(), "a prefix locator plus a small scan");
    assert_eq!(cheap_answers(&s), want);
    assert_eq!(s.node("n1").expect("n1"), Some(node("n1", "changed")));
    assert_eq!(s.node("n2").expect("n2"), None);
    drop(s);
    set_scan_limit_for_thread(Some(0));
    let s = FileStore::open(&dir, OpenMode::Shared).expect("open");
    assert!(!s.is_lazy(), "a stale locator with no scanning: full load");
    assert_eq!(cheap_answers(&s), want);
    set_scan_limit_for_thread(None);
}

#[test]
fn a_locator_pointing_at_a_damaged_line_loads_and_reports_it() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    store_with(&dir, 3);
    write_locator(&dir);
    // Damage the first line of the first segment without changing its length.
    let seg = dir.join("segments/00000001.jsonl");
    let text = std::fs::read_to_string(&seg).expect("segment");
    let edited = text.replacen("body 0", "BODY 0", 1);
    assert_ne!(edited, text);
    std::fs::write(&seg, edited).expect("edit");
    let s = FileStore::open(&dir, OpenMode::Shared).expect("lazy open does not read it");
    assert!(s.is_lazy());
    match s.node("n0") {
        Err(phase_memory_store::StoreError::Corrupt { location, .. }) => {
            assert!(
                location.starts_with("segments/00000001.jsonl"),
                "{location}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Copies of one store, one committed to by a lazy handle, one by a loaded one.
#[test]
fn a_lazy_audit_and_event_commit_writes_the_same_bytes() {
    let tmp = TempDir::new().expect("tempdir");
    let a = tmp.path().join("a");
    store_with(&a, 4);
    let (b, mut lazy, mut loaded) = lazy_and_loaded(&a);
    for (round, s) in [&mut lazy, &mut loaded].into_iter().enumerate() {
        s.lock_writer(std::time::Duration::ZERO).expect("lock");
        let head = s.event_head().expect("head");
        for k in 0..2 {
            let audit = audit_after(s, 1 + k);
            let events = if k == 1 {
                vec![event(head + 1, "node.accessed", &["a"])]
            } else {
                Vec::new()
            };
            s.commit(ChangeSet {
                audit,
                events,
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("commit {round}/{k}: {e}"));
        }
        // A change set breaking the chain is refused the same way.
        let mut bad = audit_after(s, 1);
        bad[0].seq += 1;
        assert!(
            s.commit(ChangeSet {
                audit: bad,
                ..Default::default()
            })
            .is_err()
        );
        s.unlock_writer();
    }
    assert!(lazy.is_lazy(), "the commits did not need the image");
    assert_eq!(lazy.loads(), 0);
    for f in ["audit.jsonl", "events.jsonl", "manifest.json", LOCATOR] {
        assert_eq!(
            std::fs::read(a.join(f)).expect("a"),
            std::fs::read(b.join(f)).expect("b"),
            "{f}"
        );
    }
    assert_eq!(cheap_answers(&lazy), cheap_answers(&loaded));
    drop((lazy, loaded));
    let w = FileStore::open(&a, OpenMode::Write).expect("reopen");
    assert_eq!(w.check_integrity().expect("check"), Vec::new());
}

#[test]
fn a_crash_while_writing_the_locator_leaves_the_store_correct() {
    let tmp = TempDir::new().expect("tempdir");
    let base = tmp.path().join("base");
    store_with(&base, 4);
    let want = loaded_answers(&base);
    let mut fault_hit = 0;
    for fault in [Fault::Error, Fault::Torn, Fault::StorageFull] {
        for fail_at in 1..12 {
            let dir = tmp.path().join(format!("c-{fault:?}-{fail_at}"));
            crate::copy_tree(&base, &dir);
            let fs = Arc::new(FaultyFs::new(fail_at, fault));
            set_scan_limit_for_thread(Some(0));
            let s = FileStore::open_with_fs(&dir, OpenMode::Shared, Box::new(fs.clone()))
                .expect("a failed locator write does not fail the open");
            set_scan_limit_for_thread(None);
            assert_eq!(cheap_answers(&s), want);
            drop(s);
            if fs.operations() >= fail_at {
                fault_hit += 1;
            }
            // Whatever the crash left, the next handles answer the same.
            let r = FileStore::open(&dir, OpenMode::Shared).expect("reopen");
            assert_eq!(cheap_answers(&r), want, "{fault:?} at {fail_at}");
            drop(r);
            let w = FileStore::open(&dir, OpenMode::Write).expect("writer");
            assert_eq!(cheap_answers(&w), want);
            assert_eq!(w.check_integrity().expect("check"), Vec::new());
        }
    }
    assert!(fault_hit > 3, "the faults never hit the locator write");
}

#[test]
fn a_lazy_handle_follows_other_handles_commits() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    store_with(&dir, 3);
    write_locator(&dir);
    let mut r = FileStore::open(&dir, OpenMode::Shared).expect("reader");
    assert!(r.is_lazy());
    let g0 = r.data_generation();
    let mut w = FileStore::open(&dir, OpenMode::Shared).expect("writer");
    for round in 0..40u64 {
        w.lock_writer(std::time::Duration::ZERO).expect("lock");
        let audit = audit_after(&w, 1);
        let head = w.event_head().expect("head");
        w.commit(ChangeSet {
            put_nodes: vec![
                node(&format!("m{round}"), "new"),
                node("a", &format!("v{round}")),
            ],
            delete_nodes: if round == 5 {
                vec!["n1".into()]
            } else {
                Vec::new()
            },
            put_edges: vec![edge("a", &format!("m{round}"), "mentions")],
            events: vec![event(head + 1, "node.updated", &["a"])],
            audit,
            ..Default::default()
        })
        .expect("commit");
        w.unlock_writer();
        r.refresh().expect("refresh");
        assert_eq!(r.generation(), w.generation());
        assert_eq!(
            r.node("a").expect("a"),
            Some(node("a", &format!("v{round}")))
        );
        assert_eq!(
            r.node(&format!("m{round}")).expect("m"),
            Some(node(&format!("m{round}"), "new"))
        );
        assert_eq!(
            r.node_count().expect("count"),
            w.node_count().expect("count")
        );
        assert_eq!(r.event_head().expect("head"), w.event_head().expect("head"));
        assert_eq!(
            r.audit_head().expect("audit"),
            w.audit_head().expect("audit")
        );
        if round < 20 {
            let changed = r.data_changes_since(g0).expect("changes").expect("known");
            assert!(changed.contains(&format!("m{round}")), "{changed:?}");
        }
    }
    assert_eq!(r.node("n1").expect("n1"), None);
    // Compactions happened on the way (more than 32 data commits) and the lazy
    // handle followed them without ever loading the whole store.
    assert_eq!(r.loads(), 0, "the lazy reader loaded");
    let mut all = Vec::new();
    r.for_each_node(&mut |n| all.push(n.clone()))
        .expect("nodes");
    let mut want = Vec::new();
    w.for_each_node(&mut |n| want.push(n.clone()))
        .expect("nodes");
    assert_eq!(all, want);
    // Loaded now, it goes on following as before.
    w.lock_writer(std::time::Duration::ZERO).expect("lock");
    let audit = audit_after(&w, 1);
    w.commit(ChangeSet {
        put_nodes: vec![node("late", "x")],
        audit,
        ..Default::default()
    })
    .expect("commit");
    w.unlock_writer();
    r.refresh().expect("refresh");
    assert_eq!(r.node("late").expect("late"), Some(node("late", "x")));
}

struct LazyFactory {
    dirs: Mutex<Vec<TempDir>>,
}

impl StoreFactory for LazyFactory {
    fn create(&self) -> Box<dyn Store> {
        let tmp = TempDir::new().expect("tempdir");
        let s = FileStore::init(&tmp.path().join("s"), StoreMeta::new("file", crate::t(0)))
            .expect("init");
        self.dirs.lock().expect("lock").push(tmp);
        Box::new(s)
    }
    fn reopen(&self, store: Box<dyn Store>) -> Box<dyn Store> {
        let dir = std::path::PathBuf::from(store.location());
        drop(store);
        write_locator(&dir);
        let mut s = FileStore::open(&dir, OpenMode::Shared).expect("reopen");
        assert!(s.is_lazy(), "reopened lazily");
        s.lock_writer(std::time::Duration::ZERO).expect("lock");
        Box::new(s)
    }
}

#[test]
fn file_adapter_conforms_when_reopened_lazily() {
    conformance::assert_conforms(&LazyFactory {
        dirs: Mutex::new(Vec::new()),
    });
}

/// The reference image is what a lazy handle loads, whatever it answered before.
#[test]
fn forcing_the_load_keeps_the_handle_generation() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    store_with(&dir, 3);
    write_locator(&dir);
    let r = FileStore::open(&dir, OpenMode::Shared).expect("reader");
    let before = loaded_answers(&dir);
    // Another handle commits a compaction-size change; the lazy reader still
    // loads its own generation (its files are held open).
    {
        let mut w = FileStore::open(&dir, OpenMode::Write).expect("writer");
        let audit = audit_after(&w, 1);
        w.commit(ChangeSet {
            put_nodes: vec![node("n0", "purged away")],
            audit,
            purge: true,
            ..Default::default()
        })
        .expect("purge");
    }
    assert!(!dir.join(LOCATOR).exists(), "a purge removes the locator");
    let image: MemoryState = r.state().expect("load").clone();
    assert_eq!(image.nodes["n0"], node("n0", "body 0"));
    assert_eq!(cheap_answers(&r), before);
}
