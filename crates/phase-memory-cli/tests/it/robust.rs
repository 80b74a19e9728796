//! The CLI never panics on its environment or its input: a closed pipe, a full
//! disk, malformed request bytes, a bad `--as-of`. And it loads the tokenizer
//! only when a command counts tokens.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_no_panic(out: &std::process::Output, what: &str) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && out.status.code() != Some(101),
        "{what}: panicked: {err}"
    );
}

#[test]
fn a_closed_pipe_ends_with_a_message_and_exit_1() {
    let dir = tempfile::tempdir().expect("tmp");
    // A reader that closes at once: the big `contracts` output hits EPIPE.
    let mut child = Command::new(bin())
        .args(["--store"])
        .arg(dir.path().join("s"))
        .args(["--json", "contracts"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_no_panic(&out, "contracts | (closed)");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot write the output"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_full_disk_ends_with_a_message_and_exit_1() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        panic!("/dev/full is needed for this test (Linux)");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    assert_eq!(pm(&s, &["init"]).status.code(), Some(0));
    for args in [
        &["--json", "status"][..],
        &["status"][..],
        &["contracts"][..],
    ] {
        let out = Command::new(bin())
            .arg("--store")
            .arg(&s)
            .args(args)
            .stdout(std::fs::File::create(full).expect("open /dev/full"))
            .output()
            .expect("run");
        assert_no_panic(&out, &format!("{args:?} > /dev/full"));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write the output"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// Sends `bytes` as the request of `op` on stdin; returns (exit, stdout envelope).
fn op_stdin(store: &std::path::Path, op: &str, bytes: &[u8]) -> (i32, serde_json::Value) {
    let mut child = Command::new(bin())
        .arg("--store")
        .arg(store)
        .args(["--json", "op", op, "--request", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(bytes).expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    assert_no_panic(&out, op);
    let text = String::from_utf8_lossy(&out.stdout);
    let env: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{op}: stdout is not an envelope ({e}): {text:?}"));
    (out.status.code().unwrap_or(-1), env)
}

#[test]
fn malformed_request_bytes_get_an_invalid_envelope_and_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    assert_eq!(pm(&s, &["init"]).status.code(), Some(0));
    let before = pm(&s, &["export"]).stdout;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("NaN", br#"{"node": NaN}"#.to_vec()),
        ("lone surrogate", br#"{"node": "\ud800"}"#.to_vec()),
        ("invalid UTF-8", b"{\"node\": \"\xff\xfe\"}".to_vec()),
        ("deep nesting", format!("{{\"node\": {deep}}}").into_bytes()),
        ("truncated", b"{\"node\": ".to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in cases {
        for op in ["node.get", "node.upsert"] {
            let (code, env) = op_stdin(&s, op, &bytes);
            assert_eq!(code, 2, "{what} {op}: {env}");
            assert_eq!(env["status"], "invalid", "{what} {op}: {env}");
            assert_eq!(env["operation"], op, "{what}: {env}");
            assert_eq!(
                env["diagnostics"][0]["code"], "request.invalid",
                "{what}: {env}"
            );
        }
    }
    // A missing request file is invalid input too.
    let (code, env) = pm_json(
        &s,
        &["op", "node.get", "--request", "/nonexistent/req.json"],
    );
    assert_eq!(
        (code, env["status"].as_str()),
        (2, Some("invalid")),
        "{env}"
    );
    // A node file with bad bytes, through the dedicated command.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"id\": \"\xc3\x28\"}").expect("write");
    let (code, env) = pm_json(&s, &["node", "upsert", bad.to_str().expect("utf8")]);
    assert_eq!(
        (code, env["status"].as_str()),
        (2, Some("invalid")),
        "{env}"
    );
    assert_eq!(pm(&s, &["export"]).stdout, before, "the store changed");
}

#[test]
fn a_bad_as_of_is_an_invalid_envelope() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    assert_eq!(pm(&s, &["init"]).status.code(), Some(0));
    let (code, env) = pm_json(&s, &["--as-of", "garbage", "lifecycle", "plan"]);
    assert_eq!(code, 2, "{env}");
    assert_eq!(env["status"], "invalid");
    assert_eq!(env["operation"], "lifecycle.plan");
    assert_eq!(env["diagnostics"][0]["path"], "--as-of", "{env}");
    // Human mode: the message on stderr, exit 2.
    let out = pm(&s, &["--as-of", "garbage", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--as-of"), "{}", stderr(&out));
    // A bad hint is the same kind of refusal.
    let (code, env) = pm_json(&s, &["activate", "--hint", "n1=abc"]);
    assert_eq!(
        (code, env["status"].as_str()),
        (2, Some("invalid")),
        "{env}"
    );
}

#[test]
fn repair_apply_on_a_clean_store_says_clean() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    assert_eq!(pm(&s, &["init"]).status.code(), Some(0));
    let (code, env) = pm_json(&s, &["repair", "--apply"]);
    assert_eq!(code, 0, "{env}");
    assert_eq!(env["data"]["clean"], true, "{env}");
    assert_eq!(env["data"]["applied"], true, "{env}");
}

#[test]
fn token_add_documents_its_tokens_flag() {
    let out = Command::new(bin())
        .args(["token", "add", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    let line = help
        .lines()
        .find(|l| l.contains("--tokens"))
        .unwrap_or_else(|| panic!("no --tokens in {help}"));
    assert!(
        line.len() > "  --tokens <TOKENS>".len() + 5 || help.contains("tokens file"),
        "--tokens has no help text: {help}"
    );
    assert!(help.contains("tokens file"), "{help}");
}

/// Runs a command with the tokenizer report on; returns what it says was loaded.
fn loaded(store: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("--store")
        .arg(store)
        .args(args)
        .env("PHASE_MEMORY_DEBUG_TOKENIZER", "1")
        .output()
        .expect("run");
    let err = stderr(&out);
    err.lines()
        .find_map(|l| l.strip_prefix("tokenizer vocabularies loaded: "))
        .unwrap_or_else(|| panic!("{args:?}: no tokenizer report in {err}"))
        .to_string()
}

#[test]
fn the_tokenizer_loads_only_when_a_command_counts_tokens() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    assert_eq!(pm(&s, &["init"]).status.code(), Some(0));
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().expect("utf8");
    for args in [
        &["profile", "validate", missing][..],
        &["status"][..],
        &["health"][..],
        &["audit", "verify"][..],
        &["contracts"][..],
        &["review", "list"][..],
    ] {
        assert_eq!(loaded(&s, args), "[]", "{args:?} loaded a tokenizer");
    }
    let node = write(
        dir.path(),
        "n.json",
        r#"{"id": "n1", "kind": "fact", "title": "counted", "body": "some words to count"}"#,
    );
    assert_eq!(loaded(&s, &["node", "upsert", &node]), "[o200k_base]");
}
