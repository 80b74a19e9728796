//! The evaluation harness of phase-memory (SPEC section 8): scenario folders of
//! profile + graph + cues + lifecycle expectations, each run in a fresh in-memory
//! runtime through the ordinary operations (`graph.import`, `activation.run`,
//! `lifecycle.plan`), scored (recall@k, precision@k, nDCG@k, MRR, budget
//! adherence, policy leaks, lifecycle accuracy, latency) against plain BM25 and
//! recency-only baselines, and gated. docs/evaluation.md describes the format.
//!
//! [`run_dir`] is the library entry; [`extension`] registers it as the `eval.run`
//! operation of a [`phase_memory_runtime::Runtime`].

pub mod baseline;
pub mod chats;
pub mod conversation;
mod envelope;
pub mod generate;
pub mod metrics;
pub mod report;
mod run;
pub mod scenario;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use phase_memory_model::{Diagnostic, Status};
use phase_memory_runtime::{CallContext, Extension, Outcome};
use serde_json::Value;

pub use envelope::write_report;
pub use report::{EvalReport, FamilySummary, GateResult, Ranking, ScenarioReport};
pub use run::run_scenario;
pub use scenario::{Scenario, load};

/// Runs the scenario in `dir`, or every scenario folder under it (recursively, in
/// sorted path order), and writes the JSON report to `report` when given.
pub fn run_dir(dir: &Path, report: Option<&Path>) -> Result<EvalReport> {
    let mut scenarios = Vec::new();
    for path in scenario::discover(dir)? {
        let mut s = scenario::load(&path)?;
        if let Some(g) = s.spec.generate {
            let generated = generate::scale(&g, s.spec.as_of);
            s.records = generated.records;
            s.cues.extend(generated.cues);
        }
        let rel = run::relative(dir, &path);
        scenarios.push(
            run::run_scenario(&s, &rel)
                .with_context(|| format!("running scenario {}", path.display()))?,
        );
    }
    let out = EvalReport::new(dir.display().to_string(), scenarios);
    if let Some(path) = report {
        write_report(path, &out)?;
    }
    Ok(out)
}

/// The `eval.run` operation: request `{"dir": "…", "report"?: "…"}`, data = the
/// report; status `ok` when every gate passes, otherwise `error` with one
/// `eval.gate_failed` diagnostic per failed gate. A scenario that cannot be read or
/// run gives `invalid` with `eval.invalid_scenario`. Never audited: evaluation runs
/// on its own in-memory stores and leaves the caller's store unchanged.
pub fn extension() -> Extension {
    Arc::new(|request: &Value, ctx: &CallContext| {
        // A network client names paths inside the service's data folder only.
        let mut request = request.clone();
        if ctx.origin.is_remote() {
            for (key, access) in [
                ("dir", phase_memory_runtime::files::Access::Read),
                ("report", phase_memory_runtime::files::Access::Write),
            ] {
                if let Some(given) = request.get(key).and_then(Value::as_str) {
                    match phase_memory_runtime::files::resolve(ctx, given, access) {
                        Ok(p) => request[key] = Value::String(p.to_string_lossy().into_owned()),
                        Err(mut o) => {
                            o.skip_audit = true;
                            return o;
                        }
                    }
                }
            }
        }
        let mut o = eval_outcome(&request);
        o.skip_audit = true;
        o
    })
}

fn eval_outcome(request: &Value) -> Outcome {
    let dir = match request.get("dir").and_then(Value::as_str) {
        Some(d) if !d.trim().is_empty() => d,
        _ => {
            return Outcome::fail(
                Status::Invalid,
                Diagnostic::error("request.invalid", "`dir` must name a scenario folder").at("dir"),
            );
        }
    };
    let report = match request.get("report") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Outcome::fail(
                Status::Invalid,
                Diagnostic::error("request.invalid", "`report` must be a file path").at("report"),
            );
        }
    };
    if let Some(extra) = request
        .as_object()
        .and_then(|m| m.keys().find(|k| *k != "dir" && *k != "report"))
    {
        return Outcome::fail(
            Status::Invalid,
            Diagnostic::error("request.invalid", format!("unknown field `{extra}`")).at(extra),
        );
    }
    match run_dir(Path::new(dir), report.map(Path::new)) {
        Err(e) => Outcome::fail(
            Status::Invalid,
            Diagnostic::error("eval.invalid_scenario", format!("{e:#}")).at("dir"),
        ),
        Ok(r) => {
            let data = serde_json::to_value(&r).unwrap_or(Value::Null);
            let failed: Vec<Diagnostic> = r
                .failed_gates()
                .into_iter()
                .map(|(path, g)| {
                    Diagnostic::error(
                        "eval.gate_failed",
                        format!(
                            "{path}: {} = {} does not meet the threshold {}",
                            g.gate, g.value, g.threshold
                        ),
                    )
                    .at(path)
                })
                .collect();
            let mut failed = failed.into_iter();
            match failed.next() {
                None => Outcome::ok(data),
                Some(first) => {
                    let mut o = Outcome::fail(Status::Error, first);
                    o.data = data;
                    o.diagnostics.extend(failed);
                    o
                }
            }
        }
    }
}
