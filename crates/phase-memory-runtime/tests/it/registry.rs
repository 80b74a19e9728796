//! Every registered operation, called through the runner with a valid and an
//! invalid request: it works or answers with an explicit diagnostic, never panics.

use phase_memory_model::Status;
use phase_memory_runtime::registry::OPERATIONS;
use serde_json::json;

use crate::*;

#[test]
fn every_operation_answers_valid_and_invalid_requests() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("pkg");
    let valid = |op: &str| -> serde_json::Value {
        match op {
            "activation.run" => json!({"cue": {"text": "paris"}}),
            "package.compile" => {
                json!({"cue": {"text": "paris"}, "out": out.display().to_string()})
            }
            "package.verify" => json!({"path": out.display().to_string()}),
            "node.get" | "node.delete" => json!({"node": "louvre"}),
            "node.upsert" => json!({"node": {"id": "n9", "kind": "fact", "title": "New"}}),
            "edge.upsert" => {
                json!({"edge": {"from": "paris", "to": "louvre", "type": "relates_to"}})
            }
            "edge.delete" => {
                json!({"edge": {"from": "louvre", "to": "paris", "type": "relates_to"}})
            }
            "event.append" => {
                json!({"event": {"event": "observation", "at": "2026-02-21T00:00:00Z", "subjects": ["paris"]}})
            }
            "graph.import" => json!({"records": [{"record": "node", "id": "x1", "kind": "fact"}]}),
            "profile.apply" | "profile.validate" => {
                json!({"source": phase_memory_profile::DEFAULT_PROFILE_TOML})
            }
            "review.decide" => json!({"review": "rev-none", "decision": "approve"}),
            "eval.run" => json!({"dir": "nowhere"}),
            "store.import" => json!({"path": "nowhere.jsonl"}),
            _ => json!({}),
        }
    };
    let mut rt = mem();
    import_small(&mut rt);
    let mut names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
    // package.verify needs the package that package.compile writes.
    names.sort_by_key(|n| (*n == "package.verify") as u8);
    let mut checked = 0;
    for name in names {
        let env = rt.run(name, valid(name), &owner());
        assert_eq!(env.operation, name);
        assert!(
            env.status == Status::Ok || !env.diagnostics.is_empty(),
            "{name}: a non-ok envelope must explain itself: {}",
            env.to_json()
        );
        if env.status == Status::Ok {
            fits_schema(name, &env.data);
            checked += 1;
        }
        let bad = rt.run(name, json!({"no_such_field": [1, 2, 3]}), &owner());
        assert!(
            matches!(
                bad.status,
                Status::Invalid | Status::Ok | Status::NotFound | Status::Conflict
            ) || bad.has_code("adapter.missing_capability"),
            "{name}: invalid request gave {}",
            bad.to_json()
        );
        assert!(
            bad.status == Status::Ok || !bad.diagnostics.is_empty(),
            "{name}: {}",
            bad.to_json()
        );
        let not_object = rt.run(name, json!([1]), &owner());
        assert_eq!(not_object.status, Status::Invalid, "{name}");
    }
    assert!(
        checked >= 22,
        "only {checked} operations answered ok; the schema check is too thin"
    );
    let unknown = rt.run("no.such", json!({}), &owner());
    assert_eq!(unknown.status, Status::Invalid);
    assert!(unknown.has_code("operation.unknown"));
    let eval = rt.run("eval.run", json!({"dir": "x"}), &owner());
    assert!(eval.has_code("operation.unsupported"), "{}", eval.to_json());
}

#[test]
fn contracts_list_every_operation_with_a_schema() {
    let c = phase_memory_runtime::service_contracts();
    let ops = c["operations"].as_array().expect("ops");
    assert_eq!(ops.len(), OPERATIONS.len());
    for spec in [
        "health.check",
        "store.init",
        "store.status",
        "store.migrate",
        "store.repair",
        "store.export",
        "store.import",
        "profile.apply",
        "profile.show",
        "profile.validate",
        "graph.import",
        "graph.export",
        "node.upsert",
        "node.get",
        "node.delete",
        "edge.upsert",
        "edge.delete",
        "event.append",
        "event.query",
        "lifecycle.plan",
        "lifecycle.apply",
        "activation.run",
        "package.compile",
        "review.list",
        "review.decide",
        "audit.query",
        "audit.verify",
        "audit.prune",
        "eval.run",
    ] {
        let op = ops
            .iter()
            .find(|o| o["name"] == spec)
            .unwrap_or_else(|| panic!("{spec} missing"));
        assert!(op["request_schema"].is_object(), "{spec}");
    }
}

/// The data of an ok envelope has exactly the top-level shape its registry entry
/// declares: every key is a declared property and every required one is present.
fn fits_schema(name: &str, data: &serde_json::Value) {
    let spec = phase_memory_runtime::registry::find(name).expect("registered");
    let schema = (spec.response_schema)();
    let props = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: schema has no properties: {schema}"));
    let obj = data
        .as_object()
        .unwrap_or_else(|| panic!("{name}: data is not an object: {data}"));
    for k in obj.keys() {
        assert!(
            props.contains_key(k),
            "{name}: data field {k:?} is not in the response schema"
        );
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().expect("required name");
        assert!(
            obj.contains_key(r),
            "{name}: required field {r:?} missing from {data}"
        );
    }
}
