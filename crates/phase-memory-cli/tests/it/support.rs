//! What the service tests share: a minimal HTTP/1.1 client, a running `serve`
//! (spawned on a free loopback port, awaited until `/v1/health` answers 200, killed
//! when dropped) and a running `mcp` child speaking JSON-RPC over stdio.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bin;

/// An HTTP answer: status, head (status line and headers) and body bytes.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request over a fresh connection, with extra headers (a JSON content type
/// unless one is given). An error when the server is gone or answers no head.
pub(crate) fn http_raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
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
        .ok_or_else(|| std::io::Error::other("no HTTP head"))?;
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
    Ok(Reply { status, head, body })
}

/// [`http_raw`] with an optional bearer token and a text body: (status, body).
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let r = http_raw(addr, method, path, &headers, body.as_bytes())?;
    Ok((r.status, r.text()))
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

/// `127.0.0.1:PORT` with a port free at the time of asking.
pub(crate) fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    format!("127.0.0.1:{port}")
}

/// Polls `/v1/health` until it answers 200; fails after 60 s.
pub(crate) fn wait_healthy(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(http(addr, "GET", "/v1/health", None, ""), Ok((200, _))) {
        assert!(Instant::now() < deadline, "serve did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `phase-memory serve`, killed when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Served {
    /// `serve --listen <free port> --tokens <tokens>` on `store`, stderr inherited.
    pub(crate) fn start(store: &Path, tokens: &Path) -> Served {
        Served::start_with(store, tokens, |_| {})
    }

    /// [`Served::start`], with `configure` adding flags after `--tokens` or
    /// redirecting stdio before the spawn.
    pub(crate) fn start_with(
        store: &Path,
        tokens: &Path,
        configure: impl FnOnce(&mut Command),
    ) -> Served {
        let addr = free_addr();
        let mut cmd = Command::new(bin());
        cmd.arg("--store")
            .arg(store)
            .args(["serve", "--listen", &addr, "--tokens"])
            .arg(tokens)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        configure(&mut cmd);
        let child = cmd.spawn().expect("spawn serve");
        let served = Served { child, addr };
        wait_healthy(&served.addr);
        served
    }

    /// `POST /v1/ops/<op>`: (status, envelope).
    pub(crate) fn post(&self, op: &str, token: Option<&str>, request: &Value) -> (u16, Value) {
        let (status, env, _) = self.post_text(op, token, request);
        (status, env)
    }

    /// [`Served::post`] with the body as text too.
    pub(crate) fn post_text(
        &self,
        op: &str,
        token: Option<&str>,
        request: &Value,
    ) -> (u16, Value, String) {
        let (status, text) = http(
            &self.addr,
            "POST",
            &format!("/v1/ops/{op}"),
            token,
            &request.to_string(),
        )
        .expect("http");
        let env =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{op}: not JSON ({e}): {text}"));
        (status, env, text)
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

/// A running `phase-memory mcp` child, initialised; killed when dropped.
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
        Mcp::launch(store, |cmd| {
            cmd.args(flags).arg("mcp");
        })
    }

    /// `phase-memory --store <store> …` where `args` adds the rest of the command
    /// line (global flags, `mcp`, its flags) or redirects stderr.
    pub(crate) fn launch(store: &Path, args: impl FnOnce(&mut Command)) -> Mcp {
        let mut cmd = Command::new(bin());
        cmd.arg("--store")
            .arg(store)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        args(&mut cmd);
        let mut child = cmd.spawn().expect("spawn mcp");
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

    pub(crate) fn send(&mut self, v: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{v}").expect("write");
        stdin.flush().expect("flush");
    }

    /// Sends a request; returns the answer with its id (notifications skipped).
    pub(crate) fn request(&mut self, method: &str, params: Value) -> Value {
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

    /// Calls a tool that answers with an envelope: (isError, envelope).
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

    /// Calls a tool; returns the raw JSON-RPC answer as text and the envelope
    /// when the tool answered with one (its structured content).
    pub(crate) fn call_raw(&mut self, tool: &str, arguments: Value) -> (String, Option<Value>) {
        let r = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let env = match &r["result"]["structuredContent"] {
            Value::Object(_) => Some(r["result"]["structuredContent"].clone()),
            _ => None,
        };
        (r.to_string(), env)
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

/// `token add` for an actor; returns the token printed on stdout (and checks the
/// tokens file does not hold it in clear).
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
    let out = crate::pm(store, &refs);
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
