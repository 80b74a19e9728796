//! The HTTP service over a real loopback socket with a real HTTP client.

use std::sync::Arc;
use std::time::Duration;

use phase_memory_runtime::{Clock, Extension, Outcome, open_runtime};
use serde_json::{Value, json};

use crate::{AS_OF, Options, Server};

fn codes(env: &Value) -> Vec<String> {
    env["diagnostics"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn health_is_public_and_200_when_the_store_is_reachable() {
    let s = Server::start();
    let (status, body) = s.get("/v1/health");
    assert_eq!(status, 200, "{body}");
    let env: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(env["envelope"], "phase-memory/v1");
    assert_eq!(env["operation"], "health.check");
    assert_eq!(env["status"], "ok");
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

#[test]
fn contracts_is_a_public_openapi_document_of_every_operation() {
    let s = Server::start();
    let (status, body) = s.get("/v1/contracts");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let run = &doc["paths"]["/v1/ops/activation.run"]["post"];
    assert_eq!(run["operationId"], "activation_run");
    let schema = &run["requestBody"]["content"]["application/json"]["schema"];
    assert!(schema["properties"]["cue"].is_object(), "{schema}");
    assert!(run["responses"]["403"]["$ref"].is_string());
    assert!(
        run["responses"]["200"]["content"]["application/json"]["schema"]["allOf"].is_array(),
        "{run}"
    );
    for op in phase_memory_runtime::registry::OPERATIONS {
        assert!(
            doc["paths"][format!("/v1/ops/{}", op.name)]["post"].is_object(),
            "missing {}",
            op.name
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["paths"]["/v1/health"]["get"]["security"], json!([]));
    // Every reference resolves inside the document.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "dangling {r}");
    }
}

fn enum_of(doc: &Value, pointer: &str) -> Vec<String> {
    let schema = doc
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the document"));
    schema["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{pointer} is not an enum: {schema}"))
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

const NODE_RECORD: &str = "/paths/~1v1~1ops~1node.upsert/post/requestBody/content/application~1json/schema/properties/node/properties";
const EDGE_RECORD: &str = "/paths/~1v1~1ops~1edge.upsert/post/requestBody/content/application~1json/schema/properties/edge/properties";

#[test]
fn contracts_enumerate_the_store_profile_and_follow_a_profile_change() {
    let s = Server::start();
    let (_, body) = s.get("/v1/contracts");
    let doc: Value = serde_json::from_str(&body).expect("json");
    let profile = phase_memory_profile::Profile::builtin();
    let kinds: Vec<String> = profile.kinds.keys().cloned().collect();
    assert_eq!(enum_of(&doc, &format!("{NODE_RECORD}/kind")), kinds);
    let edge_types: Vec<String> = profile.edge_types.keys().cloned().collect();
    assert_eq!(enum_of(&doc, &format!("{EDGE_RECORD}/type")), edge_types);
    let levels = enum_of(&doc, &format!("{NODE_RECORD}/sensitivity"));
    assert_eq!(levels, profile.sensitivity.levels);
    // A node is never upserted into the forgetting phase.
    let phases = enum_of(&doc, &format!("{NODE_RECORD}/phase"));
    let forgotten = profile.forgotten_phase().expect("forgetting phase");
    assert!(!phases.iter().any(|p| p == forgotten), "{phases:?}");
    assert!(phases.len() + 1 == profile.phases.len(), "{phases:?}");
    // Every enumerated kind, phase and level is one the store accepts.
    for (i, kind) in kinds.iter().enumerate() {
        let node = json!({"id": format!("n{i}"), "kind": kind, "phase": phases[i % phases.len()],
            "sensitivity": levels[i % levels.len()], "title": "t", "body": "b"});
        let (status, env) = s.op("node.upsert", &s.tokens.owner, json!({"node": node}));
        assert!(status == 200 || status == 202, "{kind}: {env}");
    }
    // The one rule the schema cannot state: valid_to is not before valid_from.
    let node = json!({"id": "span", "kind": &kinds[0], "valid_from": "2026-02-01T00:00:00Z",
        "valid_to": "2026-01-01T00:00:00Z"});
    let (status, env) = s.op("node.upsert", &s.tokens.owner, json!({"node": node}));
    assert_eq!(status, 400, "{env}");
    assert_eq!(codes(&env), ["import.invalid_record"], "{env}");
    let (status, _) = s.op("node.get", &s.tokens.owner, json!({"node": "span"}));
    assert_eq!(status, 404, "a refused upsert wrote the node");
    // The document follows the profile the store runs.
    let source = format!(
        "{}\n[kinds.recipe]\ninitial_phase = \"active\"\n",
        phase_memory_profile::DEFAULT_PROFILE_TOML
    );
    let (status, env) = s.op("profile.apply", &s.tokens.owner, json!({"source": source}));
    assert_eq!(status, 200, "{env}");
    let (_, body) = s.get("/v1/contracts");
    let doc: Value = serde_json::from_str(&body).expect("json");
    assert!(
        enum_of(&doc, &format!("{NODE_RECORD}/kind")).contains(&"recipe".to_string()),
        "the served document did not follow the new profile"
    );
}

#[test]
fn operations_need_a_known_bearer_token() {
    let s = Server::start();
    for token in [None, Some("pmt_not-a-real-token"), Some("")] {
        let (status, body) = s.post_raw("health.check", token, "{}");
        assert_eq!(status, 401, "{token:?}: {body}");
        let env: Value = serde_json::from_str(&body).expect("json envelope");
        assert_eq!(env["status"], "invalid");
        assert_eq!(codes(&env), ["auth.unauthenticated"]);
    }
    // The wrong scheme is refused too.
    let mut resp = crate::agent()
        .post(format!("{}/v1/ops/health.check", s.base))
        .header("Authorization", format!("Basic {}", s.tokens.owner))
        .send("{}")
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let _ = resp.body_mut().read_to_string();
}

#[test]
fn import_activate_compile_and_audit() {
    let s = Server::start();
    s.import();
    let (status, env) = s.op(
        "activation.run",
        &s.tokens.owner,
        json!({"cue": {"text": "Paris"}, "budget_tokens": 500, "as_of": AS_OF}),
    );
    assert_eq!(status, 200, "{env}");
    let items = env["data"]["items"].as_array().expect("items");
    assert!(items.iter().any(|i| i["node"] == "paris"), "{env}");
    // Package into a folder.
    let out = s.scratch.join("pkg");
    let (status, env) = s.op(
        "package.compile",
        &s.tokens.owner,
        json!({"cue": {"text": "Paris"}, "budget_tokens": 500, "as_of": AS_OF, "out": "pkg"}),
    );
    assert_eq!(status, 200, "{env}");
    let files: Vec<_> = std::fs::read_dir(&out).expect("package folder").collect();
    assert!(!files.is_empty());
    // The audit log, as the owner.
    let (status, env) = s.op("audit.query", &s.tokens.owner, json!({}));
    assert_eq!(status, 200, "{env}");
    let ops: Vec<&str> = env["data"]["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["operation"].as_str())
        .collect();
    assert!(ops.contains(&"graph.import"), "{ops:?}");
    assert!(ops.contains(&"activation.run"), "{ops:?}");
    let (status, env) = s.op("audit.verify", &s.tokens.owner, json!({}));
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");
}

#[test]
fn review_gated_forgetting_needs_a_second_actor() {
    let s = Server::start();
    s.import();
    let (status, env) = s.op(
        "lifecycle.apply",
        &s.tokens.owner,
        json!({"nodes": ["old-plan"]}),
    );
    assert_eq!(status, 202, "{env}");
    assert_eq!(env["status"], "review_required");
    let review = env["data"]["reviews"][0]["review"]
        .as_str()
        .unwrap_or_else(|| panic!("review id in {env}"))
        .to_string();
    // The node is untouched while the review is pending.
    let (status, env) = s.op("node.get", &s.tokens.owner, json!({"node": "old-plan"}));
    assert_eq!(status, 200, "{env}");
    // The requester cannot approve its own review.
    let (status, env) = s.op(
        "review.decide",
        &s.tokens.owner,
        json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 403, "{env}");
    assert!(
        codes(&env).contains(&"review.self_approval".to_string()),
        "{env}"
    );
    // A second actor approves: the held transition applies once.
    let (status, env) = s.op(
        "review.decide",
        &s.tokens.bob,
        json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 200, "{env}");
    let (status, env) = s.op("node.get", &s.tokens.owner, json!({"node": "old-plan"}));
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["node"]["phase"], "forgotten", "{env}");
    assert_eq!(env["data"]["node"]["body"], "", "{env}");
    assert!(codes(&env).contains(&"node.forgotten".to_string()), "{env}");
    // Deciding again is a conflict.
    let (status, env) = s.op(
        "review.decide",
        &s.tokens.bob,
        json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 409, "{env}");
}

#[test]
fn denials_are_403_envelopes_that_leak_nothing() {
    let s = Server::start();
    s.import();
    let (status, body) = s.post_raw("audit.query", Some(&s.tokens.mallory), "{}");
    assert_eq!(status, 403, "{body}");
    let env: Value = serde_json::from_str(&body).expect("envelope");
    assert_eq!(env["envelope"], "phase-memory/v1");
    assert_eq!(env["status"], "denied");
    for secret in [
        "Paris is the capital",
        "WITHHELD-SECRET-4711",
        "Vault combination",
    ] {
        assert!(!body.contains(secret), "leaked {secret}: {body}");
    }
    // An `actor` in the body does not make the member an owner.
    let (status, env) = s.op(
        "audit.query",
        &s.tokens.mallory,
        json!({"actor": {"id": "owner", "roles": ["owner"], "scopes": ["*"]}}),
    );
    assert_eq!(status, 403, "{env}");
    // Activation as the member withholds the secret node: counted, never shown.
    let (status, body) = s.post_raw(
        "activation.run",
        Some(&s.tokens.mallory),
        &json!({"cue": {"text": "Paris vault combination"}, "as_of": AS_OF}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("WITHHELD-SECRET-4711"), "{body}");
    assert!(!body.contains("\"vault\""), "{body}");
    let env: Value = serde_json::from_str(&body).expect("envelope");
    assert!(
        env["data"]["withheld"]["count"].as_u64().unwrap_or(0) >= 1,
        "{env}"
    );
}

#[test]
fn bad_requests_are_400_envelopes() {
    let s = Server::start();
    let (status, body) = s.post_raw("node.get", Some(&s.tokens.owner), "{\"node\": ");
    assert_eq!(status, 400, "{body}");
    let env: Value = serde_json::from_str(&body).expect("envelope");
    assert_eq!(codes(&env), ["request.invalid"]);
    assert!(
        env["diagnostics"][0]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("body:1:")),
        "{env}"
    );
    let (status, env) = s.op("no.such-op", &s.tokens.owner, json!({}));
    assert_eq!(status, 400, "{env}");
    assert_eq!(codes(&env), ["operation.unknown"]);
    // An empty body is an empty request.
    let (status, body) = s.post_raw("store.status", Some(&s.tokens.owner), "");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn an_oversized_body_is_413() {
    let s = Server::start_with(Options {
        max_body_bytes: 4096,
        ..Options::default()
    });
    let big = json!({"records": [{"record": "node", "id": "big", "kind": "note", "body": "x".repeat(20_000)}]});
    let (status, body) = s.post_raw("graph.import", Some(&s.tokens.owner), &big.to_string());
    assert_eq!(status, 413, "{body}");
    let env: Value = serde_json::from_str(&body).expect("envelope");
    assert_eq!(codes(&env), ["request.invalid"]);
    // Nothing was imported.
    let (status, env) = s.op("node.get", &s.tokens.owner, json!({"node": "big"}));
    assert_eq!(status, 404, "{env}");
}

#[test]
fn concurrent_requests_from_eight_threads_all_succeed() {
    let s = Arc::new(Server::start());
    s.import();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let (status, env) = if i % 2 == 0 {
                        s.op(
                            "activation.run",
                            &s.tokens.owner,
                            json!({"cue": {"text": "Paris"}, "as_of": AS_OF}),
                        )
                    } else {
                        s.op(
                            "node.upsert",
                            &s.tokens.owner,
                            json!({"node": {"id": format!("t{t}-{i}"), "kind": "note", "body": format!("note {t} {i} about Paris")}}),
                        )
                    };
                    assert_eq!(status, 200, "{env}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let (status, env) = s.op("audit.verify", &s.tokens.owner, json!({}));
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");
    let (_, env) = s.op("store.status", &s.tokens.owner, json!({}));
    assert_eq!(env["data"]["counts"]["nodes"], json!(5 + 40), "{env}");
}

#[test]
fn a_slow_operation_times_out_with_503_and_extensions_run() {
    let slow: Extension = Arc::new(|_req: &Value, _ctx: &phase_memory_runtime::CallContext| {
        std::thread::sleep(Duration::from_millis(800));
        Outcome::ok(json!({"slept": true}))
    });
    let s = Server::start_with(Options {
        timeout: Duration::from_millis(300),
        extensions: vec![("eval.run".into(), slow)],
        ..Options::default()
    });
    let (status, env) = s.op("eval.run", &s.tokens.owner, json!({}));
    assert_eq!(status, 503, "{env}");
    assert_eq!(codes(&env), ["service.timeout"]);
    // Once it is done, the extension's own answer comes through.
    std::thread::sleep(Duration::from_millis(700));
    let s2 = Server::start_with(Options {
        extensions: vec![(
            "eval.run".into(),
            Arc::new(|_: &Value, _: &phase_memory_runtime::CallContext| {
                Outcome::ok(json!({"report": "fine"}))
            }) as Extension,
        )],
        ..Options::default()
    });
    let (status, env) = s2.op("eval.run", &s2.tokens.owner, json!({}));
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["report"], "fine");
}

#[test]
fn graceful_shutdown_releases_the_store() {
    let mut s = Server::start();
    s.import();
    s.stop();
    let rt = open_runtime(&s.store, Clock::System);
    assert!(rt.is_ok(), "the store is still locked after shutdown");
}

#[test]
fn tokens_added_while_serving_take_effect() {
    let s = Server::start_with(Options {
        with_tokens: false,
        ..Options::default()
    });
    let (status, _) = s.post_raw("store.status", None, "{}");
    assert_eq!(status, 401);
    let token =
        phase_memory_server::tokens::add_token(&s.tokens_file, &phase_memory_model::Actor::owner())
            .expect("add token");
    let (status, env) = s.op("store.status", &token, json!({}));
    assert_eq!(status, 200, "{env}");
}
