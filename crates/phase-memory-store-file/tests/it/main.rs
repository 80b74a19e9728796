//! Integration tests of the file adapter: the shared conformance suite, locking,
//! corruption and repair, orphans, purge erasure, delta segments, compaction,
//! fault injection, migrations from the frozen v1 fixture, a round-trip property,
//! the lazy image of shared and read-only handles, and handles that lag behind
//! compactions.

mod faults;
mod fixtures;
mod lag;
mod layout;
mod lazy;
mod relock;
mod roundtrip;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use phase_memory_model::{AuditRecord, Edge, Node};
use phase_memory_store::conformance::fixtures as shared;
use phase_memory_store::conformance::{self, StoreFactory};
use phase_memory_store::{ChangeSet, GraphStore, MemoryState, Store, StoreError, StoreMeta};
use phase_memory_store_file::{FileStore, OpenMode};
use tempfile::TempDir;

pub use shared::{event, review, t};

/// A node with a given body (the frozen fixtures' node: the shared sample node
/// with their body, one label, no validity start and 5 tokens).
pub fn node(id: &str, body: &str) -> Node {
    Node {
        body: body.into(),
        labels: vec!["geo".into()],
        valid_from: None,
        tokens: 5,
        ..shared::sample_node(id)
    }
}

/// An edge (the frozen fixtures' weight).
pub fn edge(from: &str, to: &str, ty: &str) -> Edge {
    Edge {
        weight: 0.5,
        ..shared::edge(from, to, ty)
    }
}

/// `n` audit records continuing the chain of `store`.
pub fn audit_after(store: &dyn Store, n: u64) -> Vec<AuditRecord> {
    shared::chain_after(store, n).expect("audit head")
}

/// Fresh store metadata.
pub fn meta() -> StoreMeta {
    StoreMeta::new("file", t(0))
}

/// A new store in a fresh temp folder (the folder lives as long as the returned guard).
pub fn new_store() -> (TempDir, PathBuf, FileStore) {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("store");
    let s = FileStore::init(&dir, meta()).expect("init");
    (tmp, dir, s)
}

/// Everything a store holds, as comparable text (adjacency is derived, so left out).
pub fn snapshot_state(s: &MemoryState) -> String {
    format!(
        "nodes={:?}\nedges={:?}\nevents={:?}\naudit={:?}\ncheckpoint={:?}\nreviews={:?}\nprofile={:?}\nmeta={:?}\ngeneration={}",
        s.nodes,
        s.edges,
        s.events,
        s.audit,
        s.checkpoint,
        s.reviews,
        s.profile,
        s.meta,
        s.generation
    )
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else if let Ok(rel) = p.strip_prefix(root) {
                    out.push(rel.to_path_buf());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for rel in files_under(from) {
        let dst = to.join(&rel);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).expect("mkdir");
        }
        std::fs::copy(from.join(&rel), &dst).expect("copy");
    }
}

struct Factory {
    dirs: Mutex<Vec<TempDir>>,
}

impl StoreFactory for Factory {
    fn create(&self) -> Box<dyn Store> {
        let tmp = TempDir::new().expect("tempdir");
        let s = FileStore::init(&tmp.path().join("s"), meta()).expect("init");
        self.dirs.lock().expect("lock").push(tmp);
        Box::new(s)
    }
    fn reopen(&self, store: Box<dyn Store>) -> Box<dyn Store> {
        let dir = PathBuf::from(store.location());
        drop(store);
        Box::new(FileStore::open(&dir, OpenMode::Write).expect("reopen"))
    }
}

#[test]
fn file_adapter_conforms() {
    conformance::assert_conforms(&Factory {
        dirs: Mutex::new(Vec::new()),
    });
}

#[test]
fn manifest_claims_every_check() {
    let m = FileStore::adapter_manifest();
    for c in conformance::CHECKS {
        assert!(m.conformance.iter().any(|n| n == c.name), "{}", c.name);
        for need in c.needs {
            assert!(m.has(*need), "{} needs {:?}", c.name, need);
        }
    }
}

#[test]
fn init_open_and_is_store() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("deep/er/store");
    assert!(!FileStore::is_store(&dir));
    assert!(matches!(
        FileStore::open(&dir, OpenMode::ReadOnly),
        Err(StoreError::NotFound(_))
    ));
    let s = FileStore::init(&dir, meta()).expect("init creates missing folders");
    assert!(FileStore::is_store(&dir));
    drop(s);
    assert!(matches!(
        FileStore::init(&dir, meta()),
        Err(StoreError::Exists(_))
    ));
    let s = FileStore::open(&dir, OpenMode::Write).expect("open");
    assert_eq!(s.generation(), 0);
    assert_eq!(s.meta().expect("meta"), meta());
    assert!(s.check_integrity().expect("check").is_empty());
}

#[test]
fn a_second_writer_is_locked_out_and_readers_never_lock() {
    let (_tmp, dir, mut w) = new_store();
    w.commit(ChangeSet {
        put_nodes: vec![node("a", "alpha")],
        ..Default::default()
    })
    .expect("commit");
    let second = FileStore::open(&dir, OpenMode::Write);
    match second {
        Err(e @ StoreError::Locked(_)) => assert_eq!(e.code(), "store.locked"),
        other => panic!("second writer got {other:?}"),
    }
    assert!(matches!(
        FileStore::open(&dir, OpenMode::Repair),
        Err(StoreError::Locked(_))
    ));
    let mut r = FileStore::open(&dir, OpenMode::ReadOnly).expect("reader beside a writer");
    assert_eq!(r.node("a").expect("read"), Some(node("a", "alpha")));
    assert!(
        r.commit(ChangeSet {
            put_nodes: vec![node("b", "beta")],
            ..Default::default()
        })
        .is_err(),
        "a reader committed"
    );
    w.commit(ChangeSet {
        put_nodes: vec![node("b", "beta")],
        ..Default::default()
    })
    .expect("the writer still writes");
    drop(w);
    let w2 = FileStore::open(&dir, OpenMode::Write).expect("lock released with the handle");
    assert_eq!(w2.node_count().expect("count"), 2);
    assert!(w2.check_integrity().expect("check").is_empty());
}

#[test]
fn reopen_preserves_everything() {
    let (_tmp, dir, mut s) = new_store();
    let audit = audit_after(&s, 3);
    s.commit(ChangeSet {
        put_nodes: vec![node("a", "alpha"), node("b", "beta")],
        put_edges: vec![edge("a", "b", "relates_to")],
        events: vec![event(1, "node.created", &["a"])],
        audit,
        put_reviews: vec![review("r1")],
        profile: Some("name = \"p\"\n".into()),
        ..Default::default()
    })
    .expect("commit");
    s.commit(ChangeSet {
        delete_nodes: vec!["b".into()],
        delete_edges: vec![edge("a", "b", "relates_to").key()],
        ..Default::default()
    })
    .expect("commit");
    let before = snapshot_state(s.state().expect("image"));
    drop(s);
    for mode in [OpenMode::ReadOnly, OpenMode::Write] {
        let s = FileStore::open(&dir, mode).expect("open");
        assert_eq!(
            snapshot_state(s.state().expect("image")),
            before,
            "{mode:?}"
        );
        assert_eq!(s.generation(), 2);
    }
}

#[test]
fn shared_handles_read_snapshots_and_writers_queue() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("s");
    drop(FileStore::init(&dir, meta()).expect("init"));
    conformance::shared_access(&|| {
        Box::new(FileStore::open(&dir, OpenMode::Shared).expect("open shared")) as Box<dyn Store>
    })
    .expect("shared access");
    // What the handles wrote is what a fresh open reads, and it checks clean.
    let s = FileStore::open(&dir, OpenMode::Write).expect("reopen");
    assert_eq!(s.node_count().expect("count"), 41);
    assert_eq!(s.check_integrity().expect("check"), Vec::new());
}
