//! The service front ends of the real binary: `serve` on a loopback port with
//! `token add` and an HTTP client, `mcp` as a child process speaking JSON-RPC over
//! stdio, and parity: one activation request gives the same envelope through the
//! CLI, HTTP and MCP.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{Mcp, Served, add_token, http};
use crate::*;

pub(crate) const AS_OF: &str = "2026-03-01T00:00:00Z";

pub(crate) fn graph() -> String {
    [
        json!({"record": "node", "id": "paris", "kind": "fact", "title": "Paris", "body": "Paris is the capital of France.", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "france", "kind": "entity", "title": "France", "body": "France is a country in Europe.", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "louvre", "kind": "fact", "title": "Louvre", "body": "The Louvre is a museum in Paris.", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "vault", "kind": "fact", "title": "Vault", "body": "The vault code is SECRET-9931.", "sensitivity": "secret", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "edge", "from": "paris", "to": "france", "type": "part_of"}),
        json!({"record": "edge", "from": "louvre", "to": "paris", "type": "relates_to"}),
        json!({"record": "event", "event": "node.accessed", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": ["paris"], "payload": {}}),
    ]
    .iter()
    .map(|r| format!("{r}\n"))
    .collect()
}

/// A store with the built-in profile (reads not audited when `quiet_reads`)
/// and the test graph.
pub(crate) fn store(dir: &Path, quiet_reads: bool) -> std::path::PathBuf {
    let s = dir.join("store");
    let mut profile = phase_memory_profile::DEFAULT_PROFILE_TOML.to_string();
    if quiet_reads {
        profile = profile.replace("record_reads = true", "record_reads = false");
    }
    let p = write(dir, "profile.toml", &profile);
    let out = pm(&s, &["init", "--profile", &p]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g = write(dir, "graph.jsonl", &graph());
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "import", &g]);
    assert_eq!(code, 0, "{env}");
    s
}

#[test]
fn serve_with_tokens_answers_envelopes_and_shuts_down_on_sigterm() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), false);
    let tokens = dir.path().join("tokens.json");
    let owner = add_token(&s, &tokens, "owner", &["owner"], &["*"]);
    let member = add_token(&s, &tokens, "mallory", &["member"], &["default"]);
    let srv = Served::start(&s, &tokens);
    let (status, _) = http(&srv.addr, "GET", "/v1/contracts", None, "").expect("contracts");
    assert_eq!(status, 200);
    let (status, env) = srv.post("activation.run", None, &json!({"cue": {"text": "Paris"}}));
    assert_eq!(status, 401, "{env}");
    let (status, env) = srv.post(
        "activation.run",
        Some("pmt_wrong"),
        &json!({"cue": {"text": "Paris"}}),
    );
    assert_eq!(status, 401, "{env}");
    let (status, env) = srv.post(
        "activation.run",
        Some(&owner),
        &json!({"cue": {"text": "Paris museum"}, "as_of": AS_OF}),
    );
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["status"], "ok");
    assert!(
        env["data"]["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty()),
        "{env}"
    );
    let (status, env) = srv.post("audit.query", Some(&member), &json!({}));
    assert_eq!(status, 403, "{env}");
    assert_eq!(env["status"], "denied");
    // A token added while serving works without a restart.
    let late = add_token(&s, &tokens, "auditor", &["auditor"], &["*"]);
    let (status, env) = srv.post("audit.query", Some(&late), &json!({}));
    assert_eq!(status, 200, "{env}");
    srv.stop();
    // The store is free again: the CLI can open it.
    let (code, env) = pm_json(&s, &["status"]);
    assert_eq!(code, 0, "{env}");
}

#[test]
fn mcp_over_stdio_lists_tools_and_activates() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), false);
    let mut m = Mcp::start(&s);
    let list = m.request("tools/list", json!({}));
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for want in [
        "remember",
        "observe",
        "activate",
        "compile",
        "reviews",
        "run_operation",
    ] {
        assert!(names.contains(&want), "missing tool {want}: {names:?}");
    }
    let (is_error, env) = m.call(
        "activate",
        json!({"cue": {"text": "Paris museum"}, "as_of": AS_OF}),
    );
    assert!(!is_error, "{env}");
    assert_eq!(env["operation"], "activation.run");
    assert!(
        env["data"]["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["node"] == "louvre")),
        "{env}"
    );
    m.stop();
}

/// The parts of an envelope that must not depend on the transport.
fn comparable(env: &Value) -> Value {
    json!({
        "envelope": env["envelope"],
        "operation": env["operation"],
        "status": env["status"],
        "data": env["data"],
        "diagnostics": env["diagnostics"],
        "profile_digest": env["profile_digest"],
        "request_id": env["request_id"],
        "audit": env["audit"],
    })
}

#[test]
fn one_activation_gives_the_same_envelope_through_cli_http_and_mcp() {
    let dir = tempfile::tempdir().expect("tmp");
    // Reads are not audited, so the store does not change between the calls.
    let s = store(dir.path(), true);
    let request = json!({"cue": {"text": "Paris museum"}, "budget_tokens": 300, "limit": 5, "explain": true, "as_of": AS_OF});

    // CLI, request on stdin.
    let mut child = Command::new(bin())
        .arg("--store")
        .arg(&s)
        .args([
            "--json",
            "--as-of",
            AS_OF,
            "op",
            "activation.run",
            "--request",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn op");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("op");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).expect("cli envelope");

    // HTTP.
    let tokens = dir.path().join("tokens.json");
    let owner = add_token(&s, &tokens, "owner", &["owner"], &["*"]);
    let srv = Served::start(&s, &tokens);
    let (status, over_http) = srv.post("activation.run", Some(&owner), &request);
    assert_eq!(status, 200, "{over_http}");
    srv.stop();

    // MCP.
    let mut m = Mcp::start(&s);
    let (is_error, over_mcp) = m.call("activate", request.clone());
    assert!(!is_error, "{over_mcp}");
    m.stop();

    assert!(
        cli["data"]["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty()),
        "{cli}"
    );
    assert_eq!(
        comparable(&cli),
        comparable(&over_http),
        "CLI and HTTP differ"
    );
    assert_eq!(
        comparable(&cli),
        comparable(&over_mcp),
        "CLI and MCP differ"
    );
    // Byte-identical data, not only equal values.
    assert_eq!(
        phase_memory_model::canonical_json(&cli["data"]),
        phase_memory_model::canonical_json(&over_http["data"])
    );
}
