//! The README's tour, run as written (with the built binary in place of
//! `cargo run`), all but the lines marked `(long-running)` (the HTTP and MCP
//! servers, which the service tests run).

use std::process::Command;

use crate::*;

fn tour() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = readme.find("## A tour").expect("a tour section");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let close = rest[open..].find("```").expect("closed block");
    rest[open..open + close].to_string()
}

#[test]
fn the_readme_tour_runs_as_written() {
    let tour = tour();
    let cargo_run = "cargo run -q --release -p phase-memory-cli --";
    assert!(tour.contains(cargo_run), "the tour's pm() changed:\n{tour}");
    let skipped: Vec<&str> = tour
        .lines()
        .filter(|l| l.contains("(long-running)"))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.iter().any(|l| l.starts_with("pm serve")));
    assert!(skipped.iter().any(|l| l.starts_with("pm mcp")));
    let script: String = tour
        .lines()
        .filter(|l| !l.contains("(long-running)"))
        .map(|l| l.replace(cargo_run, &format!("'{}'", bin().display())) + "\n")
        .collect();
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["examples", "fixtures"] {
        std::os::unix::fs::symlink(repo().join(sub), dir.path().join(sub)).expect("symlink");
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir.path())
        .env_remove("PHASE_MEMORY_STORE")
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the tour failed ({}):\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // What the tour promises, visibly.
    assert!(dir.path().join("big").is_dir(), "the SQLite store");
    assert!(stdout.contains("why (score terms per item)"), "{stdout}");
    assert!(
        stdout.contains(" -> ") || stdout.contains("PATH"),
        "{stdout}"
    );
    assert!(
        stdout.contains("approved") || stderr.contains("approved") || stdout.contains("review"),
        "{stdout}"
    );
    assert!(stdout.contains("audit chain ok"), "{stdout}");
    assert!(stdout.contains("health: ok"), "{stdout}");
    assert!(stdout.contains("store is clean"), "{stdout}");
    let token = std::fs::read_to_string(dir.path().join("token.txt")).expect("token.txt");
    assert!(token.trim().starts_with("pmt_"), "{token}");
}
