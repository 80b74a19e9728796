//! Integration tests of the PostgreSQL adapter against a real server: the shared
//! conformance suite, concurrent writers on separate connections, apply-once
//! reviews, purge erasure, COPY bulk import, the frozen v2 fixture.
//!
//! The server is `PHASE_MEMORY_TEST_DATABASE_URL` or a throwaway cluster started by
//! `scripts/pg-cluster.sh` (see `phase_memory_store_postgres::testing`); each test
//! gets its own database.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use phase_memory_model::audit::{GENESIS_HASH, verify_chain};
use phase_memory_model::{
    AuditCheckpoint, AuditRecord, Edge, Event, Review, ReviewStatus, Time, Tombstone,
};
use phase_memory_store::conformance::{self, StoreFactory, sample_node};
use phase_memory_store::{
    AuditStore, ChangeSet, EventQuery, EventStore, GraphStore, ReviewStore, Store, StoreError,
    StoreMeta,
};
use phase_memory_store_postgres::{PgLocation, PgStore, testing};
use serde_json::json;

mod fixture;

pub(crate) fn t(s: i64) -> Time {
    Time::from_millis(1_767_225_600_000 + s * 1000)
}

pub(crate) fn meta() -> StoreMeta {
    StoreMeta::new("postgres", t(0))
}

pub(crate) fn edge(from: &str, to: &str, ty: &str) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        edge_type: ty.into(),
        weight: 0.5,
        attrs: Default::default(),
        created_at: t(1),
    }
}

pub(crate) fn event(seq: u64, ty: &str, subjects: &[&str]) -> Event {
    Event {
        seq,
        id: format!("ev-{seq}"),
        at: t(seq as i64),
        actor: "alice".into(),
        event_type: ty.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        payload: json!({"seq": seq}),
    }
}

pub(crate) fn audit(seq: u64, prev: &str, actor: &str) -> AuditRecord {
    AuditRecord {
        seq,
        at: t(seq as i64),
        actor: actor.into(),
        operation: "node.upsert".into(),
        status: "ok".into(),
        decision: "allow".into(),
        rule_id: None,
        subjects: vec!["a".into()],
        request_digest: "blake3:req".into(),
        envelope_digest: "blake3:env".into(),
        details: serde_json::Value::Null,
        prev_hash: String::new(),
        hash: String::new(),
    }
    .seal(prev)
}

pub(crate) fn review(id: &str, status: ReviewStatus) -> Review {
    Review {
        id: id.into(),
        operation: "lifecycle.apply".into(),
        subjects: vec!["a".into()],
        requested_by: "alice".into(),
        reason: "needs a second pair of eyes".into(),
        rule_id: None,
        status,
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        created_at: t(0),
        expires_at: None,
        request: json!({}),
    }
}

/// Every store of the conformance suite in its own SQL schema of one database.
struct Postgres {
    url: String,
    made: AtomicUsize,
    locations: Mutex<Vec<PgLocation>>,
}

impl StoreFactory for Postgres {
    fn create(&self) -> Box<dyn Store> {
        let n = self.made.fetch_add(1, Ordering::SeqCst);
        let loc = PgLocation::new(&self.url, &format!("conf_{n}")).expect("location");
        let store = PgStore::init(&loc, meta()).expect("init");
        self.locations.lock().expect("locations").push(loc);
        Box::new(store)
    }
    fn reopen(&self, store: Box<dyn Store>) -> Box<dyn Store> {
        let name = store.location();
        drop(store);
        let loc = self
            .locations
            .lock()
            .expect("locations")
            .iter()
            .find(|l| l.display() == name)
            .cloned()
            .expect("known location");
        Box::new(PgStore::open(&loc).expect("reopen"))
    }
}

#[test]
fn postgres_adapter_conforms() {
    let factory = Postgres {
        url: testing::fresh_database(),
        made: AtomicUsize::new(0),
        locations: Mutex::new(Vec::new()),
    };
    conformance::assert_conforms(&factory);
    let not_passed: Vec<_> = conformance::run(&factory)
        .into_iter()
        .filter(|(_, o)| *o != conformance::Outcome::Passed)
        .collect();
    assert!(not_passed.is_empty(), "not passed: {not_passed:?}");
}

#[test]
fn init_open_exists_and_not_found() {
    let loc = testing::fresh_location();
    assert!(!PgStore::is_store(&loc));
    assert!(matches!(PgStore::open(&loc), Err(StoreError::NotFound(_))));
    let store = PgStore::init(&loc, StoreMeta::new("whatever", t(0))).expect("init");
    assert_eq!(store.meta().expect("meta").adapter, "postgres");
    assert!(PgStore::is_store(&loc));
    assert!(matches!(
        PgStore::init(&loc, meta()),
        Err(StoreError::Exists(_))
    ));
    // Two handles at once: nothing is locked exclusively.
    let second = PgStore::open(&loc).expect("second open");
    assert_eq!(second.node_count().expect("count"), 0);
    assert!(store.pending_migrations().expect("pending").is_empty());
}

#[test]
fn bad_locations_are_refused_with_a_diagnostic() {
    let url = testing::server_url();
    for bad in ["", "Upper", "a-b", "1abc", "x\"; DROP TABLE nodes; --"] {
        let err = PgLocation::new(url, bad).expect_err(bad);
        assert!(err.to_string().contains("schema name"), "{err}");
    }
    let err = PgLocation::new("postgres://u:secret@127.0.0.1:1/x?bogus=1", "s").expect_err("url");
    assert!(
        !err.to_string().contains("secret"),
        "password leaked: {err}"
    );
    // A server that is not there: a backend error, the password redacted.
    let loc = PgLocation::new("postgres://u:secret@127.0.0.1:1/x", "s").expect("parses");
    let err = PgStore::open(&loc).expect_err("unreachable");
    assert_eq!(err.code(), "store.io");
    assert!(
        !err.to_string().contains("secret"),
        "password leaked: {err}"
    );
}

/// Appends one audit record (and one event) after whatever head the store has,
/// retrying when another writer got there first. Returns the tries it took.
fn append_one(store: &mut PgStore, actor: &str) -> usize {
    for attempt in 1..=1000 {
        let head = store.audit_head().expect("head");
        let (seq, prev) = head
            .map(|h| (h.seq, h.hash))
            .unwrap_or((0, GENESIS_HASH.to_string()));
        let ev = store.event_head().expect("event head");
        let change = ChangeSet {
            put_nodes: vec![sample_node(&format!("{actor}-{seq}"))],
            events: vec![event(ev + 1, "node.created", &[actor])],
            audit: vec![audit(seq + 1, &prev, actor)],
            ..Default::default()
        };
        match store.commit(change) {
            Ok(_) => return attempt,
            Err(StoreError::InvalidChange(_)) => continue,
            Err(e) => panic!("commit failed: {e}"),
        }
    }
    panic!("no commit after 1000 tries");
}

#[test]
fn concurrent_writers_keep_one_total_order() {
    let loc = testing::fresh_location();
    drop(PgStore::init(&loc, meta()).expect("init"));
    const WRITERS: usize = 6;
    const EACH: usize = 25;
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let loc = loc.clone();
            std::thread::spawn(move || {
                let mut store = PgStore::open(&loc).expect("open");
                let mut retries = 0;
                for _ in 0..EACH {
                    retries += append_one(&mut store, &format!("w{w}")) - 1;
                }
                retries
            })
        })
        .collect();
    let retries: usize = handles.into_iter().map(|h| h.join().expect("writer")).sum();
    let store = PgStore::open(&loc).expect("open");
    let recs = store.audit_records(0).expect("audit");
    assert_eq!(recs.len(), WRITERS * EACH);
    let seqs: Vec<u64> = recs.iter().map(|r| r.seq).collect();
    let want: Vec<u64> = (1..=(WRITERS * EACH) as u64).collect();
    assert_eq!(seqs, want, "gap or duplicate in the audit chain");
    assert!(
        verify_chain(&AuditCheckpoint::default(), &recs).is_empty(),
        "the chain forked"
    );
    let events = store.events(&EventQuery::default()).expect("events");
    let eseqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(eseqs, want, "gap or duplicate in the events");
    assert_eq!(store.node_count().expect("nodes"), WRITERS * EACH);
    let head = store.audit_head().expect("head").expect("some");
    assert_eq!(head.seq, (WRITERS * EACH) as u64);
    assert_eq!(head.hash, recs[recs.len() - 1].hash);
    eprintln!("concurrent writers: {retries} retries after a lost race");
}

#[test]
fn a_stale_change_set_is_refused_and_changes_nothing() {
    let loc = testing::fresh_location();
    let mut a = PgStore::init(&loc, meta()).expect("init");
    let mut b = PgStore::open(&loc).expect("open");
    // Both instances read the same head and build the next record.
    let ra = audit(1, GENESIS_HASH, "a");
    let rb = audit(1, GENESIS_HASH, "b");
    a.commit(ChangeSet {
        put_nodes: vec![sample_node("from-a")],
        audit: vec![ra.clone()],
        ..Default::default()
    })
    .expect("a commits");
    let err = b
        .commit(ChangeSet {
            put_nodes: vec![sample_node("from-b")],
            audit: vec![rb],
            ..Default::default()
        })
        .expect_err("b's record would fork the chain");
    assert!(matches!(err, StoreError::InvalidChange(_)), "{err}");
    assert!(b.node("from-b").expect("read").is_none(), "half landed");
    assert_eq!(b.audit_records(0).expect("audit"), vec![ra]);
    // b's handle still works after the refusal.
    b.commit(ChangeSet {
        put_nodes: vec![sample_node("later")],
        ..Default::default()
    })
    .expect("b commits later");
    assert!(b.generation() > a.generation());
    assert_eq!(a.committed_generation().expect("gen"), b.generation());
}

#[test]
fn a_review_is_applied_once_across_instances() {
    let loc = testing::fresh_location();
    let mut a = PgStore::init(&loc, meta()).expect("init");
    a.commit(ChangeSet {
        put_reviews: vec![review("rev-1", ReviewStatus::Pending)],
        ..Default::default()
    })
    .expect("pending review");
    let mut b = PgStore::open(&loc).expect("open");
    // Both saw it pending; both approve and apply the held operation.
    let approve = |who: &str| {
        let mut r = review("rev-1", ReviewStatus::Approved);
        r.decided_by = Some(who.into());
        ChangeSet {
            put_reviews: vec![r],
            put_nodes: vec![sample_node(&format!("applied-by-{who}"))],
            ..Default::default()
        }
    };
    a.commit(approve("alice")).expect("first approval");
    let err = b.commit(approve("bob")).expect_err("second apply");
    assert!(err.to_string().contains("applied once"), "{err}");
    assert!(b.node("applied-by-bob").expect("read").is_none());
    let r = b.review("rev-1").expect("read").expect("some");
    assert_eq!(r.decided_by.as_deref(), Some("alice"));
    assert_eq!(r.status, ReviewStatus::Approved);
}

#[test]
fn purge_leaves_no_copy_in_the_tables_or_their_files() {
    let loc = testing::fresh_location();
    let mut store = PgStore::init(&loc, meta()).expect("init");
    let secret = "the launch code is zebra-4471";
    let mut n = sample_node("s1");
    n.body = secret.into();
    n.title = format!("title {secret}");
    let mut other = sample_node("keep");
    other.body = "unrelated".into();
    store
        .commit(ChangeSet {
            put_nodes: vec![n.clone(), other],
            ..Default::default()
        })
        .expect("write");
    // Several versions, so dead tuples exist before the purge.
    for i in 0..3 {
        let mut v = n.clone();
        v.updated_at = t(10 + i);
        store
            .commit(ChangeSet {
                put_nodes: vec![v],
                ..Default::default()
            })
            .expect("update");
    }
    let mut tomb = n.clone();
    tomb.title = String::new();
    tomb.body = String::new();
    tomb.phase = "purged".into();
    tomb.tombstone = Some(Tombstone {
        content_hash: "blake3:c".into(),
        forgotten_at: t(100),
        reason: "forget".into(),
    });
    store
        .commit(ChangeSet {
            put_nodes: vec![tomb.clone()],
            purge: true,
            ..Default::default()
        })
        .expect("purge");
    assert_eq!(store.node("s1").expect("read"), Some(tomb));
    assert!(store.check_integrity().expect("check").is_empty());
    let mut c = loc.connect().expect("connect");
    // No row of any table of the store holds the secret.
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&loc.schema()],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() >= 9, "{tables:?}");
    for table in &tables {
        let hits: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM {table} x WHERE x::text LIKE '%zebra-4471%'"),
                &[],
            )
            .expect("scan")
            .get(0);
        assert_eq!(hits, 0, "table {table} still holds the secret");
    }
    // Nor do the files of the nodes table (heap and TOAST): VACUUM FULL rewrote them.
    c.batch_execute("CHECKPOINT").expect("checkpoint");
    let files: Vec<String> = c
        .query(
            "SELECT pg_relation_filepath(oid) FROM pg_class
             WHERE oid = 'nodes'::regclass
                OR oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'nodes'::regclass)",
            &[],
        )
        .expect("paths")
        .iter()
        .filter_map(|r| r.get::<_, Option<String>>(0))
        .collect();
    assert!(!files.is_empty());
    for f in files {
        let bytes: Vec<u8> = c
            .query_one("SELECT pg_read_binary_file($1)", &[&f])
            .expect("read relation file")
            .get(0);
        let needle = b"zebra-4471";
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "relation file {f} still holds the secret"
        );
    }
}

#[test]
fn large_batches_go_through_copy_and_upsert() {
    let loc = testing::fresh_location();
    let mut store = PgStore::init(&loc, meta()).expect("init");
    let n = phase_memory_store_postgres::COPY_ROWS * 2;
    let nodes: Vec<_> = (0..n).map(|i| sample_node(&format!("n{i:06}"))).collect();
    let edges: Vec<_> = (1..n)
        .map(|i| edge(&format!("n{:06}", i - 1), &format!("n{i:06}"), "next"))
        .collect();
    let events: Vec<_> = (1..=n as u64)
        .map(|s| event(s, "node.created", &["x", "y"]))
        .collect();
    store
        .commit(ChangeSet {
            put_nodes: nodes.clone(),
            put_edges: edges,
            events,
            ..Default::default()
        })
        .expect("bulk into empty tables");
    assert_eq!(store.node_count().expect("count"), n);
    assert_eq!(store.edge_count().expect("count"), n - 1);
    assert_eq!(store.event_head().expect("head"), n as u64);
    let q = EventQuery {
        subject: Some("y".into()),
        limit: Some(5),
        ..Default::default()
    };
    assert_eq!(store.events(&q).expect("events").len(), 5);
    // A second large batch overlapping stored keys goes through the staging table;
    // of two puts of one id in a batch the later wins.
    let mut again: Vec<_> = nodes
        .iter()
        .map(|n| {
            let mut m = n.clone();
            m.title = "second".into();
            m
        })
        .collect();
    let mut last = sample_node("n000000");
    last.title = "third".into();
    again.push(last);
    again.push(sample_node("brand-new"));
    store
        .commit(ChangeSet {
            put_nodes: again,
            ..Default::default()
        })
        .expect("bulk upsert");
    assert_eq!(store.node_count().expect("count"), n + 1);
    assert_eq!(
        store.node("n000000").expect("read").expect("some").title,
        "third"
    );
    assert_eq!(
        store.node("n000001").expect("read").expect("some").title,
        "second"
    );
    // A bulk batch that breaks an invariant leaves nothing behind.
    let bad: Vec<_> = (0..n).map(|i| sample_node(&format!("bad{i}"))).collect();
    let err = store
        .commit(ChangeSet {
            put_nodes: bad,
            events: vec![event(n as u64 + 5, "gap", &[])],
            ..Default::default()
        })
        .expect_err("gap");
    assert!(matches!(err, StoreError::InvalidChange(_)));
    assert!(store.node("bad0").expect("read").is_none());
}

#[test]
fn an_edited_row_is_reported_corrupt() {
    let loc = testing::fresh_location();
    let mut store = PgStore::init(&loc, meta()).expect("init");
    store
        .commit(ChangeSet {
            put_nodes: vec![sample_node("a"), sample_node("b")],
            ..Default::default()
        })
        .expect("write");
    let mut c = loc.connect().expect("connect");
    c.execute(
        "UPDATE nodes SET json = replace(json, 'title of a', 'XYZZY') WHERE id = 'a'",
        &[],
    )
    .expect("edit behind the adapter's back");
    let err = store.node("a").expect_err("corrupt");
    assert_eq!(err.code(), "store.corrupt_record");
    let findings = store.check_integrity().expect("check");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].location, "nodes/a");
    assert!(!findings[0].message.contains("XYZZY"));
}

#[test]
fn the_writer_lock_is_exclusive_bounded_and_dies_with_its_session() {
    let loc = testing::fresh_location();
    let mut a = PgStore::init(&loc, meta()).expect("init");
    let mut b = PgStore::open(&loc).expect("open");
    a.acquire_writer(std::time::Duration::from_secs(1))
        .expect("a locks");
    assert!(a.writer_held());
    let started = std::time::Instant::now();
    let err = b
        .acquire_writer(std::time::Duration::from_millis(200))
        .expect_err("b must wait and give up");
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    assert_eq!(err.code(), "store.locked");
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    a.commit(ChangeSet {
        put_nodes: vec![sample_node("by-a")],
        ..Default::default()
    })
    .expect("a commits");
    a.release_writer();
    // b catches up with a's commit when it takes the lock.
    let g = b
        .acquire_writer(std::time::Duration::from_secs(1))
        .expect("b locks after a released");
    assert_eq!(g, a.generation());
    assert_eq!(b.generation(), a.generation());
    // The lock goes with the session: a handle dropped while holding it (a killed
    // process) leaves it free.
    drop(b);
    a.acquire_writer(std::time::Duration::from_secs(2))
        .expect("a locks after b's session ended");
}

#[test]
fn the_schema_can_be_named_in_the_url() {
    let url = testing::fresh_database();
    let loc = PgLocation::from_url(&format!("{url}?schema=team_a")).expect("location");
    assert_eq!(loc.schema(), "team_a");
    assert!(!loc.url().contains("schema="));
    let other = PgLocation::from_url(&url).expect("default");
    assert_eq!(other.schema(), phase_memory_store_postgres::DEFAULT_SCHEMA);
    let mut a = PgStore::init(&loc, meta()).expect("init a");
    let b = PgStore::init(&other, meta()).expect("init b in the same database");
    a.commit(ChangeSet {
        put_nodes: vec![sample_node("only-in-a")],
        ..Default::default()
    })
    .expect("write a");
    assert_eq!(b.node_count().expect("count"), 0);
    assert!(PgLocation::from_url(&format!("{url}?schema=Bad-Name")).is_err());
}

#[test]
fn another_instance_learns_which_nodes_changed() {
    let loc = testing::fresh_location();
    let mut a = PgStore::init(&loc, meta()).expect("init");
    let mut b = PgStore::open(&loc).expect("open");
    let g0 = b.generation();
    a.commit(ChangeSet {
        put_nodes: vec![sample_node("x"), sample_node("y")],
        ..Default::default()
    })
    .expect("put");
    a.commit(ChangeSet {
        audit: vec![audit(1, GENESIS_HASH, "a")],
        ..Default::default()
    })
    .expect("audit only");
    a.commit(ChangeSet {
        delete_nodes: vec!["y".into()],
        put_nodes: vec![sample_node("z")],
        ..Default::default()
    })
    .expect("delete");
    // b has not refreshed: it knows of nothing newer.
    assert_eq!(b.nodes_changed_since(g0).expect("changes"), Some(vec![]));
    let g = b.refresh_generation().expect("refresh");
    assert_eq!(g, a.generation());
    assert_eq!(
        b.nodes_changed_since(g0).expect("changes"),
        Some(vec!["x".to_string(), "y".into(), "z".into()])
    );
    assert_eq!(
        b.nodes_changed_since(g - 1).expect("changes"),
        Some(vec!["y".to_string(), "z".into()])
    );
    // An edge changes the arcs of both its ends: both are named, and the
    // `Store` method the runtime uses answers the same.
    a.commit(ChangeSet {
        put_edges: vec![edge("x", "z", "relates_to")],
        ..Default::default()
    })
    .expect("edge");
    let g2 = b.refresh_generation().expect("refresh");
    assert_eq!(
        b.nodes_changed_since(g).expect("changes"),
        Some(vec!["x".to_string(), "z".into()])
    );
    assert_eq!(
        phase_memory_store::Store::data_changes_since(&b, g).expect("changes"),
        Some(vec!["x".to_string(), "z".into()])
    );
    assert_eq!(
        phase_memory_store::Store::data_changes_since(&b, g2).expect("changes"),
        Some(vec![])
    );
    // A new profile (every node indexed anew) or a bulk commit: rebuild.
    a.commit(ChangeSet {
        profile: Some("name = \"p\"\n".into()),
        ..Default::default()
    })
    .expect("profile");
    b.refresh_generation().expect("refresh");
    assert_eq!(b.nodes_changed_since(g).expect("changes"), None);
}

#[test]
fn the_change_feed_counts_distinct_ids_against_its_threshold() {
    use phase_memory_store_postgres::CHANGE_LIST_MAX;
    let loc = testing::fresh_location();
    let mut a = PgStore::init(&loc, meta()).expect("init");
    let spokes = CHANGE_LIST_MAX * 3 / 5;
    let names: Vec<String> = (0..spokes).map(|k| format!("n{k:05}")).collect();
    let g0 = a.generation();
    a.commit(ChangeSet {
        put_nodes: names.iter().map(|n| sample_node(n)).collect(),
        ..Default::default()
    })
    .expect("nodes");
    // Edges from one hub: twice as many ends as the threshold, few distinct ids.
    let g1 = a.generation();
    a.commit(ChangeSet {
        put_nodes: vec![sample_node("hub")],
        put_edges: names.iter().map(|n| edge("hub", n, "relates_to")).collect(),
        ..Default::default()
    })
    .expect("edges");
    let mut want: Vec<String> = names.clone();
    want.push("hub".into());
    want.sort();
    assert_eq!(a.nodes_changed_since(g1).expect("changes"), Some(want));
    // Past the threshold of distinct ids: rebuild.
    let many: Vec<String> = (0..=CHANGE_LIST_MAX).map(|k| format!("m{k:05}")).collect();
    a.commit(ChangeSet {
        put_nodes: many.iter().map(|n| sample_node(n)).collect(),
        ..Default::default()
    })
    .expect("many");
    assert_eq!(a.nodes_changed_since(g0).expect("changes"), None);
}

#[test]
fn postgres_follows_the_shared_access_protocol() {
    let loc = testing::fresh_location();
    drop(PgStore::init(&loc, meta()).expect("init"));
    let open = || -> Box<dyn Store> {
        Box::new(
            PgStore::open_mode(&loc, phase_memory_store::OpenMode::Shared).expect("open shared"),
        )
    };
    conformance::shared_access(&open).expect("shared access");
}

#[test]
fn a_write_mode_handle_keeps_the_lock_and_a_read_only_one_never_writes() {
    let loc = testing::fresh_location();
    drop(PgStore::init(&loc, meta()).expect("init"));
    let mut w = PgStore::open_mode(&loc, phase_memory_store::OpenMode::Write).expect("writer");
    assert!(w.holds_writer());
    let err =
        PgStore::open_mode(&loc, phase_memory_store::OpenMode::Write).expect_err("second writer");
    assert_eq!(err.code(), "store.locked");
    w.commit(ChangeSet {
        put_nodes: vec![sample_node("w")],
        ..Default::default()
    })
    .expect("writer commits");
    // The writer reads its own commit; a read-only handle sees it from its open on.
    assert!(w.node("w").expect("read").is_some());
    let mut r = PgStore::open_mode(&loc, phase_memory_store::OpenMode::ReadOnly).expect("reader");
    assert!(r.node("w").expect("read").is_some());
    assert!(r.commit(ChangeSet::default()).is_err());
    w.unlock_writer();
    assert!(w.holds_writer(), "a write-mode handle keeps its lock");
}

#[test]
fn a_borrowed_bulk_commit_of_every_table_reads_back_exactly() {
    let loc = testing::fresh_location();
    let mut store = PgStore::init(&loc, meta()).expect("init");
    assert!(
        store.commits_borrowed(),
        "the adapter writes from a borrowed change set"
    );
    // Above COPY_ROWS in every table, so every row goes through the binary COPY.
    let n = phase_memory_store_postgres::COPY_ROWS + 500;
    let nodes: Vec<_> = (0..n).map(|i| sample_node(&format!("n{i:06}"))).collect();
    let edges: Vec<_> = (1..n)
        .map(|i| edge(&format!("n{:06}", i - 1), &format!("n{i:06}"), "next"))
        .collect();
    let events: Vec<_> = (1..=n as u64)
        .map(|s| event(s, "node.created", &["x", "y"]))
        .collect();
    let mut records = Vec::with_capacity(n);
    let mut prev = GENESIS_HASH.to_string();
    for seq in 1..=n as u64 {
        let r = audit(seq, &prev, "bulk");
        prev = r.hash.clone();
        records.push(r);
    }
    let change = ChangeSet {
        put_nodes: nodes,
        put_edges: edges,
        events,
        audit: records,
        ..Default::default()
    };
    store.commit_borrowed(&change).expect("bulk commit");
    let mut read_nodes = Vec::new();
    store
        .for_each_node(&mut |x| read_nodes.push(x.clone()))
        .expect("nodes");
    read_nodes.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(read_nodes, change.put_nodes);
    let mut read_edges = Vec::new();
    store
        .for_each_edge(&mut |x| read_edges.push(x.clone()))
        .expect("edges");
    read_edges.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(read_edges, change.put_edges);
    let read_events = store.events(&EventQuery::default()).expect("events");
    assert_eq!(read_events, change.events);
    let q = EventQuery {
        subject: Some("y".into()),
        ..Default::default()
    };
    assert_eq!(store.events(&q).expect("by subject").len(), n);
    let read_audit = store.audit_records(0).expect("audit");
    assert_eq!(read_audit, change.audit);
    assert!(
        verify_chain(&AuditCheckpoint::default(), &read_audit).is_empty(),
        "the chain verifies"
    );
    assert!(store.check_integrity().expect("check").is_empty());
}
