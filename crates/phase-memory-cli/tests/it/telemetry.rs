//! Logs and traces of the real `serve` binary: `--log json` writes one JSON
//! object per line on standard error, `--otlp-endpoint` exports a span per
//! request and operation over OTLP/HTTP to a collector (a small loopback
//! listener here), flushed when the service stops on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::service::store;
use crate::support::{Served, add_token, http};
use crate::*;

/// A request the collector received: path and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Reads one HTTP/1.1 request with a Content-Length body; None when the peer
/// closed or sent something else.
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length.min(16 << 20)];
    reader.read_exact(&mut body).ok()?;
    Some((path, body))
}

/// A minimal OTLP/HTTP collector on a loopback port: records every request and
/// answers 200 with an empty protobuf body. Stops accepting after `deadline`.
fn collector(received: Received, deadline: Instant) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind collector");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    // Keep-alive: serve requests on the connection until it closes.
                    for _ in 0..1000 {
                        let Some(req) = read_request(&mut stream) else {
                            break;
                        };
                        received.lock().expect("lock").push(req);
                        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                        if stream.write_all(ok).is_err() {
                            break;
                        }
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    format!("http://{addr}")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn serve_logs_json_lines_and_exports_spans_over_otlp() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), false);
    let tokens = dir.path().join("tokens.json");
    let owner = add_token(&s, &tokens, "owner", &["owner"], &["*"]);
    let received: Received = Arc::default();
    let endpoint = collector(received.clone(), Instant::now() + Duration::from_secs(120));
    let logs = dir.path().join("serve.log");
    let log_file = std::fs::File::create(&logs).expect("log file");
    let srv = Served::start_with(&s, &tokens, |cmd| {
        cmd.args(["--log", "json", "--otlp-endpoint", &endpoint])
            .stderr(log_file);
    });
    let addr = srv.addr().to_string();
    let ask = |op: &str, req: Value| {
        http(
            &addr,
            "POST",
            &format!("/v1/ops/{op}"),
            Some(&owner),
            &req.to_string(),
        )
        .expect("http")
        .0
    };
    assert_eq!(ask("node.get", json!({"node": "paris"})), 200);
    assert_eq!(ask("node.get", json!({"node": "nowhere"})), 404);
    assert_eq!(
        ask("activation.run", json!({"cue": {"text": "Paris"}})),
        200
    );

    // SIGTERM: the service stops and flushes its spans.
    srv.stop();

    // Structured logs: one JSON object per line for each request served.
    let text = std::fs::read_to_string(&logs).expect("logs");
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let served: Vec<&Value> = events
        .iter()
        .filter(|e| e["fields"]["message"] == "served")
        .collect();
    let for_op = |op: &str, code: u64| {
        served
            .iter()
            .filter(|e| e["span"]["operation"] == op && e["fields"]["code"] == code)
            .count()
    };
    assert_eq!(for_op("node.get", 200), 1, "{text}");
    assert_eq!(for_op("node.get", 404), 1, "{text}");
    assert_eq!(for_op("activation.run", 200), 1, "{text}");
    assert!(
        served
            .iter()
            .all(|e| e["level"] == "INFO" && e["fields"]["elapsed_ms"].is_number()),
        "{text}"
    );
    // Counts and timings, never memory content.
    assert!(!text.contains("Paris is the capital"), "{text}");

    // Traces: OTLP/HTTP protobuf posted to /v1/traces, with the service name
    // and a span for each request and each operation.
    let got = received.lock().expect("lock").clone();
    assert!(!got.is_empty(), "the collector received nothing");
    assert!(
        got.iter().all(|(p, _)| p == "/v1/traces"),
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    let all: Vec<u8> = got.into_iter().flat_map(|(_, b)| b).collect();
    for needle in [
        "phase-memory",
        "request",
        "operation",
        "node.get",
        "activation.run",
    ] {
        assert!(
            contains(&all, needle),
            "no {needle:?} in the exported spans"
        );
    }
    assert!(!contains(&all, "Paris is the capital"));
}

#[test]
fn a_bad_log_format_or_endpoint_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), false);
    let out = pm(&s, &["serve", "--log", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("yaml") && err.contains("json"), "{err}");
    let out = pm(
        &s,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--otlp-endpoint",
            "collector:4318",
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--otlp-endpoint"), "{err}");
}
