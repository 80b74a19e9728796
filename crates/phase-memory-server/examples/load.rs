//! Load test of the HTTP service: starts a server over a generated store (or
//! connects to a running one), sends activation requests from concurrent client
//! threads, and prints `{requests, errors, seconds, throughput_rps, p50_ms, p99_ms}`.
//!
//! ```text
//! cargo run --release -p phase-memory-server --example load -- \
//!     [--requests 20000] [--threads 16] [--nodes 3000] [--no-audit-reads] [--pool N] \
//!     [--url http://127.0.0.1:7411 --token TOKEN]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use phase_memory_model::{Actor, Status, Time};
use phase_memory_runtime::{Adapter, CallContext, Clock, init_store};
use phase_memory_server::SharedRuntime;
use phase_memory_server::http::{AppState, serve_on};
use phase_memory_server::tokens::{TokenStore, add_token};
use serde_json::{Value, json};

struct Args {
    requests: u64,
    threads: u64,
    nodes: u64,
    audit_reads: bool,
    pool: usize,
    url: Option<String>,
    token: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        requests: 20_000,
        threads: 16,
        nodes: 3_000,
        audit_reads: true,
        pool: phase_memory_server::default_pool_size(),
        url: None,
        token: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => a.requests = value()?.parse()?,
            "--threads" => a.threads = value()?.parse()?,
            "--nodes" => a.nodes = value()?.parse()?,
            "--url" => a.url = Some(value()?),
            "--token" => a.token = Some(value()?),
            "--no-audit-reads" => a.audit_reads = false,
            "--pool" => a.pool = value()?.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

const WORDS: &[&str] = &[
    "release",
    "plan",
    "budget",
    "paris",
    "server",
    "memory",
    "review",
    "policy",
    "audit",
    "graph",
    "token",
    "deploy",
    "customer",
    "invoice",
    "meeting",
    "design",
    "schema",
    "index",
    "cache",
    "latency",
    "backup",
    "restore",
    "incident",
    "alert",
    "roadmap",
    "quarter",
    "hiring",
    "contract",
    "vendor",
    "security",
    "network",
    "storage",
    "compiler",
    "parser",
    "profile",
    "phase",
    "archive",
    "export",
    "import",
    "search",
    "ranking",
    "budgeting",
    "travel",
    "report",
    "summary",
    "decision",
    "risk",
    "launch",
    "feedback",
    "support",
];

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| WORDS[self.below(WORDS.len() as u64) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn graph(nodes: u64) -> Vec<Value> {
    let mut rng = Rng(42);
    let mut out = Vec::new();
    for i in 0..nodes {
        out.push(json!({"record": "node", "id": format!("n{i}"), "kind": "fact", "title": rng.words(3), "body": rng.words(25), "created_at": "2026-01-01T00:00:00Z"}));
    }
    for i in 0..nodes {
        for _ in 0..5 {
            let j = rng.below(nodes);
            if j != i {
                out.push(json!({"record": "edge", "from": format!("n{i}"), "to": format!("n{j}"), "type": "relates_to"}));
            }
        }
    }
    out
}

/// Starts an in-process server over a generated store; returns (url, token, guard).
fn start_server(args: &Args) -> anyhow::Result<(String, String, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    let mut profile = phase_memory_profile::DEFAULT_PROFILE_TOML.to_string();
    if !args.audit_reads {
        profile = profile.replace("record_reads = true", "record_reads = false");
    }
    let now: Time = "2026-03-01T00:00:00Z".parse()?;
    let env = init_store(&store, Adapter::File, Some(("load profile", &profile)), now);
    if env.status != Status::Ok {
        bail!("init: {}", env.to_json());
    }
    let shared = SharedRuntime::open_with(
        &store,
        Clock::Fixed(now),
        Vec::new(),
        args.pool,
        phase_memory_runtime::DEFAULT_WRITE_WAIT,
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let t0 = Instant::now();
    let env = rt.block_on(shared.run(
        "graph.import",
        json!({"records": graph(args.nodes)}),
        CallContext::new(Actor::owner()),
    ));
    if env.status != Status::Ok {
        bail!("import: {}", env.to_json());
    }
    eprintln!(
        "imported {} nodes ({}) in {:.1}s",
        args.nodes,
        env.data,
        t0.elapsed().as_secs_f64()
    );
    let tokens_file = dir.path().join("tokens.json");
    let token = add_token(&tokens_file, &Actor::owner())?;
    let state = AppState::new(
        shared,
        TokenStore::load(&tokens_file)?,
        8 << 20,
        Duration::from_secs(30),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
                let _ = serve_on(l, state, std::future::pending()).await;
            }
        })
    });
    Ok((url, token, dir))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (url, token, _guard) = match (&args.url, &args.token) {
        (Some(u), Some(t)) => (u.clone(), t.clone(), None),
        (None, None) => {
            let (u, t, g) = start_server(&args)?;
            (u, t, Some(g))
        }
        _ => bail!("--url and --token go together"),
    };
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.threads)
        .map(|w| {
            let (next, errors, url, token) =
                (next.clone(), errors.clone(), url.clone(), token.clone());
            let total = args.requests;
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut rng = Rng(1000 + w);
                let mut latencies = Vec::new();
                let endpoint = format!("{url}/v1/ops/activation.run");
                let auth = format!("Bearer {token}");
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let body = json!({"cue": {"text": rng.words(2)}, "budget_tokens": 1000, "limit": 10, "as_of": "2026-03-01T00:00:00Z"}).to_string();
                    let t = Instant::now();
                    let ok = match agent
                        .post(&endpoint)
                        .header("Authorization", &auth)
                        .header("Content-Type", "application/json")
                        .send(&body)
                    {
                        Ok(mut r) => {
                            let status = r.status().as_u16();
                            let _ = r.body_mut().read_to_string();
                            status == 200
                        }
                        Err(_) => false,
                    };
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(
            w.join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))?,
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let requests = latencies.len() as u64;
    let report = json!({
        "requests": requests,
        "errors": errors.load(Ordering::Relaxed),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "throughput_rps": ((requests as f64 / seconds) * 10.0).round() / 10.0,
        "p50_ms": (percentile(&latencies, 0.50) * 100.0).round() / 100.0,
        "p99_ms": (percentile(&latencies, 0.99) * 100.0).round() / 100.0,
        "threads": args.threads,
        "nodes": if args.url.is_some() { Value::Null } else { json!(args.nodes) },
        "audit_reads": args.audit_reads,
    });
    println!("{report}");
    Ok(())
}
