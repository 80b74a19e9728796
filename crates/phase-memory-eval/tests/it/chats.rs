//! The conversation benchmark: evidence cleaning, the chat importer, the benchmark
//! on the committed made-up chat, scoped seeds, and determinism (two imports, the
//! same questions: byte-identical activations and packages).

use std::path::{Path, PathBuf};

use phase_memory_eval::chats::{
    self, BenchOptions, parse_evidence, question_time, reader, run_benchmark,
};
use phase_memory_model::{Actor, Status};
use phase_memory_profile::DEFAULT_PROFILE_TOML;
use phase_memory_runtime::{CallContext, Runtime};
use serde_json::json;

const CHATS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/eval/chats");

fn fixture_dir() -> PathBuf {
    Path::new(CHATS).join("harbour-friends")
}

#[test]
fn evidence_references_are_cleaned() {
    let cases: &[(&str, &[&str])] = &[
        ("D1:6", &["D1:6"]),
        ("D5:3.", &["D5:3"]),
        ("D5:12;D5:16", &["D5:12", "D5:16"]),
        ("D11:17; D16:1", &["D11:17", "D16:1"]),
        ("D13:4. D14:4", &["D13:4", "D14:4"]),
        ("D12:3-D12:5", &["D12:3", "D12:4", "D12:5"]),
        ("D18:6-8", &["D18:6", "D18:7", "D18:8"]),
        ("D13:45:D20:19", &["D13:45", "D20:19"]),
        ("D17;39", &["D17:39"]),
        ("D3:1-D4:2", &["D3:1", "D4:2"]),
        ("", &[]),
        ("nothing here", &[]),
    ];
    for (raw, want) in cases {
        assert_eq!(parse_evidence(raw), *want, "{raw:?}");
    }
    // A huge range is not expanded.
    assert_eq!(parse_evidence("D1:1-D1:100000"), vec!["D1:1", "D1:100000"]);
}

#[test]
fn chat_times_parse() {
    let t = chats::parse_chat_time("29.12.2023, 22:42:04").expect("time");
    assert_eq!(t.to_string(), "2023-12-29T22:42:04Z");
    assert!(chats::parse_chat_time("2023-12-29").is_none());
    assert!(chats::parse_chat_time("32.13.2023, 25:00:00").is_none());
    assert_eq!(chats::day_words(t), "29 December 2023");
}

#[test]
fn a_chat_becomes_a_scoped_graph_and_questions() {
    let chat = chats::load_chat(&fixture_dir().join("chat.json")).expect("chat");
    assert_eq!(chat.speakers, vec!["Ines", "Tobias"]);
    assert_eq!(chat.sessions.len(), 4);
    assert_eq!(chat.turn_ids().len(), 45);
    assert_eq!(chat.questions.len(), 12);
    assert!(chat.questions.iter().all(|q| q.unresolved == 0));
    let records = chats::records(&chat);
    // 2 speakers + 4 sessions + 45 turns.
    let nodes = records.iter().filter(|r| r["record"] == "node").count();
    assert_eq!(nodes, 51);
    assert!(
        records
            .iter()
            .filter(|r| r["record"] == "node")
            .all(|r| r["scope"] == chat.id.as_str())
    );
    // A missing file is a clear error naming it.
    let err = chats::load_chat(Path::new("/nonexistent/chat.json")).expect_err("missing");
    assert!(format!("{err:#}").contains("/nonexistent/chat.json"));
}

#[test]
fn the_benchmark_runs_on_the_made_up_chat() {
    let r = run_benchmark(&fixture_dir(), &BenchOptions::default()).expect("benchmark");
    assert_eq!((r.chats, r.turns, r.questions), (1, 45, 12));
    let act = &r.rankers["activation"].overall;
    let bm25 = &r.rankers["bm25"].overall;
    assert_eq!(act.questions, 12);
    assert!(act.recall_at_10 >= 0.6, "{}", r.table());
    assert!(act.recall_at_10 >= bm25.recall_at_10, "{}", r.table());
    assert!(act.budget_survival >= 0.6, "{}", r.table());
    assert!(r.rankers["activation"].categories.contains_key(&1));
    assert!(r.table().contains("bm25-english+dates"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn two_chats() -> Vec<chats::Chat> {
    let chat = chats::load_chat(&fixture_dir().join("chat.json")).expect("chat");
    let mut other = chat.clone();
    other.id = "other-friends".into();
    let mut first = chat;
    first.id = "harbour-friends".into();
    vec![first, other]
}

fn activation(
    rt: &mut Runtime,
    actor: Actor,
    at: phase_memory_model::Time,
    text: &str,
) -> serde_json::Value {
    let env = rt.run(
        "activation.run",
        json!({"cue": {"text": text}, "budget_tokens": 300, "limit": 20, "explain": true}),
        &CallContext::new(actor).at(at),
    );
    assert_eq!(env.status, Status::Ok, "{:?}", env.diagnostics);
    // The built-in profile has the semantic index on: it must have run.
    assert!(
        env.diagnostics
            .iter()
            .all(|d| !d.code.starts_with("activation.semantic")),
        "{:?}",
        env.diagnostics
    );
    env.data
}

#[test]
fn a_reader_gets_seeds_and_items_from_its_own_conversation_only() {
    phase_memory_embed::testing::ensure_model();
    let chats = two_chats();
    let mut rt = chats::import(&chats, DEFAULT_PROFILE_TOML).expect("import");
    let at = question_time(&chats);
    for chat in &chats {
        let data = activation(&mut rt, reader(chat), at, "What does Ines's cat look like?");
        let items = data["items"].as_array().expect("items");
        assert!(!items.is_empty());
        for i in items {
            let id = i["node"].as_str().expect("id");
            assert!(
                id.starts_with(&format!("{}/", chat.id)),
                "{id} leaked into {}",
                chat.id
            );
        }
        // Nothing of the other conversation was even looked at.
        assert_eq!(data["withheld"]["count"], 0, "{data}");
    }
}

#[test]
fn two_imports_give_byte_identical_activations_and_packages() {
    phase_memory_embed::testing::ensure_model();
    let chats = two_chats();
    let at = question_time(&chats);
    let dir = tempfile::tempdir().expect("tmp");
    let mut outputs = Vec::new();
    for run in 0..2 {
        let mut rt = chats::import(&chats, DEFAULT_PROFILE_TOML).expect("import");
        let mut out = Vec::new();
        for chat in &chats {
            for q in &chat.questions {
                let data = activation(&mut rt, reader(chat), at, &q.question);
                out.push(serde_json::to_string(&data).expect("json"));
            }
            let pkg = dir.path().join(format!("{run}-{}", chat.id));
            let env = rt.run(
                "package.compile",
                json!({"cue": {"text": "wedding speech in Porto"}, "out": pkg.display().to_string(), "budget_tokens": 300}),
                &CallContext::new(reader(chat)).at(at),
            );
            assert_eq!(env.status, Status::Ok, "{:?}", env.diagnostics);
            let mut files: Vec<(String, Vec<u8>)> = walk(&pkg)
                .into_iter()
                .map(|p| {
                    let name = p.strip_prefix(&pkg).expect("prefix").display().to_string();
                    (name, std::fs::read(&p).expect("read"))
                })
                .collect();
            files.sort();
            assert!(!files.is_empty());
            out.push(format!("{files:?}"));
        }
        outputs.push(out);
    }
    assert_eq!(outputs[0].len(), outputs[1].len());
    for (a, b) in outputs[0].iter().zip(&outputs[1]) {
        assert_eq!(a, b);
    }
}

#[test]
fn entities_at_import_link_turns_that_name_the_same_thing() {
    let chat = chats::load_chat(&fixture_dir().join("chat.json")).expect("chat");
    let plain = chats::records(&chat);
    let records = chats::records_with(&chat, true);
    assert_eq!(records, chats::records_with(&chat, true), "deterministic");
    assert!(records.len() > plain.len());
    let pixel = chats::entity_node(&chat, "pixel");
    let node = records
        .iter()
        .find(|r| r["record"] == "node" && r["id"] == pixel.as_str())
        .expect("an entity node for the cat's name");
    assert_eq!(node["kind"], "entity");
    assert_eq!(node["title"], "Pixel");
    let linked = records
        .iter()
        .filter(|r| r["record"] == "edge" && r["to"] == pixel.as_str() && r["type"] == "mentions")
        .count();
    assert!(linked >= 2, "every turn naming Pixel mentions it: {linked}");
    // No entity for a word that only starts a sentence.
    assert!(
        !records
            .iter()
            .any(|r| r["id"] == chats::entity_node(&chat, "morning").as_str())
    );
    // The linked graph imports through graph.import like the plain one.
    let chats = vec![chat];
    let rt = chats::import_with(&chats, DEFAULT_PROFILE_TOML, true).expect("import");
    let mut ids = Vec::new();
    rt.store()
        .for_each_node(&mut |n| ids.push(n.id.clone()))
        .expect("nodes");
    assert!(ids.contains(&pixel));
}

#[test]
fn feedback_and_entities_stay_deterministic_and_in_scope() {
    let profile = DEFAULT_PROFILE_TOML.replace(
        "record_access = false",
        "record_access = false\nfeedback_docs = 5\nfeedback_terms = 10\nfeedback_weight = 0.5",
    );
    assert_ne!(profile, DEFAULT_PROFILE_TOML);
    let chats = two_chats();
    let at = question_time(&chats);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut rt = chats::import_with(&chats, &profile, true).expect("import");
        let mut out = Vec::new();
        for chat in &chats {
            for q in &chat.questions {
                let data = activation(&mut rt, reader(chat), at, &q.question);
                for i in data["items"].as_array().expect("items") {
                    let id = i["node"].as_str().expect("id");
                    assert!(id.starts_with(&format!("{}/", chat.id)), "{id} leaked");
                }
                out.push(serde_json::to_string(&data).expect("json"));
            }
        }
        runs.push(out);
    }
    assert_eq!(runs[0], runs[1]);
    // Feedback is not a no-op: some activation differs from the plain profile's.
    let mut plain = chats::import_with(&chats, DEFAULT_PROFILE_TOML, true).expect("import");
    let chat = &chats[0];
    let differs = chat.questions.iter().enumerate().any(|(i, q)| {
        serde_json::to_string(&activation(&mut plain, reader(chat), at, &q.question)).expect("json")
            != runs[0][i]
    });
    assert!(differs, "feedback changed no activation");
}
