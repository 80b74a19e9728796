//! The shared-access scenario: a real `phase-memory serve` process over a
//! generated store, loaded over HTTP on 127.0.0.1 — audited activations with
//! 1 and 16 clients, a mixed 80 % activation / 20 % upsert load with every
//! acknowledged write checked afterwards, cold CLI activations in fresh
//! processes, the server's RSS — each beside SQLite FTS5's bare BM25 over the
//! same titles and bodies, measured in the same run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use phase_memory_bench::measure::{cpu_seconds, secs};
use phase_memory_bench::{GeneratorConfig, Latencies, Rng};
use phase_memory_runtime::Adapter;
use phase_memory_store::OpenMode;
use serde_json::{Value, json};

use crate::Common;
use crate::setup::Work;

/// Options of the serve scenario.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Number of nodes of the generated store.
    #[arg(long, default_value_t = 3_000)]
    pub nodes: u64,
    /// Number of events (default: 2 × nodes).
    #[arg(long)]
    pub events: Option<u64>,
    /// Adapter of the generated store: file or sqlite.
    #[arg(long, default_value = "file")]
    pub adapter: String,
    /// Use this existing store (made from the same generator settings; the mixed
    /// phase adds nodes to it) instead of generating and importing one.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Requests per activation phase (each client count) and of the mixed phase.
    #[arg(long, default_value_t = 1_000)]
    pub requests: u64,
    /// Client counts of the activation phases.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    pub clients: Vec<u64>,
    /// Clients of the mixed phase.
    #[arg(long, default_value_t = 8)]
    pub mixed_clients: u64,
    /// Share of upserts in the mixed phase, in percent.
    #[arg(long, default_value_t = 20)]
    pub upsert_percent: u64,
    /// Fresh CLI processes timed for the cold activation.
    #[arg(long, default_value_t = 3)]
    pub cold_runs: usize,
    /// Token budget of each activation.
    #[arg(long, default_value_t = 1000)]
    pub budget: u64,
    /// Items per activation (and rows per FTS5 query).
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// The `phase-memory` binary (default: next to this one).
    #[arg(long)]
    pub cli: Option<PathBuf>,
    /// Seconds to wait for the server to answer its health check.
    #[arg(long, default_value_t = 300)]
    pub start_timeout: u64,
    /// Skip the SQLite FTS5 queries (quick comparisons of two builds; the
    /// figures in docs/benchmarks.md always have the anchor beside them).
    #[arg(long)]
    pub no_anchor: bool,
}

/// `serve`.
pub fn serve(a: &ServeArgs) -> Result<Value> {
    let cli = cli_binary(a.cli.as_deref())?;
    let mut cfg = GeneratorConfig::new(a.nodes, a.common.seed);
    cfg.events = a.events.unwrap_or(2 * a.nodes);
    let adapter = match a.adapter.as_str() {
        "file" => Adapter::File,
        "sqlite" => Adapter::Sqlite,
        other => bail!("--adapter {other}: expected file or sqlite"),
    };
    let work = Work::new(&a.common, "serve")?;
    let (store, setup) = crate::scenarios::ensure_store(&work, a.store.as_ref(), adapter, &cfg)?;
    let texts = crate::scenarios::cues(&cfg, a.requests.max(64) as usize);
    let as_of = cfg.as_of.to_string();

    eprintln!("pm-bench: building the FTS5 anchor");
    let fts_path = work.dir.join("fts5.sqlite");
    let _ = std::fs::remove_file(&fts_path);
    let fts_build = fts5_build(&store, &fts_path)?;

    eprintln!("pm-bench: cold CLI activations");
    let cold = cold_cli(&cli, &store, &texts, &as_of, a)?;
    let cold_fts = fts5_cold(&fts_path, &texts, a.limit)?;

    let tokens = work.dir.join("tokens.json");
    let _ = std::fs::remove_file(&tokens);
    let token = add_token(&cli, &store, &tokens)?;
    let mut server = Server::start(&cli, &store, &tokens, a.start_timeout)?;
    let url = server.url.clone();
    let auth = format!("Bearer {token}");
    let bodies = activation_bodies(&texts, &as_of, a);
    // Warm up every runtime of the pool (the first activation of a runtime
    // builds its snapshot).
    let t = Instant::now();
    let mut client = crate::load::Client::new(&url, &auth)?;
    for body in bodies.iter().take(8) {
        if !client.post_ok(ACTIVATION, body)? {
            bail!("warm-up activation failed");
        }
    }
    drop(client);
    let warm_up = t.elapsed();
    let rss_after_warm_up = server.rss()?;

    let mut phases = Vec::new();
    for &clients in &a.clients {
        eprintln!("pm-bench: {clients} client(s), {} activations", a.requests);
        let cpu = Cpu::start(&server);
        let mut http = http_activations(&url, &auth, &bodies, a, clients)?;
        if let Some(m) = http.as_object_mut() {
            m.insert("cpu".into(), cpu.stop(a.requests));
        }
        let fts = if a.no_anchor {
            Value::Null
        } else {
            fts5_queries(&fts_path, &texts, a.limit, clients, a.requests, 0)?
        };
        phases.push(json!({"clients": clients, "phase_memory_http": http, "fts5": fts}));
    }

    eprintln!(
        "pm-bench: mixed load, {} clients, {} % upserts",
        a.mixed_clients, a.upsert_percent
    );
    let figures_before_mixed = runtime_figures(&url)?;
    let mixed = http_mixed(&url, &auth, &bodies, a)?;
    let figures_after_mixed = runtime_figures(&url)?;
    let rss_end = server.rss()?;
    // Stop the server the hard way: an acknowledged write must survive kill -9.
    server.kill();
    let acknowledged: Vec<String> = mixed
        .get("acknowledged_ids")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let missing = missing_nodes(&store, &acknowledged)?;
    let verify = audit_verify(&cli, &store)?;
    let mut mixed = mixed;
    if let Some(m) = mixed.as_object_mut() {
        m.remove("acknowledged_ids");
        m.insert("acknowledged_writes".into(), json!(acknowledged.len()));
        m.insert(
            "acknowledged_writes_missing_after_kill_9".into(),
            json!(missing),
        );
    }
    let fts_mixed = if a.no_anchor {
        Value::Null
    } else {
        fts5_queries(
            &fts_path,
            &texts,
            a.limit,
            a.mixed_clients,
            a.requests,
            a.upsert_percent,
        )?
    };

    Ok(json!({
        "params": {
            "nodes": a.nodes, "events": cfg.events, "adapter": a.adapter, "seed": cfg.seed,
            "requests": a.requests, "budget_tokens": a.budget, "limit": a.limit,
            "server": "phase-memory serve (child process, 127.0.0.1), audited reads (built-in profile)",
            "fts5": "SQLite FTS5 over the same titles and bodies: MATCH of the cue words OR-ed, ORDER BY bm25 LIMIT limit; one connection per client; writes are INSERTs committed one by one (WAL, synchronous=FULL)",
        },
        "setup": setup,
        "fts5_build": fts_build,
        "cold_cli_activation": {"phase_memory_fresh_process": cold, "fts5_fresh_connection": cold_fts},
        "server": {
            "warm_up_s": secs(warm_up), "rss_after_warm_up": rss_after_warm_up, "rss_end": rss_end,
            "metrics_before_mixed": figures_before_mixed, "metrics_after_mixed": figures_after_mixed,
        },
        "activation": phases,
        "mixed": {"clients": a.mixed_clients, "upsert_percent": a.upsert_percent, "phase_memory_http": mixed, "fts5": fts_mixed},
        "audit_verify_after_kill_9": verify,
    }))
}

fn cli_binary(given: Option<&Path>) -> Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .context("locating pm-bench")?
            .with_file_name("phase-memory"),
    };
    if !path.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p phase-memory-cli` or pass --cli PATH",
            path.display()
        );
    }
    Ok(path)
}

/// Where the load phases POST.
const ACTIVATION: &str = "/v1/ops/activation.run";
const UPSERT: &str = "/v1/ops/node.upsert";

fn activation(text: &str, as_of: &str, a: &ServeArgs) -> Value {
    json!({"cue": {"text": text}, "budget_tokens": a.budget, "limit": a.limit, "as_of": as_of})
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// The server's own figures of how it kept derived state in step and committed
/// (`/metrics`: group commits, store commits, snapshot and index refreshes).
fn runtime_figures(url: &str) -> Result<Value> {
    const SERIES: [&str; 6] = [
        "phase_memory_group_commit",
        "phase_memory_store_commits",
        "phase_memory_snapshot_refresh",
        "phase_memory_index_refreshes",
        "phase_memory_store_generation",
        "phase_memory_in_flight",
    ];
    let text = agent()
        .get(format!("{url}/metrics"))
        .call()
        .context("GET /metrics")?
        .body_mut()
        .read_to_string()
        .context("reading /metrics")?;
    let mut out = serde_json::Map::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if SERIES.iter().any(|p| name.starts_with(p))
            && let Ok(v) = value.parse::<f64>()
        {
            out.insert(name.to_string(), json!(v));
        }
    }
    Ok(Value::Object(out))
}

fn summary(lat: &Latencies, requests: u64, errors: u64, wall: Duration) -> Value {
    json!({
        "requests": requests,
        "errors": errors,
        "seconds": secs(wall),
        "throughput_rps": ((requests as f64 / wall.as_secs_f64().max(1e-9)) * 10.0).round() / 10.0,
        "latency": lat.summary(),
    })
}

/// The activation requests' bodies, one per cue text, serialised before the
/// timed part.
fn activation_bodies(texts: &[String], as_of: &str, a: &ServeArgs) -> Vec<Vec<u8>> {
    texts
        .iter()
        .map(|t| activation(t, as_of, a).to_string().into_bytes())
        .collect()
}

/// `clients` threads send `a.requests` activations in all, each over its own
/// kept-alive connection ([`crate::load::Client`]).
fn http_activations(
    url: &str,
    auth: &str,
    bodies: &[Vec<u8>],
    a: &ServeArgs,
    clients: u64,
) -> Result<Value> {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let lat = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let (next, errors) = (next.clone(), errors.clone());
                s.spawn(move || -> Result<Latencies> {
                    let mut client = crate::load::Client::new(url, auth)?;
                    let mut lat = Latencies::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= a.requests {
                            break;
                        }
                        let body = &bodies[i as usize % bodies.len()];
                        let t = Instant::now();
                        let ok = matches!(client.post_ok(ACTIVATION, body), Ok(true));
                        lat.push(t.elapsed());
                        if !ok {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(lat)
                })
            })
            .collect();
        let mut all = Latencies::new();
        for h in handles {
            match h.join() {
                Ok(l) => all.extend(l?),
                Err(_) => bail!("a client thread panicked"),
            }
        }
        Ok(all)
    })?;
    Ok(summary(
        &lat,
        a.requests,
        errors.load(Ordering::Relaxed),
        started.elapsed(),
    ))
}

/// The mixed phase: each request is an upsert with probability
/// `upsert_percent`, otherwise an activation. Returns the figures and the ids of
/// every acknowledged upsert (`acknowledged_ids`).
fn http_mixed(url: &str, auth: &str, bodies: &[Vec<u8>], a: &ServeArgs) -> Result<Value> {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let vocab = GeneratorConfig::new(a.nodes, a.common.seed).vocabulary();
    let vocab = &vocab;
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.mixed_clients)
            .map(|c| {
                let (next, errors) = (next.clone(), errors.clone());
                s.spawn(move || -> Result<_> {
                    let mut client = crate::load::Client::new(url, auth)?;
                    let mut rng = Rng::new(a.common.seed ^ (0x5eed_0000 + c));
                    let (mut reads, mut writes) = (Latencies::new(), Latencies::new());
                    let mut acked = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= a.requests {
                            break;
                        }
                        if rng.below(100) < a.upsert_percent {
                            let id = format!("bench-w{c}-{i}");
                            let body = json!({"node": {"id": id, "kind": "note", "title": vocab.phrase(&mut rng, 4), "body": vocab.phrase(&mut rng, 40)}}).to_string();
                            let t = Instant::now();
                            let r = client.post_ok(UPSERT, body.as_bytes());
                            writes.push(t.elapsed());
                            match r {
                                Ok(true) => acked.push(id),
                                _ => {
                                    errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        } else {
                            let body = &bodies[i as usize % bodies.len()];
                            let t = Instant::now();
                            let ok = matches!(client.post_ok(ACTIVATION, body), Ok(true));
                            reads.push(t.elapsed());
                            if !ok {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Ok((reads, writes, acked))
                })
            })
            .collect();
        let (mut reads, mut writes, mut acked) = (Latencies::new(), Latencies::new(), Vec::new());
        for h in handles {
            match h.join() {
                Ok(r) => {
                    let (r, w, k) = r?;
                    reads.extend(r);
                    writes.extend(w);
                    acked.extend(k);
                }
                Err(_) => bail!("a client thread panicked"),
            }
        }
        Ok((reads, writes, acked))
    })?;
    let wall = started.elapsed();
    let (reads, writes, acked) = results;
    let mut all = reads.clone();
    all.extend(writes.clone());
    let mut out = summary(&all, a.requests, errors.load(Ordering::Relaxed), wall);
    if let Some(m) = out.as_object_mut() {
        m.insert("activation_latency".into(), json!(reads.summary()));
        m.insert("upsert_latency".into(), json!(writes.summary()));
        m.insert("acknowledged_ids".into(), json!(acked));
    }
    Ok(out)
}

/// Ids among `ids` the store does not hold (opened read-only after the server
/// was killed).
fn missing_nodes(store: &Path, ids: &[String]) -> Result<Vec<String>> {
    let s = phase_memory_runtime::open_store(store, OpenMode::ReadOnly)
        .with_context(|| format!("opening {}", store.display()))?;
    let mut have = HashSet::new();
    s.for_each_node(&mut |n| {
        if n.id.starts_with("bench-w") {
            have.insert(n.id.clone());
        }
    })?;
    Ok(ids
        .iter()
        .filter(|id| !have.contains(*id))
        .cloned()
        .collect())
}

fn audit_verify(cli: &Path, store: &Path) -> Result<Value> {
    let out = Command::new(cli)
        .arg("--store")
        .arg(store)
        .args(["--json", "audit", "verify"])
        .output()
        .context("running audit verify")?;
    let env: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Ok(json!({"exit_code": out.status.code(), "status": env["status"], "data": env["data"]}))
}

/// Fresh `phase-memory activate` processes, one per cue (warm page cache). The
/// first may build the activation snapshot and persist it in the store folder
/// (when no persisted one fits the store); the others read it: `first_run_s`
/// is reported apart.
fn cold_cli(
    cli: &Path,
    store: &Path,
    texts: &[String],
    as_of: &str,
    a: &ServeArgs,
) -> Result<Value> {
    let mut lat = Latencies::new();
    let mut first = None;
    for text in texts.iter().take(a.cold_runs.max(1)) {
        let t = Instant::now();
        let out = Command::new(cli)
            .arg("--store")
            .arg(store)
            .args(["--json", "--as-of", as_of, "activate", "--text", text])
            .args([
                "--budget",
                &a.budget.to_string(),
                "--limit",
                &a.limit.to_string(),
            ])
            .stdin(Stdio::null())
            .output()
            .context("running phase-memory activate")?;
        first.get_or_insert(t.elapsed());
        lat.push(t.elapsed());
        if !out.status.success() {
            bail!(
                "phase-memory activate failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .chars()
                    .take(400)
                    .collect::<String>()
            );
        }
    }
    let persisted = store.join("snapshot").is_dir();
    Ok(json!({
        "runs": a.cold_runs.max(1),
        "first_run_s": first.map(secs),
        "persisted_snapshot_after": persisted,
        "latency": lat.summary(),
    }))
}

fn add_token(cli: &Path, store: &Path, tokens: &Path) -> Result<String> {
    let out = Command::new(cli)
        .arg("--store")
        .arg(store)
        .args([
            "--actor", "bench", "--role", "owner", "--scope", "*", "token", "add", "--tokens",
        ])
        .arg(tokens)
        .output()
        .context("running token add")?;
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || token.is_empty() {
        bail!("token add failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(token)
}

/// CPU time of the server and of this process (the HTTP clients) over one
/// phase: both run on the same cores, so what the clients use is not the
/// server's.
struct Cpu {
    server_pid: Option<u32>,
    server: Option<f64>,
    client: Option<f64>,
}

impl Cpu {
    fn start(server: &Server) -> Cpu {
        let server_pid = server.child.as_ref().map(Child::id);
        Cpu {
            server_pid,
            server: server_pid.and_then(|p| cpu_seconds(Some(p))),
            client: cpu_seconds(None),
        }
    }

    /// Seconds of CPU each used since [`Cpu::start`], and per request in ms.
    fn stop(&self, requests: u64) -> Value {
        let since = |before: Option<f64>, now: Option<f64>| match (before, now) {
            (Some(b), Some(n)) => Some(((n - b) * 100.0).round() / 100.0),
            _ => None,
        };
        let server = since(
            self.server,
            self.server_pid.and_then(|p| cpu_seconds(Some(p))),
        );
        let client = since(self.client, cpu_seconds(None));
        let per =
            |s: Option<f64>| s.map(|s| (s * 1e3 / requests.max(1) as f64 * 100.0).round() / 100.0);
        json!({
            "server_s": server, "client_s": client,
            "server_ms_per_request": per(server), "client_ms_per_request": per(client),
        })
    }
}

/// A `phase-memory serve` child process; killed on drop.
struct Server {
    child: Option<Child>,
    url: String,
}

impl Server {
    fn start(cli: &Path, store: &Path, tokens: &Path, timeout: u64) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(cli);
        cmd.arg("--store")
            .arg(store)
            .args(["serve", "--listen", &addr, "--tokens"])
            .arg(tokens);
        // With a log filter in the environment, the server's logs (e.g. each
        // group commit's timings at `debug`) go to standard error.
        if std::env::var_os("PHASE_MEMORY_LOG").is_some() {
            cmd.args(["--log", "text"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting phase-memory serve")?;
        let server = Server {
            child: Some(child),
            url: format!("http://{addr}"),
        };
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let agent = agent();
        loop {
            if let Ok(r) = agent.get(format!("{}/v1/health", server.url)).call()
                && r.status().as_u16() == 200
            {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                bail!("the server did not answer its health check within {timeout} s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's resident and peak resident memory.
    fn rss(&self) -> Result<Value> {
        let pid = self.child.as_ref().map_or(0, Child::id);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let kib = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0.0, |k| (k / 1024.0 * 10.0).round() / 10.0)
        };
        Ok(json!({"rss_mib": kib("VmRSS:"), "peak_rss_mib": kib("VmHWM:")}))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Builds the FTS5 table from the store's nodes (read-only open).
fn fts5_build(store: &Path, path: &Path) -> Result<Value> {
    let s = phase_memory_runtime::open_store(store, OpenMode::ReadOnly)
        .with_context(|| format!("opening {}", store.display()))?;
    let mut rows = Vec::new();
    s.for_each_node(&mut |n| rows.push((n.id.clone(), n.title.clone(), n.body.clone())))?;
    drop(s);
    let t = Instant::now();
    let mut db = rusqlite::Connection::open(path)?;
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body);",
    )?;
    let tx = db.transaction()?;
    {
        let mut ins = tx.prepare("INSERT INTO docs(id, title, body) VALUES (?1, ?2, ?3)")?;
        for (id, title, body) in &rows {
            ins.execute((id, title, body))?;
        }
    }
    tx.commit()?;
    Ok(json!({"rows": rows.len(), "seconds": secs(t.elapsed())}))
}

/// The cue as an FTS5 query: each word quoted, OR-ed (BM25 over any of them,
/// like the engine's full-text search).
fn fts5_query(text: &str) -> String {
    text.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

fn fts5_connection(path: &Path) -> Result<rusqlite::Connection> {
    let db = rusqlite::Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(30))?;
    db.execute_batch("PRAGMA synchronous=FULL;")?;
    Ok(db)
}

fn fts5_search(db: &rusqlite::Connection, text: &str, limit: usize) -> Result<usize> {
    let mut q =
        db.prepare_cached("SELECT id FROM docs WHERE docs MATCH ?1 ORDER BY bm25(docs) LIMIT ?2")?;
    let ids: Vec<String> = q
        .query_map((fts5_query(text), limit as i64), |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids.len())
}

/// A fresh connection answering one query, per cue (in this process).
fn fts5_cold(path: &Path, texts: &[String], limit: usize) -> Result<Value> {
    let mut lat = Latencies::new();
    for text in texts.iter().take(3) {
        let t = Instant::now();
        let db = fts5_connection(path)?;
        fts5_search(&db, text, limit)?;
        lat.push(t.elapsed());
    }
    Ok(json!({"latency": lat.summary()}))
}

/// `clients` threads, `requests` in all, `write_percent` of them INSERTs
/// committed one by one; every acknowledged INSERT is looked up afterwards.
fn fts5_queries(
    path: &Path,
    texts: &[String],
    limit: usize,
    clients: u64,
    requests: u64,
    write_percent: u64,
) -> Result<Value> {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (lat, acked) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (next, errors) = (next.clone(), errors.clone());
                s.spawn(move || -> (Latencies, Vec<String>) {
                    let mut lat = Latencies::new();
                    let mut acked = Vec::new();
                    let Ok(db) = fts5_connection(path) else {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return (lat, acked);
                    };
                    let mut rng = Rng::new(0xf75 ^ c);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= requests {
                            break;
                        }
                        let text = &texts[i as usize % texts.len()];
                        let t = Instant::now();
                        let ok = if rng.below(100) < write_percent {
                            let id = format!("fts-w{c}-{i}");
                            let r = db.execute(
                                "INSERT INTO docs(id, title, body) VALUES (?1, ?2, ?3)",
                                (&id, text, text),
                            );
                            if r.is_ok() {
                                acked.push(id);
                            }
                            r.is_ok()
                        } else {
                            fts5_search(&db, text, limit).is_ok()
                        };
                        lat.push(t.elapsed());
                        if !ok {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    (lat, acked)
                })
            })
            .collect();
        let (mut all, mut acked) = (Latencies::new(), Vec::new());
        for h in handles {
            if let Ok((l, k)) = h.join() {
                all.extend(l);
                acked.extend(k);
            }
        }
        (all, acked)
    });
    let wall = started.elapsed();
    let mut out = summary(&lat, requests, errors.load(Ordering::Relaxed), wall);
    if write_percent > 0 {
        let db = fts5_connection(path)?;
        let mut missing = 0u64;
        for id in &acked {
            let n: i64 = db.query_row("SELECT count(*) FROM docs WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
            if n == 0 {
                missing += 1;
            }
        }
        if let Some(m) = out.as_object_mut() {
            m.insert("acknowledged_writes".into(), json!(acked.len()));
            m.insert("acknowledged_writes_missing".into(), json!(missing));
        }
    }
    Ok(out)
}
