//! The `phase-memory` binary, run for real in temporary folders.

mod authz;
mod cli;
mod crash;
mod governance;
mod interop;
mod postgres;
mod readme;
mod robust;
mod service;
mod shared;
mod support;
mod telemetry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test (the semantic index's model installed first: the
/// built-in profile's activation uses it).
pub fn bin() -> PathBuf {
    phase_memory_embed::testing::ensure_model();
    PathBuf::from(env!("CARGO_BIN_EXE_phase-memory"))
}

/// Runs the binary against a store with arguments; returns the output.
pub fn pm(store: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("run phase-memory")
}

/// Runs with --json and parses the envelope from stdout.
pub fn pm_json(store: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = pm(store, &all);
    let text = String::from_utf8_lossy(&out.stdout);
    let env: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{args:?}: stdout is not one envelope ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), env)
}

/// Writes a file and returns its path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

/// The repository root (for examples/).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
