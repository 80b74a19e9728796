//! `GET /metrics` over a real socket: the Prometheus/OpenMetrics text counts
//! requests by operation, status and code, times them, reports the store
//! generation, keeps label cardinality bounded and never shows memory content.

use serde_json::json;

use crate::{Server, agent};

/// The value of the sample `name{labels}` (labels in the exposition's order),
/// if the scrape has it.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.split(' ').next()?.parse().ok()
    })
}

fn scrape(s: &Server) -> (String, String) {
    let mut resp = agent()
        .get(format!("{}/metrics", s.base))
        .call()
        .expect("scrape");
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.body_mut().read_to_string().expect("body");
    (ctype, text)
}

#[test]
fn metrics_count_time_and_label_every_request_without_content() {
    let s = Server::start();
    s.import();
    let (_, before) = scrape(&s);
    let generation_before =
        sample(&before, "phase_memory_store_generation").expect("generation gauge");
    assert!(generation_before >= 1.0, "{before}");

    // Two found, one missing, one hidden (the member may not see the secret),
    // one unauthenticated, and names the registry does not have.
    for node in ["paris", "eiffel"] {
        let (status, _) = s.op("node.get", &s.tokens.owner, json!({"node": node}));
        assert_eq!(status, 200);
    }
    let (status, _) = s.op("node.get", &s.tokens.owner, json!({"node": "nowhere"}));
    assert_eq!(status, 404);
    let (status, _) = s.op("node.get", &s.tokens.mallory, json!({"node": "vault"}));
    assert_eq!(status, 404);
    let (status, _) = s.post_raw("node.get", None, r#"{"node":"paris"}"#);
    assert_eq!(status, 401);
    for i in 0..20 {
        let (status, _) = s.post_raw(&format!("no.such.op{i}"), Some(&s.tokens.owner), "{}");
        assert_eq!(status, 400);
    }
    let (status, env) = s.op(
        "node.upsert",
        &s.tokens.owner,
        json!({"node": {"id": "louvre", "kind": "fact", "title": "Louvre"}}),
    );
    assert_eq!(status, 200, "{env}");

    let (ctype, text) = scrape(&s);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    let count = |series: &str| sample(&text, series).unwrap_or(0.0);
    assert_eq!(
        count(r#"phase_memory_requests_total{operation="node.get",status="ok",code="200"}"#),
        2.0,
        "{text}"
    );
    // Hidden and missing are counted alike.
    assert_eq!(
        count(r#"phase_memory_requests_total{operation="node.get",status="not_found",code="404"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        count(r#"phase_memory_requests_total{operation="node.get",status="invalid",code="401"}"#),
        1.0,
        "{text}"
    );
    // Unknown names share one label: cardinality stays bounded.
    assert_eq!(
        count(r#"phase_memory_requests_total{operation="unknown",status="invalid",code="400"}"#),
        20.0,
        "{text}"
    );
    assert!(!text.contains("no.such.op"), "{text}");
    // Every node.get was timed.
    assert_eq!(
        count(r#"phase_memory_request_duration_seconds_count{operation="node.get"}"#),
        5.0,
        "{text}"
    );
    assert!(
        count(r#"phase_memory_request_duration_seconds_sum{operation="node.get"}"#) > 0.0,
        "{text}"
    );
    // The write moved the generation on.
    let generation_after = sample(&text, "phase_memory_store_generation").expect("generation");
    assert!(generation_after > generation_before, "{before}\n{text}");
    // Counts and timings only: no ids, titles, bodies or actors.
    for forbidden in [
        "paris", "eiffel", "vault", "WITHHELD", "louvre", "Louvre", "mallory", "owner",
    ] {
        assert!(!text.contains(forbidden), "{forbidden} in {text}");
    }
    // The scrape itself needs no token and is counted under its own label.
    let (_, again) = scrape(&s);
    assert!(
        sample(
            &again,
            r#"phase_memory_requests_total{operation="metrics",status="ok",code="200"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "{again}"
    );
}

#[test]
fn metrics_show_group_commits_store_commits_and_snapshot_refreshes() {
    let s = Server::start();
    s.import();
    let activate = |n: usize| {
        for _ in 0..n {
            let (status, env) = s.op(
                "activation.run",
                &s.tokens.owner,
                json!({"cue": {"text": "paris"}}),
            );
            assert_eq!(status, 200, "{env}");
        }
    };
    activate(4);
    let (_, before) = scrape(&s);
    // The figures are process-wide (other tests of this binary only add to them).
    let at = |text: &str, series: &str| sample(text, series).unwrap_or(0.0);
    let series = [
        "phase_memory_group_commits_total",
        "phase_memory_group_commit_records_total",
        "phase_memory_store_commits_total",
        r#"phase_memory_snapshot_refreshes_total{kind="full"}"#,
        r#"phase_memory_snapshot_refreshes_total{kind="incremental"}"#,
        "phase_memory_snapshot_refresh_seconds_total",
        r#"phase_memory_index_refreshes_total{kind="full"}"#,
        r#"phase_memory_index_refreshes_total{kind="incremental"}"#,
        r#"phase_memory_snapshot_refreshes_total{kind="loaded"}"#,
        r#"phase_memory_snapshot_persist_writes_total{result="ok"}"#,
        r#"phase_memory_snapshot_persist_writes_total{result="failed"}"#,
    ];
    for name in series {
        assert!(sample(&before, name).is_some(), "{name} missing: {before}");
    }
    // Audited reads were group-committed, each group one durable commit.
    assert!(at(&before, series[0]) >= 1.0, "{before}");
    assert!(at(&before, series[1]) >= at(&before, series[0]), "{before}");
    assert!(at(&before, series[2]) >= at(&before, series[0]), "{before}");
    assert!(
        at(&before, series[3]) >= 1.0,
        "the first activation built a snapshot: {before}"
    );
    assert!(
        at(&before, series[9]) >= 1.0,
        "the snapshot built was persisted: {before}"
    );

    for (i, title) in ["Louvre", "Orsay", "Rodin"].iter().enumerate() {
        let (status, env) = s.op(
            "node.upsert",
            &s.tokens.owner,
            json!({"node": {"id": format!("museum-{i}"), "kind": "fact", "title": title, "body": "a museum in paris"}}),
        );
        assert_eq!(status, 200, "{env}");
        activate(2);
    }
    let (_, after) = scrape(&s);
    let moved = |name: &str| at(&after, name) - at(&before, name);
    assert!(moved(series[0]) >= 1.0, "{before}\n{after}");
    assert!(
        moved(series[1]) >= 6.0,
        "six audited reads: {before}\n{after}"
    );
    assert!(
        moved(series[2]) >= 4.0,
        "three writes and a group commit: {after}"
    );
    assert!(
        moved(series[4]) >= 1.0,
        "writes brought the snapshot forward: {before}\n{after}"
    );
    assert!(moved(series[5]) > 0.0, "{after}");
}

/// Sixteen clients writing at once over HTTP: every valid write acknowledged
/// and readable as soon as it is, several writes per durable commit, an invalid
/// write refused alone, the audit chain intact.
#[test]
fn concurrent_writes_share_commits_and_a_bad_one_fails_alone() {
    let s = std::sync::Arc::new(Server::start());
    s.import();
    let (_, before) = scrape(&s);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..6 {
                    let id = format!("w{t}-{i}");
                    let kind = if i == 2 { json!(42) } else { json!("note") };
                    let (status, env) = s.op(
                        "node.upsert",
                        &s.tokens.owner,
                        json!({"node": {"id": id, "kind": kind, "title": format!("marker{t}x{i}"), "body": "a note about Paris"}}),
                    );
                    if i == 2 {
                        assert_eq!(status, 400, "{env}");
                        assert!(env["audit"].is_null(), "{env}");
                        continue;
                    }
                    assert_eq!(status, 200, "{env}");
                    assert!(env["audit"]["seq"].as_u64().is_some(), "{env}");
                    // Read your writes: acknowledged means visible to every runtime.
                    let (status, got) = s.op("node.get", &s.tokens.owner, json!({"node": id}));
                    assert_eq!(status, 200, "{got}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let (_, after) = scrape(&s);
    let at = |text: &str, series: &str| sample(text, series).unwrap_or(0.0);
    let moved = |name: &str| at(&after, name) - at(&before, name);
    let writes = moved("phase_memory_grouped_writes_total");
    let groups = moved("phase_memory_write_group_commits_total");
    assert_eq!(
        writes, 80.0,
        "every valid write went through a group: {after}"
    );
    assert!(groups >= 1.0 && groups < writes, "{before}\n{after}");
    let (status, env) = s.op("audit.verify", &s.tokens.owner, json!({}));
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");
    let (_, env) = s.op("store.status", &s.tokens.owner, json!({}));
    assert_eq!(env["data"]["counts"]["nodes"], json!(5 + 80), "{env}");
    // The full-text index holds every write: an activation finds a late one.
    let (status, env) = s.op(
        "activation.run",
        &s.tokens.owner,
        json!({"cue": {"text": "marker15x5"}}),
    );
    assert_eq!(status, 200, "{env}");
    assert!(env.to_string().contains("w15-5"), "{env}");
}
