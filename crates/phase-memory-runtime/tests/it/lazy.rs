//! A fresh runtime on a file store reads the store lazily: when its activation
//! snapshot comes from elsewhere (here a snapshot shared by another runtime of the
//! process, as a persisted snapshot will), an audited activation with seeds — the
//! refresh, the index check, relevance-feedback texts, seed visibility, the audit
//! tail and the audited read's commit — and an audited `node.get` never load the
//! whole store, and answer as a runtime that did. (The semantic index still reads
//! every node of a store under `semantic_max_nodes` in a fresh process.)

use phase_memory_model::Status;
use phase_memory_runtime::{Adapter, Clock, Runtime, SharedSnapshot, open_runtime};
use phase_memory_store_file::{FileStore, OpenMode, loads_on_this_thread};
use serde_json::{Value, json};

use crate::{T0, check, on_disk, owner, t};

fn without_ids(mut env: Value) -> Value {
    if let Some(o) = env.as_object_mut() {
        for k in ["request_id", "audit"] {
            o.remove(k);
        }
    }
    env
}

fn run(rt: &mut Runtime, op: &str, req: Value) -> Value {
    without_ids(check(rt, &owner(), op, req, Status::Ok).to_value())
}

#[test]
fn a_fresh_runtime_answers_activations_and_node_reads_without_loading_the_store() {
    // Semantic seeds stay off as on a store past `semantic_max_nodes` (20,000 by
    // default): below it the semantic index reads every node in a fresh process.
    let profile = phase_memory_profile::DEFAULT_PROFILE_TOML
        .replace("semantic_max_nodes = 20000", "semantic_max_nodes = 10");
    assert_ne!(profile, phase_memory_profile::DEFAULT_PROFILE_TOML);
    let (dir, mut writer) = on_disk(Adapter::File, Some(&profile));
    for i in 0..40 {
        let title = if i % 3 == 0 {
            "Paris museum"
        } else {
            "Lyon river"
        };
        check(
            &mut writer,
            &owner(),
            "node.upsert",
            json!({"node": {"id": format!("n{i:02}"), "kind": "fact", "title": title, "body": format!("{title} note {i}")}}),
            Status::Ok,
        );
    }
    check(
        &mut writer,
        &owner(),
        "edge.upsert",
        json!({"edge": {"from": "n00", "to": "n03", "type": "relates_to"}}),
        Status::Ok,
    );
    let path = dir.path().join("store");
    assert!(
        FileStore::open(&path, OpenMode::ReadOnly)
            .expect("open")
            .write_locator()
    );
    let shared = SharedSnapshot::new();
    writer.share_snapshot(shared.clone());
    let cue = json!({"cue": {"text": "paris museum", "nodes": ["n01"]}, "explain": true});
    let want = run(&mut writer, "activation.run", cue.clone());
    assert!(
        want["data"]["items"]
            .as_array()
            .is_some_and(|a| a.len() > 1),
        "{want}"
    );
    let want_node = run(&mut writer, "node.get", json!({"node": "n03"}));

    let before = loads_on_this_thread();
    let mut fresh = open_runtime(&path, Clock::Fixed(t(T0))).expect("open");
    fresh.share_snapshot(shared);
    let got = run(&mut fresh, "activation.run", cue);
    let got_node = run(&mut fresh, "node.get", json!({"node": "n03"}));
    assert_eq!(
        loads_on_this_thread(),
        before,
        "the fresh runtime loaded the whole store"
    );
    assert_eq!(got, want);
    assert_eq!(got_node, want_node);
    assert_eq!(fresh.derived_stats().snapshot_builds, 0);
    // Both audited reads are in the chain, which verifies.
    let verify = run(&mut fresh, "audit.verify", json!({}));
    assert_eq!(verify["data"]["ok"], true, "{verify}");
}
