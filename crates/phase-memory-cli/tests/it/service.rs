//! The service front ends of the real binary: `serve` on a loopback port with
//! `token add` and an HTTP client, `mcp` as a child process speaking JSON-RPC over
//! stdio, and parity: one activation request gives the same envelope through the
//! CLI, HTTP and MCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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

/// `token add` for an actor; returns the token printed on stdout.
pub(crate) fn add_token(
    store: &Path,
    tokens: &Path,
    actor: &str,
    roles: &[&str],
    scopes: &[&str],
) -> String {
    let mut args = vec!["--actor".to_string(), actor.to_string()];
    for r in roles {
        args.extend(["--role".to_string(), r.to_string()]);
    }
    for s in scopes {
        args.extend(["--scope".to_string(), s.to_string()]);
    }
    args.extend([
        "token".into(),
        "add".into(),
        "--tokens".into(),
        tokens.display().to_string(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = pm(store, &refs);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!token.is_empty());
    let file = std::fs::read_to_string(tokens).expect("tokens file");
    assert!(
        !file.contains(&token),
        "the tokens file holds a token in clear"
    );
    token
}

/// A minimal HTTP/1.1 client over a TCP socket: (status, body).
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A running `phase-memory serve`, stopped with SIGTERM.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Served {
    pub(crate) fn start(store: &Path, tokens: &Path) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(bin())
            .arg("--store")
            .arg(store)
            .args(["serve", "--listen", &addr, "--tokens"])
            .arg(tokens)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn serve");
        let served = Served { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = http(&served.addr, "GET", "/v1/health", None, "") {
                return served;
            }
            assert!(Instant::now() < deadline, "serve did not become healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn post(&self, op: &str, token: Option<&str>, request: &Value) -> (u16, Value) {
        let (status, body) = http(
            &self.addr,
            "POST",
            &format!("/v1/ops/{op}"),
            token,
            &request.to_string(),
        )
        .expect("http");
        let env =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{op}: not JSON ({e}): {body}"));
        (status, env)
    }

    /// `127.0.0.1:PORT` the server listens on.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// SIGKILL (no shutdown of any kind), then reaps the process.
    pub(crate) fn kill_9(mut self) {
        self.child.kill().expect("kill -9 serve");
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        if !killed.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let status = self.child.wait().expect("wait serve");
        assert!(status.success(), "serve exited with {status}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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

/// A running `phase-memory mcp` child.
pub(crate) struct Mcp {
    pub(crate) child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    id: u64,
}

impl Mcp {
    pub(crate) fn start(store: &Path) -> Mcp {
        Mcp::start_with(store, &[])
    }

    /// [`Mcp::start`] with global flags before `mcp` (e.g. `--wait 0.5`).
    pub(crate) fn start_with(store: &Path, flags: &[&str]) -> Mcp {
        let mut child = Command::new(bin())
            .arg("--store")
            .arg(store)
            .args(flags)
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mcp");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut m = Mcp {
            child,
            stdin,
            stdout,
            id: 0,
        };
        let init = m.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "cli-test", "version": "0"}}),
        );
        assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
        m.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        m
    }

    fn send(&mut self, v: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{v}").expect("write");
        stdin.flush().expect("flush");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let id = self.id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("read");
            assert!(n > 0, "mcp closed stdout");
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout is not JSON-RPC ({e}): {line}"));
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    pub(crate) fn call(&mut self, tool: &str, arguments: Value) -> (bool, Value) {
        let r = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        assert!(
            r["result"]["content"][0]["text"].is_string(),
            "no human text in {r}"
        );
        let env = r["result"]["structuredContent"].clone();
        assert!(env.is_object(), "no structuredContent in {r}");
        (r["result"]["isError"].as_bool().unwrap_or(false), env)
    }

    /// Closes stdin and waits for a clean exit.
    pub(crate) fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "mcp exited with {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mcp did not exit when stdin closed"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
