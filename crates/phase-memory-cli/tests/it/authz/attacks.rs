//! The attacks of the security review, one by one, and what `--data-dir` and the
//! review rules allow.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::support::{Reply, Served, http_raw};

/// Hidden and missing look the same: status, code and message.
fn same_answer(a: &Value, b: &Value, what: &str) {
    assert_eq!(a["status"], b["status"], "{what}: {a} vs {b}");
    let d = |e: &Value| {
        e["diagnostics"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .map(|x| (x["code"].clone(), x["severity"].clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(d(a), d(b), "{what}: {a} vs {b}");
    assert_eq!(a["data"], b["data"], "{what}: {a} vs {b}");
}

#[test]
fn the_attacks_of_the_security_review_fail_over_http() {
    let f = fixture();
    let member = add_token(&f, Who::Member);
    let reviewer = add_token(&f, Who::Reviewer);
    let admin = add_token(&f, Who::Admin);
    let served = serve(&f, None);
    let m = Some(member.as_str());

    exports_and_profile_apply(&served, m);
    no_server_path_without_data_dir(&f, &served, m);
    time_is_the_servers_on_writes(&served, m, &admin);
    reviews_repair_and_eval_need_their_roles(&served, m, &admin);
    hidden_and_missing_are_indistinguishable(&served, m);
    reviewer_reads_and_admin_exports(&served, &reviewer, &admin);
}

fn exports_and_profile_apply(served: &Served, m: Option<&str>) {
    // Exports show the member only what it may see; store.export is admin-only.
    let (status, env, text) = served.post_text("graph.export", m, &json!({}));
    assert_eq!(status, 200, "{env}");
    assert!(text.contains("bread"), "{text}");
    assert_clean(Who::Member, "graph.export", &text);
    let (status, env, _) = served.post_text("store.export", m, &json!({}));
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "auth.forbidden"));

    // profile.apply is admin-only.
    let permissive = phase_memory_profile::DEFAULT_PROFILE_TOML.replace(
        "roles_none = [\"owner\"]\nreason = \"secret memories",
        "roles_none = [\"owner\", \"member\"]\nreason = \"secret memories",
    );
    let (status, env, _) = served.post_text("profile.apply", m, &json!({"source": permissive}));
    assert_eq!(status, 403, "{env}");
    let (status, _, text) = served.post_text("node.get", m, &json!({"node": SECRET_ID}));
    assert_eq!(status, 404);
    assert_clean_for(Who::Member, "node.get", &text, &json!({"node": SECRET_ID}));
}

fn no_server_path_without_data_dir(f: &Fixture, served: &Served, m: Option<&str>) {
    // No server path without --data-dir: no write, no read, no existence oracle.
    let target = f.root.join("written-by-client.jsonl");
    for (op, req) in [
        (
            "graph.export",
            json!({"path": target.display().to_string()}),
        ),
        (
            "package.compile",
            json!({"cue": {"text": "bread"}, "out": target.display().to_string()}),
        ),
        ("profile.validate", json!({"path": "/etc/shadow"})),
        ("profile.validate", json!({"path": f.planted})),
        ("graph.import", json!({"path": f.planted})),
        ("graph.import", json!({"path": "/does/not/exist"})),
        ("package.verify", json!({"path": "/root"})),
    ] {
        let started = Instant::now();
        let (status, env, text) = served.post_text(op, m, &req);
        assert_eq!(status, 403, "{op}: {env}");
        assert!(has_code(&env, "files.denied"), "{op}: {env}");
        assert_clean_for(Who::Member, op, &text, &req);
        assert!(started.elapsed() < Duration::from_secs(5), "{op} was slow");
    }
    let (_, a, _) = served.post_text("graph.import", m, &json!({"path": f.planted}));
    let (_, b, _) = served.post_text("graph.import", m, &json!({"path": "/does/not/exist"}));
    same_answer(&a, &b, "an existing and a missing server file");
    assert!(!target.exists(), "a client wrote a server file");
}

fn time_is_the_servers_on_writes(served: &Served, m: Option<&str>, admin: &str) {
    // Time: no as_of on writes; reads keep it; audit times never go backwards.
    for at in ["2099-01-01T00:00:00Z", "2001-01-01T00:00:00Z"] {
        let (status, env, _) = served.post_text(
            "node.upsert",
            m,
            &json!({"node": {"id": format!("dated-{}", &at[..4]), "kind": "fact", "created_at": at}, "as_of": at}),
        );
        assert_eq!(status, 400, "{env}");
        assert!(has_code(&env, "request.as_of_write"), "{env}");
    }
    let (status, env, _) = served.post_text(
        "node.upsert",
        m,
        &json!({"node": {"id": "dated", "kind": "fact", "created_at": "2001-01-01T00:00:00Z"}}),
    );
    assert_eq!(status, 200, "{env}");
    assert_ne!(
        env["data"]["node"]["created_at"], "2001-01-01T00:00:00Z",
        "{env}"
    );
    let (status, env, _) = served.post_text(
        "activation.run",
        m,
        &json!({"cue": {"text": "bread"}, "as_of": "2026-03-02T00:00:00Z"}),
    );
    assert_eq!(status, 200, "{env}");
    let (status, env, _) = served.post_text(
        "lifecycle.apply",
        Some(admin),
        &json!({"as_of": "2099-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 400, "{env}");
    let (status, env, _) = served.post_text("audit.verify", Some(admin), &json!({}));
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");
}

fn reviews_repair_and_eval_need_their_roles(served: &Served, m: Option<&str>, admin: &str) {
    // Reviews: a member cannot decide; repair and eval are admin-only.
    let (status, env, _) = served.post_text(
        "review.decide",
        m,
        &json!({"review": "rev-000000000000", "decision": "approve"}),
    );
    assert_eq!(status, 403, "{env}");
    for (op, req) in [
        ("store.repair", json!({"apply": true})),
        ("eval.run", json!({"dir": "/root"})),
    ] {
        let (status, env, _) = served.post_text(op, m, &req);
        assert_eq!(status, 403, "{op}: {env}");
        assert!(has_code(&env, "auth.forbidden"), "{env}");
    }
    let (status, env, _) = served.post_text("eval.run", Some(admin), &json!({"dir": "/root"}));
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "files.denied"), "{env}");
}

fn hidden_and_missing_are_indistinguishable(served: &Served, m: Option<&str>) {
    // Hidden and missing are indistinguishable, explicit seeds included.
    for (op, hidden, missing) in [
        (
            "node.get",
            json!({"node": SECRET_ID}),
            json!({"node": "no-such-node"}),
        ),
        (
            "node.get",
            json!({"node": HR_ID}),
            json!({"node": "no-such-node"}),
        ),
        (
            "node.delete",
            json!({"node": SECRET_ID}),
            json!({"node": "no-such-node"}),
        ),
        (
            "edge.upsert",
            json!({"edge": {"from": "bread", "to": SECRET_ID, "type": "mentions"}}),
            json!({"edge": {"from": "bread", "to": "no-such-node", "type": "mentions"}}),
        ),
        (
            "event.append",
            json!({"event": {"event": "observation", "subjects": [HR_ID]}}),
            json!({"event": {"event": "observation", "subjects": ["no-such-node"]}}),
        ),
        (
            "event.query",
            json!({"subject": SECRET_ID}),
            json!({"subject": "no-such-node"}),
        ),
        (
            "activation.run",
            json!({"cue": {"nodes": [SECRET_ID]}}),
            json!({"cue": {"nodes": ["no-such-node"]}}),
        ),
        (
            "activation.run",
            json!({"cue": {"nodes": [HR_ID]}}),
            json!({"cue": {"nodes": ["no-such-node"]}}),
        ),
    ] {
        let (sa, a, ta) = served.post_text(op, m, &hidden);
        let (sb, b, _) = served.post_text(op, m, &missing);
        assert_eq!(sa, sb, "{op}: {a} vs {b}");
        same_answer(&a, &b, op);
        assert_clean_for(Who::Member, op, &ta, &hidden);
        let msg = |e: &Value| {
            e["diagnostics"][0]["message"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(
            msg(&a).replace(SECRET_ID, "X").replace(HR_ID, "X"),
            msg(&b).replace("no-such-node", "X"),
            "{op}"
        );
    }
}

fn reviewer_reads_and_admin_exports(served: &Served, reviewer: &str, admin: &str) {
    // The reviewer reads but does not write; the admin may export the whole store.
    let (status, env, _) = served.post_text(
        "node.upsert",
        Some(reviewer),
        &json!({"node": {"id": "by-reviewer", "kind": "fact"}}),
    );
    assert_eq!(status, 403, "{env}");
    let (status, env, text) = served.post_text("store.export", Some(admin), &json!({}));
    assert_eq!(status, 200, "{env}");
    assert!(text.contains(SECRET_BODY), "admin exports the whole store");
}

#[test]
fn profile_apply_can_need_a_second_admin_and_reviews_need_a_reviewer() {
    let f = fixture();
    // A profile with the two-person rule on profile.apply.
    let gated = format!(
        "{}\n[[policy.rules]]\nid = \"profile-two-person\"\neffect = \"review\"\noperations = [\"profile.apply\"]\nreason = \"policy changes need a second person\"\n",
        phase_memory_profile::DEFAULT_PROFILE_TOML
    );
    let p = write(&f.root, "gated.toml", &gated);
    let (code, env) = pm_json(&f.store, &["profile", "apply", &p]);
    assert_eq!(code, 0, "{env}");
    let admin = add_token(&f, Who::Admin);
    let member = add_token(&f, Who::Member);
    let reviewer = add_token(&f, Who::Reviewer);
    let served = serve(&f, None);
    let changed = gated.replace("record_reads = true", "record_reads = false");
    let (status, env, _) =
        served.post_text("profile.apply", Some(&admin), &json!({"source": changed}));
    assert_eq!(status, 202, "{env}");
    let review = env["data"]["review"]
        .as_str()
        .expect("review id")
        .to_string();
    // The requester cannot approve; a member has no reviewer role.
    let (status, env, _) = served.post_text(
        "review.decide",
        Some(&admin),
        &json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "review.self_approval"), "{env}");
    let (status, env, _) = served.post_text(
        "review.decide",
        Some(&member),
        &json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 403, "{env}");
    assert!(has_code(&env, "auth.forbidden"), "{env}");
    let (status, env, _) = served.post_text(
        "review.decide",
        Some(&reviewer),
        &json!({"review": review, "decision": "approve"}),
    );
    assert_eq!(status, 200, "{env}");
    let (_, shown, _) = served.post_text("profile.show", Some(&reviewer), &json!({}));
    assert_eq!(
        shown["data"]["profile"]["audit"]["record_reads"], false,
        "{shown}"
    );
}

#[test]
fn a_data_dir_confines_paths_and_inline_transfers_work() {
    let f = fixture();
    let data = f.root.join("data");
    std::fs::create_dir_all(data.join("in")).expect("data dir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&f.planted, data.join("link.toml")).expect("symlink");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&f.root, data.join("out-link")).expect("symlink");
    std::fs::write(data.join("in/graph.jsonl"), json!({"record": "node", "id": "from-file", "kind": "fact", "title": "From the data folder"}).to_string()).expect("write");
    // A big tree that is not a package.
    let tree = data.join("tree");
    for i in 0..120 {
        let d = tree.join(format!("d{i}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        for j in 0..100 {
            std::fs::write(d.join(format!("f{j}")), "x").expect("write");
        }
    }
    let member = add_token(&f, Who::Member);
    let m = Some(member.as_str());
    let served = serve(&f, Some(&data));

    let (status, env, _) = served.post_text("graph.import", m, &json!({"path": "in/graph.jsonl"}));
    assert_eq!(status, 200, "{env}");
    let (status, env, _) = served.post_text("graph.export", m, &json!({"path": "export.jsonl"}));
    assert_eq!(status, 200, "{env}");
    let written = std::fs::read_to_string(data.join("export.jsonl")).expect("export written");
    assert!(written.contains("from-file"));
    assert_clean(Who::Member, "exported file", &written);
    for bad in [
        "../planted.txt",
        "in/../../planted.txt",
        "link.toml",
        "out-link/planted.txt",
        "/etc/passwd",
    ] {
        let (status, env, text) = served.post_text("profile.validate", m, &json!({"path": bad}));
        assert_eq!(status, 403, "{bad}: {env}");
        assert!(has_code(&env, "files.denied"), "{bad}: {env}");
        assert_clean(Who::Member, bad, &text);
        // `link.toml.out` is a new plain file inside the folder (only `link.toml`
        // itself is a symlink out), so only the other paths must be refused.
        if bad != "link.toml" {
            let (status, env, _) =
                served.post_text("graph.export", m, &json!({"path": format!("{bad}.out")}));
            assert_eq!(status, 403, "{bad}: {env}");
        }
    }
    assert!(!f.root.join("planted.txt.out").exists());
    // A profile parse error quotes nothing from the file.
    std::fs::write(
        data.join("not-a-profile.toml"),
        format!("{PLANTED}:x:19000::\n"),
    )
    .expect("write");
    let (status, env, text) = served.post_text(
        "profile.validate",
        m,
        &json!({"path": "not-a-profile.toml"}),
    );
    assert_eq!(status, 400, "{env}");
    assert!(!text.contains(PLANTED), "{text}");
    // A huge tree is refused quickly, not walked.
    let started = Instant::now();
    let (status, env, _) = served.post_text("package.verify", m, &json!({"path": "tree"}));
    assert_eq!(status, 400, "{env}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // NDJSON import body, inline export, tar stream for a package.
    let ndjson = format!(
        "{}\n{}\n",
        json!({"record": "node", "id": "streamed-1", "kind": "fact", "title": "Streamed one"}),
        json!({"record": "node", "id": "streamed-2", "kind": "fact", "title": "Streamed two"})
    );
    let auth = format!("Bearer {member}");
    let Reply { status, body, .. } = http_raw(
        &served.addr,
        "POST",
        "/v1/ops/graph.import",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-ndjson"),
        ],
        ndjson.as_bytes(),
    )
    .expect("http");
    let env: Value = serde_json::from_slice(&body).expect("envelope");
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["data"]["nodes"], 2, "{env}");
    let (status, env, _) = served.post_text("graph.export", m, &json!({}));
    assert_eq!(status, 200);
    assert!(
        env["data"]["jsonl"]
            .as_str()
            .unwrap_or("")
            .contains("streamed-2")
    );
    let Reply {
        status, head, body, ..
    } = http_raw(
        &served.addr,
        "POST",
        "/v1/ops/package.compile",
        &[("Authorization", &auth), ("Accept", "application/x-tar")],
        json!({"cue": {"text": "streamed bread"}})
            .to_string()
            .as_bytes(),
    )
    .expect("http");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("application/x-tar"),
        "{head}"
    );
    let tar_file = f.root.join("pkg.tar");
    std::fs::write(&tar_file, &body).expect("write tar");
    let (code, env) = pm_json(
        &f.store,
        &["package", "verify", &tar_file.display().to_string()],
    );
    assert_eq!(code, 0, "{env}");
    let text = String::from_utf8_lossy(&body);
    assert_clean(Who::Member, "tar", &text);
}
