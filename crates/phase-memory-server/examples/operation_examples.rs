//! Prints the "Operations" section of docs/operations.md: every registered
//! operation run for real against a fresh file store at a fixed clock, with its
//! request and the envelope it answered (long strings and lists shortened).
//!
//! ```text
//! cargo run -p phase-memory-server --example operation_examples > /tmp/ops.md
//! cargo run -p phase-memory-server --example operation_examples -- --codes
//! ```

use std::path::Path;

use anyhow::bail;
use phase_memory_model::{Actor, Envelope, Status, Time};
use phase_memory_runtime::{
    Adapter, CallContext, Clock, Runtime, init_store, open_runtime, registry,
};
use serde_json::{Value, json};

const AS_OF: &str = "2026-03-01T00:00:00Z";

fn shorten(v: &mut Value) {
    match v {
        Value::String(s) if s.chars().count() > 120 => {
            let head: String = s.chars().take(100).collect();
            *s = format!("{head}…");
        }
        Value::Array(a) => {
            if a.len() > 3 {
                a.truncate(3);
                a.push(json!("…"));
            }
            a.iter_mut().for_each(shorten);
        }
        Value::Object(m) => m.values_mut().for_each(shorten),
        _ => {}
    }
}

fn pretty(v: &Value, root: &Path) -> String {
    let mut v = v.clone();
    shorten(&mut v);
    phase_memory_model::canonical_json_pretty(&v).replace(&root.display().to_string(), "/srv")
}

/// The diagnostic code table with CLI exit codes and HTTP statuses.
fn codes_table() -> String {
    phase_memory_model::diagnostic::codes_markdown()
}

/// Each example: the operation, its request, and who runs it.
type Step<'a> = (&'static str, Value, &'a CallContext);

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let mut rt = fresh_store(root)?;
    let owner = CallContext::new(Actor::owner());
    let bob = CallContext::new(Actor {
        id: "bob".into(),
        roles: vec!["reviewer".into()],
        scopes: vec!["*".into()],
    });
    let p = |s: &str| root.join(s).display().to_string();
    let mut steps = steps(&p, &owner, &bob);
    let missing: Vec<&str> = registry::OPERATIONS
        .iter()
        .map(|o| o.name)
        .filter(|n| !steps.iter().any(|(op, _, _)| op == n))
        .collect();
    if !missing.is_empty() {
        bail!("no example for {missing:?}");
    }
    let out = run_steps(&mut rt, &mut steps, root);
    if std::env::args().any(|a| a == "--codes") {
        print!("{}", codes_table());
    } else {
        print!("{out}");
    }
    Ok(())
}

/// A file store at the fixed clock, with the built-in profile plus a rule that
/// forgets nodes labelled `obsolete`; the profile is also written to
/// `profile.toml` for the profile examples.
fn fresh_store(root: &Path) -> anyhow::Result<Runtime> {
    let store = root.join("memory");
    let profile = format!(
        "{}\n[[lifecycle]]\nid = \"obsolete-forgets\"\nfrom = [\"active\"]\nto = \"forgotten\"\nwhen = {{ label = \"obsolete\" }}\n",
        phase_memory_profile::DEFAULT_PROFILE_TOML
    );
    std::fs::write(root.join("profile.toml"), &profile)?;
    let now: Time = AS_OF.parse()?;
    let env = init_store(&store, Adapter::File, Some(("profile.toml", &profile)), now);
    if env.status != Status::Ok {
        bail!("init: {}", env.to_json());
    }
    open_runtime(&store, Clock::Fixed(now)).map_err(|(_, d)| anyhow::anyhow!("open: {}", d.message))
}

/// Runs the examples in order (the review `lifecycle.apply` creates is the one
/// `review.decide` decides) and documents each.
fn run_steps(rt: &mut Runtime, steps: &mut [Step<'_>], root: &Path) -> String {
    let mut review = String::new();
    let mut out = String::new();
    for (op, request, ctx) in steps.iter_mut() {
        if *op == "review.decide" {
            request["review"] = json!(review);
        }
        let env = rt.run(op, request.clone(), ctx);
        if *op == "lifecycle.apply" {
            review = env.data["reviews"][0]["review"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        out.push_str(&document(op, request, ctx, &env, root));
    }
    out
}

/// One operation's section: summary, `data` shape, policy, request, envelope.
fn document(op: &str, request: &Value, ctx: &CallContext, env: &Envelope, root: &Path) -> String {
    let mut out = format!("### `{op}`\n\n");
    if let Some(s) = registry::find(op) {
        out.push_str(&format!(
            "{}. `data`: `{}`. Policy: {}.\n\n",
            s.summary,
            s.response_shape(),
            s.policy
        ));
    }
    if ctx.actor.id != "owner" {
        out.push_str(&format!(
            "Run by actor `{}` (roles {:?}).\n\n",
            ctx.actor.id, ctx.actor.roles
        ));
    }
    out.push_str(&format!(
        "Request:\n\n```json\n{}\n```\n\nEnvelope (HTTP {}):\n\n```json\n{}\n```\n\n",
        pretty(request, root),
        env.status.http_status(),
        pretty(&env.to_value(), root)
    ));
    out
}

/// One example per registered operation, in the order they make sense.
fn steps<'a>(
    p: &dyn Fn(&str) -> String,
    owner: &'a CallContext,
    bob: &'a CallContext,
) -> Vec<Step<'a>> {
    vec![
        ("health.check", json!({}), owner),
        ("store.status", json!({}), owner),
        (
            "profile.validate",
            json!({"path": p("profile.toml")}),
            owner,
        ),
        ("profile.apply", json!({"path": p("profile.toml")}), owner),
        ("profile.show", json!({}), owner),
        (
            "graph.import",
            json!({"records": [
                {"record": "node", "id": "paris", "kind": "fact", "title": "Paris", "body": "Paris is the capital of France.", "labels": ["geo"], "created_at": "2026-01-01T00:00:00Z"},
                {"record": "node", "id": "france", "kind": "entity", "title": "France", "body": "France is a country in Europe.", "created_at": "2026-01-01T00:00:00Z"},
                {"record": "node", "id": "old-plan", "kind": "fact", "title": "Old plan", "body": "An obsolete travel plan.", "labels": ["obsolete"], "created_at": "2026-01-01T00:00:00Z"},
                {"record": "edge", "from": "paris", "to": "france", "type": "part_of"},
                {"record": "event", "event": "node.accessed", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": ["paris"], "payload": {}}
            ]}),
            owner,
        ),
        (
            "node.upsert",
            json!({"node": {"id": "louvre", "kind": "fact", "title": "Louvre", "body": "The Louvre is a museum in Paris."}}),
            owner,
        ),
        ("node.get", json!({"node": "paris"}), owner),
        (
            "edge.upsert",
            json!({"edge": {"from": "louvre", "to": "paris", "type": "relates_to", "weight": 0.9}}),
            owner,
        ),
        (
            "event.append",
            json!({"event": {"event": "observation", "at": AS_OF, "subjects": ["louvre"], "payload": {"text": "asked about museums"}}}),
            owner,
        ),
        ("event.query", json!({"limit": 2}), owner),
        (
            "activation.run",
            json!({"cue": {"text": "museum in Paris"}, "budget_tokens": 200, "limit": 3}),
            owner,
        ),
        (
            "package.compile",
            json!({"cue": {"text": "museum in Paris"}, "budget_tokens": 200, "out": p("pkg")}),
            owner,
        ),
        ("package.verify", json!({"path": p("pkg")}), owner),
        ("lifecycle.plan", json!({}), owner),
        ("lifecycle.apply", json!({"nodes": ["old-plan"]}), owner),
        ("review.list", json!({}), owner),
        (
            "review.decide",
            json!({"review": "REVIEW", "decision": "approve"}),
            bob,
        ),
        (
            "edge.delete",
            json!({"edge": {"from": "louvre", "to": "paris", "type": "relates_to"}}),
            owner,
        ),
        ("node.delete", json!({"node": "louvre"}), owner),
        ("graph.export", json!({}), owner),
        ("audit.query", json!({"operation": "review.decide"}), owner),
        ("audit.verify", json!({}), owner),
        ("audit.prune", json!({}), owner),
        ("store.export", json!({"path": p("dump.jsonl")}), owner),
        ("store.import", json!({"path": p("dump.jsonl")}), owner),
        ("store.migrate", json!({}), owner),
        ("store.repair", json!({}), owner),
        ("store.init", json!({}), owner),
        ("eval.run", json!({"dir": "fixtures/eval"}), owner),
    ]
}
