//! Functional flows: import/export, bad input, policy, lifecycle, reviews, audit,
//! activation and packages.

use phase_memory_model::Status;
use phase_memory_runtime::Adapter;
use serde_json::json;

use crate::*;

#[test]
fn import_export_round_trip_is_byte_identical() {
    let mut a = mem();
    import_small(&mut a);
    let first = export(&mut a);
    assert_eq!(first.lines().count(), 10);
    let mut b = mem();
    let records: Vec<serde_json::Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    check(
        &mut b,
        &owner(),
        "graph.import",
        json!({"records": records}),
        Status::Ok,
    );
    assert_eq!(export(&mut b), first);
}

#[test]
fn import_resolves_references_against_the_store_only_when_it_holds_nodes() {
    // An empty store: a reference to a node not in the file is refused, nothing kept.
    let mut rt = mem();
    let env = check(
        &mut rt,
        &owner(),
        "graph.import",
        json!({"records": [
            {"record": "node", "id": "fresh", "kind": "fact"},
            {"record": "edge", "from": "fresh", "to": "paris", "type": "relates_to"},
        ]}),
        Status::Invalid,
    );
    assert!(
        env.diagnostics
            .iter()
            .any(|d| d.code == "graph.missing_reference"),
        "{}",
        env.to_json()
    );
    assert_eq!(
        export(&mut rt),
        "",
        "a refused import changed an empty store"
    );
    // A store with nodes: edge ends found in the store, edge times from them.
    import_small(&mut rt);
    check(
        &mut rt,
        &owner(),
        "graph.import",
        json!({"records": [
            {"record": "node", "id": "rome", "kind": "fact", "created_at": "2026-03-01T00:00:00Z"},
            {"record": "edge", "from": "rome", "to": "paris", "type": "relates_to"},
            {"record": "edge", "from": "louvre", "to": "france", "type": "relates_to"},
        ]}),
        Status::Ok,
    );
    let text = export(&mut rt);
    for (from, to) in [("rome", "paris"), ("louvre", "france")] {
        let line = text
            .lines()
            .find(|l| {
                l.contains("\"record\":\"edge\"")
                    && l.contains(&format!("\"from\":\"{from}\""))
                    && l.contains(&format!("\"to\":\"{to}\""))
            })
            .unwrap_or_else(|| panic!("edge {from} -> {to} missing:\n{text}"));
        // Its time is its later end's creation, so the export leaves it out.
        assert!(!line.contains("created_at"), "{line}");
    }
}

fn refused(records: Vec<serde_json::Value>, code: &str, line: usize) {
    let mut rt = mem();
    import_small(&mut rt);
    let before = export(&mut rt);
    let env = check(
        &mut rt,
        &owner(),
        "graph.import",
        json!({"records": records}),
        Status::Invalid,
    );
    let d = env
        .diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("want {code}: {}", env.to_json()));
    assert!(d.message.contains(&format!("line {line}")), "{}", d.message);
    assert_eq!(
        export(&mut rt),
        before,
        "a refused import changed the store"
    );
}

#[test]
fn bad_import_is_refused_with_line_and_store_unchanged() {
    let ok = json!({"record": "node", "id": "fresh", "kind": "fact"});
    refused(
        vec![ok.clone(), json!({"record": "node", "kind": "fact"})],
        "import.invalid_record",
        2,
    );
    refused(
        vec![ok.clone(), json!({"record": "blob"})],
        "import.unknown_record",
        2,
    );
    refused(
        vec![json!({"record": "node", "id": "z", "kind": "spaceship"})],
        "graph.unknown_kind",
        1,
    );
    refused(
        vec![
            ok.clone(),
            json!({"record": "edge", "from": "fresh", "to": "missing-node", "type": "relates_to"}),
        ],
        "graph.missing_reference",
        2,
    );
    refused(
        vec![
            ok.clone(),
            json!({"record": "edge", "from": "fresh", "to": "paris", "type": "teleports"}),
        ],
        "graph.unknown_edge_type",
        2,
    );
    refused(vec![ok.clone(), ok.clone()], "import.invalid_record", 2);
    refused(
        vec![json!({"record": "node", "id": "", "kind": "fact"})],
        "graph.invalid_id",
        1,
    );
}

#[test]
fn bad_json_line_in_a_file_names_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("bad.jsonl");
    std::fs::write(
        &f,
        "{\"record\":\"node\",\"id\":\"a\",\"kind\":\"fact\"}\n{\"record\":\"node\",\"id\":\n",
    )
    .expect("write");
    let mut rt = mem();
    let env = check(
        &mut rt,
        &owner(),
        "graph.import",
        json!({"path": f.display().to_string()}),
        Status::Invalid,
    );
    let d = &env.diagnostics[0];
    assert_eq!(d.code, "import.invalid_json");
    assert!(
        d.path
            .as_deref()
            .is_some_and(|p| p.ends_with(":2:24") || p.contains(":2:")),
        "{:?}",
        d.path
    );
    assert_eq!(export(&mut rt), "");
}

#[test]
fn envelopes_are_deterministic_and_snapshotted() {
    let run = || {
        let mut rt = mem();
        import_small(&mut rt);
        let a = rt.run("node.get", json!({"node": "paris"}), &owner());
        let b = rt.run(
            "activation.run",
            json!({"cue": {"text": "paris museum"}, "budget_tokens": 200, "explain": true}),
            &owner(),
        );
        (a.to_json(), b.to_json())
    };
    let (a1, b1) = run();
    let (a2, b2) = run();
    assert_eq!(a1, a2);
    assert_eq!(b1, b2);
    insta::assert_snapshot!("node_get_envelope", a1);
    insta::assert_snapshot!("activation_envelope", b1);
}

#[test]
fn secret_and_out_of_scope_nodes_never_leak() {
    let mut rt = mem();
    import_small(&mut rt);
    let member = actor("mallory", &["member"], &["default"]);
    let env = check(
        &mut rt,
        &member,
        "activation.run",
        json!({"cue": {"text": "paris acquisition bakery offsite", "nodes": ["secret-plan"]}, "explain": true}),
        Status::Ok,
    );
    let text = env.to_json();
    for leak in [
        "secret-plan",
        "Acquisition",
        "bakery",
        "team-b/note",
        "offsite",
    ] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    assert!(
        env.data["withheld"]["count"].as_u64().unwrap_or(0) >= 1,
        "{text}"
    );
    // A hidden node is a missing node to the member.
    let got = check(
        &mut rt,
        &member,
        "node.get",
        json!({"node": "secret-plan"}),
        Status::NotFound,
    );
    assert!(!got.to_json().contains("bakery"));
    check(
        &mut rt,
        &member,
        "node.get",
        json!({"node": "team-b/note"}),
        Status::NotFound,
    );
    // The owner sees everything.
    let env = check(
        &mut rt,
        &owner(),
        "activation.run",
        json!({"cue": {"text": "bakery acquisition"}}),
        Status::Ok,
    );
    assert!(env.to_json().contains("secret-plan"));
}

#[test]
fn admission_refuses_secrets_without_echoing_them() {
    let mut rt = mem();
    let key = "sk-live-ABCDEFGHIJKLMNOPQRSTUVWX12345678";
    let env = check(
        &mut rt,
        &owner(),
        "node.upsert",
        json!({"node": {"id": "k", "kind": "note", "body": format!("the key is {key}")}}),
        Status::Denied,
    );
    assert!(env.has_code("policy.admission"));
    assert!(!env.to_json().contains(key));
    let env = check(
        &mut rt,
        &owner(),
        "node.upsert",
        json!({"node": {"id": "c", "kind": "note", "body": "card 4111 1111 1111 1111"}}),
        Status::ReviewRequired,
    );
    assert!(!env.to_json().contains("4111"));
    assert_eq!(export(&mut rt), "");
    let audit = check(&mut rt, &owner(), "audit.query", json!({}), Status::Ok);
    assert!(!audit.to_json().contains(key));
}

#[test]
fn review_gated_forget_needs_a_second_actor_and_applies_once() {
    let profile = phase_memory_profile::DEFAULT_PROFILE_TOML.to_string()
        + "\n[[lifecycle]]\nid = \"expire-facts\"\nfrom = [\"active\"]\nto = \"forgotten\"\nkinds = [\"fact\"]\nwhen = { age_days_gt = 30 }\n";
    let (dir, mut rt) = on_disk(Adapter::File, Some(&profile));
    check(
        &mut rt,
        &owner(),
        "graph.import",
        json!({"records": [
            {"record":"node","id":"n1","kind":"fact","title":"Old note zanzibar-unique-title","body":"zanzibar-unique-text","created_at":"2026-01-01T00:00:00Z"},
            {"record":"node","id":"n2","kind":"fact","title":"Held note","body":"kept for court","labels":["legal-hold"],"created_at":"2026-01-01T00:00:00Z"}
        ]}),
        Status::Ok,
    );
    // An activation persists the snapshot (it holds titles) in the store folder.
    check(
        &mut rt,
        &owner(),
        "activation.run",
        json!({"cue": {"text": "old note"}}),
        Status::Ok,
    );
    let persisted = dir
        .path()
        .join("store")
        .join(phase_memory_runtime::SNAPSHOT_DIR);
    assert!(walk(&persisted).iter().any(|p| {
        std::fs::read(p).is_ok_and(|b| b.windows(21).any(|w| w == b"zanzibar-unique-title"))
    }));
    let alice = actor("alice", &["owner"], &["*"]);
    let bob = actor("bob", &["owner"], &["*"]);
    let plan = check(
        &mut rt,
        &alice,
        "lifecycle.plan",
        json!({"as_of": "2026-03-15T00:00:00Z"}),
        Status::Ok,
    );
    assert_eq!(
        plan.data["transitions"].as_array().map(|a| a.len()),
        Some(1),
        "{}",
        plan.to_json()
    );
    assert_eq!(plan.data["blocked"][0]["node"], "n2");
    let env = check(
        &mut rt,
        &alice,
        "lifecycle.apply",
        json!({"as_of": "2026-03-15T00:00:00Z"}),
        Status::ReviewRequired,
    );
    let review = env.data["reviews"][0]["review"]
        .as_str()
        .expect("review id")
        .to_string();
    let again = check(
        &mut rt,
        &alice,
        "review.decide",
        json!({"review": review, "decision": "approve"}),
        Status::Denied,
    );
    assert!(again.has_code("review.self_approval"));
    check(
        &mut rt,
        &bob,
        "review.decide",
        json!({"review": review, "decision": "approve", "as_of": "2026-03-16T00:00:00Z"}),
        Status::Ok,
    );
    let twice = check(
        &mut rt,
        &bob,
        "review.decide",
        json!({"review": review, "decision": "approve"}),
        Status::Conflict,
    );
    assert!(twice.has_code("review.conflict"));
    let n1 = check(
        &mut rt,
        &owner(),
        "node.get",
        json!({"node": "n1"}),
        Status::Ok,
    );
    assert_eq!(n1.data["node"]["phase"], "forgotten");
    assert!(n1.data["node"]["tombstone"].is_object());
    let verify = check(&mut rt, &owner(), "audit.verify", json!({}), Status::Ok);
    assert_eq!(verify.data["receipts_checked"], 1);
    drop(rt);
    // The erased text is gone from every file of the store.
    for entry in walk(&dir.path().join("store")) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(
            !bytes.windows(20).any(|w| w == b"zanzibar-unique-text")
                && !bytes.windows(21).any(|w| w == b"zanzibar-unique-title"),
            "erased text survives in {}",
            entry.display()
        );
    }
    // Legal hold blocks node.delete too.
    let mut rt = open_runtime(&dir.path().join("store"), Clock::Fixed(t(T0))).expect("open");
    let held = check(
        &mut rt,
        &bob,
        "node.delete",
        json!({"node": "n2"}),
        Status::Denied,
    );
    assert!(held.has_code("legal_hold.active"));
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn audit_records_every_write_and_traces_denials() {
    let mut rt = mem();
    import_small(&mut rt);
    let member = actor("mallory", &["member"], &["default"]);
    check(
        &mut rt,
        &member,
        "node.get",
        json!({"node": "secret-plan"}),
        Status::NotFound,
    );
    check(&mut rt, &member, "audit.query", json!({}), Status::Denied);
    let q = check(
        &mut rt,
        &owner(),
        "audit.query",
        json!({"actor": "mallory"}),
        Status::Ok,
    );
    let recs = q.data["records"].as_array().expect("records");
    assert_eq!(recs.len(), 2, "{}", q.to_json());
    // To the member the hidden node was missing; the audit record keeps the
    // denial and its rule.
    assert_eq!(recs[0]["status"], "not_found");
    assert_eq!(recs[0]["decision"], "deny");
    assert_eq!(recs[0]["rule_id"], "secret-owner-only");
    assert_eq!(recs[1]["status"], "denied");
    assert_eq!(recs[1]["rule_id"], "access");
    let by_subject = check(
        &mut rt,
        &owner(),
        "audit.query",
        json!({"subject": "secret-plan"}),
        Status::Ok,
    );
    let traced = by_subject.data["records"].as_array().expect("r");
    assert_eq!(traced.len(), 1, "{}", by_subject.to_json());
    assert_eq!(traced[0]["decision"], "deny");
    assert_eq!(q.data["retention"]["audit_days"], 365);
    check(&mut rt, &owner(), "audit.verify", json!({}), Status::Ok);
    // Prune everything before a date; the chain still verifies behind the checkpoint.
    let p = check(
        &mut rt,
        &owner(),
        "audit.prune",
        json!({"before": "2026-03-02T00:00:00Z"}),
        Status::Ok,
    );
    assert!(
        p.data["pruned"].as_u64().unwrap_or(0) >= 3,
        "{}",
        p.to_json()
    );
    let v = check(&mut rt, &owner(), "audit.verify", json!({}), Status::Ok);
    assert_eq!(v.data["ok"], true);
}

/// JSON Schema counts a float without a fraction as an integer: up to the
/// published `uint64` bound such a request is accepted; a fractional, negative
/// or larger one is refused by path.
#[test]
fn integral_floats_are_integers_up_to_the_u64_bound() {
    let mut rt = mem();
    import_small(&mut rt);
    for limit in [json!(3.0), json!(9007199254740992.0), json!(1.0e19)] {
        let q = check(
            &mut rt,
            &owner(),
            "audit.query",
            json!({ "limit": limit }),
            Status::Ok,
        );
        assert!(q.data["records"].is_array(), "{}", q.to_json());
    }
    for bad in [
        json!(2.5),
        json!(-1.0),
        json!(18446744073709551616.0),
        json!(1.0e300),
        json!(-1.0e300),
    ] {
        let q = check(
            &mut rt,
            &owner(),
            "audit.query",
            json!({ "limit": bad }),
            Status::Invalid,
        );
        assert_eq!(q.diagnostics[0].path.as_deref(), Some("limit"));
    }
}

#[test]
fn budget_is_never_exceeded_and_items_are_ordered() {
    let mut rt = mem();
    import_small(&mut rt);
    for budget in [1u64, 5, 12, 30, 100, 1000] {
        let env = check(
            &mut rt,
            &owner(),
            "activation.run",
            json!({"cue": {"text": "paris france museum louvre"}, "budget_tokens": budget}),
            Status::Ok,
        );
        let items = env.data["items"].as_array().expect("items");
        let used: u64 = items
            .iter()
            .map(|i| i["tokens"].as_u64().unwrap_or(0))
            .sum();
        assert!(used <= budget, "budget {budget}: used {used}");
        assert_eq!(env.data["budget"]["used"].as_u64(), Some(used));
        for w in items.windows(2) {
            assert!(w[0]["score"].as_f64() >= w[1]["score"].as_f64());
        }
    }
}

#[test]
fn package_compile_is_byte_identical_and_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut rt = mem();
    import_small(&mut rt);
    let mut read = Vec::new();
    for k in 0..2 {
        let out = dir.path().join(format!("p{k}"));
        check(
            &mut rt,
            &owner(),
            "package.compile",
            json!({"cue": {"text": "paris museum"}, "out": out.display().to_string(), "budget_tokens": 400}),
            Status::Ok,
        );
        let mut files: Vec<(String, Vec<u8>)> = crate::flows::walk(&out)
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(&out).expect("prefix").display().to_string(),
                    std::fs::read(&p).expect("read"),
                )
            })
            .collect();
        files.sort();
        read.push(files);
        check(
            &mut rt,
            &owner(),
            "package.verify",
            json!({"path": out.display().to_string()}),
            Status::Ok,
        );
    }
    assert_eq!(read[0], read[1]);
    assert!(read[0].iter().any(|(p, _)| p == "package.json"));
}

#[test]
fn store_moves_between_file_and_sqlite_losslessly() {
    let (dir, mut file) = on_disk(Adapter::File, None);
    import_small(&mut file);
    check(
        &mut file,
        &owner(),
        "node.upsert",
        json!({"node": {"id": "n-up", "kind": "task", "title": "Ship it"}}),
        Status::Ok,
    );
    let dump = dir.path().join("dump.jsonl");
    check(
        &mut file,
        &owner(),
        "store.export",
        json!({"path": dump.display().to_string()}),
        Status::Ok,
    );
    let (_d2, mut sql) = on_disk(Adapter::Sqlite, None);
    check(
        &mut sql,
        &owner(),
        "store.import",
        json!({"path": dump.display().to_string()}),
        Status::Ok,
    );
    assert_eq!(export(&mut sql), export(&mut file));
    check(&mut sql, &owner(), "audit.verify", json!({}), Status::Ok);
    let a = check(
        &mut sql,
        &owner(),
        "audit.query",
        json!({"limit": 100000}),
        Status::Ok,
    );
    let b = check(
        &mut file,
        &owner(),
        "audit.query",
        json!({"limit": 100000}),
        Status::Ok,
    );
    // The restored chain is the source's chain up to the dump.
    assert_eq!(
        a.data["records"].as_array().expect("r")[..2],
        b.data["records"].as_array().expect("r")[..2]
    );
    assert_eq!(a.data["records"][2]["operation"], "store.import");
}

#[test]
fn status_reports_schema_counts_and_retention() {
    let (_d, mut rt) = on_disk(Adapter::File, None);
    import_small(&mut rt);
    let s1 = check(&mut rt, &owner(), "store.status", json!({}), Status::Ok);
    let s2 = check(&mut rt, &owner(), "store.status", json!({}), Status::Ok);
    assert_eq!(s1.to_json(), s2.to_json());
    assert_eq!(s1.data["counts"]["nodes"], 5);
    assert_eq!(
        s1.data["schema_version"],
        phase_memory_store::SCHEMA_VERSION
    );
    assert!(
        s1.data["pending_migrations"]
            .as_array()
            .expect("p")
            .is_empty()
    );
    let h = check(&mut rt, &owner(), "health.check", json!({}), Status::Ok);
    assert_eq!(h.data["index"]["fresh"], true, "{}", h.to_json());
    let r = check(&mut rt, &owner(), "store.repair", json!({}), Status::Ok);
    assert_eq!(r.data["clean"], true, "{}", r.to_json());
}
