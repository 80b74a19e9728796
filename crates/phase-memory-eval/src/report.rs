//! The evaluation report: per scenario its metrics, baselines, gates and per-cue
//! detail; per family the averages of activation and each baseline; a readable table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::metrics::round4;

/// Format tag of the JSON report.
pub const REPORT_FORMAT: &str = "phase-memory-eval/1";

/// Mean ranking metrics over the cues that expect something.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ranking {
    /// Cues averaged.
    pub cues: usize,
    /// Mean recall@k.
    pub recall_at_k: f64,
    /// Mean precision@k.
    pub precision_at_k: f64,
    /// Mean nDCG@k.
    pub ndcg_at_k: f64,
    /// Mean reciprocal rank within k.
    pub mrr: f64,
}

/// Sums that make a [`Ranking`] (micro-averaged over cues).
#[derive(Clone, Debug, Default)]
pub(crate) struct RankingSums {
    pub cues: usize,
    pub recall: f64,
    pub precision: f64,
    pub ndcg: f64,
    pub rr: f64,
}

impl RankingSums {
    pub fn add(&mut self, c: &CueScores) {
        self.cues += 1;
        self.recall += c.recall_at_k;
        self.precision += c.precision_at_k;
        self.ndcg += c.ndcg_at_k;
        self.rr += c.rr;
    }
    pub fn merge(&mut self, o: &RankingSums) {
        self.cues += o.cues;
        self.recall += o.recall;
        self.precision += o.precision;
        self.ndcg += o.ndcg;
        self.rr += o.rr;
    }
    pub fn ranking(&self) -> Ranking {
        let n = self.cues.max(1) as f64;
        Ranking {
            cues: self.cues,
            recall_at_k: round4(self.recall / n),
            precision_at_k: round4(self.precision / n),
            ndcg_at_k: round4(self.ndcg / n),
            mrr: round4(self.rr / n),
        }
    }
}

/// Ranking scores of one cue for one ranker.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CueScores {
    /// recall@k.
    pub recall_at_k: f64,
    /// precision@k.
    pub precision_at_k: f64,
    /// nDCG@k.
    pub ndcg_at_k: f64,
    /// Reciprocal rank within k.
    pub rr: f64,
    /// The first k ids returned.
    pub top: Vec<String>,
}

/// One cue's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct CueReport {
    /// Case id.
    pub id: String,
    /// Envelope status of the activation.
    pub status: String,
    /// Activation's scores (absent when the case expects nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<CueScores>,
    /// BM25's scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bm25: Option<CueScores>,
    /// Recency's scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recency: Option<CueScores>,
    /// Token budget asked for.
    pub budget_limit: u64,
    /// Tokens used.
    pub budget_used: u64,
    /// Within budget.
    pub within_budget: bool,
    /// Forbidden ids that appeared in the envelope.
    pub leaks: Vec<String>,
    /// Forbidden ids BM25 returned (not gated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bm25_leaks: Vec<String>,
    /// Nodes withheld by policy (count from the envelope).
    pub withheld: u64,
    /// Wall time of the `activation.run` call, milliseconds.
    pub latency_ms: f64,
}

/// One lifecycle case's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct TransitionReport {
    /// The instant.
    pub as_of: String,
    /// Expected transitions the plan held.
    pub matched: usize,
    /// Expected transitions missing from the plan (`node → to (rule)`).
    pub missing: Vec<String>,
    /// Planned transitions nobody expected.
    pub unexpected: Vec<String>,
    /// Status of `lifecycle.apply` when the case applied the plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

/// Lifecycle accuracy over a scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LifecycleMetrics {
    /// `matched / (expected + unexpected)`: 1.0 exactly when every plan matched.
    pub accuracy: f64,
    /// Expected transitions.
    pub expected: usize,
    /// Expected and planned.
    pub matched: usize,
    /// Planned but not expected.
    pub unexpected: usize,
}

/// Activation latency over a scenario's cues, milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Cues timed.
    pub cues: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// The untimed first activation that builds the snapshot (import excluded).
    pub warmup_ms: f64,
}

/// Activation's metrics of a scenario.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Metrics {
    /// Ranking metrics over cues that expect something.
    pub ranking: Ranking,
    /// Fraction of cues whose `budget.used <= limit` (1.0 without cues).
    pub budget_adherence: f64,
    /// Forbidden ids that appeared, summed over cues.
    pub policy_leaks: u64,
    /// Cues whose activation did not answer `ok`.
    pub cue_errors: usize,
    /// Lifecycle accuracy, when the scenario has transitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleMetrics>,
    /// Activation latency.
    pub latency: Latency,
}

/// A baseline's metrics of a scenario.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BaselineMetrics {
    /// Ranking metrics over the same cues.
    pub ranking: Ranking,
    /// Forbidden ids it returned (reported, not gated: baselines ignore policy).
    pub leaks: u64,
}

/// The baselines of a scenario.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Baselines {
    /// Plain BM25 over node text.
    pub bm25: BaselineMetrics,
    /// Latest creation/access first.
    pub recency: BaselineMetrics,
}

/// One gate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GateResult {
    /// Gate name as in `scenario.toml` (`recall_at_k_min`, …).
    pub gate: String,
    /// The threshold.
    pub threshold: f64,
    /// The measured value.
    pub value: f64,
    /// Whether it holds.
    pub passed: bool,
}

/// One scenario's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// Name.
    pub name: String,
    /// Family.
    pub family: String,
    /// Folder, relative to the evaluated folder.
    pub path: String,
    /// Description.
    pub description: String,
    /// Ranking cut-off.
    pub k: usize,
    /// Nodes in the scenario's store.
    pub nodes: usize,
    /// Activation's metrics.
    pub metrics: Metrics,
    /// Baselines.
    pub baselines: Baselines,
    /// Gates.
    pub gates: Vec<GateResult>,
    /// Per cue.
    pub cues: Vec<CueReport>,
    /// Per lifecycle case.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<TransitionReport>,
    #[serde(skip)]
    pub(crate) sums: [RankingSums; 3],
}

impl ScenarioReport {
    /// Whether every gate holds.
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }
}

/// Averages of one family (micro-averaged over its cues).
#[derive(Clone, Debug, Serialize)]
pub struct FamilySummary {
    /// Family.
    pub family: String,
    /// Scenarios.
    pub scenarios: usize,
    /// Scenarios whose gates all hold.
    pub passed: usize,
    /// Activation.
    pub activation: Ranking,
    /// Plain BM25.
    pub bm25: Ranking,
    /// Recency-only.
    pub recency: Ranking,
    /// Forbidden ids activation showed.
    pub policy_leaks: u64,
    /// Forbidden ids BM25 returned (not gated).
    pub bm25_leaks: u64,
    /// Lowest budget adherence of its scenarios.
    pub budget_adherence: f64,
    /// Lifecycle accuracy over its scenarios with transitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_accuracy: Option<f64>,
    /// Worst p99 activation latency of its scenarios, ms.
    pub latency_p99_ms: f64,
}

/// The report of one evaluation run.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// `phase-memory-eval/1`.
    pub format: String,
    /// The evaluated folder.
    pub root: String,
    /// Whether every gate of every scenario holds.
    pub passed: bool,
    /// Per family, in name order.
    pub families: Vec<FamilySummary>,
    /// Per scenario, in path order.
    pub scenarios: Vec<ScenarioReport>,
}

impl EvalReport {
    /// Builds the report and the family summaries from scenario reports.
    pub fn new(root: String, scenarios: Vec<ScenarioReport>) -> Self {
        let mut by_family: BTreeMap<&str, Vec<&ScenarioReport>> = BTreeMap::new();
        for s in &scenarios {
            by_family.entry(s.family.as_str()).or_default().push(s);
        }
        let families = by_family
            .into_iter()
            .map(|(family, list)| {
                let mut sums: [RankingSums; 3] = Default::default();
                let (mut expected, mut matched, mut unexpected, mut with_lifecycle) =
                    (0, 0, 0, false);
                for s in &list {
                    for (acc, x) in sums.iter_mut().zip(&s.sums) {
                        acc.merge(x);
                    }
                    if let Some(l) = &s.metrics.lifecycle {
                        with_lifecycle = true;
                        expected += l.expected;
                        matched += l.matched;
                        unexpected += l.unexpected;
                    }
                }
                FamilySummary {
                    family: family.to_string(),
                    scenarios: list.len(),
                    passed: list.iter().filter(|s| s.passed()).count(),
                    activation: sums[0].ranking(),
                    bm25: sums[1].ranking(),
                    recency: sums[2].ranking(),
                    policy_leaks: list.iter().map(|s| s.metrics.policy_leaks).sum(),
                    bm25_leaks: list.iter().map(|s| s.baselines.bm25.leaks).sum(),
                    budget_adherence: list
                        .iter()
                        .map(|s| s.metrics.budget_adherence)
                        .fold(1.0, f64::min),
                    lifecycle_accuracy: with_lifecycle
                        .then(|| lifecycle_accuracy(expected, matched, unexpected)),
                    latency_p99_ms: list
                        .iter()
                        .map(|s| s.metrics.latency.p99_ms)
                        .fold(0.0, f64::max),
                }
            })
            .collect();
        EvalReport {
            format: REPORT_FORMAT.into(),
            root,
            passed: scenarios.iter().all(ScenarioReport::passed),
            families,
            scenarios,
        }
    }

    /// Whether every gate of every scenario holds.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(ScenarioReport::passed)
    }

    /// The gates that failed, as `(scenario path, gate)`.
    pub fn failed_gates(&self) -> Vec<(&str, &GateResult)> {
        self.scenarios
            .iter()
            .flat_map(|s| {
                s.gates
                    .iter()
                    .filter(|g| !g.passed)
                    .map(move |g| (s.path.as_str(), g))
            })
            .collect()
    }

    /// A readable rendering: one line per scenario, then activation vs the
    /// baselines per family, then the failed gates.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<44} {:>4} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5} {:>6} {:>8} {:>8}  gates",
            "scenario",
            "k",
            "recall",
            "ndcg",
            "mrr",
            "bm25-r",
            "bm25-n",
            "leaks",
            "budget",
            "p50 ms",
            "p99 ms"
        );
        for s in &self.scenarios {
            let failed = s.gates.iter().filter(|g| !g.passed).count();
            let gates = if failed == 0 {
                format!("ok ({})", s.gates.len())
            } else {
                format!("FAILED {failed}/{}", s.gates.len())
            };
            let r = &s.metrics.ranking;
            let b = &s.baselines.bm25.ranking;
            let _ = writeln!(
                out,
                "{:<44} {:>4} {:>6} {:>6} {:>6} {:>6} {:>6} {:>5} {:>6.3} {:>8.2} {:>8.2}  {}",
                truncate(&s.path, 44),
                s.k,
                metric(r.cues, r.recall_at_k),
                metric(r.cues, r.ndcg_at_k),
                metric(r.cues, r.mrr),
                metric(b.cues, b.recall_at_k),
                metric(b.cues, b.ndcg_at_k),
                s.metrics.policy_leaks,
                s.metrics.budget_adherence,
                s.metrics.latency.p50_ms,
                s.metrics.latency.p99_ms,
                gates
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<18} {:>4} {:>5}   {:<20} {:<20} {:<20} {:>5} {:>9} {:>9}",
            "family",
            "scen",
            "cues",
            "recall act/bm25/rec",
            "ndcg act/bm25/rec",
            "mrr act/bm25/rec",
            "leaks",
            "lifecycle",
            "p99 ms"
        );
        for f in &self.families {
            let tri = |a: f64, b: f64, c: f64| format!("{a:.3}/{b:.3}/{c:.3}");
            let (a, b, c) = (&f.activation, &f.bm25, &f.recency);
            let lifecycle = f
                .lifecycle_accuracy
                .map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
            let ranked = a.cues > 0;
            let dash = || "-".to_string();
            let _ = writeln!(
                out,
                "{:<18} {:>4} {:>5}   {:<20} {:<20} {:<20} {:>5} {:>9} {:>9.2}",
                f.family,
                f.scenarios,
                a.cues,
                if ranked {
                    tri(a.recall_at_k, b.recall_at_k, c.recall_at_k)
                } else {
                    dash()
                },
                if ranked {
                    tri(a.ndcg_at_k, b.ndcg_at_k, c.ndcg_at_k)
                } else {
                    dash()
                },
                if ranked {
                    tri(a.mrr, b.mrr, c.mrr)
                } else {
                    dash()
                },
                f.policy_leaks,
                lifecycle,
                f.latency_p99_ms
            );
        }
        let failed = self.failed_gates();
        let _ = writeln!(out);
        if failed.is_empty() {
            let _ = writeln!(out, "all gates pass ({} scenarios)", self.scenarios.len());
        } else {
            for (path, g) in failed {
                let _ = writeln!(
                    out,
                    "FAILED {path}: {} = {} (threshold {})",
                    g.gate, g.value, g.threshold
                );
            }
        }
        out
    }
}

/// `matched / (expected + unexpected)`, 1.0 when nothing was expected or planned.
pub(crate) fn lifecycle_accuracy(expected: usize, matched: usize, unexpected: usize) -> f64 {
    let denominator = expected + unexpected;
    if denominator == 0 {
        1.0
    } else {
        round4(matched as f64 / denominator as f64)
    }
}

fn metric(cues: usize, x: f64) -> String {
    if cues == 0 {
        "-".into()
    } else {
        format!("{x:.3}")
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let tail: String = s
            .chars()
            .rev()
            .take(n - 1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}
