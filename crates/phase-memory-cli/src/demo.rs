//! `phase-memory demo`: builds a store from the shipped example (profile + a graph
//! of a few hundred nodes with events) and runs the whole flow through the runner:
//! import → lifecycle plan/apply → activation with explain → package compile →
//! audit verify. Prints where the package is.

use std::path::{Path, PathBuf};

use phase_memory_model::{Envelope, Status, Time};
use phase_memory_runtime::{Adapter, Clock, Runtime, init_store};
use serde_json::json;

use crate::{Caller, emit, open, run_op};

const DEMO_PROFILE: &str = include_str!("../../../examples/demo/profile.toml");
const DEMO_GRAPH: &str = include_str!("../../../examples/demo/graph.jsonl");
const DEMO_AS_OF: &str = "2026-06-01T09:00:00Z";

fn check(c: &Caller, env: &Envelope) -> anyhow::Result<()> {
    if env.status != Status::Ok && env.status != Status::ReviewRequired {
        emit(c, env);
        anyhow::bail!(
            "demo step {} failed with status {}",
            env.operation,
            env.status.as_str()
        );
    }
    Ok(())
}

pub fn run(c: &Caller, dir: Option<&Path>) -> anyhow::Result<i32> {
    let dir = empty_dir(dir)?;
    let as_of: Time = match c.ctx.as_of {
        Some(t) => t,
        None => DEMO_AS_OF.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let store = dir.join("store");
    let mut caller = Caller {
        store: store.clone(),
        json: c.json,
        clock: Clock::Fixed(as_of),
        ctx: c.ctx.clone(),
        actor_given: c.actor_given,
        wait: c.wait,
    };
    caller.ctx.as_of = Some(as_of);
    say(c, format!("phase-memory demo in {}", dir.display()));
    let env = init_store(
        &store,
        Adapter::File,
        Some(("examples/demo/profile.toml", DEMO_PROFILE)),
        as_of,
    );
    check(&caller, &env)?;
    say(
        c,
        format!(
            "1. init: file store with profile {} ({})",
            env.data["profile"]["name"], env.profile_digest
        ),
    );
    let mut rt = open(&caller).map_err(|(_, d)| anyhow::anyhow!("{}: {}", d.code, d.message))?;
    import(&caller, &mut rt, &dir)?;
    lifecycle(&caller, &mut rt, as_of)?;
    let cue = json!({"cue": {"text": "release planning decision for the search service"}, "budget_tokens": 1200, "limit": 8, "explain": true});
    activate(&caller, &mut rt, &cue)?;
    let out = dir.join("package");
    let mut compile = cue;
    compile["out"] = json!(out);
    compile["explain"] = json!(false);
    let env = run_op(&caller, &mut rt, "package.compile", compile);
    check(&caller, &env)?;
    say(
        c,
        format!(
            "6. compile: package {} ({} files)",
            env.data["id"], env.data["files"]
        ),
    );
    let env = run_op(&caller, &mut rt, "audit.verify", json!({}));
    check(&caller, &env)?;
    say(
        c,
        format!(
            "7. audit verify: {} records, chain ok = {}",
            env.data["records"], env.data["ok"]
        ),
    );
    if c.json {
        let mut summary = Envelope::new("demo", Status::Ok, "req-demo", &env.profile_digest);
        summary.data = json!({"dir": dir, "store": store, "package": out});
        outln!("{}", summary.to_json());
    } else {
        outln!("\nThe package is in {}", out.display());
        outln!(
            "Open {}/index.md, or explore the store with:\n  phase-memory --store {} status",
            out.display(),
            store.display()
        );
    }
    Ok(0)
}

/// A line of the human tour (nothing with `--json`).
fn say(c: &Caller, s: String) {
    if !c.json {
        outln!("{s}");
    }
}

/// The demo's folder: the given one or a new one under the temporary folder;
/// refused when it exists and holds anything.
fn empty_dir(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("phase-memory-demo-{}", std::process::id())),
    };
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        anyhow::bail!(
            "{} exists and is not empty; give --dir a new folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Step 2: the example graph, written beside the store and imported.
fn import(c: &Caller, rt: &mut Runtime, dir: &Path) -> anyhow::Result<()> {
    let graph = dir.join("graph.jsonl");
    std::fs::write(&graph, DEMO_GRAPH)?;
    let env = run_op(c, rt, "graph.import", json!({"path": graph}));
    check(c, &env)?;
    say(
        c,
        format!(
            "2. import: {} nodes, {} edges, {} events",
            env.data["nodes"], env.data["edges"], env.data["events"]
        ),
    );
    Ok(())
}

/// Steps 3 and 4: plans at three dates, then apply; a forgetting held for review
/// is approved by a second actor.
fn lifecycle(c: &Caller, rt: &mut Runtime, as_of: Time) -> anyhow::Result<()> {
    for date in [
        "2026-06-01T09:00:00Z",
        "2026-09-01T09:00:00Z",
        "2027-06-01T09:00:00Z",
    ] {
        let env = run_op(c, rt, "lifecycle.plan", json!({"as_of": date}));
        check(c, &env)?;
        say(
            c,
            format!(
                "3. lifecycle plan at {date}: {} transition(s)",
                env.data["transitions"]
                    .as_array()
                    .map(|a| a.len())
                    .unwrap_or(0)
            ),
        );
    }
    let env = run_op(c, rt, "lifecycle.apply", json!({}));
    check(c, &env)?;
    let reviews: Vec<String> = env.data["reviews"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["review"].as_str().map(str::to_string))
        .collect();
    say(
        c,
        format!(
            "4. lifecycle apply at {as_of}: {} applied, {} held for review (forgetting needs a second actor)",
            env.data["applied"].as_array().map(|a| a.len()).unwrap_or(0),
            reviews.len()
        ),
    );
    if let Some(first) = reviews.first() {
        approve_as_second_actor(c, &c.store, as_of, rt, first)?;
        say(
            c,
            format!(
                "   review {first} approved by a second actor (bea): the note is forgotten and its erasure receipt is in the audit chain"
            ),
        );
    }
    Ok(())
}

/// Step 5: one activation with explain, its items listed.
fn activate(c: &Caller, rt: &mut Runtime, cue: &serde_json::Value) -> anyhow::Result<()> {
    let env = run_op(c, rt, "activation.run", cue.clone());
    check(c, &env)?;
    say(
        c,
        format!(
            "5. activate \"release planning decision for the search service\": {} items, {}/{} tokens, {} withheld",
            env.data["items"].as_array().map(|a| a.len()).unwrap_or(0),
            env.data["budget"]["used"],
            env.data["budget"]["limit"],
            env.data["withheld"]["count"]
        ),
    );
    if !c.json {
        for it in env.data["items"].as_array().into_iter().flatten() {
            outln!(
                "     {:>8}  {:<10} {}",
                it["score"],
                it["kind"].as_str().unwrap_or(""),
                it["title"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// Step 4 of the demo: a second actor (bea, a reviewer) approves the review
/// that forgetting the scratch note created.
fn approve_as_second_actor(
    c: &Caller,
    store: &Path,
    as_of: Time,
    rt: &mut Runtime,
    review: &str,
) -> anyhow::Result<()> {
    let mut reviewer = Caller {
        store: store.to_path_buf(),
        json: c.json,
        clock: Clock::Fixed(as_of),
        ctx: c.ctx.clone(),
        actor_given: true,
        wait: c.wait,
    };
    reviewer.ctx.actor = phase_memory_model::Actor {
        id: "bea".into(),
        roles: vec!["owner".into(), "reviewer".into()],
        scopes: vec!["*".into()],
    };
    reviewer.ctx.as_of = Some(as_of);
    let req =
        json!({"review": review, "decision": "approve", "reason": "scratch note, nothing to keep"});
    let env = run_op(&reviewer, rt, "review.decide", req);
    check(&reviewer, &env)
}
