//! Interoperability with the tools agents and developers already have, driven
//! against the real binary: the official MCP Python SDK, the Python client in
//! `clients/python`, and a bounded schemathesis run against the OpenAPI
//! document. `scripts/py-env.sh` installs them in a virtual environment under
//! the target dir; a setup failure fails these tests loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::service::store;
use crate::support::{Served, add_token};
use crate::*;

/// The virtual environment's python (created once per test process; the
/// tests that need it wait for the first to finish).
pub(crate) fn py_env() -> PathBuf {
    static PY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PY.get_or_init(make_py_env).clone()
}

fn make_py_env() -> PathBuf {
    let script = repo().join("scripts/py-env.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "scripts/py-env.sh failed (it needs python3 with venv and the package index):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string());
    assert!(py.is_file(), "py-env.sh printed {py:?}, not a python");
    py
}

fn run_py(py: &Path, args: &[&str], envs: &[(&str, String)], what: &str) -> String {
    let out = Command::new(py)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn mcp_python_sdk_drives_the_real_binary() {
    let py = py_env();
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), false);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let script = repo().join("tests/interop/mcp_sdk_check.py");
    let out = run_py(
        &py,
        &[
            script.to_str().expect("utf8"),
            bin().to_str().expect("utf8"),
            s.to_str().expect("utf8"),
            work.to_str().expect("utf8"),
        ],
        &[],
        "the MCP Python SDK check",
    );
    assert!(out.contains("mcp sdk check passed"), "{out}");
}

#[test]
fn python_client_against_a_real_server() {
    let py = py_env();
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), false);
    let tokens = dir.path().join("tokens.json");
    let owner = add_token(&s, &tokens, "ana", &["owner"], &["*"]);
    let member = add_token(&s, &tokens, "mia", &["member"], &["default"]);
    let srv = Served::start(&s, &tokens);
    let tmp = dir.path().join("py");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    let out = Command::new(&py)
        .args([
            "-m",
            "unittest",
            "discover",
            "-v",
            "-s",
            "clients/python/tests",
        ])
        .env("PHASE_MEMORY_URL", format!("http://{}", srv.addr))
        .env("PHASE_MEMORY_TOKEN", &owner)
        .env("PHASE_MEMORY_MEMBER_TOKEN", &member)
        .env("PHASE_MEMORY_BIN", bin())
        .env("PHASE_MEMORY_TMP", &tmp)
        .current_dir(repo())
        .output()
        .expect("run unittest");
    let err = String::from_utf8_lossy(&out.stderr);
    srv.stop();
    assert!(
        out.status.success(),
        "the Python client tests failed:\n{err}"
    );
    assert!(err.contains("OK") && err.contains("Ran "), "{err}");
}

#[test]
fn openapi_holds_under_a_bounded_schemathesis_run() {
    let py = py_env();
    let dir = tempfile::tempdir().expect("tmp");
    let s = store(dir.path(), false);
    let tokens = dir.path().join("tokens.json");
    let owner = add_token(&s, &tokens, "ana", &["owner"], &["*"]);
    let srv = Served::start(&s, &tokens);
    let report = dir.path().join("st-report");
    let script = repo().join("tests/interop/schemathesis.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&py)
        .arg(format!("http://{}", srv.addr))
        .arg(&owner)
        .arg(&report)
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    srv.stop();
    assert!(
        out.status.success(),
        "schemathesis reported failures ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("FAILURES"), "{stdout}");
}
