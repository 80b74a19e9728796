//! The runner end to end: every operation through `Runtime::run`, on the memory,
//! file and sqlite adapters.

mod authz;
mod bulk;
mod flows;
mod incremental;
mod lagging;
mod layering;
mod lazy;
mod pending_index;
mod persisted;
mod props;
mod registry;
mod seed_policy;
mod semantic;

use std::sync::Arc;

use phase_memory_model::{Actor, Envelope, Status, Time};
use phase_memory_runtime::{
    Adapter, CallContext, Clock, Runtime, SharedSnapshot, init_store, memory_runtime, open_runtime,
};
use serde_json::{Value, json};

/// A fixed instant for every test.
pub fn t(s: &str) -> Time {
    s.parse().expect("time")
}

pub const T0: &str = "2026-03-01T00:00:00Z";

/// An in-memory runtime with the built-in profile at T0.
pub fn mem() -> Runtime {
    // The built-in profile's activation uses the semantic index's model.
    phase_memory_embed::testing::ensure_model();
    memory_runtime(
        phase_memory_profile::DEFAULT_PROFILE_TOML,
        Clock::Fixed(t(T0)),
    )
    .expect("runtime")
}

/// A runtime over a fresh store of an adapter in a temp dir.
pub fn on_disk(adapter: Adapter, profile: Option<&str>) -> (tempfile::TempDir, Runtime) {
    phase_memory_embed::testing::ensure_model();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let env = init_store(&store, adapter, profile.map(|p| ("test.toml", p)), t(T0));
    assert_eq!(env.status, Status::Ok, "{}", env.to_json());
    let rt = open_runtime(&store, Clock::Fixed(t(T0))).expect("open");
    (dir, rt)
}

/// `n` runtimes over the store at `path` sharing one snapshot (a server's pool).
pub fn pool(path: &std::path::Path, shared: &Arc<SharedSnapshot>, n: usize) -> Vec<Runtime> {
    (0..n)
        .map(|_| {
            let mut rt = open_runtime(path, Clock::Fixed(t(T0))).expect("open");
            rt.share_snapshot(shared.clone());
            rt
        })
        .collect()
}

pub fn owner() -> CallContext {
    CallContext::owner()
}

pub fn actor(id: &str, roles: &[&str], scopes: &[&str]) -> CallContext {
    CallContext::new(Actor {
        id: id.into(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    })
}

/// Runs an operation and checks its status, returning the envelope.
pub fn check(rt: &mut Runtime, ctx: &CallContext, op: &str, req: Value, want: Status) -> Envelope {
    let env = rt.run(op, req, ctx);
    assert_eq!(env.status, want, "{op}: {}", env.to_json());
    env
}

/// The graph export text (what "the store is unchanged" compares).
pub fn export(rt: &mut Runtime) -> String {
    let env = check(rt, &owner(), "graph.export", json!({}), Status::Ok);
    env.data["jsonl"].as_str().expect("jsonl").to_string()
}

/// A small graph as interchange records.
pub fn small_graph() -> Vec<Value> {
    vec![
        json!({"record":"node","id":"paris","kind":"fact","title":"Paris","body":"Paris is the capital of France.","labels":["geo"],"created_at":"2026-01-01T00:00:00Z"}),
        json!({"record":"node","id":"france","kind":"entity","title":"France","body":"France is a country in Europe.","created_at":"2026-01-01T00:00:00Z"}),
        json!({"record":"node","id":"louvre","kind":"fact","title":"The Louvre","body":"The Louvre is a museum in Paris.","created_at":"2026-01-02T00:00:00Z"}),
        json!({"record":"node","id":"secret-plan","kind":"decision","title":"Acquisition plan","body":"We will acquire the bakery on rue Cler.","sensitivity":"secret","created_at":"2026-01-03T00:00:00Z"}),
        json!({"record":"node","id":"team-b/note","kind":"note","title":"Team B note","body":"Paris offsite logistics for team B.","scope":"team-b","created_at":"2026-01-04T00:00:00Z"}),
        json!({"record":"edge","from":"paris","to":"france","type":"part_of"}),
        json!({"record":"edge","from":"louvre","to":"paris","type":"relates_to"}),
        json!({"record":"edge","from":"secret-plan","to":"paris","type":"mentions"}),
        json!({"record":"event","event":"node.accessed","at":"2026-02-01T09:00:00Z","subjects":["paris"]}),
        json!({"record":"event","event":"observation","at":"2026-02-20T09:00:00Z","subjects":["louvre"],"payload":{"text":"visited the museum"}}),
    ]
}

pub fn import_small(rt: &mut Runtime) {
    check(
        rt,
        &owner(),
        "graph.import",
        json!({"records": small_graph()}),
        Status::Ok,
    );
}
