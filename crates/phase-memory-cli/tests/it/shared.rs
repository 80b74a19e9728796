//! Shared access with real processes on one store: CLI commands while `serve` and
//! two `mcp` servers run, writers that queue for the writer lock, and readers that
//! never see half of a commit.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::service::{AS_OF, store};
use crate::support::{Mcp, Served, add_token};
use crate::*;

fn node(id: &str, body: &str) -> Value {
    json!({"node": {"id": id, "kind": "fact", "title": id, "body": body}})
}

/// `op OPERATION --request FILE` through the CLI.
fn cli_op(s: &Path, dir: &Path, op: &str, request: &Value, extra: &[&str]) -> (i32, Value) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let f = write(dir, &format!("req-{n}.json"), &request.to_string());
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["--as-of", AS_OF, "op", op, "--request", &f]);
    pm_json(s, &args)
}

fn node_count(env: &Value) -> u64 {
    env["data"]["counts"]["nodes"]
        .as_u64()
        .unwrap_or_else(|| panic!("no node count in {env}"))
}

#[test]
fn cli_serve_and_two_mcp_servers_share_one_store() {
    let dir = tempfile::tempdir().expect("tmp");
    // Reads are audited: every read commits its audit record too.
    let s = store(dir.path(), false);
    let tokens = dir.path().join("tokens.json");
    let owner = add_token(&s, &tokens, "owner", &["owner"], &["*"]);
    let srv = Served::start(&s, &tokens);
    let mut m1 = Mcp::start(&s);
    let mut m2 = Mcp::start(&s);

    // The CLI reads and writes while all three servers run.
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "node", "get", "paris"]);
    assert_eq!(code, 0, "{env}");
    let (code, env) = cli_op(
        &s,
        dir.path(),
        "node.upsert",
        &node("from-cli", "written by the CLI"),
        &[],
    );
    assert_eq!(code, 0, "{env}");

    // Each server sees the CLI's commit on its next request.
    let (status, env) = srv.post(
        "node.get",
        Some(&owner),
        &json!({"node": "from-cli", "as_of": AS_OF}),
    );
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["node"]["body"], "written by the CLI", "{env}");
    let (is_error, env) = m1.call(
        "run_operation",
        json!({"operation": "node.get", "request": {"node": "from-cli", "as_of": AS_OF}}),
    );
    assert!(!is_error, "{env}");
    assert_eq!(env["data"]["node"]["id"], "from-cli", "{env}");

    // One MCP server writes, the other reads it; HTTP writes, the CLI reads it.
    let (is_error, env) = m1.call("remember", node("from-mcp", "written over MCP"));
    assert!(!is_error, "{env}");
    let (is_error, env) = m2.call(
        "run_operation",
        json!({"operation": "node.get", "request": {"node": "from-mcp", "as_of": AS_OF}}),
    );
    assert!(!is_error, "{env}");
    assert_eq!(env["data"]["node"]["body"], "written over MCP", "{env}");
    // A service client cannot choose the time of a write: the server's clock applies.
    let req = node("from-http", "written over HTTP");
    let (status, env) = srv.post("node.upsert", Some(&owner), &req);
    assert_eq!(status, 200, "{env}");
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "node", "get", "from-http"]);
    assert_eq!(code, 0, "{env}");
    assert_eq!(env["data"]["node"]["body"], "written over HTTP", "{env}");

    // Activation in every process finds what the others wrote (index shared too).
    let (is_error, env) = m2.call("activate", json!({"cue": {"text": "written over HTTP"}}));
    assert!(!is_error, "{env}");
    assert!(
        env["data"]["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["node"] == "from-http")),
        "{env}"
    );

    m1.stop();
    m2.stop();
    srv.stop();
    // Interleaved writers of four processes left one intact audit chain.
    let (code, env) = pm_json(&s, &["audit", "verify"]);
    assert_eq!(code, 0, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");
    let (code, env) = pm_json(&s, &["repair"]);
    assert_eq!(code, 0, "{env}");
    assert_eq!(env["data"]["clean"], true, "{env}");
}

/// Holds the store's writer lock from the test process, as another writer would.
fn hold_writer_lock(s: &Path) -> std::fs::File {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(s.join("LOCK"))
        .expect("open LOCK");
    f.try_lock().expect("take the writer lock");
    f
}

#[test]
fn a_second_writer_waits_then_succeeds_or_reports_store_locked() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), true);
    let lock = hold_writer_lock(&s);

    // Reads never wait for the writer lock.
    let t = Instant::now();
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "node", "get", "paris"]);
    assert_eq!(code, 0, "{env}");
    let (code, env) = pm_json(&s, &["status"]);
    assert_eq!(code, 0, "{env}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "reads waited {:?}",
        t.elapsed()
    );

    // A writer whose wait runs out gets store.locked and changes nothing.
    let t = Instant::now();
    let (code, env) = cli_op(
        &s,
        dir.path(),
        "node.upsert",
        &node("late", "x"),
        &["--wait", "0.5"],
    );
    assert_ne!(code, 0, "{env}");
    assert_eq!(env["diagnostics"][0]["code"], "store.locked", "{env}");
    assert!(t.elapsed() >= Duration::from_millis(500), "it did not wait");

    // A writer started while the lock is held waits, and succeeds once it is free.
    let req = write(
        dir.path(),
        "queued.json",
        &node("queued", "waited for the lock").to_string(),
    );
    let mut child = Command::new(bin())
        .arg("--store")
        .arg(&s)
        .args([
            "--json",
            "--wait",
            "30",
            "--as-of",
            AS_OF,
            "op",
            "node.upsert",
            "--request",
            &req,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the queued writer did not wait for the lock"
    );
    drop(lock);
    let out = child.wait_with_output().expect("writer");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "node", "get", "queued"]);
    assert_eq!(code, 0, "{env}");
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "node", "get", "late"]);
    assert_ne!(code, 0, "the refused write landed: {env}");
}

/// `count` nodes named `{prefix}-{i}` as an import file.
fn batch(prefix: &str, count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "{}\n",
                json!({"record": "node", "id": format!("{prefix}-{i}"), "kind": "fact", "title": format!("{prefix} {i}"), "body": format!("node {i} of batch {prefix}"), "created_at": "2026-01-01T00:00:00Z"})
            )
        })
        .collect()
}

#[test]
fn writers_started_together_all_land_and_readers_never_see_half_a_commit() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), true);
    let (_, env) = pm_json(&s, &["status"]);
    let base = node_count(&env);
    const WRITERS: usize = 4;
    const PER_BATCH: u64 = 300;
    let files: Vec<String> = (0..WRITERS)
        .map(|w| {
            write(
                dir.path(),
                &format!("b{w}.jsonl"),
                &batch(&format!("w{w}"), PER_BATCH as usize),
            )
        })
        .collect();
    let writers: Vec<_> = files
        .iter()
        .map(|f| {
            Command::new(bin())
                .arg("--store")
                .arg(&s)
                .args(["--json", "--wait", "60", "--as-of", AS_OF, "import", f])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    // Readers in other processes while the writers run: every count they see is
    // the base plus whole batches.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.last() != Some(&(base + WRITERS as u64 * PER_BATCH)) {
        assert!(
            Instant::now() < deadline,
            "the writers did not finish: {seen:?}"
        );
        let (code, env) = pm_json(&s, &["status"]);
        assert_eq!(code, 0, "{env}");
        let n = node_count(&env);
        assert_eq!(
            (n - base) % PER_BATCH,
            0,
            "a reader saw half an import: {n} nodes"
        );
        seen.push(n);
    }
    for w in writers {
        let out = w.wait_with_output().expect("writer");
        assert_eq!(
            out.status.code(),
            Some(0),
            "a queued writer failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let (code, env) = pm_json(&s, &["audit", "verify"]);
    assert_eq!(code, 0, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");
}

/// Audited reads and writes (one request in four a `node.upsert`) from 16
/// clients while the server is killed with SIGKILL: reads' audit records and
/// writes are group-committed, so the kill lands inside or between group
/// commits. Every answered request's record (seq and hash) must be on the chain
/// afterwards (a write's record commits with the write), the last acknowledged
/// writes must be readable, and the chain must verify.
#[test]
fn kill_9_server_mid_group_commit_loses_no_answered_read_or_write() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    for (round, kill_after_ms) in [(0u32, 150u64), (1, 400), (2, 900)] {
        let dir = tempfile::tempdir().expect("tmp");
        let s = store(dir.path(), false);
        let tokens = dir.path().join("tokens.json");
        let owner = add_token(&s, &tokens, "owner", &["owner"], &["*"]);
        let srv = Served::start(&s, &tokens);
        let addr = srv.addr().to_string();
        // One read first, so the kill times count from a warm server (the first
        // activation loads the semantic index's model).
        let warm = json!({"cue": {"text": "Paris"}, "as_of": AS_OF}).to_string();
        let (status, text) =
            crate::support::http(&addr, "POST", "/v1/ops/activation.run", Some(&owner), &warm)
                .expect("warm-up read");
        assert_eq!(status, 200, "{text}");
        // And one write (the first write of a runtime builds its edge index).
        let warm = json!({"node": {"id": "warm-up", "kind": "note", "title": "Warm-up note", "body": "first write"}}).to_string();
        let (status, text) =
            crate::support::http(&addr, "POST", "/v1/ops/node.upsert", Some(&owner), &warm)
                .expect("warm-up write");
        assert_eq!(status, 200, "{text}");
        let down = Arc::new(AtomicBool::new(false));
        let writes_answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let clients: Vec<_> = (0..16)
            .map(|c| {
                let (addr, owner, down) = (addr.clone(), owner.clone(), down.clone());
                let writes_answered = writes_answered.clone();
                std::thread::spawn(move || {
                    let mut answered = Vec::new();
                    // Bounded: at most 2,000 requests per client.
                    for i in 0..2_000 {
                        if down.load(Ordering::SeqCst) {
                            break;
                        }
                        // Every fourth request writes: writes are group-committed too.
                        let write = i % 4 == 3;
                        let (path, body) = if write {
                            let id = format!("k{c}-{i}");
                            ("/v1/ops/node.upsert", json!({"node": {"id": id, "kind": "note", "title": format!("Kill note {c} {i}"), "body": "written while the server is killed"}}))
                        } else {
                            ("/v1/ops/activation.run", json!({"cue": {"text": if (c + i) % 2 == 0 { "Paris" } else { "France" }}, "as_of": AS_OF}))
                        };
                        let Ok((status, text)) = crate::support::http(
                            &addr,
                            "POST",
                            path,
                            Some(&owner),
                            &body.to_string(),
                        ) else {
                            break;
                        };
                        if status != 200 {
                            continue;
                        }
                        let env: Value = serde_json::from_str(&text).expect("envelope");
                        assert_eq!(env["status"], "ok", "{env}");
                        let seq = env["audit"]["seq"].as_u64().expect("an answered request has its record");
                        let hash = env["audit"]["hash"].as_str().expect("hash").to_string();
                        let id = write.then(|| format!("k{c}-{i}"));
                        if write {
                            writes_answered.fetch_add(1, Ordering::SeqCst);
                        }
                        answered.push((seq, hash, id));
                    }
                    answered
                })
            })
            .collect();
        // The kill time counts from the first answered write (bounded wait), so
        // a slow machine still kills mid-load with something acknowledged.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while writes_answered.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        srv.kill_9();
        down.store(true, Ordering::SeqCst);
        let mut answered = Vec::new();
        for c in clients {
            answered.extend(c.join().expect("client thread"));
        }
        let context = format!("round {round} (kill after {kill_after_ms} ms)");
        assert!(
            !answered.is_empty(),
            "{context}: no request was answered before the kill"
        );
        let (code, env) = pm_json(&s, &["audit", "verify"]);
        assert_eq!(code, 0, "{context}: {env}");
        assert_eq!(env["data"]["ok"], true, "{context}: {env}");
        let (code, env) = pm_json(&s, &["audit", "query", "--limit", "1000000"]);
        assert_eq!(code, 0, "{context}: {env}");
        let on_chain: std::collections::HashMap<u64, String> = env["data"]["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| {
                (
                    r["seq"].as_u64().expect("seq"),
                    r["hash"].as_str().expect("hash").to_string(),
                )
            })
            .collect();
        // A write's record is committed with the write itself.
        for (seq, hash, _) in &answered {
            assert_eq!(
                on_chain.get(seq),
                Some(hash),
                "{context}: the answered request with audit record {seq} is not on the chain"
            );
        }
        let written: Vec<&String> = answered
            .iter()
            .filter_map(|(_, _, id)| id.as_ref())
            .collect();
        assert!(
            !written.is_empty(),
            "{context}: no write was answered before the kill"
        );
        for id in written.iter().rev().take(3) {
            let (code, env) = pm_json(&s, &["node", "get", id.as_str()]);
            assert_eq!(
                code, 0,
                "{context}: the acknowledged write {id} is lost: {env}"
            );
        }
        let distinct: std::collections::HashSet<_> = answered.iter().map(|(s, _, _)| *s).collect();
        assert_eq!(
            distinct.len(),
            answered.len(),
            "{context}: two answers share a record"
        );
        eprintln!(
            "{context}: {} answered requests ({} writes), all on the chain",
            answered.len(),
            written.len()
        );
    }
}

/// `mcp` takes the global `--wait`: a write behind another process's writer
/// lock waits that long (not the 10 s default), then reports `store.locked`
/// and changes nothing; once the lock is free the same server writes.
#[test]
fn mcp_writes_wait_as_long_as_wait_says() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), true);
    let mut m = Mcp::start_with(&s, &["--wait", "0.5"]);
    let lock = hold_writer_lock(&s);
    let t = Instant::now();
    let (is_error, env) = m.call("remember", node("held-back", "x"));
    let waited = t.elapsed();
    assert!(is_error, "{env}");
    assert_eq!(env["diagnostics"][0]["code"], "store.locked", "{env}");
    assert!(
        waited >= Duration::from_millis(500),
        "it did not wait: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "it waited {waited:?}: --wait 0.5 was not applied"
    );
    drop(lock);
    let (is_error, env) = m.call("remember", node("after-lock", "y"));
    assert!(!is_error, "{env}");
    m.stop();
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "node", "get", "held-back"]);
    assert_ne!(code, 0, "the refused write landed: {env}");
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "node", "get", "after-lock"]);
    assert_eq!(code, 0, "{env}");
}
