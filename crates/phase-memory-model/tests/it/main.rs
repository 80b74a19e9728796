//! Integration tests of the model: interchange parsing, canonical JSON, audit chain.

use phase_memory_model::audit::{GENESIS_HASH, verify_chain};
use phase_memory_model::*;
use proptest::prelude::*;
use serde_json::json;

fn check_parse(line: &str, expect_code: Option<&str>) {
    match (parse_record(line, 7), expect_code) {
        (Ok(_), None) => {}
        (Err(e), Some(code)) => {
            assert_eq!(e.code, code, "{line}: {e}");
            assert_eq!(e.line, 7);
        }
        (r, want) => panic!("{line}: got {r:?}, want {want:?}"),
    }
}

#[test]
fn interchange_accepts_minimal_records_and_names_bad_ones() {
    check_parse(r#"{"record":"node","id":"n1","kind":"fact"}"#, None);
    check_parse(
        r#"{"record":"edge","from":"a","to":"b","type":"relates_to"}"#,
        None,
    );
    check_parse(
        r#"{"record":"event","event":"node.accessed","at":"2026-01-02T09:00:00Z"}"#,
        None,
    );
    check_parse(r#"{"record":"node","id":"n1""#, Some("import.invalid_json"));
    check_parse(
        r#"{"record":"node","kind":"fact"}"#,
        Some("import.invalid_record"),
    );
    check_parse(
        r#"{"record":"blob","id":"x"}"#,
        Some("import.unknown_record"),
    );
    check_parse(r#"{"id":"x"}"#, Some("import.invalid_record"));
    check_parse(r#"[1,2]"#, Some("import.invalid_record"));
    check_parse(
        r#"{"record":"event","event":"x","at":"yesterday"}"#,
        Some("import.invalid_record"),
    );
    check_parse(
        r#"{"record":"node","id":"n","kind":"fact","colour":"red"}"#,
        Some("import.invalid_record"),
    );
}

#[test]
fn envelope_is_canonical() {
    let mut e = Envelope::new("node.get", Status::Ok, "r1", "blake3:p");
    e.data = json!({"z": 1, "a": 0.30000000000000004});
    e.diagnostics.push(Diagnostic::warning(
        "budget.exhausted",
        "2 items did not fit",
    ));
    insta::assert_snapshot!(e.to_json());
}

fn record(seq: u64, prev: &str) -> AuditRecord {
    AuditRecord {
        seq,
        at: Time::from_millis(seq as i64 * 1000),
        actor: "alice".into(),
        operation: "node.upsert".into(),
        status: "ok".into(),
        decision: "allow".into(),
        rule_id: None,
        subjects: vec![format!("n{seq}")],
        request_digest: "blake3:r".into(),
        envelope_digest: "blake3:e".into(),
        details: serde_json::Value::Null,
        prev_hash: String::new(),
        hash: String::new(),
    }
    .seal(prev)
}

fn chain(n: u64) -> Vec<AuditRecord> {
    let mut out: Vec<AuditRecord> = Vec::new();
    for s in 1..=n {
        let prev = out
            .last()
            .map(|r| r.hash.clone())
            .unwrap_or(GENESIS_HASH.into());
        out.push(record(s, &prev));
    }
    out
}

#[test]
fn audit_chain_detects_edit_delete_reorder() {
    let cp = AuditCheckpoint::default();
    let good = chain(5);
    assert!(verify_chain(&cp, &good).is_empty());

    let mut edited = good.clone();
    edited[2].actor = "mallory".into();
    let b = verify_chain(&cp, &edited);
    assert_eq!(b[0].seq, 3, "{b:?}");

    let mut deleted = good.clone();
    deleted.remove(1);
    assert_eq!(verify_chain(&cp, &deleted)[0].seq, 3);

    let mut reordered = good.clone();
    reordered.swap(1, 2);
    assert_eq!(verify_chain(&cp, &reordered)[0].index, 1);
}

proptest! {
    #[test]
    fn time_round_trips(ms in -10_000_000_000_000i64..10_000_000_000_000i64) {
        let t = Time::from_millis(ms);
        let back: Time = t.to_string().parse().expect("parse");
        prop_assert_eq!(back, t);
    }

    #[test]
    fn parser_never_panics(s in ".{0,200}") {
        let _ = parse_record(&s, 1);
    }

    #[test]
    fn node_records_round_trip(id in "[^\\p{Cc}]{1,40}", title in ".{0,40}", w in 0.0f64..10.0) {
        let rec = ImportRecord::Node(NodeRecord { id: id.clone(), kind: "fact".into(), title: Some(title), ..Default::default() });
        let line = serde_json::to_string(&rec).expect("ser");
        prop_assert_eq!(parse_record(&line, 1).expect("parse"), rec);
        let e = ImportRecord::Edge(EdgeRecord { from: id.clone(), to: "b".into(), edge_type: "t".into(), weight: Some(w), ..Default::default() });
        let line = serde_json::to_string(&e).expect("ser");
        prop_assert_eq!(parse_record(&line, 1).expect("parse"), e);
    }
}

/// Any JSON value: nested arrays and objects of strings (with characters JSON
/// escapes), integers and floats.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e9f64..1.0e9).prop_map(|f| json!(f)),
        "[a-z\"\\\\\u{0}-\u{1f}é😀/ ]{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_\"]{0,6}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// The envelope's canonical forms, written from its fields by reference,
    /// are byte for byte those of its JSON value (`to_value`): what `--json`
    /// prints, what HTTP sends and the digest audit records keep never change.
    #[test]
    fn envelope_writes_what_its_value_writes(
        data in json_value(),
        audit in prop::option::of((any::<u64>(), "[0-9a-f]{0,16}")),
        message in ".{0,30}",
        request_id in ".{0,20}",
    ) {
        let mut e = Envelope::new("activation.run", Status::Ok, &request_id, "blake3:p\"q");
        e.data = data;
        e.diagnostics.push(Diagnostic::info("policy.withheld", message).at("cue.text"));
        e.audit = audit.map(|(seq, hash)| AuditRef { seq, hash });
        let v = e.to_value();
        prop_assert_eq!(e.to_json(), canonical::canonical_json_pretty(&v));
        prop_assert_eq!(e.to_json_compact(), canonical::canonical_json(&v));
        let mut without = v.clone();
        if let serde_json::Value::Object(m) = &mut without {
            m.remove("audit");
        }
        prop_assert_eq!(e.digest_without_audit(), canonical::digest_value(&without));
    }
}

proptest! {
    /// A string is written as serde_json writes it (JSON's own escaping), with
    /// or without characters that need escaping.
    #[test]
    fn strings_are_escaped_as_json_escapes_them(s in "(.|[\"\\\\\u{0}-\u{1f}\u{7f}])*") {
        let want = serde_json::to_string(&s).expect("string");
        prop_assert_eq!(canonical::canonical_json(&json!(s)), want.clone());
        let keyed = canonical::canonical_json(&json!({ s.clone(): 1 }));
        prop_assert_eq!(keyed, format!("{{{want}:1}}"));
    }
}
