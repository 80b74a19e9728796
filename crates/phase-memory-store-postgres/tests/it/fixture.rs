//! The frozen schema-v2 store in `fixtures/stores/postgres-v2/`: `store.sql` is a
//! plain-SQL dump (`pg_dump --inserts`, schema name `phase_memory`) of a small
//! store written by this build's first version. The tests prove that the schema
//! this build creates is still exactly the frozen one, and that the dump still
//! opens, reads and verifies. Regenerate only with a new schema version:
//! `PHASE_MEMORY_UPDATE_FIXTURES=1 cargo test -p phase-memory-store-postgres --test it fixture`.

use std::path::{Path, PathBuf};
use std::process::Command;

use phase_memory_model::ReviewStatus;
use phase_memory_model::audit::{GENESIS_HASH, verify_chain};
use phase_memory_store::conformance::sample_node;
use phase_memory_store::{
    AuditStore, ChangeSet, EventQuery, EventStore, GraphStore, ReviewStore, Store,
};
use phase_memory_store_postgres::{DEFAULT_SCHEMA, PgLocation, PgStore, testing};

use crate::{audit, edge, event, meta, review};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/stores/postgres-v2")
}

/// A canonical, version-independent description of a store schema: tables,
/// columns (type, nullability, collation), constraints and index definitions.
fn describe(loc: &PgLocation) -> String {
    let mut c = loc.connect().expect("connect");
    let mut out = String::new();
    for r in c
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
                    coalesce(collation_name::text, '')
             FROM information_schema.columns WHERE table_schema = $1
             ORDER BY table_name, ordinal_position",
            &[&loc.schema()],
        )
        .expect("columns")
    {
        let cols: Vec<String> = (0..5).map(|i| r.get::<_, String>(i)).collect();
        out.push_str(&format!("column {}\n", cols.join(" ")));
    }
    for r in c
        .query(
            "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = $1::text::regnamespace
             ORDER BY 1, 2",
            &[&loc.schema()],
        )
        .expect("constraints")
    {
        out.push_str(&format!(
            "constraint {} {} {}\n",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2)
        ));
    }
    for r in c
        .query(
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1",
            &[&loc.schema()],
        )
        .expect("indexes")
    {
        out.push_str(&format!(
            "index {} {}\n",
            r.get::<_, String>(0),
            r.get::<_, String>(1)
        ));
    }
    out
}

/// Writes the small store the fixture holds.
fn write_fixture_store(loc: &PgLocation) {
    let mut s = PgStore::init(loc, meta()).expect("init");
    let mut unicode = sample_node("Ünïcode/2");
    unicode.body = "tab\there, newline\nthere, backslash \\ and quote ' \"".into();
    let r1 = audit(1, GENESIS_HASH, "alice");
    let r2 = audit(2, &r1.hash, "bob");
    s.commit(ChangeSet {
        put_nodes: vec![sample_node("n1"), unicode],
        put_edges: vec![edge("n1", "Ünïcode/2", "relates_to")],
        events: vec![
            event(1, "node.created", &["n1"]),
            event(2, "node.accessed", &["n1", "Ünïcode/2"]),
        ],
        audit: vec![r1, r2],
        put_reviews: vec![review("rev-1", ReviewStatus::Pending)],
        profile: Some("name = \"fixture\"\n".into()),
        ..Default::default()
    })
    .expect("fixture content");
}

fn pg_dump() -> PathBuf {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("pg_config");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("pg_dump")
}

#[test]
fn fixture_schema_matches_this_build() {
    let fresh = testing::fresh_location();
    drop(PgStore::init(&fresh, meta()).expect("init"));
    let frozen = testing::fresh_location();
    let sql = std::fs::read_to_string(fixture_dir().join("store.sql")).expect("fixture dump");
    let mut c = frozen.connect().expect("connect");
    c.batch_execute(&sql).expect("load the frozen dump");
    assert_eq!(
        describe(&fresh),
        describe(&frozen),
        "the schema this build creates differs from the frozen v2 schema: add a migration \
         and a new fixture instead of changing the v2 DDL"
    );
    let described = describe(&fresh);
    let pinned = fixture_dir().join("schema.txt");
    if std::env::var_os("PHASE_MEMORY_UPDATE_FIXTURES").is_some() {
        std::fs::write(&pinned, &described).expect("write schema.txt");
    }
    assert_eq!(
        std::fs::read_to_string(&pinned).expect("schema.txt"),
        described
    );
}

#[test]
fn fixture_store_opens_reads_and_verifies() {
    if std::env::var_os("PHASE_MEMORY_UPDATE_FIXTURES").is_some() {
        let loc = testing::fresh_location();
        write_fixture_store(&loc);
        let out = Command::new(pg_dump())
            .args(["--inserts", "--no-owner", "--no-privileges", "--schema"])
            .arg(DEFAULT_SCHEMA)
            .arg(loc.url())
            .output()
            .expect("pg_dump");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf-8");
        // Drop the version comments and psql-only `\restrict` lines (random keys),
        // so the file only changes with the content and loads as plain SQL.
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-- Dumped") && !l.starts_with('\\'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(fixture_dir().join("store.sql"), body).expect("write store.sql");
    }
    let loc = testing::fresh_location();
    let sql = std::fs::read_to_string(fixture_dir().join("store.sql")).expect("fixture dump");
    loc.connect()
        .expect("connect")
        .batch_execute(&sql)
        .expect("load the frozen dump");
    let s = PgStore::open(&loc).expect("open the frozen store");
    assert!(s.pending_migrations().expect("pending").is_empty());
    assert_eq!(s.meta().expect("meta").schema_version, 2);
    assert_eq!(s.node_count().expect("nodes"), 2);
    let u = s.node("Ünïcode/2").expect("read").expect("some");
    assert!(u.body.contains("tab\there") && u.body.contains('\\'));
    assert_eq!(s.edges_of("n1").expect("edges").len(), 1);
    assert_eq!(s.events(&EventQuery::default()).expect("events").len(), 2);
    let recs = s.audit_records(0).expect("audit");
    assert_eq!(recs.len(), 2);
    assert!(verify_chain(&s.audit_checkpoint().expect("cp"), &recs).is_empty());
    assert_eq!(s.audit_head().expect("head").expect("some").seq, 2);
    assert_eq!(s.reviews().expect("reviews").len(), 1);
    assert_eq!(
        s.profile_source().expect("profile").as_deref(),
        Some("name = \"fixture\"\n")
    );
    assert!(s.check_integrity().expect("check").is_empty());
}

#[test]
fn a_bulk_load_rebuilds_the_indexes_it_dropped() {
    let fresh = testing::fresh_location();
    drop(PgStore::init(&fresh, meta()).expect("init"));
    let loaded = testing::fresh_location();
    let mut s = PgStore::init(&loaded, meta()).expect("init");
    let n = phase_memory_store_postgres::REINDEX_ROWS;
    let ids: Vec<String> = (0..n).map(|i| format!("n{i:07}")).collect();
    s.commit(ChangeSet {
        put_nodes: ids.iter().map(|i| sample_node(i)).collect(),
        put_edges: ids
            .windows(2)
            .map(|w| edge(&w[0], &w[1], "next"))
            .chain(std::iter::once(edge(&ids[0], &ids[0], "self")))
            .collect(),
        events: (1..=n as u64)
            .map(|q| event(q, "node.created", &["x"]))
            .collect(),
        ..Default::default()
    })
    .expect("bulk load");
    assert_eq!(describe(&fresh), describe(&loaded));
    assert_eq!(s.edges_of(&ids[1]).expect("edges").len(), 2);
    // The primary keys are back: a duplicate is refused, not stored twice.
    s.commit(ChangeSet {
        put_nodes: vec![sample_node(&ids[5])],
        ..Default::default()
    })
    .expect("upsert");
    assert_eq!(s.node_count().expect("count"), n);
}

#[test]
fn a_bulk_load_with_a_key_given_twice_keeps_the_later_and_its_indexes() {
    let fresh = testing::fresh_location();
    drop(PgStore::init(&fresh, meta()).expect("init"));
    let loaded = testing::fresh_location();
    let mut s = PgStore::init(&loaded, meta()).expect("init");
    let n = phase_memory_store_postgres::REINDEX_ROWS;
    let ids: Vec<String> = (0..n).map(|i| format!("n{i:07}")).collect();
    let mut nodes: Vec<_> = ids.iter().map(|i| sample_node(i)).collect();
    let mut again = sample_node(&ids[7]);
    again.title = "the later put".into();
    nodes.push(again);
    let mut edges: Vec<_> = ids.windows(2).map(|w| edge(&w[0], &w[1], "next")).collect();
    let mut heavier = edge(&ids[3], &ids[4], "next");
    heavier.weight = 0.25;
    edges.push(heavier);
    s.commit(ChangeSet {
        put_nodes: nodes,
        put_edges: edges,
        ..Default::default()
    })
    .expect("bulk load with repeated keys");
    assert_eq!(s.node_count().expect("count"), n);
    assert_eq!(s.edge_count().expect("count"), n - 1);
    assert_eq!(
        s.node(&ids[7]).expect("read").expect("stored").title,
        "the later put"
    );
    let e = s.edges_of(&ids[3]).expect("edges");
    let out: Vec<_> = e.iter().filter(|e| e.from == ids[3]).collect();
    assert_eq!(out.len(), 1, "{e:?}");
    assert_eq!(out[0].weight, 0.25);
    // The indexes dropped for the load are all back, as on a fresh store.
    assert_eq!(describe(&fresh), describe(&loaded));
}
