//! The scripted end-to-end governance flow through the CLI, on the three example
//! profiles: import → lifecycle plan/apply at several dates → a review-gated
//! forget approved by a second actor → audit verify clean → tamper with one audit
//! line → verify names it. Plus invalid profiles of many kinds.

use crate::*;

fn transitions(env: &serde_json::Value) -> usize {
    env["data"]["transitions"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0)
}

fn init_with(dir: &Path, profile: &str) -> PathBuf {
    let s = dir.join("store");
    let p = repo().join("examples/profiles").join(profile);
    let (code, env) = pm_json(&s, &["init", "--profile", p.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{env}");
    s
}

#[test]
fn compliance_profile_review_gated_forget_and_tamper_detection() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = init_with(dir.path(), "compliance-strict.toml");
    let g = write(
        dir.path(),
        "g.jsonl",
        concat!(
            "{\"record\":\"node\",\"id\":\"ledger-2015\",\"kind\":\"record\",\"title\":\"Ledger 2015\",\"body\":\"quarterly ledger zebra-erase-me\",\"phase\":\"archived\",\"created_at\":\"2015-01-10T00:00:00Z\"}\n",
            "{\"record\":\"node\",\"id\":\"case-7\",\"kind\":\"case\",\"title\":\"Case 7\",\"body\":\"an open case\",\"created_at\":\"2025-06-01T00:00:00Z\"}\n",
            "{\"record\":\"node\",\"id\":\"held\",\"kind\":\"record\",\"title\":\"Held\",\"body\":\"under hold\",\"phase\":\"archived\",\"labels\":[\"legal-hold\"],\"created_at\":\"2014-01-01T00:00:00Z\"}\n",
            "{\"record\":\"edge\",\"from\":\"case-7\",\"to\":\"ledger-2015\",\"type\":\"references\"}\n",
            "{\"record\":\"event\",\"event\":\"node.accessed\",\"at\":\"2025-07-01T00:00:00Z\",\"subjects\":[\"case-7\"]}\n",
        ),
    );
    let (code, env) = pm_json(&s, &["--as-of", "2026-01-05T00:00:00Z", "import", &g]);
    assert_eq!(code, 0, "{env}");
    plans_at_several_dates(&s);
    let review = apply_holds_the_forget_for_review(&s);
    only_a_compliance_officer_approves(&s, &review);
    audit_is_clean_and_the_erased_text_gone(&s);
    tampering_with_the_audit_is_named(&s);
}

fn plans_at_several_dates(s: &Path) {
    // Plans at several dates: nothing idle yet, then retention, then the case goes retained.
    let (_, p1) = pm_json(s, &["--as-of", "2026-01-05T00:00:00Z", "lifecycle", "plan"]);
    let (_, p2) = pm_json(s, &["--as-of", "2026-09-01T00:00:00Z", "lifecycle", "plan"]);
    let (_, p3) = pm_json(s, &["--as-of", "2027-09-01T00:00:00Z", "lifecycle", "plan"]);
    assert_eq!(transitions(&p1), 1, "{p1}");
    assert_eq!(p1["data"]["transitions"][0]["rule_id"], "retention-expired");
    assert_eq!(p1["data"]["blocked"][0]["node"], "held", "{p1}");
    assert!(
        transitions(&p3) > transitions(&p2) || transitions(&p3) >= 2,
        "{p2}\n{p3}"
    );
}

fn apply_holds_the_forget_for_review(s: &Path) -> String {
    // Apply as the owner: the forget is held for review.
    let (code, env) = pm_json(
        s,
        &["--as-of", "2026-01-05T00:00:00Z", "lifecycle", "apply"],
    );
    assert_eq!(code, 3, "{env}");
    assert_eq!(env["status"], "review_required");
    let review = env["data"]["reviews"][0]["review"]
        .as_str()
        .expect("review")
        .to_string();
    let (_, list) = pm_json(
        s,
        &[
            "--as-of",
            "2026-01-05T00:00:00Z",
            "review",
            "list",
            "--status",
            "pending",
        ],
    );
    assert_eq!(list["data"]["reviews"][0]["id"], review.as_str());
    review
}

fn only_a_compliance_officer_approves(s: &Path, review: &str) {
    // The requester cannot approve; an analyst may not decide; a compliance officer can.
    let (code, env) = pm_json(
        s,
        &[
            "--as-of",
            "2026-01-06T00:00:00Z",
            "review",
            "approve",
            review,
        ],
    );
    assert_eq!(
        (code, env["diagnostics"][0]["code"].as_str()),
        (3, Some("review.self_approval")),
        "{env}"
    );
    let (code, ann) = pm_json(
        s,
        &[
            "--actor",
            "ann",
            "--role",
            "analyst",
            "--scope",
            "*",
            "--as-of",
            "2026-01-06T00:00:00Z",
            "review",
            "approve",
            review,
        ],
    );
    assert_eq!(code, 3, "{ann}");
    let (code, env) = pm_json(
        s,
        &[
            "--actor",
            "carol",
            "--role",
            "compliance-officer",
            "--scope",
            "*",
            "--as-of",
            "2026-01-06T00:00:00Z",
            "review",
            "approve",
            review,
            "--reason",
            "retention period over",
        ],
    );
    assert_eq!(code, 0, "{env}");
    let (code, env) = pm_json(
        s,
        &[
            "--actor",
            "carol",
            "--role",
            "compliance-officer",
            "--scope",
            "*",
            "review",
            "approve",
            review,
        ],
    );
    assert_eq!(
        (code, env["status"].as_str()),
        (4, Some("conflict")),
        "{env}"
    );
    let (_, node) = pm_json(s, &["node", "get", "ledger-2015"]);
    assert_eq!(node["data"]["node"]["phase"], "forgotten");
    assert!(!node.to_string().contains("zebra-erase-me"));
}

fn audit_is_clean_and_the_erased_text_gone(s: &Path) {
    // Audit: clean, with the erasure receipt checked and the review traceable from the node.
    let (code, v) = pm_json(s, &["audit", "verify"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["data"]["receipts_checked"], 1);
    let (_, q) = pm_json(s, &["audit", "query", "--subject", "ledger-2015"]);
    let ops: Vec<&str> = q["data"]["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["operation"].as_str())
        .collect();
    assert!(
        ops.contains(&"review.requested")
            && ops.contains(&"node.erase")
            && ops.contains(&"review.decide"),
        "{ops:?}"
    );
    // The erased text is in no file of the store.
    for f in walk(s) {
        let bytes = std::fs::read(&f).expect("read");
        assert!(
            !bytes.windows(14).any(|w| w == b"zebra-erase-me"),
            "erased text in {}",
            f.display()
        );
    }
}

fn tampering_with_the_audit_is_named(s: &Path) {
    // Tamper with one audit line: verification names it and fails.
    let audit = walk(s)
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("audit"))
        })
        .expect("audit file");
    let text = std::fs::read_to_string(&audit).expect("audit text");
    let tampered = text.replacen("\"actor\":\"carol\"", "\"actor\":\"mallory\"", 1);
    assert_ne!(tampered, text, "no line by carol to tamper with");
    std::fs::write(&audit, tampered).expect("tamper");
    let (code, v) = pm_json(s, &["audit", "verify"]);
    assert_ne!(code, 0, "{v}");
    let named = v["diagnostics"].as_array().expect("diags").iter().any(|d| {
        let m = format!("{} {}", d["message"], d["path"]);
        (d["code"] == "audit.chain_broken" || d["code"] == "store.corrupt_record")
            && (m.contains("audit") || m.contains("seq"))
    });
    assert!(named, "verification does not name the tampered record: {v}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
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
fn personal_and_team_profiles_drive_lifecycle_over_time() {
    for (profile, graph, early, late) in [
        (
            "personal-assistant.toml",
            concat!(
                "{\"record\":\"node\",\"id\":\"e1\",\"kind\":\"episode\",\"title\":\"Lunch with Sam\",\"body\":\"talked about the trip\",\"created_at\":\"2026-01-01T12:00:00Z\"}\n",
                "{\"record\":\"node\",\"id\":\"t1\",\"kind\":\"task\",\"title\":\"Book flights\",\"created_at\":\"2026-01-02T12:00:00Z\"}\n",
                "{\"record\":\"event\",\"event\":\"task.completed\",\"at\":\"2026-01-03T12:00:00Z\",\"subjects\":[\"t1\"]}\n",
            ),
            "2026-01-01T13:00:00Z",
            "2026-01-05T00:00:00Z",
        ),
        (
            "team-knowledge-base.toml",
            concat!(
                "{\"record\":\"node\",\"id\":\"d1\",\"kind\":\"document\",\"title\":\"Runbook\",\"body\":\"how to deploy\",\"scope\":\"team-platform\",\"created_at\":\"2026-01-01T00:00:00Z\"}\n",
                "{\"record\":\"node\",\"id\":\"d2\",\"kind\":\"document\",\"title\":\"Runbook v2\",\"body\":\"how to deploy now\",\"scope\":\"team-platform\",\"created_at\":\"2026-02-01T00:00:00Z\"}\n",
                "{\"record\":\"edge\",\"from\":\"d2\",\"to\":\"d1\",\"type\":\"supersedes\"}\n",
                "{\"record\":\"event\",\"event\":\"document.published\",\"at\":\"2026-02-02T00:00:00Z\",\"subjects\":[\"d2\"]}\n",
            ),
            "2026-01-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let s = init_with(dir.path(), profile);
        let g = write(dir.path(), "g.jsonl", graph);
        let (code, env) = pm_json(&s, &["--as-of", early, "import", &g]);
        assert_eq!(code, 0, "{profile}: {env}");
        let (_, a) = pm_json(&s, &["--as-of", early, "lifecycle", "plan"]);
        let (_, b) = pm_json(&s, &["--as-of", late, "lifecycle", "plan"]);
        assert!(transitions(&b) > transitions(&a), "{profile}: {a}\n{b}");
        let (code, env) = pm_json(&s, &["--as-of", late, "lifecycle", "apply"]);
        assert!(code == 0 || code == 3, "{profile}: {env}");
        let (code, v) = pm_json(&s, &["audit", "verify"]);
        assert_eq!(code, 0, "{profile}: {v}");
    }
}

#[test]
fn invalid_profiles_get_clear_diagnostics() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = std::fs::read_to_string(repo().join("crates/phase-memory-profile/src/default.toml"))
        .expect("default profile");
    let cases: &[(&str, &str, &str)] = &[
        ("unclosed", "kinds = [\n", "kinds"),
        (
            "level",
            "default = \"internal\" => default = \"top\"",
            "sensitivity.default",
        ),
        (
            "tokenizer",
            "encoding = \"o200k_base\" => encoding = \"gpt2\"",
            "tokenizer.encoding",
        ),
        (
            "phase",
            "initial_phase = \"active\" => initial_phase = \"limbo\"",
            "initial_phase",
        ),
        (
            "weight",
            "activation_weight = 0.8 => activation_weight = 2.0",
            "activation_weight",
        ),
        ("decay", "decay = 0.5 => decay = 0.0", "activation.decay"),
        ("target", "to = \"active\" => to = \"nirvana\"", "lifecycle"),
        (
            "builtin",
            "builtin = \"private_key\" => builtin = \"passport\"",
            "builtin",
        ),
        (
            "effect",
            "default_effect = \"allow\" => default_effect = \"perhaps\"",
            "default_effect",
        ),
        (
            "unknown-field",
            "name = \"default\" => title = \"default\"",
            "title",
        ),
        ("type", "max_hops = 2 => max_hops = \"two\"", "max_hops"),
        (
            "duplicate",
            "id = \"idle-goes-dormant\" => id = \"captured-settles\"",
            "lifecycle",
        ),
    ];
    for (name, edit, field) in cases {
        let text = match edit.split_once(" => ") {
            Some((from, to)) => {
                assert!(base.contains(from), "{name}: default profile lacks {from}");
                base.replacen(from, to, 1)
            }
            None => edit.to_string(),
        };
        let f = write(dir.path(), &format!("{name}.toml"), &text);
        let (code, env) = pm_json(&dir.path().join("none"), &["profile", "validate", &f]);
        assert_eq!(code, 2, "{name}: {env}");
        let d = env["diagnostics"]
            .as_array()
            .expect("diags")
            .iter()
            .find(|d| d["code"] == "profile.invalid")
            .unwrap_or_else(|| panic!("{name}: {env}"));
        let msg = d["message"].as_str().unwrap_or("");
        let path = d["path"].as_str().unwrap_or("");
        assert!(
            msg.contains(field),
            "{name}: message {msg:?} should name {field}"
        );
        assert!(
            path.starts_with(&f) && path[f.len()..].starts_with(':'),
            "{name}: location {path:?} should be FILE:LINE:COL"
        );
    }
    for p in [
        "personal-assistant.toml",
        "team-knowledge-base.toml",
        "compliance-strict.toml",
    ] {
        let f = repo().join("examples/profiles").join(p);
        let (code, env) = pm_json(
            &dir.path().join("none"),
            &["profile", "validate", f.to_str().expect("utf8")],
        );
        assert_eq!(code, 0, "{p}: {env}");
    }
}
