//! Authorization over the real transports (docs/security.md): every registered
//! operation × {no token, member of another scope, member, reviewer, admin} over
//! HTTP (`phase-memory serve`) and over MCP (`phase-memory mcp`, every tool that
//! `tools/list` returns), asserting the status the operation's class gives and
//! that no forbidden string — ids, titles and bodies of nodes the actor may not
//! see, the content of a planted server file — appears in any response. Then the
//! attacks of the security review, one by one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use phase_memory_profile::OperationClass;
use phase_memory_runtime::registry::OPERATIONS;
use serde_json::{Value, json};

use crate::*;

const SECRET_ID: &str = "vault-7731";
const SECRET_TITLE: &str = "VaultTitle7731";
const SECRET_BODY: &str = "VAULTBODY7731";
const HR_ID: &str = "hr-salary-5521";
const HR_TITLE: &str = "HrTitle5521";
const HR_BODY: &str = "HRBODY5521";
const PLANTED: &str = "PLANTED-7c1f-SERVER-FILE";

/// What a non-admin must never see.
const HIDDEN: &[&str] = &[
    SECRET_ID,
    SECRET_TITLE,
    SECRET_BODY,
    HR_ID,
    HR_TITLE,
    HR_BODY,
];

fn graph() -> String {
    [
        json!({"record": "node", "id": "bread", "kind": "fact", "title": "Bread", "body": "Bread is baked daily at the bakery.", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": SECRET_ID, "kind": "fact", "title": SECRET_TITLE, "body": format!("{SECRET_BODY} bakery vault combination"), "sensitivity": "secret", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": HR_ID, "kind": "fact", "title": HR_TITLE, "body": format!("{HR_BODY} bakery salaries"), "scope": "hr", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "edge", "from": "bread", "to": SECRET_ID, "type": "relates_to"}),
        json!({"record": "edge", "from": "bread", "to": HR_ID, "type": "relates_to"}),
        json!({"record": "event", "event": "observation", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": [SECRET_ID], "payload": {}}),
        json!({"record": "event", "event": "observation", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": [HR_ID], "payload": {}}),
    ]
    .iter()
    .map(|r| format!("{r}\n"))
    .collect()
}

/// A store with the built-in profile and the test graph; the planted file beside
/// it (outside any data folder).
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    tokens: PathBuf,
    planted: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().to_path_buf();
    let store = root.join("store");
    let out = pm(&store, &["init"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let g = write(&root, "graph.jsonl", &graph());
    let (code, env) = pm_json(&store, &["--as-of", "2026-03-01T00:00:00Z", "import", &g]);
    assert_eq!(code, 0, "{env}");
    let planted = write(&root, "planted.txt", &format!("{PLANTED}\nsecond line\n"));
    Fixture {
        tokens: root.join("tokens.json"),
        _dir: dir,
        root,
        store,
        planted,
    }
}

/// The kinds of actor of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    NoToken,
    OtherScope,
    Member,
    Reviewer,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::NoToken,
    Who::OtherScope,
    Who::Member,
    Who::Reviewer,
    Who::Admin,
];

impl Who {
    /// (actor id, roles, scopes); `NoToken` over MCP is an actor with no role.
    fn actor(
        self,
    ) -> (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ) {
        match self {
            Who::NoToken => ("nobody", &["guest"], &["default"]),
            Who::OtherScope => ("olga", &["member"], &["other"]),
            Who::Member => ("mallory", &["member"], &["default"]),
            Who::Reviewer => ("rita", &["reviewer"], &["default"]),
            Who::Admin => ("ada", &["admin"], &["*"]),
        }
    }

    fn classes(self) -> &'static [OperationClass] {
        use OperationClass::*;
        match self {
            Who::NoToken => &[Public],
            Who::OtherScope | Who::Member => &[Public, Read, Write],
            Who::Reviewer => &[Public, Read, Govern],
            Who::Admin => &[Public, Read, Write, Govern, Audit, Admin],
        }
    }

    /// Strings this actor must never receive.
    fn forbidden(self) -> Vec<&'static str> {
        let mut f = vec![PLANTED];
        if self != Who::Admin {
            f.extend_from_slice(HIDDEN);
        }
        f
    }
}

/// A request for each operation that tries what an attacker would: hidden ids,
/// server paths (the planted file, `/`), writes at a chosen time.
fn sample(op: &str, planted: &str) -> Value {
    match op {
        "activation.run" => {
            json!({"cue": {"text": "bakery vault salaries", "nodes": [SECRET_ID, HR_ID], "hints": [{"node": SECRET_ID, "score": 1.0}]}, "explain": true})
        }
        "audit.prune" => json!({}),
        "audit.query" => json!({}),
        "audit.verify" => json!({}),
        "edge.delete" => json!({"edge": {"from": "bread", "to": SECRET_ID, "type": "relates_to"}}),
        "edge.upsert" => json!({"edge": {"from": HR_ID, "to": "bread", "type": "mentions"}}),
        "eval.run" => json!({"dir": "/etc"}),
        "event.append" => json!({"event": {"event": "observation", "subjects": [SECRET_ID]}}),
        "event.query" => json!({}),
        "graph.export" => json!({}),
        "graph.import" => json!({"path": planted}),
        "health.check" => json!({}),
        "lifecycle.apply" => json!({"nodes": [SECRET_ID, HR_ID]}),
        "lifecycle.plan" => json!({}),
        "node.delete" => json!({"node": HR_ID}),
        "node.get" => json!({"node": SECRET_ID}),
        "node.upsert" => json!({"node": {"id": HR_ID, "kind": "fact", "title": "overwritten"}}),
        "package.compile" => {
            json!({"cue": {"text": "bakery vault salaries", "nodes": [SECRET_ID]}, "out": "/tmp/phase-memory-authz-evil"})
        }
        "package.verify" => json!({"path": "/"}),
        "profile.apply" => json!({"path": planted}),
        "profile.show" => json!({}),
        "profile.validate" => json!({"path": planted}),
        "review.decide" => json!({"review": "rev-000000000000", "decision": "approve"}),
        "review.list" => json!({}),
        "store.export" => json!({}),
        "store.import" => json!({"path": planted}),
        "store.init" => json!({}),
        "store.migrate" => json!({}),
        "store.repair" => json!({}),
        "store.status" => json!({}),
        other => {
            panic!("operation {other} has no sample request in the authorization matrix: add one")
        }
    }
}

/// The status an actor holding the class gets for the sample (None: any status
/// but a class refusal).
fn granted_status(who: Who, op: &str) -> Option<&'static str> {
    match op {
        // The admin's scope is `*`: the hidden nodes of the sample are visible to it.
        "node.get" | "node.delete" | "edge.delete" if who == Who::Admin => None,
        // Server paths without --data-dir.
        "graph.import" | "profile.apply" | "profile.validate" | "store.import"
        | "package.compile" | "package.verify" | "eval.run" => Some("denied"),
        // Hidden is missing.
        "node.get" | "node.delete" => Some("not_found"),
        "edge.delete" => Some("not_found"),
        _ => None,
    }
}

fn assert_clean(who: Who, what: &str, text: &str) {
    assert_clean_for(who, what, text, &Value::Null);
}

/// As [`assert_clean`], except for strings the request itself holds: an id the
/// actor named may be echoed (as a missing id is), never anything more.
fn assert_clean_for(who: Who, what: &str, text: &str, request: &Value) {
    let asked = request.to_string();
    for f in who.forbidden().into_iter().filter(|f| !asked.contains(f)) {
        assert!(
            !text.contains(f),
            "{who:?} {what}: {f:?} leaked into the response: {text}"
        );
    }
}

/// A minimal HTTP/1.1 client with extra headers: (status, headers, body bytes).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    let has_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if !has_type {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let rest = raw.get(split + 4..).unwrap_or(&[]).to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&rest)
    } else {
        rest
    };
    Ok((status, head, body))
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = s.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&s[..pos]).trim(), 16).unwrap_or(0);
        let rest = &s[pos + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest.get(n + 2..).unwrap_or(&[]);
    }
    out
}

/// A running `phase-memory serve`, killed on drop.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    fn start(f: &Fixture, data_dir: Option<&Path>) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(bin());
        cmd.arg("--store")
            .arg(&f.store)
            .args(["serve", "--listen", &addr, "--tokens"])
            .arg(&f.tokens);
        if let Some(d) = data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let served = Served { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _, _)) = http(&served.addr, "GET", "/v1/health", &[], b"") {
                return served;
            }
            assert!(Instant::now() < deadline, "serve did not become healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn post(&self, op: &str, token: Option<&str>, request: &Value) -> (u16, Value, String) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        let (status, _, body) = http(
            &self.addr,
            "POST",
            &format!("/v1/ops/{op}"),
            &headers,
            request.to_string().as_bytes(),
        )
        .expect("http");
        let text = String::from_utf8_lossy(&body).into_owned();
        let env =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{op}: not JSON ({e}): {text}"));
        (status, env, text)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add_token(f: &Fixture, who: Who) -> String {
    let (id, roles, scopes) = who.actor();
    let mut args = vec!["--actor".to_string(), id.to_string()];
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
        f.tokens.display().to_string(),
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = pm(&f.store, &refs);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn http_status_of(status: &str) -> u16 {
    match status {
        "ok" => 200,
        "denied" => 403,
        "review_required" => 202,
        "invalid" => 400,
        "not_found" => 404,
        "conflict" => 409,
        _ => 500,
    }
}

fn has_code(env: &Value, code: &str) -> bool {
    env["diagnostics"]
        .as_array()
        .is_some_and(|d| d.iter().any(|x| x["code"] == code))
}

/// Checks one answer of the matrix against the operation's class.
fn judge(who: Who, op: &str, req: &Value, env: &Value, text: &str, transport: &str) {
    let spec = phase_memory_runtime::registry::find(op).expect("registered");
    let what = format!("{transport} {op}");
    assert_clean_for(who, &what, text, req);
    let status = env["status"].as_str().unwrap_or("");
    if !who.classes().contains(&spec.class) {
        assert_eq!(status, "denied", "{who:?} {what}: {env}");
        assert!(has_code(env, "auth.forbidden"), "{who:?} {what}: {env}");
        return;
    }
    assert!(
        !has_code(env, "auth.forbidden") || op == "review.decide",
        "{who:?} {what}: the class is granted: {env}"
    );
    assert_ne!(status, "error", "{who:?} {what}: {env}");
    if let Some(want) = granted_status(who, op) {
        assert_eq!(status, want, "{who:?} {what}: {env}");
    }
}

#[test]
fn every_operation_for_every_actor_over_http() {
    let f = fixture();
    let tokens: Vec<(Who, Option<String>)> = EVERYONE
        .iter()
        .map(|w| (*w, (*w != Who::NoToken).then(|| add_token(&f, *w))))
        .collect();
    let served = Served::start(&f, None);
    let mut checked = 0;
    for spec in OPERATIONS {
        let req = sample(spec.name, &f.planted);
        for (who, token) in &tokens {
            let (status, env, text) = served.post(spec.name, token.as_deref(), &req);
            assert_clean_for(*who, spec.name, &text, &req);
            if token.is_none() {
                assert_eq!(status, 401, "{}: {env}", spec.name);
                assert!(has_code(&env, "auth.unauthenticated"), "{env}");
                continue;
            }
            judge(*who, spec.name, &req, &env, &text, "http");
            assert_eq!(
                status,
                http_status_of(env["status"].as_str().unwrap_or("")),
                "{who:?} {}: {env}",
                spec.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, OPERATIONS.len() * 4);
    assert!(
        !Path::new("/tmp/phase-memory-authz-evil").exists(),
        "package.compile wrote outside the service"
    );
}

/// A running `phase-memory mcp` child.
struct Mcp {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    id: u64,
}

impl Mcp {
    fn start(store: &Path, who: Who, data_dir: Option<&Path>) -> Mcp {
        let (id, roles, scopes) = who.actor();
        let mut cmd = Command::new(bin());
        cmd.arg("--store").arg(store).args(["--actor", id]);
        for r in roles {
            cmd.args(["--role", r]);
        }
        for s in scopes {
            cmd.args(["--scope", s]);
        }
        cmd.arg("mcp");
        if let Some(d) = data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "authz-test", "version": "0"}}),
        );
        assert!(init["result"].is_object(), "{init}");
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
        for _ in 0..10_000 {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("read");
            assert!(n > 0, "mcp closed stdout");
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout is not JSON-RPC ({e}): {line}"));
            if v["id"] == json!(id) {
                return v;
            }
        }
        panic!("no answer to {method}");
    }

    /// Calls a tool; returns the raw JSON-RPC answer as text and the envelope
    /// when the tool answered with one.
    fn call(&mut self, tool: &str, arguments: Value) -> (String, Option<Value>) {
        let r = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let raw = r.to_string();
        // The envelope is the tool's structured content (the text is a summary).
        let env = match &r["result"]["structuredContent"] {
            Value::Object(_) => Some(r["result"]["structuredContent"].clone()),
            _ => None,
        };
        (raw, env)
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operation a tool stands for, read from its description
/// ("… (operation node.upsert)"), if it names exactly one registered operation.
fn tool_operation(tool: &Value) -> Option<&'static str> {
    let d = tool["description"].as_str().unwrap_or("");
    let named: Vec<&'static str> = OPERATIONS
        .iter()
        .map(|o| o.name)
        .filter(|n| d.contains(&format!("operation {n}")))
        .collect();
    (named.len() == 1).then(|| named[0])
}

#[test]
fn every_tool_and_operation_for_every_actor_over_mcp() {
    let f = fixture();
    let mut calls = 0;
    for who in EVERYONE {
        let mut m = Mcp::start(&f.store, who, None);
        let list = m.request("tools/list", json!({}));
        let tools = list["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!tools.is_empty(), "{list}");
        for tool in &tools {
            let name = tool["name"].as_str().expect("tool name");
            if name == "run_operation" {
                for spec in OPERATIONS {
                    let req = sample(spec.name, &f.planted);
                    let (raw, env) = m.call(
                        name,
                        json!({"operation": spec.name, "request": req.clone()}),
                    );
                    let env =
                        env.unwrap_or_else(|| panic!("{who:?} {}: no envelope: {raw}", spec.name));
                    judge(who, spec.name, &req, &env, &raw, "mcp run_operation");
                    calls += 1;
                }
                continue;
            }
            let (args, op) = match tool_operation(tool) {
                Some(op) => (sample(op, &f.planted), Some(op)),
                None => (json!({}), None),
            };
            let (raw, env) = m.call(name, args.clone());
            assert_clean_for(who, name, &raw, &args);
            if let (Some(op), Some(env)) = (op, env) {
                judge(who, op, &args, &env, &raw, &format!("mcp tool {name}"));
            }
            calls += 1;
        }
    }
    assert!(calls >= EVERYONE.len() * OPERATIONS.len(), "{calls}");
    assert!(!Path::new("/tmp/phase-memory-authz-evil").exists());
}

/// Hidden and missing look the same: status, code and message.
fn same_answer(a: &Value, b: &Value, what: &str) {
    assert_eq!(a["status"], b["status"], "{what}: {a} vs {b}");
    let d = |e: &Value| {
        e["diagnostics"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .map(|x| (x["code"].clone(), x["severity"].clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(d(a), d(b), "{what}: {a} vs {b}");
    assert_eq!(a["data"], b["data"], "{what}: {a} vs {b}");
}

#[test]
fn the_attacks_of_the_security_review_fail_over_http() {
    let f = fixture();
    let member = add_token(&f, Who::Member);
    let reviewer = add_token(&f, Who::Reviewer);
    let admin = add_token(&f, Who::Admin);
    let served = Served::start(&f, None);
    let m = Some(member.as_str());

    // Exports show the member only what it may see; store.export is admin-only.
    let (status, env, text) = served.post("graph.export", m, &json!({}));
    assert_eq!(status, 200, "{env}");
    assert!(text.contains("bread"), "{text}");
    assert_clean(Who::Member, "graph.export", &text);
    let (status, env, _) = served.post("store.export", m, &json!({}));
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "auth.forbidden"));

    // profile.apply is admin-only.
    let permissive = phase_memory_profile::DEFAULT_PROFILE_TOML.replace(
        "roles_none = [\"owner\"]\nreason = \"secret memories",
        "roles_none = [\"owner\", \"member\"]\nreason = \"secret memories",
    );
    let (status, env, _) = served.post("profile.apply", m, &json!({"source": permissive}));
    assert_eq!(status, 403, "{env}");
    let (status, _, text) = served.post("node.get", m, &json!({"node": SECRET_ID}));
    assert_eq!(status, 404);
    assert_clean_for(Who::Member, "node.get", &text, &json!({"node": SECRET_ID}));

    // No server path without --data-dir: no write, no read, no existence oracle.
    let target = f.root.join("written-by-client.jsonl");
    for (op, req) in [
        (
            "graph.export",
            json!({"path": target.display().to_string()}),
        ),
        (
            "package.compile",
            json!({"cue": {"text": "bread"}, "out": target.display().to_string()}),
        ),
        ("profile.validate", json!({"path": "/etc/shadow"})),
        ("profile.validate", json!({"path": f.planted})),
        ("graph.import", json!({"path": f.planted})),
        ("graph.import", json!({"path": "/does/not/exist"})),
        ("package.verify", json!({"path": "/root"})),
    ] {
        let started = Instant::now();
        let (status, env, text) = served.post(op, m, &req);
        assert_eq!(status, 403, "{op}: {env}");
        assert!(has_code(&env, "files.denied"), "{op}: {env}");
        assert_clean_for(Who::Member, op, &text, &req);
        assert!(started.elapsed() < Duration::from_secs(5), "{op} was slow");
    }
    let (_, a, _) = served.post("graph.import", m, &json!({"path": f.planted}));
    let (_, b, _) = served.post("graph.import", m, &json!({"path": "/does/not/exist"}));
    same_answer(&a, &b, "an existing and a missing server file");
    assert!(!target.exists(), "a client wrote a server file");

    // Time: no as_of on writes; reads keep it; audit times never go backwards.
    for at in ["2099-01-01T00:00:00Z", "2001-01-01T00:00:00Z"] {
        let (status, env, _) = served.post(
            "node.upsert",
            m,
            &json!({"node": {"id": format!("dated-{}", &at[..4]), "kind": "fact", "created_at": at}, "as_of": at}),
        );
        assert_eq!(status, 400, "{env}");
        assert!(has_code(&env, "request.as_of_write"), "{env}");
    }
    let (status, env, _) = served.post(
        "node.upsert",
        m,
        &json!({"node": {"id": "dated", "kind": "fact", "created_at": "2001-01-01T00:00:00Z"}}),
    );
    assert_eq!(status, 200, "{env}");
    assert_ne!(
        env["data"]["node"]["created_at"], "2001-01-01T00:00:00Z",
        "{env}"
    );
    let (status, env, _) = served.post(
        "activation.run",
        m,
        &json!({"cue": {"text": "bread"}, "as_of": "2026-03-02T00:00:00Z"}),
    );
    assert_eq!(status, 200, "{env}");
    let (status, env, _) = served.post(
        "lifecycle.apply",
        Some(&admin),
        &json!({"as_of": "2099-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 400, "{env}");
    let (status, env, _) = served.post("audit.verify", Some(&admin), &json!({}));
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");

    // Reviews: a member cannot decide; repair and eval are admin-only.
    let (status, env, _) = served.post(
        "review.decide",
        m,
        &json!({"review": "rev-000000000000", "decision": "approve"}),
    );
    assert_eq!(status, 403, "{env}");
    for (op, req) in [
        ("store.repair", json!({"apply": true})),
        ("eval.run", json!({"dir": "/root"})),
    ] {
        let (status, env, _) = served.post(op, m, &req);
        assert_eq!(status, 403, "{op}: {env}");
        assert!(has_code(&env, "auth.forbidden"), "{env}");
    }
    let (status, env, _) = served.post("eval.run", Some(&admin), &json!({"dir": "/root"}));
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "files.denied"), "{env}");

    // Hidden and missing are indistinguishable, explicit seeds included.
    for (op, hidden, missing) in [
        (
            "node.get",
            json!({"node": SECRET_ID}),
            json!({"node": "no-such-node"}),
        ),
        (
            "node.get",
            json!({"node": HR_ID}),
            json!({"node": "no-such-node"}),
        ),
        (
            "node.delete",
            json!({"node": SECRET_ID}),
            json!({"node": "no-such-node"}),
        ),
        (
            "edge.upsert",
            json!({"edge": {"from": "bread", "to": SECRET_ID, "type": "mentions"}}),
            json!({"edge": {"from": "bread", "to": "no-such-node", "type": "mentions"}}),
        ),
        (
            "event.append",
            json!({"event": {"event": "observation", "subjects": [HR_ID]}}),
            json!({"event": {"event": "observation", "subjects": ["no-such-node"]}}),
        ),
        (
            "event.query",
            json!({"subject": SECRET_ID}),
            json!({"subject": "no-such-node"}),
        ),
        (
            "activation.run",
            json!({"cue": {"nodes": [SECRET_ID]}}),
            json!({"cue": {"nodes": ["no-such-node"]}}),
        ),
        (
            "activation.run",
            json!({"cue": {"nodes": [HR_ID]}}),
            json!({"cue": {"nodes": ["no-such-node"]}}),
        ),
    ] {
        let (sa, a, ta) = served.post(op, m, &hidden);
        let (sb, b, _) = served.post(op, m, &missing);
        assert_eq!(sa, sb, "{op}: {a} vs {b}");
        same_answer(&a, &b, op);
        assert_clean_for(Who::Member, op, &ta, &hidden);
        let msg = |e: &Value| {
            e["diagnostics"][0]["message"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(
            msg(&a).replace(SECRET_ID, "X").replace(HR_ID, "X"),
            msg(&b).replace("no-such-node", "X"),
            "{op}"
        );
    }

    // The reviewer reads but does not write; the admin may export the whole store.
    let (status, env, _) = served.post(
        "node.upsert",
        Some(&reviewer),
        &json!({"node": {"id": "by-reviewer", "kind": "fact"}}),
    );
    assert_eq!(status, 403, "{env}");
    let (status, env, text) = served.post("store.export", Some(&admin), &json!({}));
    assert_eq!(status, 200, "{env}");
    assert!(text.contains(SECRET_BODY), "admin exports the whole store");
}

#[test]
fn profile_apply_can_need_a_second_admin_and_reviews_need_a_reviewer() {
    let f = fixture();
    // A profile with the two-person rule on profile.apply.
    let gated = format!(
        "{}\n[[policy.rules]]\nid = \"profile-two-person\"\neffect = \"review\"\noperations = [\"profile.apply\"]\nreason = \"policy changes need a second person\"\n",
        phase_memory_profile::DEFAULT_PROFILE_TOML
    );
    let p = write(&f.root, "gated.toml", &gated);
    let (code, env) = pm_json(&f.store, &["profile", "apply", &p]);
    assert_eq!(code, 0, "{env}");
    let admin = add_token(&f, Who::Admin);
    let member = add_token(&f, Who::Member);
    let reviewer = add_token(&f, Who::Reviewer);
    let served = Served::start(&f, None);
    let changed = gated.replace("record_reads = true", "record_reads = false");
    let (status, env, _) = served.post("profile.apply", Some(&admin), &json!({"source": changed}));
    assert_eq!(status, 202, "{env}");
    let review = env["data"]["review"]
        .as_str()
        .expect("review id")
        .to_string();
    // The requester cannot approve; a member has no reviewer role.
    let (status, env, _) = served.post(
        "review.decide",
        Some(&admin),
        &json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "review.self_approval"), "{env}");
    let (status, env, _) = served.post(
        "review.decide",
        Some(&member),
        &json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "auth.forbidden"), "{env}");
    let (status, env, _) = served.post(
        "review.decide",
        Some(&reviewer),
        &json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 200, "{env}");
    let (_, shown, _) = served.post("profile.show", Some(&reviewer), &json!({}));
    assert_eq!(
        shown["data"]["profile"]["audit"]["record_reads"], false,
        "{shown}"
    );
}

#[test]
fn a_data_dir_confines_paths_and_inline_transfers_work() {
    let f = fixture();
    let data = f.root.join("data");
    std::fs::create_dir_all(data.join("in")).expect("data dir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&f.planted, data.join("link.toml")).expect("symlink");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&f.root, data.join("out-link")).expect("symlink");
    std::fs::write(data.join("in/graph.jsonl"), json!({"record": "node", "id": "from-file", "kind": "fact", "title": "From the data folder"}).to_string()).expect("write");
    // A big tree that is not a package.
    let tree = data.join("tree");
    for i in 0..120 {
        let d = tree.join(format!("d{i}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        for j in 0..100 {
            std::fs::write(d.join(format!("f{j}")), "x").expect("write");
        }
    }
    let member = add_token(&f, Who::Member);
    let m = Some(member.as_str());
    let served = Served::start(&f, Some(&data));

    let (status, env, _) = served.post("graph.import", m, &json!({"path": "in/graph.jsonl"}));
    assert_eq!(status, 200, "{env}");
    let (status, env, _) = served.post("graph.export", m, &json!({"path": "export.jsonl"}));
    assert_eq!(status, 200, "{env}");
    let written = std::fs::read_to_string(data.join("export.jsonl")).expect("export written");
    assert!(written.contains("from-file"));
    assert_clean(Who::Member, "exported file", &written);
    for bad in [
        "../planted.txt",
        "in/../../planted.txt",
        "link.toml",
        "out-link/planted.txt",
        "/etc/passwd",
    ] {
        let (status, env, text) = served.post("profile.validate", m, &json!({"path": bad}));
        assert_eq!(status, 403, "{bad}: {env}");
        assert!(has_code(&env, "files.denied"), "{bad}: {env}");
        assert_clean(Who::Member, bad, &text);
        // `link.toml.out` is a new plain file inside the folder (only `link.toml`
        // itself is a symlink out), so only the other paths must be refused.
        if bad != "link.toml" {
            let (status, env, _) =
                served.post("graph.export", m, &json!({"path": format!("{bad}.out")}));
            assert_eq!(status, 403, "{bad}: {env}");
        }
    }
    assert!(!f.root.join("planted.txt.out").exists());
    // A profile parse error quotes nothing from the file.
    std::fs::write(
        data.join("not-a-profile.toml"),
        format!("{PLANTED}:x:19000::\n"),
    )
    .expect("write");
    let (status, env, text) = served.post(
        "profile.validate",
        m,
        &json!({"path": "not-a-profile.toml"}),
    );
    assert_eq!(status, 400, "{env}");
    assert!(!text.contains(PLANTED), "{text}");
    // A huge tree is refused quickly, not walked.
    let started = Instant::now();
    let (status, env, _) = served.post("package.verify", m, &json!({"path": "tree"}));
    assert_eq!(status, 400, "{env}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // NDJSON import body, inline export, tar stream for a package.
    let ndjson = format!(
        "{}\n{}\n",
        json!({"record": "node", "id": "streamed-1", "kind": "fact", "title": "Streamed one"}),
        json!({"record": "node", "id": "streamed-2", "kind": "fact", "title": "Streamed two"})
    );
    let auth = format!("Bearer {member}");
    let (status, _, body) = http(
        &served.addr,
        "POST",
        "/v1/ops/graph.import",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-ndjson"),
        ],
        ndjson.as_bytes(),
    )
    .expect("http");
    let env: Value = serde_json::from_slice(&body).expect("envelope");
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["nodes"], 2, "{env}");
    let (status, env, _) = served.post("graph.export", m, &json!({}));
    assert_eq!(status, 200);
    assert!(
        env["data"]["jsonl"]
            .as_str()
            .unwrap_or("")
            .contains("streamed-2")
    );
    let (status, head, body) = http(
        &served.addr,
        "POST",
        "/v1/ops/package.compile",
        &[("Authorization", &auth), ("Accept", "application/x-tar")],
        json!({"cue": {"text": "streamed bread"}})
            .to_string()
            .as_bytes(),
    )
    .expect("http");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("application/x-tar"),
        "{head}"
    );
    let tar_file = f.root.join("pkg.tar");
    std::fs::write(&tar_file, &body).expect("write tar");
    let (code, env) = pm_json(
        &f.store,
        &["package", "verify", &tar_file.display().to_string()],
    );
    assert_eq!(code, 0, "{env}");
    let text = String::from_utf8_lossy(&body);
    assert_clean(Who::Member, "tar", &text);
}
