//! Embeds each line of standard input with the installed model and prints one JSON
//! array per line; with `--time`, prints the mean time per text instead (the cost
//! figures of docs/evaluation.md).
//!
//! `cargo run --release -p phase-memory-embed --example embed -- [--time] < lines.txt`

use std::io::BufRead;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let time = std::env::args().any(|a| a == "--time");
    let started = Instant::now();
    let e = phase_memory_embed::Embedder::load_default()?;
    let load = started.elapsed();
    let lines: Vec<String> = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut out = Vec::with_capacity(lines.len());
    for l in &lines {
        out.push(e.embed_one(l)?);
    }
    let took = started.elapsed();
    if time {
        let words: usize = lines.iter().map(|l| l.split_whitespace().count()).sum();
        println!(
            "model load {:.0} ms; {} texts, {:.1} words each, {:.2} ms per text",
            load.as_secs_f64() * 1e3,
            lines.len(),
            words as f64 / lines.len().max(1) as f64,
            took.as_secs_f64() * 1e3 / lines.len().max(1) as f64
        );
    } else {
        for v in out {
            println!("{}", serde_json::to_string(&v)?);
        }
    }
    Ok(())
}
