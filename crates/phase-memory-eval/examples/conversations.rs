//! The conversation benchmark (docs/evaluation.md): imports every chat file of a
//! folder (REALTALK shape) into one store, one scope per conversation, asks each
//! question as a reader of its conversation and prints activation beside the BM25
//! baselines, per category, with budget survival.
//!
//! `cargo run --release -p phase-memory-eval --example conversations -- DIR [--profile FILE] [--budget N] [--report FILE] [--max-questions N] [--entities] [--vectors FILE]`
//!
//! DIR may also be given as the environment variable `PHASE_MEMORY_CHATS`.
//! `--vectors FILE` keeps the semantic index's vectors between runs.

use std::path::PathBuf;

use anyhow::{Context, bail};
use phase_memory_eval::chats::{BenchOptions, run_benchmark};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = std::env::var_os("PHASE_MEMORY_CHATS").map(PathBuf::from);
    let mut report: Option<PathBuf> = None;
    let mut opts = BenchOptions::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--profile" => {
                let p = args.next().context("--profile needs a file")?;
                opts.profile_source =
                    std::fs::read_to_string(&p).with_context(|| format!("reading {p}"))?;
            }
            "--budget" => {
                opts.budget_tokens = args
                    .next()
                    .context("--budget needs a number")?
                    .parse()
                    .context("--budget needs a number")?;
            }
            "--max-questions" => {
                opts.max_questions = Some(
                    args.next()
                        .context("--max-questions needs a number")?
                        .parse()
                        .context("--max-questions needs a number")?,
                );
            }
            "--entities" => opts.entities = true,
            "--vectors" => {
                opts.vector_cache = Some(PathBuf::from(
                    args.next().context("--vectors needs a file")?,
                ))
            }
            "--report" => {
                report = Some(PathBuf::from(args.next().context("--report needs a file")?))
            }
            other if other.starts_with("--") => bail!("unknown option {other}"),
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let dir = dir.context("give the folder of chat files (or PHASE_MEMORY_CHATS)")?;
    let started = std::time::Instant::now();
    let r = run_benchmark(&dir, &opts)?;
    print!("{}", r.table());
    eprintln!("took {:.1} s", started.elapsed().as_secs_f64());
    if let Some(path) = report {
        phase_memory_eval::write_report(&path, &r)?;
    }
    Ok(())
}
