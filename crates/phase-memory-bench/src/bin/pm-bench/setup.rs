//! Benchmark setup outside the timed parts: the work folder, generating the store
//! file, creating a store and importing it through the runtime, cold opens, and
//! the sizes of what ends up on disk.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use phase_memory_bench::measure::{mib, peak_rss_bytes, secs};
use phase_memory_bench::{GenerationSummary, GeneratorConfig, generate_file};
use phase_memory_model::{Envelope, Status};
use phase_memory_runtime::{Adapter, CallContext, Clock, Runtime, init_store, open_runtime};
use serde_json::{Value, json};

use crate::Common;

/// The folder a scenario works in; removed on drop unless kept.
pub struct Work {
    pub dir: PathBuf,
    remove: bool,
}

impl Work {
    /// The work folder for a scenario.
    pub fn new(common: &Common, scenario: &str) -> Result<Work> {
        let (dir, created) = match &common.work_dir {
            Some(d) => (d.clone(), !d.exists()),
            None => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                (
                    std::env::temp_dir().join(format!(
                        "pm-bench-{scenario}-{}-{stamp}",
                        std::process::id()
                    )),
                    true,
                )
            }
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Work {
            dir,
            remove: created && !common.keep,
        })
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("pm-bench: kept {}", self.dir.display());
        }
    }
}

/// The fixed clock of every benchmark: the generator's `as_of`.
pub fn clock(cfg: &GeneratorConfig) -> Clock {
    Clock::Fixed(cfg.as_of)
}

/// Generates the store file; returns what was written and how long it took.
pub fn generate(cfg: &GeneratorConfig, path: &Path) -> Result<Value> {
    eprintln!(
        "pm-bench: generating {} nodes, ~{} edges, {} events into {}",
        cfg.nodes,
        cfg.nodes * u64::from(cfg.edges_per_node),
        cfg.events,
        path.display()
    );
    let t = Instant::now();
    let s: GenerationSummary =
        generate_file(cfg, path).with_context(|| format!("generating {}", path.display()))?;
    Ok(json!({
        "file": path.display().to_string(),
        "nodes": s.nodes,
        "edges": s.edges,
        "events": s.events,
        "bytes": s.bytes,
        "seconds": secs(t.elapsed()),
    }))
}

/// Fails with the envelope's diagnostics unless it is ok.
pub fn expect_ok(env: &Envelope) -> Result<()> {
    if env.status != Status::Ok {
        let msgs: Vec<String> = env
            .diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        bail!(
            "{} returned {:?}: {}",
            env.operation,
            env.status,
            msgs.join("; ")
        );
    }
    Ok(())
}

/// Opens the runtime of a store.
pub fn open(dir: &Path, clock: Clock) -> Result<Runtime> {
    open_runtime(dir, clock).map_err(|(status, d)| {
        anyhow::anyhow!(
            "opening {}: {status:?} {}: {}",
            dir.display(),
            d.code,
            d.message
        )
    })
}

/// Events per `graph.import` call: one import holds its whole file in memory
/// (text, parsed records and the change set), and 1M nodes + 5M edges + 10M
/// events in one call needs more than the 24 GiB of the benchmark machine.
pub const EVENTS_PER_IMPORT: u64 = 2_000_000;

/// Splits an interchange file into the node and edge lines plus the first
/// `per_part` events, then further files of `per_part` events each.
pub fn split_events(data: &Path, per_part: u64) -> Result<Vec<PathBuf>> {
    use std::io::{BufRead, BufWriter, Write};
    let input = std::io::BufReader::with_capacity(
        8 << 20,
        std::fs::File::open(data).with_context(|| format!("reading {}", data.display()))?,
    );
    let part_path = |k: usize| data.with_extension(format!("part{k}.jsonl"));
    let mut parts = vec![part_path(0)];
    let mut out = BufWriter::with_capacity(8 << 20, std::fs::File::create(&parts[0])?);
    let mut events_in_part = 0u64;
    for line in input.split(b'\n') {
        let line = line?;
        if line.starts_with(b"{\"record\":\"event\"") {
            if events_in_part == per_part {
                out.flush()?;
                parts.push(part_path(parts.len()));
                out = BufWriter::with_capacity(
                    8 << 20,
                    std::fs::File::create(&parts[parts.len() - 1])?,
                );
                events_in_part = 0;
            }
            events_in_part += 1;
        }
        out.write_all(&line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(parts)
}

/// Creates a store with the built-in profile and imports `data` through
/// `graph.import` (in several calls of at most [`EVENTS_PER_IMPORT`] events
/// when it has more), then drops the runtime and opens it again (cold open).
pub fn init_and_import(
    store: &Path,
    adapter: Adapter,
    data: &Path,
    cfg: &GeneratorConfig,
) -> Result<Value> {
    let parts = if cfg.events > EVENTS_PER_IMPORT {
        eprintln!("pm-bench: splitting the events into imports of {EVENTS_PER_IMPORT}");
        split_events(data, EVENTS_PER_IMPORT)?
    } else {
        vec![data.to_path_buf()]
    };
    let t = Instant::now();
    let env = init_store(store, adapter, None, cfg.as_of);
    expect_ok(&env)?;
    let init_s = secs(t.elapsed());
    let mut rt = open(store, clock(cfg))?;
    let ctx = CallContext::owner();
    eprintln!("pm-bench: importing into {}", store.display());
    let rss_before = peak_rss_bytes();
    let mut import = std::time::Duration::ZERO;
    let mut calls = Vec::new();
    let (mut n_nodes, mut n_edges, mut n_events) = (0u64, 0u64, 0u64);
    for part in &parts {
        let t = Instant::now();
        let env = rt.run(
            "graph.import",
            json!({"path": part.display().to_string()}),
            &ctx,
        );
        let took = t.elapsed();
        import += took;
        expect_ok(&env)?;
        n_nodes += env.data["nodes"].as_u64().unwrap_or(0);
        n_edges += env.data["edges"].as_u64().unwrap_or(0);
        n_events += env.data["events"].as_u64().unwrap_or(0);
        calls.push(json!({"nodes": env.data["nodes"], "edges": env.data["edges"], "events": env.data["events"], "seconds": secs(took)}));
        if parts.len() > 1 {
            let _ = std::fs::remove_file(part);
        }
    }
    let peak_import = peak_rss_bytes().max(rss_before);
    let t = Instant::now();
    drop(rt);
    let close_s = secs(t.elapsed());
    eprintln!("pm-bench: cold open of {}", store.display());
    let t = Instant::now();
    let rt = open(store, clock(cfg))?;
    let open = t.elapsed();
    let nodes = rt.store().node_count().unwrap_or(0);
    let edges = rt.store().edge_count().unwrap_or(0);
    let events = rt.store().event_head().unwrap_or(0);
    drop(rt);
    let records = n_nodes + n_edges + n_events;
    Ok(json!({
        "adapter": format!("{adapter:?}").to_lowercase(),
        "init_s": init_s,
        "import_s": secs(import),
        "import_records_per_s": (records as f64 / import.as_secs_f64().max(1e-9)).round(),
        "imported": {"nodes": n_nodes, "edges": n_edges, "events": n_events},
        "import_calls": calls,
        "close_after_import_s": close_s,
        "open_s": secs(open),
        "after_open": {"nodes": nodes, "edges": edges, "event_head": events},
        "peak_rss_through_import_mib": mib(peak_import),
        "store_bytes": dir_bytes(store, Some("index")),
        "index_bytes": dir_bytes(&store.join("index"), None),
    }))
}

/// Bytes of the files under `dir` (skipping the sub-folder `skip`).
pub fn dir_bytes(dir: &Path, skip: Option<&str>) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        if skip.is_some_and(|s| name.to_str() == Some(s)) {
            continue;
        }
        match e.metadata() {
            Ok(m) if m.is_dir() => total += dir_bytes(&e.path(), None),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}
