//! The matrix: every registered operation for every kind of actor, over HTTP and
//! over every MCP tool.

use std::path::Path;

use phase_memory_runtime::registry::OPERATIONS;
use serde_json::{Value, json};

use super::*;

#[test]
fn every_operation_for_every_actor_over_http() {
    let f = fixture();
    let tokens: Vec<(Who, Option<String>)> = EVERYONE
        .iter()
        .map(|w| (*w, (*w != Who::NoToken).then(|| add_token(&f, *w))))
        .collect();
    let served = serve(&f, None);
    let mut checked = 0;
    for spec in OPERATIONS {
        let req = sample(spec.name, &f.planted);
        for (who, token) in &tokens {
            let (status, env, text) = served.post_text(spec.name, token.as_deref(), &req);
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
        let mut m = mcp(&f.store, who, None);
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
                    let (raw, env) = m.call_raw(
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
            let (raw, env) = m.call_raw(name, args.clone());
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
