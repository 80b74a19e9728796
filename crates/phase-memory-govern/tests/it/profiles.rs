//! The example profiles in `examples/profiles/` all validate, and say what they claim.

use std::path::PathBuf;

use phase_memory_govern::{Effect, NodeFacts, Target, admit, decide, decide_operation, plan};
use phase_memory_profile::Profile;

use crate::{actor, node, t};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/profiles")
}

fn load(name: &str) -> Profile {
    let path = dir().join(name);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Profile::parse(&src, name).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_example_profile_validates() {
    let mut names = Vec::new();
    let entries = std::fs::read_dir(dir()).unwrap_or_else(|e| panic!("examples/profiles: {e}"));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".toml") {
            let p = load(&name);
            assert!(p.digest().starts_with("blake3:"));
            names.push(name);
        }
    }
    names.sort();
    for want in [
        "compliance-strict.toml",
        "personal-assistant.toml",
        "team-knowledge-base.toml",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "missing {want} in {names:?}"
        );
    }
}

#[test]
fn personal_assistant_lets_episodes_go_dormant_after_weeks() {
    let p = load("personal-assistant.toml");
    for k in ["preference", "fact", "episode", "task", "contact"] {
        assert!(p.kinds.contains_key(k), "kind {k}");
    }
    assert!(p.activation.decay > Profile::builtin().activation.decay);
    let ep = node("e1", "episode", &p.kinds["episode"].initial_phase);
    let soon = plan(&p, &[&ep], &|_| NodeFacts::default(), t("2026-01-05"));
    assert!(
        soon.transitions.iter().all(|tr| tr.to != "dormant"),
        "{soon:?}"
    );
    let mut settled = ep.clone();
    settled.phase = "active".into();
    let later = plan(&p, &[&settled], &|_| NodeFacts::default(), t("2026-03-01"));
    assert_eq!(
        later.transitions.first().map(|tr| tr.to.as_str()),
        Some("dormant"),
        "{later:?}"
    );
}

#[test]
fn team_kb_confidential_needs_member_and_reviewers_decide() {
    let p = load("team-knowledge-base.toml");
    for k in ["document", "decision", "howto", "person", "project"] {
        assert!(p.kinds.contains_key(k), "kind {k}");
    }
    let mut doc = node("d1", "document", "active");
    doc.sensitivity = "confidential".into();
    doc.scope = "team-platform".into();
    let guest = actor(&["guest"], &["team-platform"]);
    let member = actor(&["member"], &["team-platform"]);
    assert_eq!(
        decide(&p, "node.get", &guest, &Target::of(&doc)).effect,
        Effect::Deny
    );
    assert_eq!(
        decide(&p, "node.get", &member, &Target::of(&doc)).effect,
        Effect::Allow
    );
    let outsider = actor(&["member"], &["team-data"]);
    assert_eq!(
        decide(&p, "node.get", &outsider, &Target::of(&doc))
            .rule_id
            .as_deref(),
        Some("scope")
    );
    assert_eq!(
        decide_operation(&p, "review.decide", &member).effect,
        Effect::Deny
    );
    assert_eq!(
        decide_operation(&p, "review.decide", &actor(&["reviewer"], &["*"])).effect,
        Effect::Allow
    );
    // Superseded decisions are archived.
    let old = node("old", "decision", "active");
    let facts = |_: &str| NodeFacts {
        incoming_edge_types: ["supersedes".to_string()].into(),
        ..NodeFacts::default()
    };
    let got = plan(&p, &[&old], &facts, t("2026-01-02"));
    assert_eq!(
        got.transitions.first().map(|tr| tr.to.as_str()),
        Some("archived"),
        "{got:?}"
    );
}

#[test]
fn compliance_strict_denies_by_default_and_reviews_forgetting() {
    let p = load("compliance-strict.toml");
    assert_eq!(p.policy.default_effect, Effect::Deny);
    assert!(p.audit.record_reads);
    assert!(p.retention.audit_days >= 7 * 365);
    let analyst = actor(&["analyst"], &["*"]);
    let stranger = actor(&[], &["*"]);
    let mut rec = node("r1", "record", "active");
    rec.sensitivity = "internal".into();
    assert_eq!(
        decide(&p, "node.get", &analyst, &Target::of(&rec)).effect,
        Effect::Allow
    );
    assert_eq!(
        decide(&p, "node.get", &stranger, &Target::of(&rec)).effect,
        Effect::Deny
    );
    let forget = Target::of(&rec).with_target_phase("forgotten");
    let officer = actor(&["records-officer"], &["*"]);
    assert_eq!(
        decide(&p, "lifecycle.apply", &officer, &forget).effect,
        Effect::Review
    );
    rec.sensitivity = "confidential".into();
    assert_eq!(
        decide(&p, "package.compile", &analyst, &Target::of(&rec)).effect,
        Effect::Review
    );
    // Admission: e-mail and card numbers.
    let mut w = node("w1", "record", "active");
    w.body = "contact: ana@example.com".into();
    assert!(admit(&p, &w).is_some());
    w.body = "card 5555 5555 5555 4444".into();
    assert!(admit(&p, &w).is_some());
    w.body = "quarterly filing submitted".into();
    assert!(admit(&p, &w).is_none());
    // Legal hold blocks forgetting in plans.
    let mut held = node("h1", "record", "archived");
    held.labels = vec![p.retention.legal_hold_label.clone()];
    let got = plan(&p, &[&held], &|_| NodeFacts::default(), t("2040-01-01"));
    assert!(
        got.transitions.is_empty() && got.blocked.len() == 1,
        "{got:?}"
    );
    assert_eq!(
        decide_operation(&p, "audit.query", &actor(&["auditor"], &["*"])).effect,
        Effect::Allow
    );
    assert_eq!(
        decide_operation(&p, "audit.query", &analyst).effect,
        Effect::Deny
    );
}
