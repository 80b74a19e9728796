//! `pm-bench`: the store and activation benchmarks of SPEC section 9. Each
//! scenario generates its data outside the timed part, measures through the
//! runtime (the path every front end takes) and, for activation, through the
//! engine alone, and prints one JSON report (optionally also written to a file).
//!
//! ```text
//! pm-bench file-import   --nodes 100000  [--events 200000]          [--json-out FILE]
//! pm-bench sqlite-import --nodes 1000000 [--events 0]               [--json-out FILE]
//! pm-bench activation    --nodes 100000  [--adapter file|sqlite] [--store DIR] [--cues 1000]
//! pm-bench compile       --nodes 100000  [--budget 2000] [--store DIR]
//! pm-bench serve         --nodes 3000    [--requests 1000] [--clients 1,16] [--mixed-clients 8]
//! pm-bench scale         --adapter sqlite|postgres|file --nodes 100000 [--instances 1,3]
//! ```

/// The allocator the `phase-memory` binary uses: the engine scenarios then
/// measure the allocations the product makes, and the HTTP clients of `serve`
/// (16 threads sharing the cores with the server) spend less of them in
/// glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod load;
mod scale;
mod scenarios;
mod serve;
mod setup;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use phase_memory_bench::Machine;

/// Store and activation benchmarks with a JSON report.
#[derive(Parser, Debug)]
#[command(name = "pm-bench", version)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

/// Options every scenario takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Also write the JSON report to this file.
    #[arg(long, global = true)]
    json_out: Option<PathBuf>,
    /// Generator seed.
    #[arg(long, global = true, default_value_t = 2026)]
    seed: u64,
    /// Folder for generated data and stores (default: a fresh temporary folder,
    /// removed afterwards).
    #[arg(long, global = true)]
    work_dir: Option<PathBuf>,
    /// Keep the generated file and store(s) instead of removing them.
    #[arg(long, global = true)]
    keep: bool,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Import into a file store through the runtime, then a cold open.
    FileImport(scenarios::ImportArgs),
    /// Import into a SQLite store through the runtime, then a cold open.
    SqliteImport(scenarios::ImportArgs),
    /// Text cues through `activation.run` and through index search + activate.
    Activation(scenarios::ActivationArgs),
    /// `package.compile` under a token budget.
    Compile(scenarios::CompileArgs),
    /// A `phase-memory serve` process under HTTP load (1 and 16 clients, mixed
    /// reads and writes), cold CLI activations and RSS, beside SQLite FTS5.
    Serve(serve::ServeArgs),
    /// Any adapter by name: import, cold open, activation latency, and write
    /// throughput of 1 and N instances on one store.
    Scale(scale::ScaleArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let (name, common, figures) = match cli.scenario {
        Scenario::FileImport(a) => {
            let c = a.common.clone();
            (
                "file-import",
                c,
                scenarios::import(&a, phase_memory_runtime::Adapter::File)?,
            )
        }
        Scenario::SqliteImport(a) => {
            let c = a.common.clone();
            (
                "sqlite-import",
                c,
                scenarios::import(&a, phase_memory_runtime::Adapter::Sqlite)?,
            )
        }
        Scenario::Activation(a) => {
            let c = a.common.clone();
            ("activation", c, scenarios::activation(&a)?)
        }
        Scenario::Compile(a) => {
            let c = a.common.clone();
            ("compile", c, scenarios::compile(&a)?)
        }
        Scenario::Serve(a) => {
            let c = a.common.clone();
            ("serve", c, serve::serve(&a)?)
        }
        Scenario::Scale(a) => {
            let c = a.common.clone();
            ("scale", c, scale::scale(&a)?)
        }
    };
    let report = report(name, figures);
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &common.json_out {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn report(scenario: &str, figures: Value) -> Value {
    json!({
        "scenario": scenario,
        "machine": Machine::describe(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "peak_rss_since_last_reset_mib": phase_memory_bench::measure::mib(phase_memory_bench::measure::peak_rss_bytes()),
        "result": figures,
    })
}
