//! Authorization over the real transports (docs/security.md): every registered
//! operation × {no token, member of another scope, member, reviewer, admin} over
//! HTTP (`phase-memory serve`) and over MCP (`phase-memory mcp`, every tool that
//! `tools/list` returns), asserting the status the operation's class gives and
//! that no forbidden string — ids, titles and bodies of nodes the actor may not
//! see, the content of a planted server file — appears in any response. Then the
//! attacks of the security review, one by one.

mod attacks;
mod matrix;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use phase_memory_profile::OperationClass;
use serde_json::{Value, json};

use crate::support::{Mcp, Served};
use crate::*;

const SECRET_ID: &str = "vault-7731";
const SECRET_TITLE: &str = "VaultTitle7731";
const SECRET_BODY: &str = "VAULTBODY7731";
const HR_ID: &str = "hr-salary-5521";
const HR_TITLE: &str = "HrTitle5521";
const HR_BODY: &str = "HRBODY5521";
const PLANTED: &str = "PLANTED-7c1f-SERVER-FILE";

/// What a non-admin must never see.
const HIDDEN: &[&str] = &[
    SECRET_ID,
    SECRET_TITLE,
    SECRET_BODY,
    HR_ID,
    HR_TITLE,
    HR_BODY,
];

fn graph() -> String {
    [
        json!({"record": "node", "id": "bread", "kind": "fact", "title": "Bread", "body": "Bread is baked daily at the bakery.", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": SECRET_ID, "kind": "fact", "title": SECRET_TITLE, "body": format!("{SECRET_BODY} bakery vault combination"), "sensitivity": "secret", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": HR_ID, "kind": "fact", "title": HR_TITLE, "body": format!("{HR_BODY} bakery salaries"), "scope": "hr", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "edge", "from": "bread", "to": SECRET_ID, "type": "relates_to"}),
        json!({"record": "edge", "from": "bread", "to": HR_ID, "type": "relates_to"}),
        json!({"record": "event", "event": "observation", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": [SECRET_ID], "payload": {}}),
        json!({"record": "event", "event": "observation", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": [HR_ID], "payload": {}}),
    ]
    .iter()
    .map(|r| format!("{r}\n"))
    .collect()
}

/// A store with the built-in profile and the test graph; the planted file beside
/// it (outside any data folder).
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    tokens: PathBuf,
    planted: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().to_path_buf();
    let store = root.join("store");
    let out = pm(&store, &["init"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let g = write(&root, "graph.jsonl", &graph());
    let (code, env) = pm_json(&store, &["--as-of", "2026-03-01T00:00:00Z", "import", &g]);
    assert_eq!(code, 0, "{env}");
    let planted = write(&root, "planted.txt", &format!("{PLANTED}\nsecond line\n"));
    Fixture {
        tokens: root.join("tokens.json"),
        _dir: dir,
        root,
        store,
        planted,
    }
}

/// The kinds of actor of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    NoToken,
    OtherScope,
    Member,
    Reviewer,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::NoToken,
    Who::OtherScope,
    Who::Member,
    Who::Reviewer,
    Who::Admin,
];

impl Who {
    /// (actor id, roles, scopes); `NoToken` over MCP is an actor with no role.
    fn actor(
        self,
    ) -> (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ) {
        match self {
            Who::NoToken => ("nobody", &["guest"], &["default"]),
            Who::OtherScope => ("olga", &["member"], &["other"]),
            Who::Member => ("mallory", &["member"], &["default"]),
            Who::Reviewer => ("rita", &["reviewer"], &["default"]),
            Who::Admin => ("ada", &["admin"], &["*"]),
        }
    }

    fn classes(self) -> &'static [OperationClass] {
        use OperationClass::*;
        match self {
            Who::NoToken => &[Public],
            Who::OtherScope | Who::Member => &[Public, Read, Write],
            Who::Reviewer => &[Public, Read, Govern],
            Who::Admin => &[Public, Read, Write, Govern, Audit, Admin],
        }
    }

    /// Strings this actor must never receive.
    fn forbidden(self) -> Vec<&'static str> {
        let mut f = vec![PLANTED];
        if self != Who::Admin {
            f.extend_from_slice(HIDDEN);
        }
        f
    }
}

/// A request for each operation that tries what an attacker would: hidden ids,
/// server paths (the planted file, `/`), writes at a chosen time.
fn sample(op: &str, planted: &str) -> Value {
    match op {
        "activation.run" => {
            json!({"cue": {"text": "bakery vault salaries", "nodes": [SECRET_ID, HR_ID], "hints": [{"node": SECRET_ID, "score": 1.0}]}, "explain": true})
        }
        "audit.prune" => json!({}),
        "audit.query" => json!({}),
        "audit.verify" => json!({}),
        "edge.delete" => json!({"edge": {"from": "bread", "to": SECRET_ID, "type": "relates_to"}}),
        "edge.upsert" => json!({"edge": {"from": HR_ID, "to": "bread", "type": "mentions"}}),
        "eval.run" => json!({"dir": "/etc"}),
        "event.append" => json!({"event": {"event": "observation", "subjects": [SECRET_ID]}}),
        "event.query" => json!({}),
        "graph.export" => json!({}),
        "graph.import" => json!({"path": planted}),
        "health.check" => json!({}),
        "lifecycle.apply" => json!({"nodes": [SECRET_ID, HR_ID]}),
        "lifecycle.plan" => json!({}),
        "node.delete" => json!({"node": HR_ID}),
        "node.get" => json!({"node": SECRET_ID}),
        "node.upsert" => json!({"node": {"id": HR_ID, "kind": "fact", "title": "overwritten"}}),
        "package.compile" => {
            json!({"cue": {"text": "bakery vault salaries", "nodes": [SECRET_ID]}, "out": "/tmp/phase-memory-authz-evil"})
        }
        "package.verify" => json!({"path": "/"}),
        "profile.apply" => json!({"path": planted}),
        "profile.show" => json!({}),
        "profile.validate" => json!({"path": planted}),
        "review.decide" => json!({"review": "rev-000000000000", "decision": "approve"}),
        "review.list" => json!({}),
        "store.export" => json!({}),
        "store.import" => json!({"path": planted}),
        "store.init" => json!({}),
        "store.migrate" => json!({}),
        "store.repair" => json!({}),
        "store.status" => json!({}),
        other => {
            panic!("operation {other} has no sample request in the authorization matrix: add one")
        }
    }
}

/// The status an actor holding the class gets for the sample (None: any status
/// but a class refusal).
fn granted_status(who: Who, op: &str) -> Option<&'static str> {
    match op {
        // The admin's scope is `*`: the hidden nodes of the sample are visible to it.
        "node.get" | "node.delete" | "edge.delete" if who == Who::Admin => None,
        // Server paths without --data-dir.
        "graph.import" | "profile.apply" | "profile.validate" | "store.import"
        | "package.compile" | "package.verify" | "eval.run" => Some("denied"),
        // Hidden is missing.
        "node.get" | "node.delete" => Some("not_found"),
        "edge.delete" => Some("not_found"),
        _ => None,
    }
}

fn assert_clean(who: Who, what: &str, text: &str) {
    assert_clean_for(who, what, text, &Value::Null);
}

/// As [`assert_clean`], except for strings the request itself holds: an id the
/// actor named may be echoed (as a missing id is), never anything more.
fn assert_clean_for(who: Who, what: &str, text: &str, request: &Value) {
    let asked = request.to_string();
    for f in who.forbidden().into_iter().filter(|f| !asked.contains(f)) {
        assert!(
            !text.contains(f),
            "{who:?} {what}: {f:?} leaked into the response: {text}"
        );
    }
}

/// `serve` on the fixture's store and tokens (with `--data-dir` when given).
fn serve(f: &Fixture, data_dir: Option<&Path>) -> Served {
    Served::start_with(&f.store, &f.tokens, |cmd| {
        if let Some(d) = data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.stderr(Stdio::null());
    })
}

/// `mcp` on `store` as the actor `who` stands for (with `--data-dir` when given).
fn mcp(store: &Path, who: Who, data_dir: Option<&Path>) -> Mcp {
    let (id, roles, scopes) = who.actor();
    Mcp::launch(store, |cmd| {
        cmd.args(["--actor", id]);
        for r in roles {
            cmd.args(["--role", r]);
        }
        for s in scopes {
            cmd.args(["--scope", s]);
        }
        cmd.arg("mcp");
        if let Some(d) = data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.stderr(Stdio::null());
    })
}

fn add_token(f: &Fixture, who: Who) -> String {
    let (id, roles, scopes) = who.actor();
    crate::support::add_token(&f.store, &f.tokens, id, roles, scopes)
}

fn http_status_of(status: &str) -> u16 {
    match status {
        "ok" => 200,
        "denied" => 403,
        "review_required" => 202,
        "invalid" => 400,
        "not_found" => 404,
        "conflict" => 409,
        _ => 500,
    }
}

fn has_code(env: &Value, code: &str) -> bool {
    env["diagnostics"]
        .as_array()
        .is_some_and(|d| d.iter().any(|x| x["code"] == code))
}

/// Checks one answer of the matrix against the operation's class.
fn judge(who: Who, op: &str, req: &Value, env: &Value, text: &str, transport: &str) {
    let spec = phase_memory_runtime::registry::find(op).expect("registered");
    let what = format!("{transport} {op}");
    assert_clean_for(who, &what, text, req);
    let status = env["status"].as_str().unwrap_or("");
    if !who.classes().contains(&spec.class) {
        assert_eq!(status, "denied", "{who:?} {what}: {env}");
        assert!(has_code(env, "auth.forbidden"), "{who:?} {what}: {env}");
        return;
    }
    assert!(
        !has_code(env, "auth.forbidden") || op == "review.decide",
        "{who:?} {what}: the class is granted: {env}"
    );
    assert_ne!(status, "error", "{who:?} {what}: {env}");
    if let Some(want) = granted_status(who, op) {
        assert_eq!(status, want, "{who:?} {what}: {env}");
    }
}
