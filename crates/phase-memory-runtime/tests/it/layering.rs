//! The layering rules of the runtime that the compiler does not check: handlers
//! do no file I/O of their own (paths become reads and writes in `files.rs`, the
//! one edge module), and they do not reach back into the runner.

use std::path::Path;

/// The `.rs` files under `dir` with their text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read ops/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            out.push((path.display().to_string(), text));
        }
    }
    assert!(!out.is_empty(), "no sources found in {}", dir.display());
    out
}

#[test]
fn handlers_do_no_file_io_and_do_not_import_the_runner() {
    let ops = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ops");
    // Written in two pieces so this file does not match itself.
    let forbidden = [
        ["std::", "fs"].concat(),
        ["File", "::"].concat(),
        ["OpenOptions", ""].concat(),
        ["phase_memory_", "fsio"].concat(),
        ["crate::", "runner"].concat(),
    ];
    let mut found = Vec::new();
    for (path, text) in sources(&ops) {
        for (n, line) in text.lines().enumerate() {
            for f in &forbidden {
                if line.contains(f.as_str()) {
                    found.push(format!("{path}:{}: {f}", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "handlers must read and write files through crate::files and never import the runner:\n{}",
        found.join("\n")
    );
}
