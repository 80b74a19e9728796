//! Running one scenario: a fresh in-memory runtime with the scenario's profile,
//! `graph.import`, every cue through `activation.run` (timed), every lifecycle case
//! through `lifecycle.plan` (and `lifecycle.apply` when asked), the baselines over
//! the same nodes, and the gates.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use phase_memory_model::{Actor, Event, Node, Status};
use phase_memory_runtime::{CallContext, Clock, Runtime, memory_runtime};
use serde_json::{Value, json};

use crate::baseline::{Bm25Baseline, RecencyBaseline};
use crate::envelope::{errors, import, item_ids};
use crate::metrics::{ndcg_at_k, percentile, precision_at_k, recall_at_k, reciprocal_rank, round4};
use crate::report::{
    Baselines, CueReport, CueScores, GateResult, Latency, LifecycleMetrics, Metrics, RankingSums,
    ScenarioReport, TransitionReport, lifecycle_accuracy,
};
use crate::scenario::{CueCase, ExpectedTransition, Scenario};

/// Builds the scenario's runtime and imports its graph.
fn prepare(s: &Scenario) -> Result<Runtime> {
    let mut rt = memory_runtime(&s.profile_source, Clock::Fixed(s.spec.as_of))
        .map_err(|(status, d)| anyhow::anyhow!("{}: {} ({})", status.as_str(), d.message, d.code))
        .with_context(|| format!("creating the store of scenario {}", s.dir.display()))?;
    if !s.records.is_empty() {
        let ctx = CallContext::owner().at(s.spec.as_of);
        let what = s.dir.join("graph.jsonl").display().to_string();
        import(&mut rt, &s.records, &ctx, &what)?;
    }
    Ok(rt)
}

fn scores(ranked: &[String], relevant: &BTreeSet<String>, k: usize) -> CueScores {
    CueScores {
        recall_at_k: round4(recall_at_k(ranked, relevant, k)),
        precision_at_k: round4(precision_at_k(ranked, relevant, k)),
        ndcg_at_k: round4(ndcg_at_k(ranked, relevant, k)),
        rr: round4(reciprocal_rank(ranked, relevant, k)),
        top: ranked.iter().take(k).cloned().collect(),
    }
}

/// Whether `id` appears as a JSON string anywhere in the envelope.
fn mentions(envelope_json: &str, id: &str) -> bool {
    let quoted = serde_json::to_string(id).unwrap_or_default();
    envelope_json.contains(&quoted)
}

fn u64_at(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_u64()
}

struct CueRun {
    report: CueReport,
    ranked: bool,
}

fn run_cue(
    rt: &mut Runtime,
    s: &Scenario,
    case: &CueCase,
    bm25: &Bm25Baseline,
    recency: &RecencyBaseline,
) -> Result<CueRun> {
    let k = s.k();
    let as_of = case.as_of.unwrap_or(s.spec.as_of);
    let actor = case.actor.clone().unwrap_or_else(Actor::owner);
    let ctx = CallContext::new(actor).at(as_of);
    let mut request = json!({"cue": case.cue});
    if let Some(b) = case.budget_tokens.or(s.spec.budget_tokens) {
        request["budget_tokens"] = json!(b);
    }
    if let Some(l) = case.limit.or(s.spec.limit) {
        request["limit"] = json!(l);
    }
    let started = Instant::now();
    let env = rt.run("activation.run", request, &ctx);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let text = env.to_json_compact();
    let leaks: Vec<String> = case
        .forbid
        .iter()
        .filter(|id| mentions(&text, id))
        .cloned()
        .collect();
    let ids = item_ids(&env);
    let limit = u64_at(&env.data, &["budget", "limit"]).unwrap_or(0);
    let used = u64_at(&env.data, &["budget", "used"]).unwrap_or(0);
    let item_tokens: u64 = env
        .data
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("tokens").and_then(Value::as_u64))
                .sum()
        })
        .unwrap_or(0);
    let asked = case
        .budget_tokens
        .or(s.spec.budget_tokens)
        .unwrap_or(s.profile.activation.default_budget);
    let within_budget =
        env.status == Status::Ok && used <= limit && item_tokens <= limit && limit == asked;
    let relevant: BTreeSet<String> = case.expect.iter().cloned().collect();
    let ranked = !relevant.is_empty();
    let bm25_all = bm25
        .rank(case.cue.text.as_deref(), k.max(50))
        .with_context(|| format!("cue {} of {}", case.id, s.dir.display()))?;
    let forbid: BTreeSet<&str> = case.forbid.iter().map(String::as_str).collect();
    let bm25_leaks: Vec<String> = bm25_all
        .iter()
        .take(k)
        .filter(|id| forbid.contains(id.as_str()))
        .cloned()
        .collect();
    let (activation, bm25_scores, recency_scores) = if ranked {
        (
            Some(scores(&ids, &relevant, k)),
            Some(scores(&bm25_all, &relevant, k)),
            Some(scores(&recency.rank(as_of, k), &relevant, k)),
        )
    } else {
        (None, None, None)
    };
    Ok(CueRun {
        report: CueReport {
            id: case.id.clone(),
            status: env.status.as_str().to_string(),
            activation,
            bm25: bm25_scores,
            recency: recency_scores,
            budget_limit: limit,
            budget_used: used,
            within_budget,
            leaks,
            bm25_leaks,
            withheld: u64_at(&env.data, &["withheld", "count"]).unwrap_or(0),
            latency_ms: round4(latency_ms),
        },
        ranked,
    })
}

fn transition_key(t: &ExpectedTransition) -> String {
    format!("{} → {} ({})", t.node, t.to, t.rule_id)
}

fn run_transitions(
    rt: &mut Runtime,
    s: &Scenario,
) -> Result<(Vec<TransitionReport>, LifecycleMetrics)> {
    let mut reports = Vec::new();
    let (mut expected, mut matched, mut unexpected) = (0, 0, 0);
    for (line, case) in s.transitions.iter().enumerate() {
        let actor = case.actor.clone().unwrap_or_else(Actor::owner);
        let ctx = CallContext::new(actor).at(case.as_of);
        let env = rt.run("lifecycle.plan", json!({}), &ctx);
        if env.status != Status::Ok {
            bail!(
                "{}:{}: lifecycle.plan answered {}: {}",
                s.dir.join("transitions.jsonl").display(),
                line + 1,
                env.status.as_str(),
                errors(&env)
            );
        }
        let planned: BTreeSet<ExpectedTransition> = env
            .data
            .get("transitions")
            .and_then(Value::as_array)
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| {
                        Some(ExpectedTransition {
                            node: t.get("node")?.as_str()?.to_string(),
                            to: t.get("to")?.as_str()?.to_string(),
                            rule_id: t.get("rule_id")?.as_str()?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let wanted: BTreeSet<ExpectedTransition> = case.expect.iter().cloned().collect();
        let hit = wanted.intersection(&planned).count();
        let missing: Vec<String> = wanted.difference(&planned).map(transition_key).collect();
        let extra: Vec<String> = planned.difference(&wanted).map(transition_key).collect();
        expected += wanted.len();
        matched += hit;
        unexpected += extra.len();
        let applied = if case.apply {
            let env = rt.run("lifecycle.apply", json!({}), &ctx);
            Some(env.status.as_str().to_string())
        } else {
            None
        };
        reports.push(TransitionReport {
            as_of: case.as_of.to_string(),
            matched: hit,
            missing,
            unexpected: extra,
            applied,
        });
    }
    let metrics = LifecycleMetrics {
        accuracy: lifecycle_accuracy(expected, matched, unexpected),
        expected,
        matched,
        unexpected,
    };
    Ok((reports, metrics))
}

fn gate_min(name: &str, threshold: Option<f64>, value: f64) -> Option<GateResult> {
    threshold.map(|t| GateResult {
        gate: name.into(),
        threshold: t,
        value,
        passed: value + 1e-9 >= t,
    })
}

/// Runs one loaded scenario. `rel` names it in the report.
pub fn run_scenario(s: &Scenario, rel: &str) -> Result<ScenarioReport> {
    let mut rt = prepare(s)?;
    let mut nodes: Vec<Node> = Vec::new();
    rt.store()
        .for_each_node(&mut |n| nodes.push(n.clone()))
        .with_context(|| format!("reading the nodes of {}", s.dir.display()))?;
    let mut events: Vec<Event> = Vec::new();
    rt.store()
        .for_each_event(&mut |e| events.push(e.clone()))
        .with_context(|| format!("reading the events of {}", s.dir.display()))?;
    let bm25 = Bm25Baseline::new(&nodes)
        .with_context(|| format!("the BM25 baseline of {}", s.dir.display()))?;
    let recency = RecencyBaseline::new(&nodes, &events);

    let k = s.k();
    let mut cues = Vec::new();
    let mut sums: [RankingSums; 3] = Default::default();
    let (mut leaks, mut bm25_leaks, mut recency_leaks) = (0u64, 0u64, 0u64);
    let mut within = 0usize;
    let mut errors = 0usize;
    let mut latencies = Vec::new();
    // Build the activation snapshot before timing cues: a cue naming no existing
    // node returns nothing, so it records no access even when the profile does.
    let started = Instant::now();
    if !s.cues.is_empty() {
        let _ = rt.run(
            "activation.run",
            json!({"cue": {"nodes": ["eval:warm-up"]}}),
            &CallContext::owner().at(s.spec.as_of),
        );
    }
    let warmup_ms = started.elapsed().as_secs_f64() * 1000.0;
    for case in &s.cues {
        let run = run_cue(&mut rt, s, case, &bm25, &recency)?;
        let r = run.report;
        if run.ranked {
            for (acc, x) in sums.iter_mut().zip([&r.activation, &r.bm25, &r.recency]) {
                if let Some(x) = x {
                    acc.add(x);
                }
            }
        }
        let forbid: BTreeSet<&str> = case.forbid.iter().map(String::as_str).collect();
        recency_leaks += recency
            .rank(case.as_of.unwrap_or(s.spec.as_of), k)
            .iter()
            .filter(|id| forbid.contains(id.as_str()))
            .count() as u64;
        leaks += r.leaks.len() as u64;
        bm25_leaks += r.bm25_leaks.len() as u64;
        within += usize::from(r.within_budget);
        errors += usize::from(r.status != Status::Ok.as_str());
        latencies.push(r.latency_ms);
        cues.push(r);
    }
    let (transitions, lifecycle) = if s.transitions.is_empty() {
        (Vec::new(), None)
    } else {
        let (t, m) = run_transitions(&mut rt, s)?;
        (t, Some(m))
    };
    let budget_adherence = if cues.is_empty() {
        1.0
    } else {
        round4(within as f64 / cues.len() as f64)
    };
    let metrics = Metrics {
        ranking: sums[0].ranking(),
        budget_adherence,
        policy_leaks: leaks,
        cue_errors: errors,
        lifecycle,
        latency: Latency {
            cues: latencies.len(),
            p50_ms: round4(percentile(&latencies, 0.5)),
            p99_ms: round4(percentile(&latencies, 0.99)),
            max_ms: round4(latencies.iter().copied().fold(0.0, f64::max)),
            warmup_ms: round4(warmup_ms),
        },
    };
    let baselines = Baselines {
        bm25: crate::report::BaselineMetrics {
            ranking: sums[1].ranking(),
            leaks: bm25_leaks,
        },
        recency: crate::report::BaselineMetrics {
            ranking: sums[2].ranking(),
            leaks: recency_leaks,
        },
    };
    let gates = gates(s, &metrics, &baselines);
    Ok(ScenarioReport {
        name: s.spec.name.clone(),
        family: s.spec.family.clone(),
        path: rel.to_string(),
        description: s.spec.description.clone(),
        k,
        nodes: nodes.len(),
        metrics,
        baselines,
        gates,
        cues,
        transitions,
        sums,
    })
}

fn gates(s: &Scenario, m: &Metrics, b: &Baselines) -> Vec<GateResult> {
    let g = &s.spec.gates;
    let r = &m.ranking;
    let mut out = Vec::new();
    out.push(GateResult {
        gate: "max_policy_leaks".into(),
        threshold: g.max_policy_leaks as f64,
        value: m.policy_leaks as f64,
        passed: m.policy_leaks <= g.max_policy_leaks,
    });
    out.push(GateResult {
        gate: "cue_errors".into(),
        threshold: 0.0,
        value: m.cue_errors as f64,
        passed: m.cue_errors == 0,
    });
    out.extend(gate_min(
        "budget_adherence_min",
        Some(g.budget_adherence_min),
        m.budget_adherence,
    ));
    out.extend(gate_min(
        "recall_at_k_min",
        g.recall_at_k_min,
        r.recall_at_k,
    ));
    out.extend(gate_min(
        "precision_at_k_min",
        g.precision_at_k_min,
        r.precision_at_k,
    ));
    out.extend(gate_min("ndcg_at_k_min", g.ndcg_at_k_min, r.ndcg_at_k));
    out.extend(gate_min("mrr_min", g.mrr_min, r.mrr));
    if let Some(t) = g.lifecycle_accuracy_min {
        let v = m.lifecycle.as_ref().map_or(0.0, |l| l.accuracy);
        out.extend(gate_min("lifecycle_accuracy_min", Some(t), v));
    }
    if g.beats_bm25 {
        let bm = &b.bm25.ranking;
        let gain = (r.ndcg_at_k - bm.ndcg_at_k).max(r.recall_at_k - bm.recall_at_k);
        out.push(GateResult {
            gate: "beats_bm25".into(),
            threshold: 0.0,
            value: round4(gain),
            passed: gain > 0.0,
        });
    }
    if let Some(t) = g.latency_p99_ms_max {
        out.push(GateResult {
            gate: "latency_p99_ms_max".into(),
            threshold: t,
            value: m.latency.p99_ms,
            passed: m.latency.p99_ms <= t,
        });
    }
    out
}

/// The path of `dir` relative to `root`, `/`-separated (`.` for the root itself).
pub(crate) fn relative(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}
