//! Times a bulk build of the full-text index from the nodes of an interchange
//! JSON Lines file (`pm-gen --nodes N --events 0 --out FILE`):
//!
//! ```text
//! cargo run --release -p phase-memory-index --example bulk_index -- FILE
//! ```
//!
//! Prints the nodes read and the seconds the upsert and its commit took (the index is written to
//! a temporary folder and committed); with the CPU the process used meanwhile.

use std::time::Instant;

use phase_memory_index::FullTextIndex;
use phase_memory_model::interchange::{ImportRecord, parse_record};
use phase_memory_model::{Node, Time};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: bulk_index FILE")?;
    let text = std::fs::read_to_string(&path)?;
    let mut nodes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let ImportRecord::Node(r) = parse_record(line, i + 1)? {
            nodes.push(Node {
                id: r.id,
                kind: r.kind,
                phase: "active".into(),
                title: r.title.unwrap_or_default(),
                body: r.body.unwrap_or_default(),
                labels: vec![],
                scope: r.scope.unwrap_or_else(|| "default".into()),
                sensitivity: "internal".into(),
                attrs: Default::default(),
                created_at: Time::EPOCH,
                updated_at: Time::EPOCH,
                valid_from: None,
                valid_to: None,
                tokens: 0,
                tombstone: None,
                implicit_time: false,
            });
        }
    }
    drop(text);
    let dir = tempfile::tempdir()?;
    let mut index = FullTextIndex::open_or_create(Some(dir.path()))?;
    let (start, cpu) = (Instant::now(), cpu_seconds());
    // As a bulk import does: one upsert of every node, then the commit.
    index.upsert(&nodes)?;
    let added = start.elapsed().as_secs_f64();
    index.commit(1)?;
    println!(
        "{} nodes: upsert {added:.2} s, with the commit {:.2} s, process CPU {:.2} s",
        nodes.len(),
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
    Ok(())
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`,
/// 100 ticks a second; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which ends with the last ')').
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (tick(11) + tick(12)) / 100.0
}
