//! Frozen store formats: `fixtures/stores/file-v1` must migrate and
//! `fixtures/stores/file-v2` must keep opening, with the same content and a valid
//! audit chain. `write_fixtures` (ignored) regenerated them once.

use std::path::{Path, PathBuf};

use phase_memory_model::audit::{GENESIS_HASH, verify_chain};
use phase_memory_model::{AuditRecord, Time};
use phase_memory_store::{
    ChangeSet, GraphStore, MemoryState, SCHEMA_VERSION, Store, StoreError, StoreMeta,
};
use phase_memory_store_file::{FileStore, MIGRATION_0002, OpenMode, v1};
use serde_json::json;
use tempfile::TempDir;

use crate::{copy_tree, edge, event, node, review};

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/stores")
        .join(name)
}

fn fixture_meta() -> StoreMeta {
    StoreMeta::new("file", Time::from_millis(1_767_225_600_000))
}

/// The content both fixtures hold.
pub fn fixture_state() -> MemoryState {
    let mut s = MemoryState::new(fixture_meta());
    let mut nodes = vec![
        node("paris", "Paris is the capital of France."),
        node("france", "France is a country in Europe."),
        node(
            "conv-26/D1:3",
            "A turn of a conversation, with a slash in its id.",
        ),
        node("Ünïcode", "An id outside ASCII."),
        node("../x", "An id that looks like a path."),
    ];
    nodes[1].kind = "entity".into();
    nodes[2].kind = "episode".into();
    nodes[2].valid_to = Some(crate::t(86_400));
    nodes[3].labels = vec![];
    nodes[4].attrs.insert("source".into(), json!("fixture"));
    let mut c = ChangeSet {
        put_nodes: nodes,
        put_edges: vec![
            edge("paris", "france", "part_of"),
            edge("conv-26/D1:3", "paris", "mentions"),
            edge("Ünïcode", "../x", "relates_to"),
            edge("france", "paris", "relates_to"),
        ],
        events: vec![
            event(1, "node.created", &["paris"]),
            event(2, "node.created", &["france"]),
            event(3, "edge.created", &["paris", "france"]),
            event(4, "node.accessed", &["paris"]),
            event(5, "observation", &[]),
            event(6, "profile.applied", &[]),
        ],
        put_reviews: vec![review("rev-1")],
        profile: Some("# fixture profile\nname = \"fixture\"\n".into()),
        ..Default::default()
    };
    let mut prev = GENESIS_HASH.to_string();
    for seq in 1..=4u64 {
        let r = AuditRecord {
            seq,
            at: crate::t(seq as i64 * 60),
            actor: if seq % 2 == 0 { "bob" } else { "alice" }.into(),
            operation: [
                "profile.apply",
                "graph.import",
                "node.upsert",
                "review.decide",
            ][seq as usize - 1]
                .into(),
            status: "ok".into(),
            decision: "allow".into(),
            rule_id: (seq == 4).then(|| "forget-review".to_string()),
            subjects: vec!["paris".into()],
            request_digest: format!("blake3:request-{seq}"),
            envelope_digest: format!("blake3:envelope-{seq}"),
            details: if seq == 3 {
                json!({"count": 1})
            } else {
                serde_json::Value::Null
            },
            prev_hash: String::new(),
            hash: String::new(),
        }
        .seal(&prev);
        prev = r.hash.clone();
        c.audit.push(r);
    }
    s.validate(&c).expect("fixture change set");
    s.apply(c);
    s.generation = 0;
    s
}

/// Checks a store holds the fixture content and a verifying audit chain.
pub fn assert_fixture_content(s: &dyn Store, context: &str) {
    let want = fixture_state();
    let mut nodes = Vec::new();
    s.for_each_node(&mut |n| nodes.push(n.clone()))
        .expect("nodes");
    assert_eq!(
        nodes,
        want.nodes.values().cloned().collect::<Vec<_>>(),
        "{context}"
    );
    let mut edges = Vec::new();
    s.for_each_edge(&mut |e| edges.push(e.clone()))
        .expect("edges");
    assert_eq!(
        edges,
        want.edges.values().cloned().collect::<Vec<_>>(),
        "{context}"
    );
    assert_eq!(s.edges_of("paris").expect("edges_of").len(), 3, "{context}");
    let mut events = Vec::new();
    s.for_each_event(&mut |e| events.push(e.clone()))
        .expect("events");
    assert_eq!(events, want.events, "{context}");
    let audit = s.audit_records(0).expect("audit");
    assert_eq!(audit, want.audit, "{context}");
    let cp = s.audit_checkpoint().expect("checkpoint");
    assert!(
        verify_chain(&cp, &audit).is_empty(),
        "{context}: chain breaks"
    );
    assert_eq!(
        s.reviews().expect("reviews"),
        want.reviews.values().cloned().collect::<Vec<_>>(),
        "{context}"
    );
    assert_eq!(
        s.profile_source().expect("profile"),
        want.profile,
        "{context}"
    );
}

#[test]
fn the_v1_fixture_reads_refuses_writes_and_migrates() {
    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("store");
    copy_tree(&fixture_dir("file-v1"), &dir);

    let r = FileStore::open(&dir, OpenMode::ReadOnly).expect("read-only open of v1");
    assert_fixture_content(&r, "v1 read-only");
    assert_eq!(r.meta().expect("meta").schema_version, 1);
    drop(r);

    let mut s = FileStore::open(&dir, OpenMode::Write).expect("open v1");
    assert_fixture_content(&s, "v1");
    assert_eq!(s.pending_migrations().expect("pending"), [MIGRATION_0002]);
    assert_eq!(s.meta().expect("meta").planned_migrations, [MIGRATION_0002]);
    match s.commit(ChangeSet::default()) {
        Err(e @ StoreError::MigrationNeeded { found: 1, .. }) => {
            assert_eq!(e.code(), "store.migration_needed")
        }
        other => panic!("commit on v1: {other:?}"),
    }
    assert!(
        s.check_integrity()
            .expect("check")
            .iter()
            .any(|f| f.code == "store.migration_needed")
    );
    assert_eq!(s.migrate().expect("migrate"), [MIGRATION_0002]);
    assert!(s.pending_migrations().expect("pending").is_empty());
    assert_eq!(
        s.migrate().expect("again"),
        Vec::<String>::new(),
        "not idempotent"
    );
    assert_fixture_content(&s, "migrated");
    let meta = s.meta().expect("meta");
    assert_eq!(meta.schema_version, SCHEMA_VERSION);
    assert_eq!(meta.applied_migrations, [MIGRATION_0002]);
    assert!(meta.planned_migrations.is_empty());
    assert!(s.check_integrity().expect("check").is_empty());
    s.commit(ChangeSet {
        put_nodes: vec![node("after", "written after the migration")],
        events: vec![event(7, "node.created", &["after"])],
        ..Default::default()
    })
    .expect("commit after migration");
    drop(s);

    for gone in ["nodes", "reviews", "edges.jsonl", "profile.toml"] {
        assert!(!dir.join(gone).exists(), "v1 remains: {gone}");
    }
    let s = FileStore::open(&dir, OpenMode::Write).expect("reopen");
    assert_eq!(s.node_count().expect("count"), 6);
    assert_eq!(s.meta().expect("meta"), meta);
    assert!(s.check_integrity().expect("check").is_empty());
}

#[test]
fn the_v2_fixture_keeps_opening() {
    let r = FileStore::open(&fixture_dir("file-v2"), OpenMode::ReadOnly).expect("open fixture");
    assert_fixture_content(&r, "v2 fixture");
    assert!(r.check_integrity().expect("check").is_empty());
    drop(r);

    let tmp = TempDir::new().expect("tempdir");
    let dir = tmp.path().join("store");
    copy_tree(&fixture_dir("file-v2"), &dir);
    let mut s = FileStore::open(&dir, OpenMode::Write).expect("open copy");
    assert!(s.pending_migrations().expect("pending").is_empty());
    assert!(s.check_integrity().expect("check").is_empty());
    s.commit(ChangeSet {
        put_nodes: vec![node("more", "more")],
        ..Default::default()
    })
    .expect("commit");
}

/// Regenerates the frozen fixtures. Run once by hand:
/// `cargo test -p phase-memory-store-file --test it -- --ignored write_fixtures`.
#[test]
#[ignore = "writes the frozen fixtures into the repository"]
fn write_fixtures() {
    let state = fixture_state();
    let v1_dir = fixture_dir("file-v1");
    let _ = std::fs::remove_dir_all(&v1_dir);
    v1::write_store(&v1_dir, &state).expect("write v1");

    let v2_dir = fixture_dir("file-v2");
    let _ = std::fs::remove_dir_all(&v2_dir);
    let mut s = FileStore::init(&v2_dir, fixture_meta()).expect("init v2");
    let mut nodes: Vec<_> = state.nodes.values().cloned().collect();
    let late = nodes.split_off(3);
    s.commit(ChangeSet {
        put_nodes: nodes,
        put_edges: state.edges.values().cloned().collect(),
        events: state.events[..3].to_vec(),
        audit: state.audit[..2].to_vec(),
        profile: state.profile.clone(),
        ..Default::default()
    })
    .expect("commit 1");
    s.commit(ChangeSet {
        put_nodes: late,
        events: state.events[3..].to_vec(),
        audit: state.audit[2..].to_vec(),
        put_reviews: state.reviews.values().cloned().collect(),
        ..Default::default()
    })
    .expect("commit 2");
    drop(s);
    std::fs::remove_file(v2_dir.join("LOCK")).expect("remove LOCK");
}
