//! A bulk import indexes its documents while the store commits: afterwards the
//! full-text index holds every node at the store's generation (no rebuild), and
//! token counts are those of the tokenizer. When the store commit fails during
//! it, the index keeps its last commit, and nothing is rebuilt.

use phase_memory_activate::tokens::TokenCounter;
use phase_memory_model::Status;
use phase_memory_runtime::Adapter;
use serde_json::{Value, json};

use crate::*;

/// `count` plain note records, ids `n00000`, `n00001`, …
fn notes(count: usize) -> Vec<Value> {
    (0..count)
        .map(|k| {
            let body = format!("Plain note number {k}, about nothing in particular.");
            json!({"record": "node", "id": format!("n{k:05}"), "kind": "fact",
                   "title": format!("Note {k}"), "body": body})
        })
        .collect()
}

/// Whether the full-text index is in step with the store (`health.check`), and
/// how many documents it holds.
fn index_state(rt: &mut Runtime) -> (bool, u64) {
    let env = check(rt, &owner(), "health.check", json!({}), Status::Ok);
    let i = &env.data["index"];
    let documents = i["documents"].as_u64().expect("documents");
    (i["fresh"] == true, documents)
}

#[test]
fn a_bulk_import_whose_store_commit_fails_leaves_the_index_at_its_last_commit() {
    let (dir, mut rt) = on_disk(Adapter::Sqlite, None);
    let store = dir.path().join("store");
    check(
        &mut rt,
        &owner(),
        "graph.import",
        json!({"records": small_graph()}),
        Status::Ok,
    );
    let before = index_state(&mut rt);
    assert!(before.0 && before.1 > 0, "{before:?}");
    let stored = export(&mut rt);
    // The database refuses one row part-way through the import, while the
    // documents are being indexed on the other thread.
    let db = rusqlite::Connection::open(store.join(phase_memory_store_sqlite::DB_FILE))
        .expect("open the database");
    db.execute_batch(
        "CREATE TRIGGER refuse_one BEFORE INSERT ON nodes WHEN NEW.id = 'n06000'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .expect("trigger");
    let count = 10_000;
    let env = rt.run("graph.import", json!({"records": notes(count)}), &owner());
    assert_ne!(env.status, Status::Ok, "{}", env.to_json());
    // Another handle, while the failed one is still open: the store and the
    // index are as before, and the index is not rebuilt.
    let mut other = open_runtime(&store, Clock::Fixed(t(T0))).expect("open again");
    assert_eq!(export(&mut other), stored, "the store is unchanged");
    assert_eq!(index_state(&mut other), before, "the index is unchanged");
    assert_eq!(
        other.derived_stats().index_rebuilds,
        0,
        "no rebuild on open"
    );
    // The failed write released the index writer: the same import goes through
    // the other handle once the database takes it.
    db.execute_batch("DROP TRIGGER refuse_one")
        .expect("drop trigger");
    check(
        &mut other,
        &owner(),
        "graph.import",
        json!({"records": notes(count)}),
        Status::Ok,
    );
    let after = index_state(&mut other);
    assert_eq!(after, (true, before.1 + count as u64));
    assert_eq!(other.derived_stats().index_rebuilds, 0, "no rebuild");
    drop(rt);
    drop(other);
    // A new process finds the index in step: no rebuild on open either.
    let mut rt = open_runtime(&store, Clock::Fixed(t(T0))).expect("reopen");
    assert_eq!(index_state(&mut rt), after);
    assert_eq!(rt.derived_stats().index_rebuilds, 0, "no rebuild on open");
}

#[test]
fn a_bulk_import_is_indexed_during_its_commit_at_the_store_generation() {
    // SQLite writes from the borrowed change set (the index reads the nodes
    // the store writes); the file adapter takes it by value (the index gets a
    // copy): the same outcome.
    for adapter in [Adapter::Sqlite, Adapter::File] {
        bulk_import_is_indexed_during_its_commit(adapter);
    }
}

#[test]
fn a_bulk_import_refuses_at_its_first_bad_edge_in_file_order() {
    let (_dir, mut rt) = on_disk(Adapter::Sqlite, None);
    let nodes = 1_000;
    let mut records = notes(nodes);
    // Enough edges to be resolved by several threads; two bad ones, the later
    // one (an unknown type) far from the earlier one (a missing node).
    for k in 0..40_000usize {
        let (from, to) = (k % nodes, (k * 7 + 1) % nodes);
        let mut e = json!({"record": "edge", "from": format!("n{from:05}"),
                           "to": format!("n{to:05}"), "type": "relates_to", "weight": k as f64});
        if k == 30_000 {
            e["type"] = json!("no_such_type");
        }
        if k == 25_000 {
            e["to"] = json!("missing-node");
        }
        records.push(e);
    }
    let before = export(&mut rt);
    let env = rt.run("graph.import", json!({"records": records}), &owner());
    assert_eq!(env.status, Status::Invalid, "{}", env.to_json());
    let d = &env.diagnostics[0];
    assert_eq!(d.code, "graph.missing_reference", "{}", env.to_json());
    let line = nodes + 25_000 + 1;
    assert_eq!(d.path.as_deref(), Some(format!("records:{line}").as_str()));
    assert_eq!(export(&mut rt), before, "the store is unchanged");
}

fn bulk_import_is_indexed_during_its_commit(adapter: Adapter) {
    let (_dir, mut rt) = on_disk(adapter, None);
    let count = 10_000;
    let records = notes(count);
    let rebuilds = rt.derived_stats().index_rebuilds;
    let env = check(
        &mut rt,
        &owner(),
        "graph.import",
        json!({"records": records}),
        Status::Ok,
    );
    assert_eq!(env.data["nodes"], count, "{}", env.to_json());
    let env = check(&mut rt, &owner(), "health.check", json!({}), Status::Ok);
    let index = &env.data["index"];
    assert_eq!(index["fresh"], true, "{}", env.to_json());
    assert_eq!(index["documents"], count, "{}", env.to_json());
    assert_eq!(
        index["generation"],
        index["store_generation"],
        "{}",
        env.to_json()
    );
    assert_eq!(rt.derived_stats().index_rebuilds, rebuilds, "no rebuild");
    // Token counts as the tokenizer gives them (the fast path is on after 256).
    let tokens = TokenCounter::new("o200k_base").expect("o200k");
    for id in ["n00000", "n05000", "n09999"] {
        let n = rt.store().node(id).expect("read").expect("stored");
        assert_eq!(n.tokens, tokens.count_reference(&n.text()), "{id}");
    }
}
