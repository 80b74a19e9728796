//! Every registered operation, called through the runner with a valid and an
//! invalid request: it works or answers with an explicit diagnostic, never panics.

use phase_memory_model::Status;
use phase_memory_runtime::registry::{OPERATIONS, find};
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
    // The command line reads the data back into the response type to show it.
    if let Err(e) = (spec.human)(data) {
        panic!("{name}: data does not read back into its response type: {e}\n{data}");
    }
}

/// Every registered operation declares its class, and the class is the one the
/// security model (docs/security.md) gives it: a new operation fails here until
/// its class is decided and written down.
#[test]
fn every_operation_declares_the_class_of_the_security_model() {
    use phase_memory_profile::OperationClass::*;
    let expected = [
        ("activation.run", Read),
        ("audit.prune", Admin),
        ("audit.query", Audit),
        ("audit.verify", Audit),
        ("edge.delete", Write),
        ("edge.upsert", Write),
        ("eval.run", Admin),
        ("event.append", Write),
        ("event.query", Read),
        ("graph.export", Read),
        ("graph.import", Write),
        ("health.check", Public),
        ("lifecycle.apply", Govern),
        ("lifecycle.plan", Govern),
        ("node.delete", Write),
        ("node.get", Read),
        ("node.upsert", Write),
        ("package.compile", Read),
        ("package.verify", Read),
        ("profile.apply", Admin),
        ("profile.show", Read),
        ("profile.validate", Read),
        ("review.decide", Govern),
        ("review.list", Read),
        ("store.export", Admin),
        ("store.import", Admin),
        ("store.init", Admin),
        ("store.migrate", Admin),
        ("store.repair", Admin),
        ("store.status", Read),
    ];
    for spec in phase_memory_runtime::registry::OPERATIONS {
        let want = expected
            .iter()
            .find(|(n, _)| *n == spec.name)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| {
                panic!(
                    "{} is registered without a class decision: add it here and to docs/security.md",
                    spec.name
                )
            });
        assert_eq!(spec.class, want, "{}", spec.name);
        // Writes are never public or read-only classes.
        if spec.writes {
            assert!(
                !matches!(spec.class, Public | Read | Audit),
                "{} writes but is {}",
                spec.name,
                spec.class
            );
        }
    }
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md"),
    )
    .expect("docs/security.md");
    for spec in phase_memory_runtime::registry::OPERATIONS {
        assert!(
            doc.contains(&format!("`{}`", spec.name)),
            "docs/security.md does not place {}",
            spec.name
        );
    }
    let contracts = phase_memory_runtime::service_contracts();
    for op in contracts["operations"].as_array().expect("operations") {
        assert!(op["class"].is_string(), "{op}");
    }
}

/// The runner refuses an operation whose class the actor's roles do not grant,
/// before the handler runs (nothing written but the denial's audit record).
#[test]
fn the_runner_checks_the_class_before_the_handler() {
    let mut rt = mem();
    import_small(&mut rt);
    let before = export(&mut rt);
    let reader = actor("rea", &["reader"], &["default"]);
    let env = rt.run(
        "node.upsert",
        json!({"node": {"id": "x", "kind": "fact"}}),
        &reader,
    );
    assert_eq!(env.status, Status::Denied, "{}", env.to_json());
    assert!(env.has_code("auth.forbidden"));
    assert!(env.audit.is_some(), "denials are audited");
    assert_eq!(export(&mut rt), before);
    let nobody = actor("nobody", &[], &["*"]);
    for spec in phase_memory_runtime::registry::OPERATIONS {
        let env = rt.run(spec.name, json!({}), &nobody);
        if env.has_code("adapter.missing_capability") {
            // The memory adapter lacks it: refused before anyone is asked.
            continue;
        }
        if spec.class == phase_memory_profile::OperationClass::Public {
            assert_ne!(env.status, Status::Denied, "{}", spec.name);
        } else {
            assert!(
                env.has_code("auth.forbidden"),
                "{}: {}",
                spec.name,
                env.to_json()
            );
        }
    }
    // The owner keeps every class; a profile that strips it is refused.
    let stripped = phase_memory_profile::DEFAULT_PROFILE_TOML.replace(
        "owner = [\"read\", \"write\", \"govern\", \"audit\", \"admin\"]",
        "owner = [\"read\"]",
    );
    let env = rt.run("profile.apply", json!({"source": stripped}), &owner());
    assert_eq!(env.status, Status::Invalid, "{}", env.to_json());
    assert!(env.to_json().contains("access.roles.owner"));
}

#[test]
fn shape_lines_are_generated_from_the_response_types() {
    // The one-line shape people read (contracts, MCP tool descriptions, docs)
    // comes from the same schema as the published data schema.
    let shape = |name: &str| find(name).expect("registered").response_shape();
    assert_eq!(
        shape("activation.run"),
        "{budget{limit,used}, considered, items[{explain?,kind,node,phase,score,title,tokens}], not_fitted, withheld{count,rules}}"
    );
    assert_eq!(shape("node.get"), "{node}");
    assert_eq!(
        shape("graph.export"),
        "{counts{edges,events,nodes,withheld?}, jsonl?, path?}"
    );
    assert_eq!(shape("review.decide"), "{applied?, review}");
    for op in OPERATIONS {
        let line = op.response_shape();
        let schema = (op.response_schema)();
        let props = schema["properties"].as_object().expect("an object schema");
        assert!(!props.is_empty(), "{}: no fields", op.name);
        for field in props.keys() {
            assert!(
                line.contains(field.as_str()),
                "{}: {line} misses {field}",
                op.name
            );
        }
    }
}
