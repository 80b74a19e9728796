//! Runs evaluation scenarios and prints the table:
//! `cargo run -p phase-memory-eval --example eval -- fixtures/eval [report.json]`.
//! Exits 1 when a gate fails (the `phase-memory eval run DIR` command does the same).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from("fixtures/eval"), PathBuf::from);
    let report = args.next().map(PathBuf::from);
    let r = phase_memory_eval::run_dir(&dir, report.as_deref())?;
    print!("{}", r.table());
    if !r.passed() {
        std::process::exit(1);
    }
    Ok(())
}
