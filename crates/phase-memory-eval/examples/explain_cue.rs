//! Prints the explained activation of one cue of a scenario (a debugging aid):
//! `cargo run -p phase-memory-eval --example explain_cue -- SCENARIO_DIR CUE_ID`.

use std::path::PathBuf;

use phase_memory_runtime::{CallContext, Clock, memory_runtime};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_default());
    let cue_id = args.next().unwrap_or_default();
    let s = phase_memory_eval::load(&dir)?;
    let mut rt = memory_runtime(&s.profile_source, Clock::Fixed(s.spec.as_of))
        .map_err(|(_, d)| anyhow::anyhow!(d.message))?;
    let ctx = CallContext::owner().at(s.spec.as_of);
    let env = rt.run("graph.import", json!({"records": s.records}), &ctx);
    anyhow::ensure!(env.status.as_str() == "ok", "import: {:?}", env.diagnostics);
    let case = s
        .cues
        .iter()
        .find(|c| c.id == cue_id)
        .ok_or_else(|| anyhow::anyhow!("no cue {cue_id}"))?;
    let ctx = CallContext::new(
        case.actor
            .clone()
            .unwrap_or_else(phase_memory_model::Actor::owner),
    )
    .at(case.as_of.unwrap_or(s.spec.as_of));
    let mut req = json!({"cue": case.cue, "explain": true, "limit": 8});
    if let Some(b) = case.budget_tokens.or(s.spec.budget_tokens) {
        req["budget_tokens"] = json!(b);
    }
    let env = rt.run("activation.run", req, &ctx);
    println!("expect {:?}", case.expect);
    for i in env.data["items"].as_array().into_iter().flatten() {
        let e = &i["explain"];
        println!(
            "{:<28} score {:.3} seed {:.3} spread {:.3} path {}",
            i["node"].as_str().unwrap_or(""),
            i["score"].as_f64().unwrap_or(0.0),
            e["seed"].as_f64().unwrap_or(0.0),
            e["spread"].as_f64().unwrap_or(0.0),
            e["path"]
        );
    }
    Ok(())
}
