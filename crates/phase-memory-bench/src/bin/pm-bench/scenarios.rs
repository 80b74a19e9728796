//! The scenarios: bulk import and cold open per adapter, activation latency through
//! the runtime and through the engine alone, and package compilation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use phase_memory_activate::{ActivationInput, Cue, Snapshot, Visibility, activate};
use phase_memory_bench::measure::{mib, ms, peak_rss_bytes, reset_peak_rss, rss_bytes, secs};
use phase_memory_bench::{GeneratorConfig, Latencies, Rng};
use phase_memory_index::{FullTextIndex, Search};
use phase_memory_profile::Profile;
use phase_memory_runtime::{Adapter, CallContext};
use phase_memory_store::{OpenMode, Store};
use serde_json::{Value, json};

use crate::Common;
use crate::setup::{self, Work};

/// BM25 hits that seed an engine-only activation (the runtime uses the same number).
const LEXICAL_SEEDS: usize = 200;

/// Options of the import scenarios.
#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub common: Common,
    /// Number of nodes.
    #[arg(long)]
    pub nodes: Option<u64>,
    /// Edges generated from each node.
    #[arg(long, default_value_t = 5)]
    pub edges_per_node: u32,
    /// Number of events (file-import default: 2 × nodes; sqlite-import: 0).
    #[arg(long)]
    pub events: Option<u64>,
    /// Import this interchange file instead of generating one.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Options of the activation scenario.
#[derive(Args, Debug)]
pub struct ActivationArgs {
    #[command(flatten)]
    pub common: Common,
    /// Number of nodes of the generated store.
    #[arg(long, default_value_t = 100_000)]
    pub nodes: u64,
    /// Number of events (default: 10 × nodes).
    #[arg(long)]
    pub events: Option<u64>,
    /// Adapter of the generated store (default: file up to 200,000 nodes, sqlite above).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Use this existing store (made from the same generator settings) instead of
    /// generating and importing one.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Number of text cues.
    #[arg(long, default_value_t = 1000)]
    pub cues: usize,
    /// Token budget of each activation.
    #[arg(long, default_value_t = 2000)]
    pub budget: u64,
    /// Items per activation.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Skip the runtime path (`activation.run`) and measure only the engine.
    #[arg(long)]
    pub engine_only: bool,
}

/// Options of the compile scenario.
#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub common: Common,
    /// Number of nodes of the generated store.
    #[arg(long, default_value_t = 100_000)]
    pub nodes: u64,
    /// Number of events (default: 2 × nodes).
    #[arg(long)]
    pub events: Option<u64>,
    /// Use this existing store instead of generating and importing one.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Token budget of each package.
    #[arg(long, default_value_t = 2000)]
    pub budget: u64,
    /// Packages compiled (each from a different cue).
    #[arg(long, default_value_t = 50)]
    pub packages: usize,
}

fn target(name: &str, value: f64, limit: f64, unit: &str, applies: bool) -> Value {
    json!({
        "name": name,
        "value": value,
        "limit": limit,
        "unit": unit,
        "met": value < limit,
        "at_target_size": applies,
    })
}

/// file-import / sqlite-import.
pub fn import(a: &ImportArgs, adapter: Adapter) -> Result<Value> {
    let (default_nodes, import_limit, open_limit) = match adapter {
        Adapter::Sqlite => (1_000_000, 120.0, 10.0),
        _ => (100_000, 10.0, 2.0),
    };
    let nodes = a.nodes.unwrap_or(default_nodes);
    let mut cfg = GeneratorConfig::new(nodes, a.common.seed);
    cfg.edges_per_node = a.edges_per_node;
    cfg.events = a.events.unwrap_or(match adapter {
        Adapter::Sqlite => 0,
        _ => 2 * nodes,
    });
    let name = if adapter == Adapter::Sqlite {
        "sqlite-import"
    } else {
        "file-import"
    };
    let work = Work::new(&a.common, name)?;
    let (data, generated) = match &a.data {
        Some(d) => (
            d.clone(),
            json!({"file": d.display().to_string(), "reused": true}),
        ),
        None => {
            let d = work.dir.join("store.jsonl");
            let g = setup::generate(&cfg, &d)?;
            (d, g)
        }
    };
    let store = work.dir.join("store");
    let figures = setup::init_and_import(&store, adapter, &data, &cfg)?;
    if a.data.is_none() && !a.common.keep {
        let _ = std::fs::remove_file(&data);
    }
    let at_size = nodes == default_nodes;
    let targets = vec![
        target(
            "import",
            figures["import_s"].as_f64().unwrap_or(f64::MAX),
            import_limit,
            "s",
            at_size,
        ),
        target(
            "open",
            figures["open_s"].as_f64().unwrap_or(f64::MAX),
            open_limit,
            "s",
            at_size,
        ),
    ];
    Ok(json!({
        "params": {"nodes": nodes, "edges_per_node": cfg.edges_per_node, "events": cfg.events, "seed": cfg.seed},
        "generated": generated,
        "figures": figures,
        "targets": targets,
    }))
}

/// The benchmark cues: two or three Zipf-distributed words of the generator's
/// vocabulary.
pub(crate) fn cues(cfg: &GeneratorConfig, n: usize) -> Vec<String> {
    let vocab = cfg.vocabulary();
    let mut r = Rng::new(cfg.seed ^ 0xc0e5_c0e5);
    (0..n)
        .map(|_| {
            let words = r.between(2, 3) as usize;
            vocab.phrase(&mut r, words)
        })
        .collect()
}

/// Generates and imports a store for a scenario unless one is given.
pub(crate) fn ensure_store(
    work: &Work,
    given: Option<&PathBuf>,
    adapter: Adapter,
    cfg: &GeneratorConfig,
) -> Result<(PathBuf, Value)> {
    if let Some(s) = given {
        return Ok((
            s.clone(),
            json!({"store": s.display().to_string(), "reused": true}),
        ));
    }
    let data = work.dir.join("store.jsonl");
    let generated = setup::generate(cfg, &data)?;
    let store = work.dir.join("store");
    let imported = setup::init_and_import(&store, adapter, &data, cfg)?;
    let _ = std::fs::remove_file(&data);
    Ok((store, json!({"generated": generated, "import": imported})))
}

fn open_read_only(dir: &Path) -> Result<Box<dyn Store>> {
    phase_memory_runtime::open_store(dir, OpenMode::ReadOnly)
        .with_context(|| format!("opening {}", dir.display()))
}

fn build_snapshot(store: &dyn Store, profile: &Profile) -> Result<Snapshot> {
    Ok(phase_memory_runtime::build_snapshot(
        store,
        profile,
        store.generation(),
    )?)
}

/// The runtime path: every cue through `activation.run`.
fn runtime_activation(
    store: &Path,
    cfg: &GeneratorConfig,
    texts: &[String],
    a: &ActivationArgs,
) -> Result<Value> {
    reset_peak_rss();
    let t = Instant::now();
    let mut rt = setup::open(store, setup::clock(cfg))?;
    let open = t.elapsed();
    let ctx = CallContext::owner();
    let request =
        |text: &str| json!({"cue": {"text": text}, "budget_tokens": a.budget, "limit": a.limit});
    // The first call builds the snapshot of the store generation.
    let t = Instant::now();
    let env = rt.run("activation.run", request("warm up"), &ctx);
    let first = t.elapsed();
    setup::expect_ok(&env)?;
    let mut lat = Latencies::new();
    let (mut items, mut considered, mut budget_used) = (0u64, 0u64, 0u64);
    for text in texts {
        let t = Instant::now();
        let env = rt.run("activation.run", request(text), &ctx);
        lat.push(t.elapsed());
        setup::expect_ok(&env)?;
        items += env.data["items"].as_array().map_or(0, |v| v.len() as u64);
        considered += env.data["considered"].as_u64().unwrap_or(0);
        budget_used += env.data["budget"]["used"].as_u64().unwrap_or(0);
    }
    let n = texts.len().max(1) as f64;
    let audited = rt.profile().audit.record_reads;
    Ok(json!({
        "open_s": secs(open),
        "first_call_ms_including_snapshot_build": ms(first),
        "latency": lat.summary(),
        "mean_items": items as f64 / n,
        "mean_considered": considered as f64 / n,
        "mean_budget_used": budget_used as f64 / n,
        "reads_audited": audited,
        "rss_mib": mib(rss_bytes()),
        "peak_rss_mib": mib(peak_rss_bytes()),
    }))
}

/// The engine path: index search + `activate` on a snapshot, no runtime.
fn engine_activation(store_dir: &Path, texts: &[String], a: &ActivationArgs) -> Result<Value> {
    reset_peak_rss();
    let rss_start = rss_bytes();
    let profile = Profile::builtin();
    let t = Instant::now();
    let store = open_read_only(store_dir)?;
    let open = t.elapsed();
    let rss_store = rss_bytes();
    let t = Instant::now();
    let snapshot = build_snapshot(store.as_ref(), &profile)?;
    let build = t.elapsed();
    drop(store);
    let rss_snapshot = rss_bytes();
    let index = FullTextIndex::open_or_create(Some(&store_dir.join("index")))
        .context("opening the full-text index")?;
    let as_of = phase_memory_bench::generate::DEFAULT_AS_OF;
    let visible = |_: phase_memory_activate::NodeView<'_>| Visibility::Visible;
    let (mut search, mut engine, mut total) =
        (Latencies::new(), Latencies::new(), Latencies::new());
    let (mut items, mut considered) = (0u64, 0u64);
    for text in texts {
        let t0 = Instant::now();
        let hits = index.search(text, LEXICAL_SEEDS)?;
        let t1 = Instant::now();
        let cue = Cue {
            text: Some(text.clone()),
            nodes: vec![],
            hints: vec![],
            events_since: None,
        };
        let ws = activate(
            &snapshot,
            &profile.activation,
            &ActivationInput {
                cue: &cue,
                lexical: &hits,
                semantic: &[],
                budget_tokens: a.budget,
                limit: a.limit,
                as_of,
                include_invalid: false,
                explain: false,
            },
            &visible,
        );
        let t2 = Instant::now();
        search.push(t1 - t0);
        engine.push(t2 - t1);
        total.push(t2 - t0);
        items += ws.items.len() as u64;
        considered += ws.considered;
    }
    // Then the same searches limited to the generated nodes' one scope (same hits):
    // what an actor that may not see every scope runs.
    let scope = vec!["default".to_string()];
    let mut scoped = Latencies::new();
    for text in texts {
        let mut s = Search::new(text, LEXICAL_SEEDS);
        s.scopes = Some(&scope);
        let t0 = Instant::now();
        let hits = index.search_with(&s)?;
        scoped.push(t0.elapsed());
        std::hint::black_box(hits);
    }
    let n = texts.len().max(1) as f64;
    Ok(json!({
        "store_open_read_only_s": secs(open),
        "snapshot_build_s": secs(build),
        "snapshot_nodes": snapshot.node_count(),
        "snapshot_arcs": snapshot.edge_count(),
        "snapshot_heap_bytes": snapshot.heap_bytes(),
        "snapshot_heap_mib": mib(snapshot.heap_bytes() as u64),
        "rss_mib": {"start": mib(rss_start), "store_open": mib(rss_store), "after_snapshot": mib(rss_snapshot), "end": mib(rss_bytes())},
        "latency_total": total.summary(),
        "latency_search": search.summary(),
        "latency_search_one_scope": scoped.summary(),
        "latency_activate": engine.summary(),
        "mean_items": items as f64 / n,
        "mean_considered": considered as f64 / n,
        "peak_rss_mib": mib(peak_rss_bytes()),
    }))
}

/// activation.
pub fn activation(a: &ActivationArgs) -> Result<Value> {
    let mut cfg = GeneratorConfig::new(a.nodes, a.common.seed);
    if let Some(e) = a.events {
        cfg.events = e;
    }
    let adapter = match a.adapter.as_deref() {
        None if a.nodes > 200_000 => Adapter::Sqlite,
        None => Adapter::File,
        Some(s) => match Adapter::parse(s) {
            Some(x @ (Adapter::File | Adapter::Sqlite)) => x,
            _ => bail!("--adapter must be file or sqlite"),
        },
    };
    let work = Work::new(&a.common, "activation")?;
    let (store, setup_figures) = ensure_store(&work, a.store.as_ref(), adapter, &cfg)?;
    let peak_setup = peak_rss_bytes();
    let texts = cues(&cfg, a.cues);
    let runtime = if a.engine_only {
        Value::Null
    } else {
        eprintln!("pm-bench: {} cues through activation.run", texts.len());
        runtime_activation(&store, &cfg, &texts, a)?
    };
    eprintln!("pm-bench: {} cues through search + activate", texts.len());
    let engine = engine_activation(&store, &texts, a)?;
    let big = a.nodes >= 1_000_000;
    let at_size = a.nodes == 100_000 || a.nodes == 1_000_000;
    let (p50_limit, p99_limit) = if big {
        (50.0, f64::INFINITY)
    } else {
        (10.0, 50.0)
    };
    let mut targets = Vec::new();
    for (path, v) in [
        ("runtime", &runtime["latency"]),
        ("engine", &engine["latency_total"]),
    ] {
        if v.is_null() {
            continue;
        }
        targets.push(target(
            &format!("{path} p50"),
            v["p50_ms"].as_f64().unwrap_or(f64::MAX),
            p50_limit,
            "ms",
            at_size,
        ));
        if p99_limit.is_finite() {
            targets.push(target(
                &format!("{path} p99"),
                v["p99_ms"].as_f64().unwrap_or(f64::MAX),
                p99_limit,
                "ms",
                at_size,
            ));
        }
    }
    if big {
        targets.push(target(
            "snapshot heap",
            engine["snapshot_heap_bytes"].as_f64().unwrap_or(f64::MAX) / 1e9,
            1.5,
            "GB",
            at_size,
        ));
    }
    Ok(json!({
        "params": {"nodes": a.nodes, "events": cfg.events, "seed": cfg.seed, "adapter": format!("{adapter:?}").to_lowercase(), "cues": texts.len(), "cue_words": "2-3, Zipf", "budget_tokens": a.budget, "limit": a.limit, "lexical_seeds": LEXICAL_SEEDS},
        "setup": setup_figures,
        "peak_rss_through_setup_mib": mib(peak_setup),
        "peak_rss_reset_between_phases": std::path::Path::new("/proc/self/clear_refs").exists(),
        "runtime": runtime,
        "engine": engine,
        "targets": targets,
    }))
}

/// compile.
pub fn compile(a: &CompileArgs) -> Result<Value> {
    let mut cfg = GeneratorConfig::new(a.nodes, a.common.seed);
    cfg.events = a.events.unwrap_or(2 * a.nodes);
    let work = Work::new(&a.common, "compile")?;
    let (store, setup_figures) = ensure_store(&work, a.store.as_ref(), Adapter::File, &cfg)?;
    let texts = cues(&cfg, a.packages + 1);
    let mut rt = setup::open(&store, setup::clock(&cfg))?;
    let ctx = CallContext::owner();
    let out = work.dir.join("packages");
    std::fs::create_dir_all(&out)?;
    let request = |k: usize, text: &str| json!({"cue": {"text": text}, "budget_tokens": a.budget, "out": out.join(format!("pkg-{k}")).display().to_string()});
    let t = Instant::now();
    let env = rt.run("package.compile", request(0, &texts[0]), &ctx);
    let first = t.elapsed();
    setup::expect_ok(&env)?;
    let mut lat = Latencies::new();
    let (mut items, mut used, mut files) = (0u64, 0u64, 0u64);
    for (k, text) in texts.iter().enumerate().skip(1) {
        let t = Instant::now();
        let env = rt.run("package.compile", request(k, text), &ctx);
        lat.push(t.elapsed());
        setup::expect_ok(&env)?;
        items += env.data["items"].as_array().map_or(0, |v| v.len() as u64);
        used += env.data["budget"]["used"].as_u64().unwrap_or(0);
        files += env.data["files"].as_u64().unwrap_or(0);
    }
    let _ = std::fs::remove_dir_all(&out);
    let n = a.packages.max(1) as f64;
    Ok(json!({
        "params": {"nodes": a.nodes, "events": cfg.events, "seed": cfg.seed, "adapter": "file", "budget_tokens": a.budget, "packages": a.packages},
        "setup": setup_figures,
        "first_compile_ms_including_snapshot_build": ms(first),
        "latency": lat.summary(),
        "mean_items": items as f64 / n,
        "mean_budget_used": used as f64 / n,
        "mean_files": files as f64 / n,
        "reads_audited": rt.profile().audit.record_reads,
    }))
}
