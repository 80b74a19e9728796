//! Integration tests of the SQLite adapter: the shared conformance suite, the
//! writer lock, corrupt-row detection and quarantine, purge erasure, the frozen v1
//! fixture and a round trip against the reference adapter.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use phase_memory_model::audit::GENESIS_HASH;
use phase_memory_model::{AuditCheckpoint, AuditRecord, Edge, Node, Tombstone};
use phase_memory_store::conformance::fixtures::{
    audit_record, edge, event, review, sample_node, t,
};
use phase_memory_store::conformance::{self, StoreFactory};
use phase_memory_store::{
    AuditStore, ChangeSet, EventQuery, EventStore, GraphStore, Store, StoreError, StoreMeta,
};
use phase_memory_store_sqlite::{DB_FILE, OpenMode, SqliteStore};

mod changes;
mod fixture;
mod roundtrip;

fn meta() -> StoreMeta {
    StoreMeta::new("sqlite", t(0))
}

fn new_store() -> (tempfile::TempDir, SqliteStore) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::init(&tmp.path().join("store"), meta()).expect("init");
    (tmp, store)
}

/// `audit_record` under the name these tests use.
fn audit(seq: u64, prev: &str) -> AuditRecord {
    audit_record(seq, prev)
}

/// Temp-dir stores for the conformance suite; the dirs live as long as the factory.
struct Sqlite {
    dirs: Mutex<Vec<tempfile::TempDir>>,
}

impl StoreFactory for Sqlite {
    fn create(&self) -> Box<dyn Store> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::init(tmp.path(), meta()).expect("init");
        self.dirs.lock().expect("dirs").push(tmp);
        Box::new(store)
    }
    fn reopen(&self, store: Box<dyn Store>) -> Box<dyn Store> {
        let dir = PathBuf::from(store.location());
        drop(store);
        Box::new(SqliteStore::open(&dir, OpenMode::Write).expect("reopen"))
    }
}

#[test]
fn sqlite_adapter_conforms() {
    let factory = Sqlite {
        dirs: Mutex::new(Vec::new()),
    };
    conformance::assert_conforms(&factory);
    let skipped: Vec<_> = conformance::run(&factory)
        .into_iter()
        .filter(|(_, o)| *o != conformance::Outcome::Passed)
        .collect();
    assert!(skipped.is_empty(), "not passed: {skipped:?}");
}

#[test]
fn manifest_claims_every_capability() {
    let m = SqliteStore::adapter_manifest();
    assert_eq!(m.name, "sqlite");
    assert_eq!(m.capabilities.len(), 11);
    assert_eq!(m.conformance.len(), conformance::CHECKS.len());
}

#[test]
fn init_open_and_is_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("s");
    assert!(!SqliteStore::is_store(&dir));
    assert!(matches!(
        SqliteStore::open(&dir, OpenMode::Write),
        Err(StoreError::NotFound(_))
    ));
    let store = SqliteStore::init(&dir, StoreMeta::new("whatever", t(0))).expect("init");
    assert!(SqliteStore::is_store(&dir));
    let m = store.meta().expect("meta");
    assert_eq!(m.adapter, "sqlite");
    assert_eq!(m.schema_version, phase_memory_store::SCHEMA_VERSION);
    drop(store);
    assert!(matches!(
        SqliteStore::init(&dir, meta()),
        Err(StoreError::Exists(_))
    ));
    assert!(!dir.join("index").exists(), "index/ belongs to the runtime");
}

#[test]
fn second_writer_is_locked_out_and_readers_are_not() {
    let (tmp, mut w) = new_store();
    let dir = tmp.path().join("store");
    w.commit(ChangeSet {
        put_nodes: vec![sample_node("a")],
        ..Default::default()
    })
    .expect("commit");
    assert!(matches!(
        SqliteStore::open(&dir, OpenMode::Write),
        Err(StoreError::Locked(_))
    ));
    assert!(matches!(
        SqliteStore::init(&dir, meta()),
        Err(StoreError::Locked(_))
    ));
    let mut r = SqliteStore::open(&dir, OpenMode::ReadOnly).expect("reader while writing");
    assert_eq!(r.node("a").expect("read"), Some(sample_node("a")));
    let refused = r.commit(ChangeSet {
        put_nodes: vec![sample_node("b")],
        ..Default::default()
    });
    assert!(refused.is_err(), "a read-only handle accepted a commit");
    assert!(r.migrate().is_err() && r.repair_integrity(phase_memory_model::Time::EPOCH).is_err());
    // The reader sees the writer's later commits and generation.
    w.commit(ChangeSet {
        put_nodes: vec![sample_node("c")],
        ..Default::default()
    })
    .expect("commit");
    assert_eq!(r.node_count().expect("count"), 2);
    assert_eq!(r.generation(), w.generation());
    drop(w);
    let w2 = SqliteStore::open(&dir, OpenMode::Write).expect("lock released on drop");
    drop(w2);
    drop(r);
    let r2 = SqliteStore::open(&dir, OpenMode::ReadOnly).expect("reader of a closed store");
    assert_eq!(r2.node_count().expect("count"), 2);
}

#[test]
fn callbacks_may_read_the_store_while_it_streams() {
    let (_tmp, mut s) = new_store();
    s.commit(ChangeSet {
        put_nodes: vec![sample_node("a"), sample_node("b")],
        put_edges: vec![edge("a", "b", "relates_to")],
        ..Default::default()
    })
    .expect("commit");
    let mut degrees = Vec::new();
    s.for_each_node(&mut |n| {
        degrees.push(s.edges_of(&n.id).map(|e| e.len()).unwrap_or(99));
    })
    .expect("stream");
    assert_eq!(degrees, [1, 1]);
}

fn corrupted_store() -> (tempfile::TempDir, PathBuf) {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    let a1 = audit(1, GENESIS_HASH);
    let a2 = audit(2, &a1.hash);
    s.commit(ChangeSet {
        put_nodes: vec![sample_node("a"), sample_node("b")],
        put_edges: vec![edge("a", "b", "relates_to")],
        events: vec![event(1, "x", &["a"]), event(2, "x", &["b"])],
        audit: vec![a1, a2],
        put_reviews: vec![review("r1")],
        ..Default::default()
    })
    .expect("commit");
    drop(s);
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).expect("open by hand");
    conn.execute_batch(
        "UPDATE nodes SET json = replace(json, 'title of a', 'hand edited') WHERE id = 'a';
         UPDATE events SET json = '{not json' WHERE seq = 2;
         UPDATE edges SET checksum = NULL;",
    )
    .expect("hand edit");
    drop(conn);
    (tmp, dir)
}

#[test]
fn hand_edited_rows_are_reported_with_their_key() {
    let (_tmp, dir) = corrupted_store();
    let s = SqliteStore::open(&dir, OpenMode::ReadOnly).expect("open");
    match s.node("a") {
        Err(StoreError::Corrupt { location, .. }) => assert_eq!(location, "nodes/a"),
        other => panic!("edited node read as {other:?}"),
    }
    assert_eq!(s.node("b").expect("b").map(|n| n.id), Some("b".into()));
    let findings = s.check_integrity().expect("check");
    let mut locations: Vec<_> = findings.iter().map(|f| f.location.as_str()).collect();
    locations.sort();
    assert_eq!(
        locations,
        ["edges/a -> b [relates_to]", "events/2", "nodes/a"]
    );
    assert!(
        findings
            .iter()
            .all(|f| f.code == "store.corrupt_record" && f.fixable)
    );
}

#[test]
fn repair_moves_corrupt_rows_into_quarantine() {
    let (_tmp, dir) = corrupted_store();
    let mut s = SqliteStore::open(&dir, OpenMode::Write).expect("open");
    let g0 = s.generation();
    let done = s
        .repair_integrity(phase_memory_model::Time::EPOCH)
        .expect("repair");
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(done.iter().all(|f| f.message.contains("quarantine")));
    assert!(s.generation() > g0);
    assert!(s.check_integrity().expect("check").is_empty());
    assert_eq!(s.node("a").expect("read"), None);
    assert_eq!(s.node_count().expect("count"), 1);
    assert_eq!(s.edge_count().expect("count"), 0);
    let q = EventQuery {
        subject: Some("b".into()),
        ..Default::default()
    };
    assert!(s.events(&q).expect("events").is_empty());
    // Nothing was deleted silently: the rows are in the quarantine table and file.
    drop(s);
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).expect("open by hand");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM quarantine", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 3);
    let files: Vec<_> = std::fs::read_dir(dir.join("quarantine"))
        .expect("quarantine dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).expect("read");
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains("hand edited") && text.contains("{not json"));
    let mut s = SqliteStore::open(&dir, OpenMode::Write).expect("open");
    assert!(
        s.repair_integrity(phase_memory_model::Time::EPOCH)
            .expect("second repair")
            .is_empty()
    );
    s.commit(ChangeSet {
        events: vec![event(2, "x", &["b"])],
        ..Default::default()
    })
    .expect("the history continues after a quarantined head");
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read file");
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p);
                }
            }
        }
    }
    hits
}

#[test]
fn purge_leaves_no_trace_of_the_erased_text() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    std::fs::create_dir_all(dir.join("index")).expect("index dir");
    std::fs::write(dir.join("index").join("keep"), b"runtime data").expect("index file");
    let secret = "zanzibar-quokka-7731";
    let mut node = sample_node("s");
    node.body = format!("the launch code is {secret}, do not share");
    let others: Vec<Node> = (0..200).map(|i| sample_node(&format!("n{i:03}"))).collect();
    s.commit(ChangeSet {
        put_nodes: others,
        ..Default::default()
    })
    .expect("commit");
    s.commit(ChangeSet {
        put_nodes: vec![node.clone()],
        ..Default::default()
    })
    .expect("commit");
    node.title = format!("a second version, still {secret}");
    s.commit(ChangeSet {
        put_nodes: vec![node.clone()],
        ..Default::default()
    })
    .expect("commit");
    assert!(
        !files_containing(&dir, secret.as_bytes()).is_empty(),
        "the text should be on disk before the purge (or the grep proves nothing)"
    );
    let mut forgotten = node.clone();
    forgotten.tombstone = Some(Tombstone {
        content_hash: node.content_hash(),
        forgotten_at: t(5),
        reason: "rule forget-old".into(),
    });
    forgotten.phase = "forgotten".into();
    forgotten.title.clear();
    forgotten.body.clear();
    forgotten.attrs.clear();
    s.commit(ChangeSet {
        put_nodes: vec![forgotten.clone()],
        purge: true,
        ..Default::default()
    })
    .expect("purge commit");
    assert_eq!(
        files_containing(&dir, secret.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(s.node("s").expect("read"), Some(forgotten));
    drop(s);
    assert_eq!(
        files_containing(&dir, secret.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        std::fs::read(dir.join("index").join("keep")).expect("index file"),
        b"runtime data"
    );
}

#[test]
fn deleting_a_node_with_purge_erases_it_too() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    let secret = "okapi-marmalade-4410";
    let mut node = sample_node("gone");
    node.body = secret.into();
    s.commit(ChangeSet {
        put_nodes: vec![node],
        ..Default::default()
    })
    .expect("commit");
    s.commit(ChangeSet {
        delete_nodes: vec!["gone".into()],
        purge: true,
        ..Default::default()
    })
    .expect("purge");
    assert_eq!(
        files_containing(&dir, secret.as_bytes()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn bulk_batches_rebuild_their_indexes() {
    let (_tmp, mut s) = new_store();
    let n = 2_000usize;
    let nodes: Vec<Node> = (0..n).map(|i| sample_node(&format!("n{i}"))).collect();
    let edges: Vec<Edge> = (0..phase_memory_store_sqlite::BULK_ROWS + 10)
        .map(|i| {
            edge(
                &format!("n{}", i % n),
                &format!("n{}", (i * 7 + 3) % n),
                &format!("t{}", i / n),
            )
        })
        .collect();
    let count = edges.len();
    s.commit(ChangeSet {
        put_nodes: nodes,
        put_edges: edges,
        ..Default::default()
    })
    .expect("bulk commit");
    assert_eq!(s.edge_count().expect("count"), count);
    let of = s.edges_of("n3").expect("edges_of");
    assert!(of.iter().any(|e| e.to == "n3") && of.iter().any(|e| e.from == "n3"));
    assert!(s.check_integrity().expect("check").is_empty());
}

#[test]
fn audit_prune_and_checkpoint_survive_reopen() {
    let (tmp, mut s) = new_store();
    let dir = tmp.path().join("store");
    let a1 = audit(1, GENESIS_HASH);
    let a2 = audit(2, &a1.hash);
    let a3 = audit(3, &a2.hash);
    s.commit(ChangeSet {
        audit: vec![a1.clone(), a2.clone(), a3.clone()],
        ..Default::default()
    })
    .expect("commit");
    let cp = AuditCheckpoint {
        last_pruned_seq: 3,
        last_pruned_hash: a3.hash.clone(),
        pruned_at: Some(t(9)),
        pruned_count: 3,
    };
    s.commit(ChangeSet {
        prune_audit: Some(cp.clone()),
        ..Default::default()
    })
    .expect("prune");
    drop(s);
    let s = SqliteStore::open(&dir, OpenMode::Write).expect("reopen");
    assert_eq!(s.audit_checkpoint().expect("cp"), cp);
    let head = s.audit_head().expect("head").expect("some head");
    assert_eq!((head.seq, head.hash), (3, a3.hash));
}

#[test]
fn shared_handles_read_snapshots_and_writers_queue() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    drop(SqliteStore::init(&dir, meta()).expect("init"));
    conformance::shared_access(&|| {
        Box::new(SqliteStore::open(&dir, OpenMode::Shared).expect("open shared")) as Box<dyn Store>
    })
    .expect("shared access");
    let s = SqliteStore::open(&dir, OpenMode::Write).expect("reopen");
    assert_eq!(s.node_count().expect("count"), 41);
    assert_eq!(s.check_integrity().expect("check"), Vec::new());
}
