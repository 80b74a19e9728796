//! Crash safety: the real binary is killed with SIGKILL at a random moment during an
//! import, a run of node upserts, a lifecycle apply and audit-appending operations,
//! on the file and the SQLite adapter; every kill must leave a store that opens,
//! verifies its audit chain, repairs clean and keeps every acknowledged operation.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::*;

/// A small seeded xorshift64* generator: the kill moments are reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A duration in `[0, max)`.
    fn below(&mut self, max: Duration) -> Duration {
        let micros = (max.as_micros() as u64).max(1);
        Duration::from_micros(self.next() % micros)
    }
}

/// One command of a scenario: arguments after `--store DIR`.
type Step = Vec<String>;

/// What happened to the steps of one run.
#[derive(Debug, Default)]
struct Run {
    /// Exit code and stdout of every step that ran to its end, in order.
    finished: Vec<(i32, String)>,
    /// The step the kill landed in (`None`: the kill came after the last step).
    killed: Option<usize>,
    /// When the last step ended, for a run the kill did not interrupt.
    ended: Option<Duration>,
}

impl Run {
    /// Whether step `i` exited 0 before the kill.
    fn acked(&self, i: usize) -> bool {
        self.finished.get(i).is_some_and(|(code, _)| *code == 0)
    }

    /// Whether step `i` may have committed (acknowledged or in flight at the kill).
    fn maybe(&self, i: usize) -> bool {
        self.acked(i) || self.killed == Some(i)
    }

    /// The parsed `--json` envelope step `i` printed.
    fn envelope(&self, i: usize) -> Value {
        let text = &self.finished[i].1;
        serde_json::from_str(text).unwrap_or_else(|e| panic!("step {i}: no envelope ({e}): {text}"))
    }
}

/// Runs `steps` one after another against `store` and SIGKILLs the running child
/// `delay` after the first step started. Every step's stdout goes to a file, so a
/// killed child never blocks on a pipe.
fn run_with_kill(store: &Path, scratch: &Path, steps: &[Step], delay: Option<Duration>) -> Run {
    let start = Instant::now();
    let deadline = delay.map(|d| start + d);
    let mut run = Run::default();
    for (i, step) in steps.iter().enumerate() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return run;
        }
        let out_path = scratch.join(format!("step-{i}.out"));
        let mut child = Command::new(bin())
            .arg("--store")
            .arg(store)
            .args(step)
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).expect("stdout file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn phase-memory");
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // SIGKILL; if the child exited in the meantime, wait reports its code.
                let _ = child.kill();
                break child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        match (status.code(), status.signal()) {
            (Some(code), _) => {
                let out = std::fs::read_to_string(&out_path).expect("read stdout");
                run.finished.push((code, out));
            }
            (None, Some(9)) => {
                run.killed = Some(i);
                return run;
            }
            other => panic!("step {step:?} ended strangely: {other:?}"),
        }
    }
    run.ended = Some(start.elapsed());
    run
}

/// The parts of a `store export` dump the checks look at.
#[derive(Debug, Default)]
struct Dump {
    nodes: BTreeMap<String, Value>,
    edges: usize,
    events: Vec<Value>,
    audit: BTreeMap<u64, String>,
    checkpoint: Value,
}

impl Dump {
    fn with_prefix(&self, prefix: &str) -> usize {
        self.nodes.keys().filter(|k| k.starts_with(prefix)).count()
    }

    fn body(&self, id: &str) -> Option<&str> {
        self.nodes.get(id).and_then(|n| n["body"].as_str())
    }

    fn phase(&self, id: &str) -> &str {
        self.nodes
            .get(id)
            .and_then(|n| n["phase"].as_str())
            .unwrap_or("<missing>")
    }
}

fn json_of(store: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = pm(store, &all);
    let text = String::from_utf8_lossy(&out.stdout);
    let env = serde_json::from_str(&text).unwrap_or_else(
        |_| json!({"unparsed_stdout": text, "stderr": String::from_utf8_lossy(&out.stderr)}),
    );
    (out.status.code().unwrap_or(-1), env)
}

/// The checks after every kill: the store opens, its audit chain verifies, a dry-run
/// repair finds nothing, and a dump can be taken. Returns the dump.
fn reopen_and_check(store: &Path, scratch: &Path) -> Result<Dump, String> {
    let (code, env) = json_of(store, &["status"]);
    if code != 0 {
        return Err(format!("status exited {code}: {env}"));
    }
    let (code, env) = json_of(store, &["audit", "verify"]);
    if code != 0 || env["data"]["ok"] != true {
        return Err(format!("audit verify exited {code}: {env}"));
    }
    let (code, env) = json_of(store, &["repair"]);
    if code != 0 {
        return Err(format!("repair (dry run) exited {code}: {env}"));
    }
    // Readers never write, so the first writer-capable open after a kill (here the
    // dry-run repair) is the one that sets aside what an interrupted commit left past
    // its commit point, and says so. That is the only thing it may report; a second
    // dry run must find nothing.
    if env["data"]["clean"] != true {
        let only_recovery = env["data"]["findings"].as_array().is_some_and(|fs| {
            fs.iter().all(|f| {
                f["code"] == "store.orphaned_path"
                    && f["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("beyond the commit point"))
            })
        });
        if !only_recovery {
            return Err(format!("repair (dry run) not clean after a kill: {env}"));
        }
        let (code, again) = json_of(store, &["repair"]);
        if code != 0 || again["data"]["clean"] != true {
            return Err(format!(
                "repair (dry run) not clean after recovering an interrupted commit: {again}"
            ));
        }
    }
    let path = scratch.join("dump.jsonl");
    let out = pm(
        store,
        &["store", "export", "--out", path.to_str().expect("utf8")],
    );
    if out.status.code() != Some(0) {
        return Err(format!(
            "store export failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut dump = Dump::default();
    for line in std::fs::read_to_string(&path).expect("read dump").lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("dump line: {e}"))?;
        match v["record"].as_str() {
            Some("stored_node") => {
                dump.nodes
                    .insert(v["id"].as_str().unwrap_or("").to_string(), v);
            }
            Some("stored_edge") => dump.edges += 1,
            Some("stored_event") => dump.events.push(v),
            Some("audit") => {
                let seq = v["seq"].as_u64().ok_or("audit record without seq")?;
                dump.audit
                    .insert(seq, v["hash"].as_str().unwrap_or("").to_string());
            }
            Some("checkpoint") => dump.checkpoint = v,
            _ => {}
        }
    }
    Ok(dump)
}

/// Copies a store folder (no process has it open).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn strings(args: &[&str]) -> Step {
    args.iter().map(|s| s.to_string()).collect()
}

/// One crash scenario: a template store, the steps to kill, and what must hold.
struct Scenario<'a> {
    name: &'a str,
    adapter: &'a str,
    iterations: usize,
    seed: u64,
    /// Fills the freshly initialised template store (`store`, `scratch`).
    setup: &'a dyn Fn(&Path, &Path),
    /// The steps, given the scratch folder their input files live in.
    steps: &'a dyn Fn(&Path) -> Vec<Step>,
    /// What the reopened store must hold after `run`.
    expect: &'a dyn Fn(&Dump, &Run) -> Result<(), String>,
}

/// What one scenario did, for the summary.
struct Tally {
    iterations: usize,
    killed_mid_step: usize,
    calibrated: Duration,
}

/// Builds the template, runs the steps once uninterrupted to measure them (and to
/// check the expectations hold for a clean run), then kills `iterations` runs at
/// seeded moments spread over 0..1.25× the typical time (the estimate follows runs
/// that finished before their kill, as the machine's load changes), checking after
/// each.
///
/// For a longer soak, `PHASE_MEMORY_CRASH_SCALE=N` multiplies the iterations and
/// `PHASE_MEMORY_CRASH_SEED=S` is mixed into every seed.
fn crash_loop(s: &Scenario) -> Tally {
    let knob = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let iterations = s.iterations * knob("PHASE_MEMORY_CRASH_SCALE", 1).max(1) as usize;
    let seed = s.seed ^ knob("PHASE_MEMORY_CRASH_SEED", 0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let root = tempfile::tempdir().expect("tmp");
    let scratch = root.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    let template = root.path().join("template");
    let (code, env) = json_of(&template, &["init", "--adapter", s.adapter]);
    assert_eq!(code, 0, "{}: init: {env}", s.name);
    (s.setup)(&template, &scratch);
    let steps = (s.steps)(&scratch);

    let calib = root.path().join("calibrate");
    copy_dir(&template, &calib);
    let started = Instant::now();
    let run = run_with_kill(&calib, &scratch, &steps, None);
    let calibrated = started.elapsed();
    assert_eq!(run.finished.len(), steps.len(), "{}: calibration", s.name);
    for (i, (code, out)) in run.finished.iter().enumerate() {
        assert_eq!(*code, 0, "{}: step {:?} failed: {out}", s.name, steps[i]);
    }
    let dump = reopen_and_check(&calib, &scratch)
        .unwrap_or_else(|e| panic!("{}: uninterrupted run: {e}", s.name));
    (s.expect)(&dump, &run).unwrap_or_else(|e| panic!("{}: uninterrupted run: {e}", s.name));

    let mut rng = Rng::new(seed);
    let mut typical = calibrated;
    let mut killed_mid_step = 0;
    for i in 0..iterations {
        let store = root.path().join(format!("run-{i}"));
        copy_dir(&template, &store);
        let delay = rng.below(typical + typical / 4);
        let run = run_with_kill(&store, &scratch, &steps, Some(delay));
        for (k, (code, out)) in run.finished.iter().enumerate() {
            assert_eq!(
                *code, 0,
                "{} #{i}: step {:?} failed: {out}",
                s.name, steps[k]
            );
        }
        if run.killed.is_some() {
            killed_mid_step += 1;
        }
        if let Some(ended) = run.ended {
            typical = (typical + ended) / 2;
        }
        let context = format!(
            "{} #{i} (seed {}, kill after {delay:?}, killed in step {:?} of {}, store {})",
            s.name,
            seed,
            run.killed,
            steps.len(),
            store.display()
        );
        let dump = reopen_and_check(&store, &scratch).unwrap_or_else(|e| panic!("{context}: {e}"));
        if let Err(e) = (s.expect)(&dump, &run) {
            panic!("{context}: {e}");
        }
        std::fs::remove_dir_all(&store).expect("remove run store");
    }
    let tally = Tally {
        iterations,
        killed_mid_step,
        calibrated,
    };
    eprintln!(
        "crash {}: {} kills, {} inside a step, steps took {:?} uninterrupted",
        s.name, tally.iterations, tally.killed_mid_step, tally.calibrated
    );
    // The kills must often land inside a step, or the test proves little (the rest
    // land just after the last step, which checks the acknowledged state).
    assert!(
        killed_mid_step * 3 >= iterations,
        "{}: only {killed_mid_step} of {iterations} kills landed inside a step",
        s.name,
    );
    tally
}

// --- the scenarios -----------------------------------------------------------------

const IMPORT_NODES: usize = 1500;

/// `import` of a 2,999-line JSONL file (1,500 nodes, 1,499 edges) into a store that
/// holds a few nodes: afterwards the store holds all of the file or none of it.
fn import_scenario(adapter: &str, iterations: usize, seed: u64) {
    let setup = |store: &Path, scratch: &Path| {
        let mut base = String::new();
        for i in 0..5 {
            base.push_str(&format!("{{\"record\":\"node\",\"id\":\"base-{i}\",\"kind\":\"fact\",\"title\":\"base {i}\",\"body\":\"base body {i}\"}}\n"));
        }
        let f = write(scratch, "base.jsonl", &base);
        assert_eq!(pm(store, &["import", &f]).status.code(), Some(0));
        let mut g = String::new();
        for i in 0..IMPORT_NODES {
            g.push_str(&format!("{{\"record\":\"node\",\"id\":\"imp-{i}\",\"kind\":\"fact\",\"title\":\"imported {i}\",\"body\":\"alpha bravo {i} charlie delta echo\"}}\n"));
        }
        for i in 1..IMPORT_NODES {
            g.push_str(&format!(
                "{{\"record\":\"edge\",\"from\":\"imp-{}\",\"to\":\"imp-{i}\",\"type\":\"relates_to\"}}\n",
                i - 1
            ));
        }
        write(scratch, "import.jsonl", &g);
    };
    let steps = |scratch: &Path| {
        let f = scratch.join("import.jsonl");
        vec![strings(&["import", f.to_str().expect("utf8")])]
    };
    let expect = |d: &Dump, run: &Run| {
        if d.with_prefix("base-") != 5 {
            return Err(format!("base nodes lost: {}", d.with_prefix("base-")));
        }
        let (nodes, edges) = (d.with_prefix("imp-"), d.edges);
        let all = nodes == IMPORT_NODES && edges == IMPORT_NODES - 1;
        let none = nodes == 0 && edges == 0;
        if run.acked(0) && !all {
            return Err(format!(
                "acknowledged import half there: {nodes} nodes, {edges} edges"
            ));
        }
        if !(all || none) {
            return Err(format!(
                "import not all-or-nothing: {nodes} nodes, {edges} edges"
            ));
        }
        Ok(())
    };
    crash_loop(&Scenario {
        name: &format!("import/{adapter}"),
        adapter,
        iterations,
        seed,
        setup: &setup,
        steps: &steps,
        expect: &expect,
    });
}

const UPSERTS: usize = 8;

/// A run of `node upsert` children, the kill landing in one of them. Every fourth
/// upsert rewrites the existing node `base-1`; the others add `up-<k>`.
fn upsert_scenario(adapter: &str, iterations: usize, seed: u64) {
    let setup = |store: &Path, scratch: &Path| {
        let mut base = String::new();
        for i in 0..3 {
            base.push_str(&format!("{{\"record\":\"node\",\"id\":\"base-{i}\",\"kind\":\"fact\",\"title\":\"base {i}\",\"body\":\"base body {i}\"}}\n"));
        }
        let f = write(scratch, "base.jsonl", &base);
        assert_eq!(pm(store, &["import", &f]).status.code(), Some(0));
        for k in 0..UPSERTS {
            let id = upsert_id(k);
            write(
                scratch,
                &format!("upsert-{k}.json"),
                &format!(
                    "{{\"id\":\"{id}\",\"kind\":\"fact\",\"title\":\"upsert {k}\",\"body\":\"revision {k}\"}}"
                ),
            );
        }
    };
    let steps = |scratch: &Path| {
        (0..UPSERTS)
            .map(|k| {
                let f = scratch.join(format!("upsert-{k}.json"));
                strings(&["node", "upsert", f.to_str().expect("utf8")])
            })
            .collect()
    };
    let expect = |d: &Dump, run: &Run| {
        let mut base1 = vec!["base body 1".to_string()];
        for k in 0..UPSERTS {
            let id = upsert_id(k);
            let body = format!("revision {k}");
            if id == "base-1" {
                if run.acked(k) {
                    base1 = vec![body];
                } else if run.maybe(k) {
                    base1.push(body);
                }
                continue;
            }
            match d.body(&id) {
                Some(b) if b == body => {}
                None if !run.acked(k) => {}
                got => {
                    return Err(format!(
                        "{id} (upsert {k} acked: {}): {got:?}",
                        run.acked(k)
                    ));
                }
            }
            if d.nodes.contains_key(&id) && !run.maybe(k) {
                return Err(format!("{id} present though its upsert never ran"));
            }
        }
        let got = d.body("base-1").unwrap_or("<missing>");
        if !base1.iter().any(|b| b == got) {
            return Err(format!("base-1 body {got:?}, expected one of {base1:?}"));
        }
        if d.with_prefix("base-") != 3 {
            return Err("base nodes lost".into());
        }
        Ok(())
    };
    crash_loop(&Scenario {
        name: &format!("node-upsert/{adapter}"),
        adapter,
        iterations,
        seed,
        setup: &setup,
        steps: &steps,
        expect: &expect,
    });
}

fn upsert_id(k: usize) -> String {
    if k % 4 == 3 {
        "base-1".into()
    } else {
        format!("up-{k}")
    }
}

const LIFECYCLE_NODES: usize = 300;

/// `lifecycle apply` over 300 nodes where every node has a transition due (notes
/// settle from captured to active, idle facts go dormant): one commit, so afterwards
/// either every node moved or none did.
fn lifecycle_scenario(adapter: &str, iterations: usize, seed: u64) {
    let setup = |store: &Path, scratch: &Path| {
        let mut g = String::new();
        for i in 0..LIFECYCLE_NODES {
            let kind = if i % 2 == 0 { "fact" } else { "note" };
            g.push_str(&format!("{{\"record\":\"node\",\"id\":\"lc-{i}\",\"kind\":\"{kind}\",\"title\":\"t {i}\",\"body\":\"lifecycle body {i} alpha\",\"created_at\":\"2026-01-01T00:00:00Z\"}}\n"));
        }
        let f = write(scratch, "lc.jsonl", &g);
        let out = pm(store, &["--as-of", "2026-01-02", "import", &f]);
        assert_eq!(out.status.code(), Some(0));
    };
    let steps = |_: &Path| vec![strings(&["--as-of", "2026-06-01", "lifecycle", "apply"])];
    let expect = |d: &Dump, run: &Run| {
        let moved = (0..LIFECYCLE_NODES)
            .filter(|i| {
                let want = if i % 2 == 0 { "dormant" } else { "active" };
                d.phase(&format!("lc-{i}")) == want
            })
            .count();
        let unmoved = (0..LIFECYCLE_NODES)
            .filter(|i| {
                let was = if i % 2 == 0 { "active" } else { "captured" };
                d.phase(&format!("lc-{i}")) == was
            })
            .count();
        let changes = d
            .events
            .iter()
            .filter(|e| e["type"] == "phase.changed")
            .count();
        if run.acked(0) && moved != LIFECYCLE_NODES {
            return Err(format!("acknowledged apply moved only {moved} nodes"));
        }
        let all = moved == LIFECYCLE_NODES && changes == LIFECYCLE_NODES;
        let none = unmoved == LIFECYCLE_NODES && changes == 0;
        if !(all || none) {
            return Err(format!(
                "apply not all-or-nothing: {moved} moved, {unmoved} unmoved, {changes} phase.changed events"
            ));
        }
        Ok(())
    };
    crash_loop(&Scenario {
        name: &format!("lifecycle-apply/{adapter}"),
        adapter,
        iterations,
        seed,
        setup: &setup,
        steps: &steps,
        expect: &expect,
    });
}

const ACTIVATIONS_BEFORE_PRUNE: usize = 4;
const ACTIVATIONS_AFTER_PRUNE: usize = 2;

/// Audit appends: activations (the default profile records reads in the audit log),
/// then `audit prune` (the log is rewritten behind a checkpoint), then activations
/// again. Every acknowledged record stays in the chain (or behind the checkpoint of
/// an acknowledged prune) with the hash its envelope reported.
fn audit_scenario(adapter: &str, iterations: usize, seed: u64) {
    let setup = |store: &Path, scratch: &Path| {
        let mut g = String::new();
        for i in 0..20 {
            g.push_str(&format!("{{\"record\":\"node\",\"id\":\"au-{i}\",\"kind\":\"fact\",\"title\":\"t {i}\",\"body\":\"audited body {i} alpha\"}}\n"));
        }
        let f = write(scratch, "au.jsonl", &g);
        assert_eq!(
            pm(store, &["--as-of", "2026-01-02", "import", &f])
                .status
                .code(),
            Some(0)
        );
        // Old records, due for pruning at the steps' as-of.
        for _ in 0..10 {
            let out = pm(
                store,
                &["--as-of", "2026-01-03", "activate", "--text", "alpha"],
            );
            assert_eq!(out.status.code(), Some(0));
        }
    };
    let steps = |_: &Path| {
        let activate = strings(&[
            "--json",
            "--as-of",
            "2027-03-01",
            "activate",
            "--text",
            "alpha",
        ]);
        let mut steps = vec![activate.clone(); ACTIVATIONS_BEFORE_PRUNE];
        steps.push(strings(&[
            "--json",
            "--as-of",
            "2027-03-01",
            "audit",
            "prune",
        ]));
        steps.extend(vec![activate; ACTIVATIONS_AFTER_PRUNE]);
        steps
    };
    let expect = |d: &Dump, run: &Run| {
        let prune = ACTIVATIONS_BEFORE_PRUNE;
        let pruned_to = d.checkpoint["last_pruned_seq"].as_u64().unwrap_or(0);
        if run.acked(prune) {
            let want = &run.envelope(prune)["data"]["checkpoint"]["last_pruned_seq"];
            if pruned_to == 0 || want.as_u64() != Some(pruned_to) {
                return Err(format!(
                    "acknowledged prune to {want}, checkpoint at {pruned_to}"
                ));
            }
        } else if !run.maybe(prune) && pruned_to != 0 {
            return Err(format!("pruned to {pruned_to} without a prune"));
        }
        let mut last_acked = 0;
        for (i, _) in run.finished.iter().enumerate() {
            let env = run.envelope(i);
            let seq = env["audit"]["seq"]
                .as_u64()
                .ok_or("envelope without audit")?;
            let hash = env["audit"]["hash"].as_str().unwrap_or("");
            last_acked = seq;
            if seq <= pruned_to {
                continue;
            }
            match d.audit.get(&seq) {
                Some(h) if h == hash => {}
                got => return Err(format!("acknowledged audit record {seq} ({hash}): {got:?}")),
            }
        }
        // Nothing beyond the acknowledged records but the one in flight (the reopen
        // and checks append no audit records of their own).
        let head = d.audit.keys().next_back().copied().unwrap_or(pruned_to);
        let allowed = last_acked.max(10 + 1) + u64::from(run.killed.is_some());
        if head > allowed {
            return Err(format!(
                "audit head {head} beyond acknowledged {last_acked}"
            ));
        }
        Ok(())
    };
    crash_loop(&Scenario {
        name: &format!("audit-append/{adapter}"),
        adapter,
        iterations,
        seed,
        setup: &setup,
        steps: &steps,
        expect: &expect,
    });
}

// File adapter: most iterations. SQLite: some.

#[test]
fn kill_9_during_import_file() {
    import_scenario("file", 40, 0x1111);
}

#[test]
fn kill_9_during_node_upserts_file() {
    upsert_scenario("file", 40, 0x2222);
}

#[test]
fn kill_9_during_lifecycle_apply_file() {
    lifecycle_scenario("file", 40, 0x3333);
}

#[test]
fn kill_9_during_audit_appends_file() {
    audit_scenario("file", 40, 0x4444);
}

#[test]
fn kill_9_on_sqlite() {
    import_scenario("sqlite", 12, 0x5555);
    upsert_scenario("sqlite", 12, 0x6666);
    lifecycle_scenario("sqlite", 12, 0x7777);
    audit_scenario("sqlite", 12, 0x8888);
}

#[test]
fn the_kill_moments_are_seeded() {
    let draw = |seed| {
        let mut r = Rng::new(seed);
        (0..5)
            .map(|_| r.below(Duration::from_millis(100)))
            .collect::<Vec<_>>()
    };
    assert_eq!(draw(7), draw(7));
    assert_ne!(draw(7), draw(8));
    assert!(draw(7).iter().all(|d| *d < Duration::from_millis(100)));
}
