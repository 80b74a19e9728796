//! The semantic index: sentence-embedding seeds beside BM25, fused with the
//! weights of the profile; vectors kept in the store folder; deterministic. The
//! model is installed with the repository's script (never skipped).

use phase_memory_model::Status;
use phase_memory_runtime::{Adapter, Runtime};
use serde_json::{Value, json};

use crate::*;

/// The built-in profile with the semantic index on (or off).
fn profile(weight: f64) -> String {
    let base = phase_memory_profile::DEFAULT_PROFILE_TOML;
    let mut out = String::new();
    for line in base.lines() {
        if !line.starts_with("semantic_weight") {
            out.push_str(line);
            out.push('\n');
        }
        if line == "[activation]" {
            out.push_str(&format!("semantic_weight = {weight}\n"));
        }
    }
    out
}

fn notes() -> Vec<Value> {
    let body = |t: &str| -> String { t.to_string() };
    vec![
        json!({"record": "node", "id": "gym", "kind": "note", "title": "Training", "body": body("I lift weights at the gym every morning before work."), "scope": "team"}),
        json!({"record": "node", "id": "hike", "kind": "note", "title": "Weekend", "body": body("We walked up the mountain trail and camped by the lake."), "scope": "team"}),
        json!({"record": "node", "id": "tax", "kind": "note", "title": "Paperwork", "body": body("The quarterly tax return is due at the end of the month."), "scope": "team"}),
        json!({"record": "node", "id": "other", "kind": "note", "title": "Elsewhere", "body": body("A workout routine with dumbbells and squats."), "scope": "private"}),
    ]
}

fn load(rt: &mut Runtime) {
    check(
        rt,
        &owner(),
        "graph.import",
        json!({"records": notes()}),
        Status::Ok,
    );
}

fn ask(rt: &mut Runtime, ctx: &CallContext, text: &str) -> Value {
    let env = check(
        rt,
        ctx,
        "activation.run",
        json!({"cue": {"text": text}, "explain": true, "limit": 5}),
        Status::Ok,
    );
    assert!(
        env.diagnostics
            .iter()
            .all(|d| !d.code.starts_with("activation.semantic")),
        "{}",
        env.to_json()
    );
    env.data
}

fn ids(data: &Value) -> Vec<String> {
    data["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["node"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_cue_without_shared_words_finds_its_node_by_meaning_and_explain_shows_it() {
    phase_memory_embed::testing::ensure_model();
    let mut rt = memory_runtime(&profile(1.0), Clock::Fixed(t(T0))).expect("runtime");
    load(&mut rt);
    let reader = actor("reader", &["reader"], &["team"]);
    let data = ask(&mut rt, &reader, "sports and exercise");
    let got = ids(&data);
    assert_eq!(got.first().map(String::as_str), Some("gym"), "{data}");
    assert!(
        !got.contains(&"other".to_string()),
        "another scope never seeds"
    );
    let explain = &data["items"][0]["explain"];
    assert!(
        explain["semantic"].as_f64().unwrap_or(0.0) > 0.0,
        "{explain}"
    );
    let kinds: Vec<&str> = explain["seed_sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["semantic"], "{explain}");
    // Off: no semantic seed, and nothing found for a cue with no shared word.
    let mut off = memory_runtime(&profile(0.0), Clock::Fixed(t(T0))).expect("runtime");
    load(&mut off);
    assert!(ids(&ask(&mut off, &reader, "sports and exercise")).is_empty());
}

#[test]
fn lexical_and_semantic_values_add_up() {
    phase_memory_embed::testing::ensure_model();
    let mut rt = memory_runtime(&profile(0.5), Clock::Fixed(t(T0))).expect("runtime");
    load(&mut rt);
    let data = ask(&mut rt, &owner(), "tax return deadline");
    let first = &data["items"][0];
    assert_eq!(first["node"], "tax", "{data}");
    let e = &first["explain"];
    let sum: f64 = e["seed_sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["value"].as_f64().unwrap_or(0.0))
        .sum();
    assert!(
        (e["seed"].as_f64().unwrap_or(0.0) - sum).abs() < 1e-5,
        "{e}"
    );
    assert!(
        (e["semantic"].as_f64().unwrap_or(0.0) - 0.5).abs() < 1e-9,
        "{e}"
    );
}

#[test]
fn two_imports_give_byte_identical_activations() {
    phase_memory_embed::testing::ensure_model();
    let run = || {
        let mut rt = memory_runtime(&profile(1.0), Clock::Fixed(t(T0))).expect("runtime");
        load(&mut rt);
        [
            "sports and exercise",
            "camping trip",
            "money owed to the state",
        ]
        .map(|q| ask(&mut rt, &owner(), q).to_string())
    };
    assert_eq!(run(), run());
}

#[test]
fn vectors_are_kept_in_the_store_folder_and_not_computed_again() {
    phase_memory_embed::testing::ensure_model();
    let (dir, mut rt) = on_disk(Adapter::File, Some(&profile(1.0)));
    load(&mut rt);
    let first = ask(&mut rt, &owner(), "camping trip");
    let file = dir.path().join("store/semantic/vectors.bin");
    let bytes = std::fs::read(&file).expect("vectors written");
    // Header + 4 nodes of 32 + 384·4 bytes.
    assert_eq!(bytes.len(), 16 + 4 * (32 + 384 * 4));
    drop(rt);
    let mut again = open_runtime(&dir.path().join("store"), Clock::Fixed(t(T0))).expect("open");
    assert_eq!(ask(&mut again, &owner(), "camping trip"), first);
    assert_eq!(
        std::fs::read(&file).expect("read"),
        bytes,
        "nothing embedded again"
    );
    // A changed node gets a new vector; the old one stays until the file is rebuilt.
    check(
        &mut again,
        &owner(),
        "node.upsert",
        json!({"node": {"id": "tax", "kind": "note", "title": "Paperwork", "body": "Fill in the forms for the accountant.", "scope": "team"}}),
        Status::Ok,
    );
    ask(&mut again, &owner(), "camping trip");
    assert_eq!(
        std::fs::read(&file).expect("read").len(),
        16 + 5 * (32 + 384 * 4)
    );
}

#[test]
fn a_store_past_semantic_max_nodes_gets_lexical_seeds_and_a_note() {
    phase_memory_embed::testing::ensure_model();
    // Four nodes, a bound of three: the store is not read for vectors.
    let source: String = profile(1.0)
        .lines()
        .filter(|l| !l.starts_with("semantic_max_nodes"))
        .map(|l| match l {
            "[activation]" => "[activation]\nsemantic_max_nodes = 3\n".to_string(),
            _ => format!("{l}\n"),
        })
        .collect();
    let mut rt = memory_runtime(&source, Clock::Fixed(t(T0))).expect("runtime");
    load(&mut rt);
    let env = check(
        &mut rt,
        &owner(),
        "activation.run",
        json!({"cue": {"text": "tax return"}, "explain": true, "limit": 5}),
        Status::Ok,
    );
    let notes: Vec<&str> = env
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .filter(|c| c.starts_with("activation.semantic"))
        .collect();
    assert_eq!(notes, ["activation.semantic_skipped"], "{}", env.to_json());
    assert!(
        env.diagnostics
            .iter()
            .any(|d| d.message.contains("the store holds 4 nodes")),
        "{}",
        env.to_json()
    );
    // Lexical seeds still answer.
    assert_eq!(ids(&env.data).first().map(String::as_str), Some("tax"));
}

#[test]
fn writes_after_the_first_activation_are_followed_like_a_fresh_process_sees_them() {
    phase_memory_embed::testing::ensure_model();
    let (dir, mut rt) = on_disk(Adapter::File, Some(&profile(1.0)));
    load(&mut rt);
    ask(&mut rt, &owner(), "camping trip");
    // A new node, a changed one and a forgotten one after the entries were read.
    check(
        &mut rt,
        &owner(),
        "node.upsert",
        json!({"node": {"id": "swim", "kind": "note", "title": "Pool", "body": "Forty laps of freestyle in the swimming pool.", "scope": "team"}}),
        Status::Ok,
    );
    check(
        &mut rt,
        &owner(),
        "node.upsert",
        json!({"node": {"id": "hike", "kind": "note", "title": "Weekend", "body": "We baked bread and read novels at home.", "scope": "team"}}),
        Status::Ok,
    );
    let questions = ["swimming exercise", "camping trip", "cooking at home"];
    let followed = questions.map(|q| ask(&mut rt, &owner(), q));
    assert_eq!(ids(&followed[0]).first().map(String::as_str), Some("swim"));
    drop(rt);
    let mut fresh = open_runtime(&dir.path().join("store"), Clock::Fixed(t(T0))).expect("open");
    assert_eq!(followed, questions.map(|q| ask(&mut fresh, &owner(), q)));
}
