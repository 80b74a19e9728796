//! `pm-gen`: writes a reproducible synthetic store as interchange JSON Lines.
//!
//! ```text
//! pm-gen --nodes 100000 --out /tmp/store-100k.jsonl [--edges-per-node 5] [--events N] [--seed S]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use phase_memory_bench::{GeneratorConfig, generate_file, measure};

/// Writes N nodes, about 5N edges and 10N events (by default) as interchange JSONL.
#[derive(Parser, Debug)]
#[command(name = "pm-gen", version)]
struct Args {
    /// Number of nodes.
    #[arg(long, default_value_t = 10_000)]
    nodes: u64,
    /// Edges from each node.
    #[arg(long, default_value_t = 5)]
    edges_per_node: u32,
    /// Number of events (default: 10 × nodes).
    #[arg(long)]
    events: Option<u64>,
    /// Seed.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Words in the vocabulary.
    #[arg(long, default_value_t = 4000)]
    vocabulary: usize,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let mut cfg = GeneratorConfig::new(a.nodes, a.seed);
    cfg.edges_per_node = a.edges_per_node;
    cfg.vocabulary = a.vocabulary;
    if let Some(e) = a.events {
        cfg.events = e;
    }
    let t = Instant::now();
    let summary =
        generate_file(&cfg, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    let report = serde_json::json!({
        "out": a.out.display().to_string(),
        "config": cfg,
        "written": summary,
        "seconds": measure::secs(t.elapsed()),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
