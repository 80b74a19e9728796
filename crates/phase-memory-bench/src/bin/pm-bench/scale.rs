//! The scale scenario, one for every adapter: a generated store imported through
//! the runtime into a store created by name through the adapter-generic open
//! (`phase_memory_runtime::ADAPTERS`), a cold open and counts, activation latency
//! through the runtime, and write throughput of 1 and of N runtime instances on
//! the same store (each instance its own handle, as `serve` processes are).

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use phase_memory_bench::measure::{ms, secs};
use phase_memory_bench::{GeneratorConfig, Latencies, Rng};
use phase_memory_runtime::{ADAPTERS, Adapter, CallContext, init_store_with};
use phase_memory_store::StoreConfig;
use serde_json::{Value, json};

use crate::Common;
use crate::setup::{self, Work};

/// Options of the scale scenario.
#[derive(Args, Debug)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub common: Common,
    /// Adapter by name: any of the runtime's adapters (`file`, `sqlite`, `postgres`).
    #[arg(long, default_value = "sqlite")]
    pub adapter: String,
    /// Database URL for `postgres` (default: `PHASE_MEMORY_DATABASE_URL`, else a
    /// fresh database on a throwaway cluster started with `scripts/pg-cluster.sh`).
    #[arg(long)]
    pub url: Option<String>,
    /// Number of nodes.
    #[arg(long, default_value_t = 100_000)]
    pub nodes: u64,
    /// Edges generated from each node.
    #[arg(long, default_value_t = 5)]
    pub edges_per_node: u32,
    /// Number of events.
    #[arg(long, default_value_t = 0)]
    pub events: u64,
    /// Text cues through `activation.run` (0: skip activation).
    #[arg(long, default_value_t = 200)]
    pub cues: usize,
    /// Instance counts whose write throughput is measured, e.g. `1,3`.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub instances: Vec<usize>,
    /// Seconds each throughput run lasts (every loop is also bounded by a count).
    #[arg(long, default_value_t = 5)]
    pub write_seconds: u64,
}

/// The `store.json` a store of `adapter` needs (the URL for postgres).
fn store_config(a: &ScaleArgs) -> Result<Option<StoreConfig>> {
    if a.adapter != "postgres" {
        return Ok(None);
    }
    let url = match &a.url {
        Some(u) => u.clone(),
        None => match std::env::var("PHASE_MEMORY_DATABASE_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => phase_memory_store_postgres::testing::fresh_database(),
        },
    };
    Ok(Some(StoreConfig {
        adapter: "postgres".into(),
        url: Some(url),
    }))
}

/// `pm-bench scale`.
pub fn scale(a: &ScaleArgs) -> Result<Value> {
    if !ADAPTERS.iter().any(|k| k.name() == a.adapter) {
        let names: Vec<&str> = ADAPTERS.iter().map(|k| k.name()).collect();
        bail!("unknown adapter {:?}; this build has {names:?}", a.adapter);
    }
    let adapter =
        Adapter::parse(&a.adapter).ok_or_else(|| anyhow!("unknown adapter {}", a.adapter))?;
    let mut cfg = GeneratorConfig::new(a.nodes, a.common.seed);
    cfg.edges_per_node = a.edges_per_node;
    cfg.events = a.events;
    let work = Work::new(&a.common, "scale")?;
    let data = work.dir.join("store.jsonl");
    let generated = setup::generate(&cfg, &data)?;
    let store = work.dir.join("store");
    let t = Instant::now();
    let env = init_store_with(&store, adapter, store_config(a)?, None, cfg.as_of);
    setup::expect_ok(&env)?;
    let init_s = secs(t.elapsed());
    let import = import(&store, &data, &cfg)?;
    if !a.common.keep {
        let _ = std::fs::remove_file(&data);
    }
    let activation = if a.cues > 0 {
        activation(&store, &cfg, a.cues)?
    } else {
        Value::Null
    };
    let mut throughput = Vec::new();
    for &k in &a.instances {
        throughput.push(writes(&store, &cfg, k.max(1), a.write_seconds)?);
    }
    Ok(json!({
        "params": {"adapter": a.adapter, "nodes": a.nodes, "edges_per_node": cfg.edges_per_node, "events": cfg.events, "seed": cfg.seed, "cues": a.cues},
        "generated": generated,
        "init_s": init_s,
        "import": import,
        "activation": activation,
        "writes": throughput,
    }))
}

/// `graph.import` of the whole file, then a cold open and counts.
fn import(store: &Path, data: &Path, cfg: &GeneratorConfig) -> Result<Value> {
    let ctx = CallContext::owner();
    let mut rt = setup::open(store, setup::clock(cfg))?;
    eprintln!("pm-bench: importing into {}", store.display());
    let t = Instant::now();
    let env = rt.run(
        "graph.import",
        json!({"path": data.display().to_string()}),
        &ctx,
    );
    let import = t.elapsed();
    setup::expect_ok(&env)?;
    let records = ["nodes", "edges", "events"]
        .iter()
        .map(|k| env.data[*k].as_u64().unwrap_or(0))
        .sum::<u64>();
    let t = Instant::now();
    drop(rt);
    let close_s = secs(t.elapsed());
    let t = Instant::now();
    let rt = setup::open(store, setup::clock(cfg))?;
    let open_s = secs(t.elapsed());
    let t = Instant::now();
    let counted = json!({
        "nodes": rt.store().node_count()?,
        "edges": rt.store().edge_count()?,
        "event_head": rt.store().event_head()?,
    });
    let count_s = secs(t.elapsed());
    let mut streamed = 0u64;
    let t = Instant::now();
    rt.store().for_each_node(&mut |_| streamed += 1)?;
    rt.store().for_each_edge(&mut |_| streamed += 1)?;
    let stream_s = secs(t.elapsed());
    if counted["nodes"] != env.data["nodes"] || counted["edges"] != env.data["edges"] {
        bail!(
            "counts after the cold open ({counted}) differ from the import ({})",
            env.data
        );
    }
    Ok(json!({
        "import_s": secs(import),
        "import_records_per_s": (records as f64 / import.as_secs_f64().max(1e-9)).round(),
        "imported": {"nodes": env.data["nodes"], "edges": env.data["edges"], "events": env.data["events"]},
        "close_s": close_s,
        "open_s": open_s,
        "count_s": count_s,
        "counted": counted,
        "stream_nodes_and_edges_s": stream_s,
        "streamed": streamed,
    }))
}

/// `activation.run` for `n` text cues of the generator's vocabulary.
fn activation(store: &Path, cfg: &GeneratorConfig, n: usize) -> Result<Value> {
    let vocabulary = cfg.vocabulary();
    let mut rng = Rng::new(cfg.seed ^ 0xac71);
    let texts: Vec<String> = (0..n)
        .map(|_| {
            let words = 2 + rng.below(2) as usize;
            vocabulary.phrase(&mut rng, words)
        })
        .collect();
    let mut rt = setup::open(store, setup::clock(cfg))?;
    let ctx = CallContext::owner();
    let request = |text: &str| json!({"cue": {"text": text}, "budget_tokens": 2000, "limit": 20});
    let t = Instant::now();
    let env = rt.run("activation.run", request("warm up"), &ctx);
    let first = t.elapsed();
    setup::expect_ok(&env)?;
    let mut lat = Latencies::new();
    for text in &texts {
        let t = Instant::now();
        let env = rt.run("activation.run", request(text), &ctx);
        lat.push(t.elapsed());
        setup::expect_ok(&env)?;
    }
    // A second instance opened now: its first call reads the snapshot the first
    // one persisted in the store folder instead of building it.
    let t = Instant::now();
    let mut second = setup::open(store, setup::clock(cfg))?;
    let opened = t.elapsed();
    let t = Instant::now();
    let env = second.run("activation.run", request("warm up"), &ctx);
    let second_first = t.elapsed();
    setup::expect_ok(&env)?;
    Ok(json!({
        "first_call_ms_including_snapshot_build": ms(first),
        "second_instance_open_ms": ms(opened),
        "second_instance_first_call_ms": ms(second_first),
        "latency": lat.summary(),
    }))
}

/// `k` runtime instances on the store, each in its own thread with its own handle,
/// writing `node.upsert` for `seconds` (at most 100,000 writes each).
fn writes(store: &Path, cfg: &GeneratorConfig, k: usize, seconds: u64) -> Result<Value> {
    let barrier = Arc::new(Barrier::new(k));
    let handles: Vec<_> = (0..k)
        .map(|i| {
            let (store, barrier, clock) =
                (store.to_path_buf(), barrier.clone(), setup::clock(cfg));
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let mut rt = setup::open(&store, clock)?;
                let ctx = CallContext::owner();
                barrier.wait();
                let deadline = Instant::now() + Duration::from_secs(seconds);
                let mut lat = Vec::new();
                let mut done = 0u64;
                while Instant::now() < deadline && done < 100_000 {
                    let id = format!("bench-k{k}-i{i}-{done}");
                    let req = json!({"node": {"id": id, "kind": "fact", "title": "written", "body": "a write of the throughput run"}});
                    let t = Instant::now();
                    let env = rt.run("node.upsert", req, &ctx);
                    lat.push(t.elapsed());
                    setup::expect_ok(&env)?;
                    done += 1;
                }
                Ok(lat)
            })
        })
        .collect();
    let started = Instant::now();
    let mut all = Latencies::new();
    let mut total = 0u64;
    for h in handles {
        let lat = h
            .join()
            .map_err(|_| anyhow!("a writer thread panicked"))?
            .context("a writer instance")?;
        total += lat.len() as u64;
        for d in lat {
            all.push(d);
        }
    }
    let wall = started.elapsed();
    Ok(json!({
        "instances": k,
        "writes": total,
        "seconds": secs(wall),
        "writes_per_s": (total as f64 / wall.as_secs_f64().max(1e-9)).round(),
        "latency": all.summary(),
    }))
}
