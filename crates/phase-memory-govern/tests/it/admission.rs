//! Admission: built-in and custom patterns, deny > review, no leaked text.

use phase_memory_govern::{CompiledPolicy, Effect, admit, luhn_valid};
use phase_memory_profile::{AdmissionRule, Profile};
use serde_json::{Value, json};

use crate::{node, profile};

const ADMISSION: &str = r#"
[[policy.admission]]
id = "no-api-keys"
effect = "deny"
builtin = "api_key"

[[policy.admission]]
id = "no-private-keys"
effect = "deny"
builtin = "private_key"

[[policy.admission]]
id = "email-review"
effect = "review"
builtin = "email"

[[policy.admission]]
id = "card-review"
effect = "review"
builtin = "card_number"

[[policy.admission]]
id = "codename"
effect = "deny"
pattern = '(?i)\bproject\s+nightjar\b'
fields = ["title", "body"]
"#;

/// `secret` is the text that must never appear in the decision.
fn check(
    title: &str,
    body: &str,
    attrs: Value,
    secret: &str,
    expect: Option<(Effect, &str, &str)>,
) {
    let p = profile(ADMISSION);
    let mut x = node("n1", "fact", "active");
    x.title = title.into();
    x.body = body.into();
    if let Value::Object(m) = attrs {
        x.attrs = m.into_iter().collect();
    }
    let d = admit(&p, &x);
    let compiled = CompiledPolicy::new(&p).admit(&x);
    assert_eq!(d, compiled, "admit and CompiledPolicy agree");
    match (d, expect) {
        (None, None) => {}
        (Some(d), Some((effect, rule, field))) => {
            assert_eq!(
                (d.effect, d.rule_id.as_deref()),
                (effect, Some(rule)),
                "{body}: {d:?}"
            );
            assert!(d.reason.contains(rule), "{d:?}");
            assert!(
                d.reason.contains(field),
                "reason names the field {field}: {d:?}"
            );
            assert!(
                !secret.is_empty() && !d.reason.contains(secret),
                "leaked: {d:?}"
            );
            let wire = serde_json::to_string(&d).unwrap_or_default();
            assert!(!wire.contains(secret), "leaked on the wire: {wire}");
        }
        (got, want) => panic!("{title:?}/{body:?}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn builtin_and_custom_patterns_fire() {
    use Effect::*;
    let aws = "AKIAIOSFODNN7EXAMPLE";
    check(
        "",
        &format!("creds: {aws} for prod"),
        json!({}),
        aws,
        Some((Deny, "no-api-keys", "body")),
    );
    let sk = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    check(
        "",
        &format!("use {sk} please"),
        json!({}),
        sk,
        Some((Deny, "no-api-keys", "body")),
    );
    let gh = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
    check(gh, "", json!({}), gh, Some((Deny, "no-api-keys", "title")));
    let assigned = "api_key = \"Zx81kQpLmN03vBtY7wRe\"";
    check(
        "",
        assigned,
        json!({}),
        "Zx81kQpLmN03vBtY7wRe",
        Some((Deny, "no-api-keys", "body")),
    );
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----";
    check(
        "",
        pem,
        json!({}),
        "MIIEpAIBAAKCAQEA7",
        Some((Deny, "no-private-keys", "body")),
    );
    check(
        "",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        json!({}),
        "OPENSSH",
        Some((Deny, "no-private-keys", "body")),
    );
    let mail = "jane.doe@example.com";
    check(
        "",
        &format!("write to {mail} today"),
        json!({}),
        mail,
        Some((Review, "email-review", "body")),
    );
    check(
        "",
        "",
        json!({"contact": {"email": mail}}),
        mail,
        Some((Review, "email-review", "attrs")),
    );
    let card = "4111 1111 1111 1111";
    check(
        "",
        &format!("paid with {card}."),
        json!({}),
        card,
        Some((Review, "card-review", "body")),
    );
    check(
        "",
        "",
        json!({"card": 5555555555554444u64}),
        "5555555555554444",
        Some((Review, "card-review", "attrs")),
    );
    // Custom regex, title and body only.
    check(
        "Project Nightjar kickoff",
        "",
        json!({}),
        "Nightjar",
        Some((Deny, "codename", "title")),
    );
    check(
        "",
        "",
        json!({"note": "project nightjar"}),
        "nightjar",
        None,
    );
}

#[test]
fn deny_beats_review_and_fields_are_listed() {
    let aws = "AKIAIOSFODNN7EXAMPLE";
    // email (review) in the title, api key (deny) in the body: deny wins.
    check(
        "ping jane@example.com",
        &format!("key {aws}"),
        json!({}),
        aws,
        Some((Effect::Deny, "no-api-keys", "body")),
    );
    // The same email in title and body: both fields are named.
    let p = profile(ADMISSION);
    let mut x = node("n1", "fact", "active");
    x.title = "jane@example.com".into();
    x.body = "cc jane@example.com".into();
    x.attrs.insert("to".into(), json!("jane@example.com"));
    let d = admit(&p, &x).expect("fires");
    assert_eq!(
        d.reason,
        "admission rule \"email-review\" matched the title, body and attrs: the write needs review"
    );
}

#[test]
fn clean_text_passes() {
    for body in [
        "Paris is the capital of France.",
        "Meeting moved to 2026-03-05 at 10:00; call +1 555 0100.",
        "The build took 1767225600000 ms according to the log.",
        "Order 12345678901234 shipped.",
        "See https://example.org/docs for the API key rotation policy.",
        "token bucket size is 20",
    ] {
        check(
            "Notes",
            body,
            json!({"n": 42, "ok": true, "tags": ["a", "b"]}),
            "unused-secret",
            None,
        );
    }
    assert!(!luhn_valid("1767225600000"));
    assert!(!luhn_valid("12345678901234"));
    assert!(luhn_valid("4111-1111-1111-1111"));
    assert!(!luhn_valid("4111"));
}

#[test]
fn no_admission_rules_admit_everything() {
    let p = profile("");
    let mut x = node("n1", "fact", "active");
    x.body = "AKIAIOSFODNN7EXAMPLE".into();
    assert_eq!(admit(&p, &x), None);
}

#[test]
fn an_uncompilable_pattern_fails_closed() {
    // Only reachable for a profile built in code without validation.
    let mut p: Profile = profile("");
    p.policy.admission.push(AdmissionRule {
        id: "broken".into(),
        effect: Effect::Review,
        builtin: None,
        pattern: Some("(unclosed".into()),
        fields: vec!["body".into()],
    });
    let mut x = node("n1", "fact", "active");
    x.body = "anything at all".into();
    let d = admit(&p, &x).expect("fails closed");
    assert_eq!(
        (d.effect, d.rule_id.as_deref()),
        (Effect::Review, Some("broken"))
    );
    assert!(!d.reason.contains("anything"), "{d:?}");
    x.body.clear();
    assert_eq!(admit(&p, &x), None, "an empty field has nothing to check");
}

#[test]
fn builtin_patterns_compile() {
    let p = Profile::builtin();
    let compiled = CompiledPolicy::new(&p);
    assert_eq!(compiled.admission_rule_count(), p.policy.admission.len());
    let mut x = node("n1", "fact", "active");
    x.body = "nothing to see".into();
    assert_eq!(compiled.admit(&x), None);
}
