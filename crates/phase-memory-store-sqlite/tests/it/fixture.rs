//! The frozen schema-v1 store in `fixtures/stores/sqlite-v1/`: how it was made, and
//! proof that it still opens, migrates and verifies.

use std::path::{Path, PathBuf};

use phase_memory_model::audit::{GENESIS_HASH, verify_chain};
use phase_memory_model::{AuditRecord, Edge, Event, Review};
use phase_memory_store::conformance::fixtures::{self as shared, sample_node, t};
use phase_memory_store::{
    AuditStore, ChangeSet, EventQuery, EventStore, GraphStore, ReviewStore, Store, StoreError,
};
use phase_memory_store_sqlite::{DB_FILE, OpenMode, SqliteStore};

/// What the frozen fixture holds differs from today's shared sample records in
/// a few fields; these are its records.
fn edge(from: &str, to: &str, ty: &str) -> Edge {
    Edge {
        weight: 0.5,
        created_at: t(1),
        ..shared::edge(from, to, ty)
    }
}

fn event(seq: u64, ty: &str, subjects: &[&str]) -> Event {
    Event {
        at: t(seq as i64),
        ..shared::event(seq, ty, subjects)
    }
}

fn audit(seq: u64, prev: &str) -> AuditRecord {
    AuditRecord {
        rule_id: None,
        subjects: vec!["a".into()],
        ..shared::audit_draft(seq)
    }
    .seal(prev)
}

fn review(id: &str) -> Review {
    Review {
        reason: "needs a second pair of eyes".into(),
        rule_id: None,
        request: serde_json::json!({}),
        ..shared::review(id)
    }
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/stores/sqlite-v1")
}

/// Writes a schema-v1 store (the DDL in `schema-v1.sql`, small pages so the file
/// stays a few KB, rollback journal so it is one self-contained file).
fn write_v1_store(db: &Path) {
    let ddl = std::fs::read_to_string(fixture_dir().join("schema-v1.sql")).expect("v1 DDL");
    let conn = rusqlite::Connection::open(db).expect("create v1 db");
    conn.execute_batch(&ddl).expect("v1 schema");
    let put_meta = |k: &str, v: serde_json::Value| {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            rusqlite::params![k, v.to_string()],
        )
        .expect("meta");
    };
    put_meta("format", "phase-memory-store".into());
    put_meta("schema_version", 1.into());
    put_meta("adapter", "sqlite".into());
    put_meta("applied_migrations", serde_json::json!([]));
    put_meta("planned_migrations", serde_json::json!([]));
    put_meta("created_at", t(0).to_string().into());
    put_meta("generation", 3.into());
    put_meta("profile", FIXTURE_PROFILE.into());
    for id in ["n1", "Ünïcode/2"] {
        let n = sample_node(id);
        conn.execute(
            "INSERT INTO nodes VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                n.id,
                n.kind,
                n.phase,
                n.scope,
                n.sensitivity,
                serde_json::to_string(&n).expect("json")
            ],
        )
        .expect("node");
    }
    let e = edge("n1", "Ünïcode/2", "relates_to");
    conn.execute(
        r#"INSERT INTO edges VALUES (?1, ?2, ?3, ?4)"#,
        rusqlite::params![
            e.from,
            e.to,
            e.edge_type,
            serde_json::to_string(&e).expect("json")
        ],
    )
    .expect("edge");
    for ev in [
        event(1, "node.created", &["n1"]),
        event(2, "node.accessed", &["n1", "Ünïcode/2"]),
    ] {
        conn.execute(
            r#"INSERT INTO events VALUES (?1, ?2, ?3, ?4)"#,
            rusqlite::params![
                ev.seq as i64,
                ev.at.millis(),
                ev.event_type,
                serde_json::to_string(&ev).expect("json")
            ],
        )
        .expect("event");
    }
    let a1 = audit(1, GENESIS_HASH);
    let a2 = audit(2, &a1.hash);
    for a in [a1, a2] {
        conn.execute(
            "INSERT INTO audit VALUES (?1, ?2)",
            rusqlite::params![a.seq as i64, serde_json::to_string(&a).expect("json")],
        )
        .expect("audit");
    }
    let r = review("rev-1");
    conn.execute(
        "INSERT INTO reviews VALUES (?1, ?2)",
        rusqlite::params![r.id, serde_json::to_string(&r).expect("json")],
    )
    .expect("review");
    conn.execute_batch("VACUUM").expect("vacuum");
}

/// Regenerates the committed fixture. Run by hand only when the v1 fixture must be
/// rebuilt (it never should: it is a frozen released format).
#[test]
#[ignore = "writes the frozen fixture into the repository"]
fn regenerate_sqlite_v1_fixture() {
    let db = fixture_dir().join(DB_FILE);
    let _ = std::fs::remove_file(&db);
    write_v1_store(&db);
}

#[test]
fn the_helper_writes_what_the_fixture_holds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_v1_store(&tmp.path().join(DB_FILE));
    let fresh = SqliteStore::open(tmp.path(), OpenMode::ReadOnly).expect("open fresh v1");
    let frozen = copy_fixture();
    let frozen = SqliteStore::open(frozen.path(), OpenMode::ReadOnly).expect("open frozen v1");
    assert_eq!(
        fresh.node("n1").expect("n1"),
        frozen.node("n1").expect("n1")
    );
    assert_eq!(
        fresh.audit_records(0).expect("audit"),
        frozen.audit_records(0).expect("audit")
    );
}

fn copy_fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = fixture_dir().join(DB_FILE);
    assert!(
        std::fs::metadata(&src).expect("fixture exists").len() < 16 * 1024,
        "the v1 fixture should stay a few KB"
    );
    std::fs::copy(&src, tmp.path().join(DB_FILE)).expect("copy fixture");
    tmp
}

#[test]
fn v1_fixture_opens_migrates_and_verifies() {
    let tmp = copy_fixture();
    let mut s = SqliteStore::open(tmp.path(), OpenMode::Write).expect("open v1");
    assert_eq!(
        s.pending_migrations().expect("pending"),
        ["0002-checksums-and-subjects"]
    );
    assert_eq!(
        s.meta().expect("meta").planned_migrations,
        ["0002-checksums-and-subjects"]
    );
    // Reads work before the migration; writes wait for it.
    assert_eq!(s.node("n1").expect("read"), Some(sample_node("n1")));
    let q = EventQuery {
        subject: Some("Ünïcode/2".into()),
        ..Default::default()
    };
    assert_eq!(s.events(&q).expect("events").len(), 1);
    assert!(matches!(
        s.commit(ChangeSet::default()),
        Err(StoreError::MigrationNeeded { found: 1, want: 2 })
    ));
    let g0 = s.generation();
    assert_eq!(
        s.migrate().expect("migrate"),
        ["0002-checksums-and-subjects"]
    );
    assert!(s.generation() > g0);
    assert!(s.pending_migrations().expect("pending").is_empty());
    assert!(s.migrate().expect("migrate again").is_empty());
    let meta = s.meta().expect("meta");
    assert_eq!(meta.schema_version, 2);
    assert_eq!(meta.applied_migrations, ["0002-checksums-and-subjects"]);
    assert!(meta.planned_migrations.is_empty());
    assert!(s.check_integrity().expect("check").is_empty());
    assert_eq!(s.events(&q).expect("events").len(), 1);
    let cp = s.audit_checkpoint().expect("cp");
    assert!(verify_chain(&cp, &s.audit_records(0).expect("audit")).is_empty());
    // The frozen fixture keeps the profile it was written with (the built-in profile
    // of its day, with a marker line), byte for byte.
    let stored = s.profile_source().expect("profile").unwrap_or_default();
    assert!(stored.starts_with(FIXTURE_MARKER), "{stored}");
    assert!(stored.contains("name = \"default\""), "{stored}");
    assert_eq!(s.review("rev-1").expect("review"), Some(review("rev-1")));
    s.commit(ChangeSet {
        put_nodes: vec![sample_node("n3")],
        events: vec![event(3, "node.created", &["n3"])],
        ..Default::default()
    })
    .expect("commit after migration");
    drop(s);
    let s = SqliteStore::open(tmp.path(), OpenMode::Write).expect("reopen");
    assert_eq!(s.node_count().expect("count"), 3);
    assert_eq!(s.edges_of("Ünïcode/2").expect("edges").len(), 1);
    assert!(s.check_integrity().expect("check").is_empty());
}

#[test]
fn running_the_migration_twice_changes_nothing() {
    let tmp = copy_fixture();
    let mut s = SqliteStore::open(tmp.path(), OpenMode::Write).expect("open v1");
    s.migrate().expect("migrate");
    drop(s);
    // Pretend the version bump was lost: the migration must redo nothing harmful.
    let conn = rusqlite::Connection::open(tmp.path().join(DB_FILE)).expect("open by hand");
    conn.execute(
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
        [],
    )
    .expect("downgrade marker");
    drop(conn);
    let mut s = SqliteStore::open(tmp.path(), OpenMode::Write).expect("open");
    assert_eq!(
        s.migrate().expect("migrate"),
        ["0002-checksums-and-subjects"]
    );
    assert_eq!(
        s.meta().expect("meta").applied_migrations,
        ["0002-checksums-and-subjects"]
    );
    assert!(s.check_integrity().expect("check").is_empty());
    let q = EventQuery {
        subject: Some("n1".into()),
        ..Default::default()
    };
    assert_eq!(s.events(&q).expect("events").len(), 2);
}

/// The fixture's stored profile: the built-in default profile with a marker line,
/// so a runtime can open the migrated fixture.
const FIXTURE_PROFILE: &str = concat!(
    "# sqlite v1 fixture profile\n",
    include_str!("../../../phase-memory-profile/src/default.toml")
);

/// The first line of the fixture's stored profile.
const FIXTURE_MARKER: &str = "# sqlite v1 fixture profile\n";
