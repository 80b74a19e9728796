//! Integration tests of the evaluation harness: the metric functions on
//! hand-computed examples, gates, the `eval.run` extension, the generated
//! conversational fixtures, and the whole `fixtures/eval` tree.

mod chats;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phase_memory_eval::metrics::{
    ndcg_at_k, percentile, precision_at_k, recall_at_k, reciprocal_rank,
};
use phase_memory_eval::{EvalReport, conversation, run_dir};
use phase_memory_model::Status;
use phase_memory_profile::DEFAULT_PROFILE_TOML;
use phase_memory_runtime::{CallContext, Clock, memory_runtime};
use serde_json::json;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/eval");

fn ids(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn set(xs: &[&str]) -> BTreeSet<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-4
}

/// One ranking, every metric: `(k, recall, precision, ndcg, rr)`.
fn check(ranked: &[&str], relevant: &[&str], expect: &[(usize, f64, f64, f64, f64)]) {
    let (r, rel) = (ids(ranked), set(relevant));
    for &(k, recall, precision, ndcg, rr) in expect {
        let got = (
            recall_at_k(&r, &rel, k),
            precision_at_k(&r, &rel, k),
            ndcg_at_k(&r, &rel, k),
            reciprocal_rank(&r, &rel, k),
        );
        assert!(
            close(got.0, recall)
                && close(got.1, precision)
                && close(got.2, ndcg)
                && close(got.3, rr),
            "ranked {ranked:?} relevant {relevant:?} k {k}: got {got:?}, want {:?}",
            (recall, precision, ndcg, rr)
        );
    }
}

#[test]
fn metrics_match_hand_computed_values() {
    // Relevant b (rank 2) and e (rank 5) of {b, e, z}:
    // DCG@5 = 1/log2(3) + 1/log2(6) = 0.63093 + 0.38685 = 1.01778
    // IDCG@5 = 1 + 1/log2(3) + 1/log2(4) = 2.13093 → nDCG 0.47762.
    check(
        &["a", "b", "c", "d", "e"],
        &["b", "e", "z"],
        &[
            (5, 2.0 / 3.0, 0.4, 0.47762, 0.5),
            (1, 0.0, 0.0, 0.0, 0.0),
            // k=2: DCG 0.63093, IDCG 1.63093 → 0.38685.
            (2, 1.0 / 3.0, 0.5, 0.38685, 0.5),
        ],
    );
    // A perfect ranking; a short list is not rewarded in precision.
    check(
        &["x", "y"],
        &["x", "y"],
        &[(2, 1.0, 1.0, 1.0, 1.0), (4, 1.0, 0.5, 1.0, 1.0)],
    );
    // Nothing relevant returned.
    check(&["p", "q"], &["x"], &[(5, 0.0, 0.0, 0.0, 0.0)]);
    // An empty list.
    check(&[], &["x"], &[(3, 0.0, 0.0, 0.0, 0.0)]);
    // A repeated id counts once.
    check(
        &["x", "x", "y"],
        &["x", "y"],
        &[(3, 1.0, 2.0 / 3.0, (1.0 + 0.5) / (1.0 + 0.63093), 1.0)],
    );
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 0.5), 50.0);
    assert_eq!(percentile(&v, 0.99), 99.0);
    assert_eq!(percentile(&v, 1.0), 100.0);
    assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.5), 2.0);
    assert_eq!(percentile(&[], 0.5), 0.0);
}

/// Writes a one-cue scenario whose recall gate is `recall_min`.
fn tiny_scenario(dir: &Path, recall_min: f64) {
    std::fs::create_dir_all(dir).expect("scenario folder");
    std::fs::write(
        dir.join("scenario.toml"),
        format!(
            "name = \"tiny\"\nfamily = \"test\"\nas_of = \"2026-01-01T00:00:00Z\"\nk = 1\n[gates]\nrecall_at_k_min = {recall_min}\n"
        ),
    )
    .expect("scenario.toml");
    let graph = [
        json!({"record": "node", "id": "paris", "kind": "fact", "title": "Paris", "body": "Paris is the capital of France.", "created_at": "2025-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "lyon", "kind": "fact", "title": "Lyon", "body": "Lyon is known for its food.", "created_at": "2025-01-01T00:00:00Z"}),
        json!({"record": "edge", "from": "paris", "to": "lyon", "type": "relates_to"}),
    ];
    let graph: String = graph.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(dir.join("graph.jsonl"), graph).expect("graph.jsonl");
    // BM25 and activation both put Paris first; the case expects Lyon at k = 1.
    std::fs::write(
        dir.join("cues.jsonl"),
        "{\"id\": \"capital\", \"cue\": {\"text\": \"capital of France\"}, \"expect\": [\"lyon\"]}\n",
    )
    .expect("cues.jsonl");
}

#[test]
fn a_failing_gate_fails_the_report() {
    let tmp = tempfile::tempdir().expect("tempdir");
    tiny_scenario(&tmp.path().join("fails"), 1.0);
    let report_path = tmp.path().join("out/report.json");
    let r = run_dir(tmp.path(), Some(&report_path)).expect("runs");
    assert!(!r.passed());
    assert!(!r.scenarios[0].passed());
    let failed = r.failed_gates();
    assert_eq!(failed.len(), 1, "{}", r.table());
    assert_eq!(failed[0].1.gate, "recall_at_k_min");
    assert!(r.table().contains("FAILED fails: recall_at_k_min"));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report written"))
            .expect("report is JSON");
    assert_eq!(written["passed"], json!(false));

    tiny_scenario(&tmp.path().join("fails"), 0.0);
    assert!(run_dir(tmp.path(), None).expect("runs").passed());
}

#[test]
fn eval_run_is_an_operation_with_gate_diagnostics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    tiny_scenario(&tmp.path().join("fails"), 1.0);
    let mut rt = memory_runtime(DEFAULT_PROFILE_TOML, Clock::System).expect("runtime");
    rt.register_extension("eval.run", phase_memory_eval::extension());
    let ctx = CallContext::owner();
    let dir = tmp.path().display().to_string();

    let env = rt.run("eval.run", json!({"dir": dir}), &ctx);
    assert_eq!(env.status, Status::Error);
    assert!(env.has_code("eval.gate_failed"));
    assert_eq!(env.data["passed"], json!(false));
    assert!(env.audit.is_none(), "evaluation is not audited");

    tiny_scenario(&tmp.path().join("fails"), 0.0);
    let env = rt.run("eval.run", json!({"dir": dir}), &ctx);
    assert_eq!(env.status, Status::Ok, "{:?}", env.diagnostics);
    assert_eq!(env.data["scenarios"][0]["name"], json!("tiny"));

    let env = rt.run(
        "eval.run",
        json!({"dir": tmp.path().join("nowhere").display().to_string()}),
        &ctx,
    );
    assert_eq!(env.status, Status::Invalid);
    assert!(env.has_code("eval.invalid_scenario"));
    let env = rt.run("eval.run", json!({}), &ctx);
    assert_eq!(env.status, Status::Invalid);
}

#[test]
fn a_broken_scenario_names_its_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("broken");
    tiny_scenario(&dir, 0.0);
    std::fs::write(
        dir.join("cues.jsonl"),
        "{\"id\": \"x\", \"cue\": {}, \"expect\": []}\nnot json\n",
    )
    .expect("cues");
    let e = format!("{:#}", run_dir(tmp.path(), None).expect_err("invalid"));
    assert!(e.contains("cues.jsonl:2"), "{e}");
}

#[test]
fn conversational_fixtures_are_what_the_generator_writes() {
    let family = PathBuf::from(FIXTURES).join("conversational");
    let generated = conversation::generate(conversation::SEED).expect("generates");
    assert!(generated.len() >= 3);
    for s in &generated {
        for (file, text) in [
            ("scenario.toml", &s.scenario_toml),
            ("graph.jsonl", &s.graph_jsonl),
            ("cues.jsonl", &s.cues_jsonl),
        ] {
            let committed = std::fs::read_to_string(family.join(&s.dir).join(file))
                .unwrap_or_else(|e| panic!("{}/{file}: {e}", s.dir));
            assert!(
                committed == *text,
                "{}/{file} is stale: run `cargo run -p phase-memory-eval --example generate_conversational`",
                s.dir
            );
        }
    }
    assert_eq!(
        conversation::generate(conversation::SEED).expect("again"),
        generated
    );
}

fn family<'a>(r: &'a EvalReport, name: &str) -> &'a phase_memory_eval::FamilySummary {
    r.families
        .iter()
        .find(|f| f.family == name)
        .unwrap_or_else(|| panic!("family {name} missing"))
}

#[test]
fn every_fixture_gate_passes_and_activation_beats_bm25_where_structure_matters() {
    // The built-in profile's activation uses the semantic index's model.
    phase_memory_embed::testing::ensure_model();
    let r = run_dir(Path::new(FIXTURES), None).expect("fixtures run");
    assert!(r.passed(), "{}", r.table());
    for name in [
        "policy-denied",
        "lifecycle",
        "event-path",
        "semantic-hints",
        "budget-pressure",
        "conversational",
        "scale",
    ] {
        assert!(
            family(&r, name).scenarios >= 2,
            "family {name} needs scenarios"
        );
    }
    for name in ["conversational", "event-path"] {
        let f = family(&r, name);
        assert!(
            f.activation.ndcg_at_k > f.bm25.ndcg_at_k
                || f.activation.recall_at_k > f.bm25.recall_at_k,
            "{name}: activation {:?} does not beat BM25 {:?}",
            f.activation,
            f.bm25
        );
    }
    assert_eq!(r.families.iter().map(|f| f.policy_leaks).sum::<u64>(), 0);
    assert_eq!(family(&r, "lifecycle").lifecycle_accuracy, Some(1.0));

    // The ranking part of the report is deterministic (latency aside).
    let again = run_dir(Path::new(FIXTURES), None).expect("second run");
    let ranking = |r: &EvalReport| {
        r.families
            .iter()
            .map(|f| {
                (
                    f.family.clone(),
                    f.activation.clone(),
                    f.bm25.clone(),
                    f.recency.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ranking(&r), ranking(&again));
}
