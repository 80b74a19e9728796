//! A bulk import indexes its documents while the store commits: afterwards the
//! full-text index holds every node at the store's generation (no rebuild), and
//! token counts are those of the tokenizer.

use phase_memory_activate::tokens::TokenCounter;
use phase_memory_model::Status;
use phase_memory_runtime::Adapter;
use serde_json::{Value, json};

use crate::*;

#[test]
fn a_bulk_import_is_indexed_during_its_commit_at_the_store_generation() {
    let (_dir, mut rt) = on_disk(Adapter::Sqlite, None);
    let count = 10_000;
    let records: Vec<Value> = (0..count)
        .map(|k| {
            let body = format!("Plain note number {k}, about nothing in particular.");
            json!({"record": "node", "id": format!("n{k:05}"), "kind": "fact",
                   "title": format!("Note {k}"), "body": body})
        })
        .collect();
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
