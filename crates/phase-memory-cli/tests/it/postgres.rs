//! The binary on the PostgreSQL adapter: `init --adapter postgres`, what the store
//! folder keeps, `store export | store import` between file, SQLite and PostgreSQL,
//! and several `serve` processes on one database.
//!
//! The server is `PHASE_MEMORY_TEST_DATABASE_URL` or a throwaway cluster started by
//! `scripts/pg-cluster.sh` (never skipped); each test gets its own database.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use phase_memory_store_postgres::testing;
use serde_json::{Value, json};

use crate::support::{Served, http};
use crate::*;

const AS_OF: &str = "2026-03-01T00:00:00Z";

fn graph() -> String {
    let mut out = String::new();
    for i in 0..40 {
        out.push_str(&format!(
            "{}\n",
            json!({"record": "node", "id": format!("n{i}"), "kind": "fact", "title": format!("fact {i}"),
                   "body": format!("alpha bravo {i} charlie ünïcode \"quoted\" tab\there"),
                   "created_at": "2026-01-01T00:00:00Z"})
        ));
    }
    for i in 1..40 {
        out.push_str(&format!(
            "{}\n",
            json!({"record": "edge", "from": format!("n{}", i - 1), "to": format!("n{i}"), "type": "relates_to"})
        ));
    }
    out.push_str(&format!(
        "{}\n",
        json!({"record": "event", "event": "node.accessed", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": ["n1"], "payload": {}})
    ));
    out
}

fn ok(out: &std::process::Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `init --adapter postgres` on a fresh database (URL by flag).
fn pg_store(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let s = dir.join(name);
    let url = testing::fresh_database();
    let out = Command::new(bin())
        .arg("--store")
        .arg(&s)
        .args(["init", "--adapter", "postgres", "--url", &url])
        .env_remove("PHASE_MEMORY_DATABASE_URL")
        .output()
        .expect("run init");
    ok(&out, "init --adapter postgres");
    (s, url)
}

#[test]
fn init_postgres_keeps_only_local_things_in_the_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, url) = pg_store(dir.path(), "pg");
    let mut names: Vec<String> = std::fs::read_dir(&s)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["store.json"]);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("store.json")).expect("read"))
            .expect("json");
    assert_eq!(cfg, json!({"adapter": "postgres", "url": url}));
    let g = write(dir.path(), "g.jsonl", &graph());
    let (code, env) = pm_json(&s, &["--as-of", AS_OF, "import", &g]);
    assert_eq!(code, 0, "{env}");
    let (code, env) = pm_json(&s, &["status"]);
    assert_eq!(code, 0, "{env}");
    // Nothing but the configuration and caches in the folder: the data is in the
    // database.
    for e in std::fs::read_dir(&s).expect("folder") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            ["store.json", "index"].contains(&name.as_str()),
            "the folder holds {name}"
        );
    }
    // A second init on the folder is refused.
    let (code, env) = pm_json(&s, &["init", "--adapter", "postgres", "--url", &url]);
    assert_eq!(code, 4, "{env}");
    assert_eq!(env["diagnostics"][0]["code"], "store.exists");
    // No URL at all: a clear diagnostic, exit 2, nothing created.
    let other = dir.path().join("no-url");
    let out = Command::new(bin())
        .arg("--store")
        .arg(&other)
        .args(["--json", "init", "--adapter", "postgres"])
        .env_remove("PHASE_MEMORY_DATABASE_URL")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("needs a database URL"));
    assert!(!other.join("store.json").exists());
}

#[test]
fn a_url_from_the_environment_stays_out_of_the_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = dir.path().join("pg");
    let url = testing::fresh_database();
    let run = |args: &[&str], env_url: Option<&str>| {
        let mut c = Command::new(bin());
        c.arg("--store").arg(&s).arg("--json").args(args);
        match env_url {
            Some(u) => c.env("PHASE_MEMORY_DATABASE_URL", u),
            None => c.env_remove("PHASE_MEMORY_DATABASE_URL"),
        };
        c.output().expect("run")
    };
    ok(&run(&["init", "--adapter", "postgres"], Some(&url)), "init");
    let cfg = std::fs::read_to_string(s.join("store.json")).expect("read");
    assert!(!cfg.contains("postgres://"), "{cfg}");
    ok(&run(&["status"], Some(&url)), "status with the variable");
    let out = run(&["status"], None);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PHASE_MEMORY_DATABASE_URL"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `store export` of `s` to `file`.
fn export(s: &Path, file: &Path) -> String {
    ok(
        &pm(
            s,
            &["store", "export", "--out", file.to_str().expect("utf8")],
        ),
        "store export",
    );
    std::fs::read_to_string(file).expect("dump")
}

/// A dump split into its meta line (without the two fields that name the store
/// that wrote it: its adapter and its own creation time) and the rest, byte for byte.
fn split_dump(dump: &str) -> (Value, &str) {
    let (first, rest) = dump.split_once('\n').expect("a dump has a meta line");
    let mut meta: Value = serde_json::from_str(first).expect("meta line");
    assert_eq!(meta["record"], "meta", "{first}");
    let m = meta.as_object_mut().expect("object");
    m.remove("source_adapter");
    m.remove("created_at");
    (meta, rest)
}

/// `after` is `before` byte for byte plus audit records appended at the end (each
/// move adds the audit record of its own import; exports and refusals may add theirs).
fn same_store_plus_audit(before: &str, after: &str, what: &str) {
    let (m0, b0) = split_dump(before);
    let (m1, b1) = split_dump(after);
    assert_eq!(m0, m1, "{what}: the meta line differs");
    assert!(
        b1.starts_with(b0),
        "{what}: the export is not the source export byte for byte"
    );
    let added: Vec<&str> = b1[b0.len()..].lines().collect();
    assert!(!added.is_empty(), "{what}: the move left no audit record");
    for l in &added {
        let v: Value = serde_json::from_str(l).expect("dump line");
        assert_eq!(v["record"], "audit", "{what}: a record appeared: {l}");
    }
}

/// `store import` of the dump `from` into the empty store `s`.
fn import_dump(s: &Path, from: &Path) {
    let (code, env) = pm_json(s, &["store", "import", from.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{env}");
}

#[test]
fn store_export_import_moves_a_store_from_file_to_sqlite_to_postgres_to_file_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = |name: &str| dir.path().join(name);
    let file = d("file");
    ok(&pm(&file, &["init"]), "init file");
    let g = write(dir.path(), "g.jsonl", &graph());
    let (code, env) = pm_json(&file, &["--as-of", AS_OF, "import", &g]);
    assert_eq!(code, 0, "{env}");
    // Some history: an update and a forgotten node after the import.
    let n = write(
        dir.path(),
        "n.json",
        &json!({"id": "n3", "kind": "fact", "title": "updated", "body": "changed body"})
            .to_string(),
    );
    let (code, env) = pm_json(&file, &["--as-of", AS_OF, "node", "upsert", &n]);
    assert_eq!(code, 0, "{env}");
    let d0 = export(&file, &d("d0.jsonl"));
    assert!(d0.lines().count() > 80, "{d0}");

    // file -> sqlite
    let sq = d("sqlite");
    ok(&pm(&sq, &["init", "--adapter", "sqlite"]), "init sqlite");
    import_dump(&sq, &d("d0.jsonl"));
    let d1 = export(&sq, &d("d1.jsonl"));
    same_store_plus_audit(&d0, &d1, "file -> sqlite");
    // sqlite -> postgres
    let (pg, _) = pg_store(dir.path(), "pg");
    import_dump(&pg, &d("d1.jsonl"));
    let d2 = export(&pg, &d("d2.jsonl"));
    same_store_plus_audit(&d1, &d2, "sqlite -> postgres");
    assert!(d2.starts_with("{") && d2.contains("\"source_adapter\":\"postgres\""));
    // postgres -> file
    let back = d("back");
    ok(&pm(&back, &["init"]), "init file");
    import_dump(&back, &d("d2.jsonl"));
    let d3 = export(&back, &d("d3.jsonl"));
    same_store_plus_audit(&d2, &d3, "postgres -> file");
    same_store_plus_audit(&d0, &d3, "file -> sqlite -> postgres -> file");

    for s in [&file, &sq, &pg, &back] {
        let (code, env) = pm_json(s, &["audit", "verify"]);
        assert_eq!(code, 0, "{env}");
        assert_eq!(env["data"]["ok"], true, "{env}");
    }
    // Import into a PostgreSQL store that is not empty is refused and changes
    // nothing (at most the refusal's own audit record).
    let (code, env) = pm_json(
        &pg,
        &["store", "import", d("d0.jsonl").to_str().expect("utf8")],
    );
    assert_eq!(code, 4, "{env}");
    assert_eq!(env["diagnostics"][0]["code"], "store.exists", "{env}");
    let d4 = export(&pg, &d("d4.jsonl"));
    same_store_plus_audit(&d2, &d4, "refused import");
    // A dump whose audit chain was tampered with is refused by PostgreSQL too, and
    // the store stays empty.
    let (pg3, _) = pg_store(dir.path(), "pg3");
    let tampered: String = d2
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("line");
            if v["record"] == "audit" && v["seq"] == 2 {
                v["operation"] = json!("tampered");
            }
            format!("{v}\n")
        })
        .collect();
    let t = write(dir.path(), "tampered.jsonl", &tampered);
    let (code, env) = pm_json(&pg3, &["store", "import", &t]);
    assert_ne!(code, 0, "{env}");
    assert_eq!(env["diagnostics"][0]["code"], "audit.chain_broken", "{env}");
    let (code, env) = pm_json(&pg3, &["status"]);
    assert_eq!(code, 0, "{env}");
    let empty = export(&pg3, &d("d5.jsonl"));
    assert!(
        !empty.contains("\"record\":\"stored_node\""),
        "a refused import left nodes behind"
    );
}

/// `POST` with a bearer token: (status, body), or an error when the instance is gone.
fn http_post(addr: &str, path: &str, token: &str, body: &str) -> std::io::Result<(u16, String)> {
    http(addr, "POST", path, Some(token), body)
}

#[test]
fn three_instances_on_one_database_lose_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, _) = pg_store(dir.path(), "pg");
    let tokens = dir.path().join("tokens.json");
    let token = add_owner_token(&s, &tokens);
    // Three instances on the same folder: nothing in it is locked.
    let instances: Vec<Served> = (0..3).map(|_| Served::start(&s, &tokens)).collect();
    let shared = Clients {
        addrs: instances.iter().map(|i| i.addr.clone()).collect(),
        token: token.clone(),
        dead: Arc::new(AtomicBool::new(false)),
        acked: Arc::new(Mutex::new(Vec::new())),
        refusals: Arc::new(Mutex::new(Vec::new())),
        stop_at: Instant::now() + Duration::from_secs(14),
    };
    const CLIENTS: usize = 16;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let w = shared.clone();
            std::thread::spawn(move || client_writes(c, &w))
        })
        .collect();
    // Kill -9 one instance mid-write.
    std::thread::sleep(Duration::from_secs(5));
    let mut instances = instances;
    let mut victim = instances.remove(0);
    shared.dead.store(true, Ordering::SeqCst);
    victim.child.kill().expect("kill -9");
    victim.child.wait().expect("reap");
    let failures: usize = workers.into_iter().map(|w| w.join().expect("client")).sum();
    let acked = shared.acked.lock().expect("acked").clone();
    let refused = shared.refusals.lock().expect("refusals").clone();
    eprintln!(
        "{} acknowledged, {} refused: {:?}",
        acked.len(),
        refused.len(),
        &refused[..refused.len().min(5)]
    );
    assert_every_instance_acknowledged(&acked, &refused);
    let acked: Vec<String> = acked.into_iter().map(|(id, _, _)| id).collect();
    // Every acknowledged write through every surviving instance.
    for inst in &instances {
        for id in &acked {
            let (code, body) = http_post(
                &inst.addr,
                "/v1/ops/node.get",
                &token,
                &json!({"node": id}).to_string(),
            )
            .expect("read");
            assert_eq!(code, 200, "{id} missing through {}: {body}", inst.addr);
        }
    }
    // The survivors shut down cleanly on SIGTERM (exit 0, no panic while their
    // database connections close).
    for inst in instances {
        inst.stop();
    }
    let audit_records = assert_audit_chain_clean(&s, dir.path());
    eprintln!(
        "three instances: {} writes acknowledged, {failures} refused or lost with the killed instance, {} audit records",
        acked.len(),
        audit_records
    );
}

/// Adds an owner token to `tokens` and returns it.
fn add_owner_token(s: &Path, tokens: &Path) -> String {
    let out = pm(
        s,
        &[
            "--actor",
            "owner",
            "--role",
            "owner",
            "--scope",
            "*",
            "token",
            "add",
            "--tokens",
            tokens.to_str().expect("utf8"),
        ],
    );
    ok(&out, "token add");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What the writing clients share.
#[derive(Clone)]
struct Clients {
    addrs: Vec<String>,
    token: String,
    /// Instance 0 was killed.
    dead: Arc<AtomicBool>,
    /// (id, instance that acknowledged it, whether instance 0 was already killed)
    acked: Arc<Mutex<Vec<(String, usize, bool)>>>,
    refusals: Arc<Mutex<Vec<String>>>,
    stop_at: Instant,
}

/// Client `c` writes until the deadline, reading each acknowledged write back
/// through another instance; returns its failures.
fn client_writes(c: usize, w: &Clients) -> usize {
    let Clients {
        addrs,
        token,
        dead,
        acked,
        refusals,
        stop_at,
    } = w;
    let stop_at = *stop_at;
    let mut i = 0usize;
    let mut failures = 0usize;
    while Instant::now() < stop_at && i < 10_000 {
        // Clients spread over the instances; instance 0 may be dead.
        let mut target = (c + i) % addrs.len();
        if target == 0 && dead.load(Ordering::SeqCst) {
            target = 1 + i % 2;
        }
        let id = format!("c{c}-{i}");
        let req = json!({"node": {"id": id, "kind": "fact", "title": format!("write {id}"), "body": "written by a client"}});
        match http_post(
            &addrs[target],
            "/v1/ops/node.upsert",
            token,
            &req.to_string(),
        ) {
            Ok((200, body)) => {
                let env: Value = serde_json::from_str(&body).expect("envelope");
                assert_eq!(env["status"], "ok", "{env}");
                let after_kill = dead.load(Ordering::SeqCst);
                acked
                    .lock()
                    .expect("acked")
                    .push((id.clone(), target, after_kill));
                // Read it back through another instance at once.
                let other = if target == 1 { 2 } else { 1 };
                let (code, body) = http_post(
                    &addrs[other],
                    "/v1/ops/node.get",
                    token,
                    &json!({"node": id}).to_string(),
                )
                .expect("read through another instance");
                assert_eq!(code, 200, "{body}");
            }
            Ok((code, body)) => {
                failures += 1;
                refusals
                    .lock()
                    .expect("refusals")
                    .push(format!("{code} {}", &body[..body.len().min(300)]));
                assert!(failures < 1000, "too many refusals: {code} {body}");
            }
            // The killed instance: not acknowledged, so nothing is owed.
            Err(e) => {
                failures += 1;
                refusals
                    .lock()
                    .expect("refusals")
                    .push(format!("instance {target}: {e}"));
            }
        }
        i += 1;
    }
    failures
}

/// Writes were acknowledged by every instance, by the victim before the kill and
/// by both survivors after it.
fn assert_every_instance_acknowledged(acked: &[(String, usize, bool)], refused: &[String]) {
    // by both survivors after it.
    for target in 0..3 {
        assert!(
            acked.iter().any(|(_, t, after)| *t == target && !after),
            "instance {target} acknowledged nothing before the kill: {refused:?}"
        );
    }
    for target in 1..3 {
        assert!(
            acked.iter().any(|(_, t, after)| *t == target && *after),
            "instance {target} acknowledged nothing after the kill: {refused:?}"
        );
    }
}

/// The audit chain is clean and no two records share a seq; returns the number of
/// audit records.
fn assert_audit_chain_clean(s: &Path, dir: &Path) -> usize {
    let (code, env) = pm_json(s, &["audit", "verify"]);
    assert_eq!(code, 0, "{env}");
    assert_eq!(env["data"]["ok"], true, "{env}");
    let dump = export(s, &dir.join("dump.jsonl"));
    let seqs: Vec<u64> = dump
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["record"] == "audit")
        .filter_map(|v| v["seq"].as_u64())
        .collect();
    let mut sorted = seqs.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), seqs.len(), "duplicate audit seq");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gap in the audit chain"
    );
    seqs.len()
}
