//! The model for tests: installed once per test process with the repository's
//! `scripts/install-model.sh` (a no-op when it is already there). When the
//! script fails the test fails loudly: a test that needs the model never skips.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

static DIR: OnceLock<PathBuf> = OnceLock::new();

/// The repository's install script.
pub fn install_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-model.sh")
}

/// Installs the model if needed (into [`crate::model_dir`]) and returns its folder.
pub fn ensure_model() -> PathBuf {
    DIR.get_or_init(|| {
        let script = install_script();
        let mut cmd = Command::new("bash");
        cmd.arg(&script);
        // The script installs where the engine looks.
        cmd.env(crate::MODEL_DIR_ENV, crate::model_dir());
        let out = match cmd.output() {
            Ok(o) => o,
            Err(e) => panic!(
                "cannot run {} to install the embedding model for the tests: {e}",
                script.display()
            ),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = stdout.lines().last().unwrap_or("").trim().to_string();
        if !out.status.success() || dir.is_empty() {
            panic!(
                "installing the embedding model with {} failed ({}):\n{}\n{}",
                script.display(),
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        PathBuf::from(dir)
    })
    .clone()
}
