//! CLI behaviour: init/import/export, exit codes, `--json`, determinism, help.

use crate::*;

fn graph(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!("{{\"record\":\"node\",\"id\":\"n{i}\",\"kind\":\"fact\",\"title\":\"fact {i}\",\"body\":\"alpha bravo {i} charlie\"}}\n"));
    }
    for i in 1..n {
        out.push_str(&format!(
            "{{\"record\":\"edge\",\"from\":\"n{}\",\"to\":\"n{i}\",\"type\":\"relates_to\"}}\n",
            i - 1
        ));
    }
    out.push_str("{\"record\":\"event\",\"event\":\"node.accessed\",\"at\":\"2026-03-01T09:00:00Z\",\"subjects\":[\"n1\"]}\n");
    out
}

#[test]
fn init_import_export_reimport_is_identical() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let g = write(dir.path(), "g.jsonl", &graph(200));
    assert_eq!(pm(&a, &["init"]).status.code(), Some(0));
    let (code, env) = pm_json(&a, &["import", &g]);
    assert_eq!(code, 0, "{env}");
    assert_eq!(env["envelope"], "phase-memory/v1");
    assert_eq!(env["data"]["nodes"], 200);
    let e1 = dir.path().join("e1.jsonl");
    assert_eq!(
        pm(&a, &["export", "--out", e1.to_str().expect("utf8")])
            .status
            .code(),
        Some(0)
    );
    pm(&b, &["init", "--adapter", "sqlite"]);
    assert_eq!(
        pm(&b, &["import", e1.to_str().expect("utf8")])
            .status
            .code(),
        Some(0)
    );
    let e2 = pm(&b, &["export"]);
    assert_eq!(
        String::from_utf8_lossy(&e2.stdout).trim_end(),
        std::fs::read_to_string(&e1).expect("read").trim_end()
    );
}

#[test]
fn bad_input_exits_2_and_leaves_the_store_unchanged() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    pm(&s, &["init"]);
    let g = write(dir.path(), "g.jsonl", &graph(20));
    pm(&s, &["import", &g]);
    let before = pm(&s, &["export"]).stdout;
    for (name, text, code) in [
        (
            "json",
            "{\"record\":\"node\",\"id\":\"x\",\"kind\":\"fact\"}\n{not json\n",
            "import.invalid_json",
        ),
        (
            "field",
            "{\"record\":\"node\",\"kind\":\"fact\"}\n",
            "import.invalid_record",
        ),
        (
            "kind",
            "{\"record\":\"node\",\"id\":\"x\",\"kind\":\"starship\"}\n",
            "graph.unknown_kind",
        ),
        (
            "ref",
            "{\"record\":\"edge\",\"from\":\"n1\",\"to\":\"nowhere\",\"type\":\"relates_to\"}\n",
            "graph.missing_reference",
        ),
        (
            "record",
            "{\"record\":\"vertex\",\"id\":\"x\"}\n",
            "import.unknown_record",
        ),
    ] {
        let f = write(dir.path(), &format!("{name}.jsonl"), text);
        let (exit, env) = pm_json(&s, &["import", &f]);
        assert_eq!(exit, 2, "{name}: {env}");
        assert_eq!(env["status"], "invalid");
        let d = &env["diagnostics"][0];
        assert_eq!(d["code"], code, "{name}: {env}");
        assert!(
            d["path"]
                .as_str()
                .is_some_and(|p| p.contains(&format!("{name}.jsonl:"))),
            "{name}: {env}"
        );
        assert_eq!(
            pm(&s, &["export"]).stdout,
            before,
            "{name} changed the store"
        );
    }
    let p = write(dir.path(), "p.toml", "kinds = [\n");
    let out = pm(&s, &["profile", "validate", &p]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("p.toml:1:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exit_codes_follow_the_status() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    pm(&s, &["init"]);
    let g = write(
        dir.path(),
        "g.jsonl",
        "{\"record\":\"node\",\"id\":\"sec\",\"kind\":\"fact\",\"body\":\"vault\",\"sensitivity\":\"secret\"}\n",
    );
    pm(&s, &["import", &g]);
    let (code, env) = pm_json(&s, &["node", "get", "missing"]);
    assert_eq!((code, env["status"].as_str()), (4, Some("not_found")));
    let (code, env) = pm_json(
        &s,
        &[
            "--actor", "eve", "--role", "member", "--scope", "default", "node", "get", "sec",
        ],
    );
    // A node the actor may not see is, to it, missing.
    assert_eq!(
        (code, env["status"].as_str()),
        (4, Some("not_found")),
        "{env}"
    );
    assert!(!env.to_string().contains("vault"));
    let (code, _) = pm_json(&s, &["node", "get", "sec"]);
    assert_eq!(code, 0);
    let (code, env) = pm_json(&dir.path().join("nothing"), &["status"]);
    assert_eq!(
        (code, env["diagnostics"][0]["code"].as_str()),
        (4, Some("store.not_found"))
    );
}

#[test]
fn json_output_is_exactly_one_deterministic_envelope() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    pm(&s, &["init"]);
    let g = write(dir.path(), "g.jsonl", &graph(50));
    pm(&s, &["import", &g]);
    let a = pm(&s, &["--json", "--as-of", "2026-05-01T00:00:00Z", "status"]);
    let b = pm(&s, &["--json", "--as-of", "2026-05-01T00:00:00Z", "status"]);
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).expect("one JSON document");
    assert_eq!(v["operation"], "store.status");
    let act = pm(
        &s,
        &[
            "--json",
            "--as-of",
            "2026-05-01T00:00:00Z",
            "activate",
            "--text",
            "alpha charlie",
            "--budget",
            "60",
            "--explain",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&act.stdout).expect("envelope");
    let used: u64 = v["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["tokens"].as_u64().unwrap_or(0))
        .sum();
    assert!(used <= 60 && used > 0, "{v}");
    assert!(v["data"]["items"][0]["explain"].is_object());
}

#[test]
fn help_teaches_with_examples() {
    let out = std::process::Command::new(bin())
        .arg("--help")
        .output()
        .expect("help");
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Examples:",
        "activate",
        "compile",
        "lifecycle",
        "Exit codes",
    ] {
        assert!(text.contains(want), "help lacks {want}: {text}");
    }
}

#[test]
fn demo_runs_the_whole_flow() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("demo");
    let out = std::process::Command::new(bin())
        .args(["demo", "--dir", d.to_str().expect("utf8")])
        .output()
        .expect("demo");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("package/package.json").is_file());
    assert_eq!(
        pm(
            &d,
            &[
                "package",
                "verify",
                d.join("package").to_str().expect("utf8")
            ]
        )
        .status
        .code(),
        Some(0)
    );
}

#[test]
fn repair_quarantines_a_hand_edited_record_and_its_dangling_edges() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("s");
    pm(&s, &["init"]);
    let g = write(dir.path(), "g.jsonl", &graph(30));
    pm(&s, &["import", &g]);
    let seg = s.join("segments/00000001.jsonl");
    let text = std::fs::read_to_string(&seg).expect("segment");
    let edited = text.replacen("\"title\":\"fact 1", "\"title\":\"FACT 1", 1);
    assert_ne!(edited, text);
    std::fs::write(&seg, edited).expect("edit");
    let (code, env) = pm_json(&s, &["status"]);
    assert_ne!(code, 0);
    assert_eq!(
        env["diagnostics"][0]["code"], "store.corrupt_record",
        "{env}"
    );
    let (code, dry) = pm_json(&s, &["repair"]);
    assert_eq!(code, 0, "{dry}");
    assert_eq!(dry["data"]["clean"], false);
    let codes: Vec<&str> = dry["data"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"store.corrupt_record") && codes.contains(&"graph.missing_reference"),
        "{codes:?}"
    );
    let (code, fixed) = pm_json(&s, &["repair", "--apply"]);
    assert_eq!(code, 0, "{fixed}");
    let (_, after) = pm_json(&s, &["repair"]);
    assert_eq!(after["data"]["clean"], true, "{after}");
    assert_eq!(pm_json(&s, &["audit", "verify"]).0, 0);
    let quarantined = std::fs::read_dir(s.join("quarantine"))
        .expect("quarantine")
        .count();
    assert!(
        quarantined >= 2,
        "the bad line and the dangling edges are kept, not deleted"
    );
    let (_, q) = pm_json(&s, &["audit", "query", "--operation", "store.repair"]);
    assert_eq!(
        q["data"]["records"].as_array().map(|a| a.len()),
        Some(1),
        "repair is audited: {q}"
    );
}
