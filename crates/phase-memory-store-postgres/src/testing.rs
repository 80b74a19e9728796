//! A PostgreSQL server for tests: the one named by `PHASE_MEMORY_TEST_DATABASE_URL`,
//! or else a throwaway cluster started once per test process with the repository's
//! `scripts/pg-cluster.sh` (stopped and removed by the script's watcher when the
//! process exits, however it exits). When neither works the test fails loudly: a
//! PostgreSQL test never skips.

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use postgres::{Config, NoTls};

use crate::PgLocation;

/// The variable naming an existing server to test against.
pub const TEST_URL_VAR: &str = "PHASE_MEMORY_TEST_DATABASE_URL";

struct Server {
    url: String,
    // Keeps the cluster's folder name reserved until the process exits (the
    // script's watcher removes the folder itself).
    _dir: Option<PathBuf>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The repository's cluster script.
pub fn cluster_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-cluster.sh")
}

fn start() -> Server {
    if let Ok(url) = std::env::var(TEST_URL_VAR)
        && !url.is_empty()
    {
        return Server { url, _dir: None };
    }
    let base = std::env::temp_dir().join(format!(
        "phase-memory-pg-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let script = cluster_script();
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .arg(&base)
        .arg("--owner-pid")
        .arg(std::process::id().to_string())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run {} to start a PostgreSQL cluster for the tests: {e}; set {TEST_URL_VAR} to use a running server",
            script.display()
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let url = stdout.lines().last().unwrap_or("").trim().to_string();
    if !out.status.success() || !url.starts_with("postgres://") {
        panic!(
            "starting a PostgreSQL cluster with {} failed ({}):\n{}\n{}\nset {TEST_URL_VAR} to use a running server",
            script.display(),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Server {
        url,
        _dir: Some(base),
    }
}

/// The URL of the test server (starting the cluster on first use).
pub fn server_url() -> &'static str {
    &SERVER.get_or_init(start).url
}

/// A fresh, empty database on the test server; returns its URL. Panics (the test
/// fails) when the server cannot be reached.
pub fn fresh_database() -> String {
    let admin = server_url();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("pmtest_{}_{n}", std::process::id());
    let config = match Config::from_str(admin) {
        Ok(c) => c,
        Err(e) => panic!("the test database URL does not parse: {e}"),
    };
    let mut client = match config.connect(NoTls) {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to the test PostgreSQL server: {e}"),
    };
    if let Err(e) = client.batch_execute(&format!("CREATE DATABASE {name}")) {
        panic!("creating test database {name}: {e}");
    }
    // Rebuild the URL with the new database name.
    match admin.rsplit_once('/') {
        Some((base, tail)) => {
            let query = tail.split_once('?').map(|(_, q)| format!("?{q}"));
            format!("{base}/{name}{}", query.unwrap_or_default())
        }
        None => panic!("the test database URL has no database part"),
    }
}

/// A fresh store location: a new database and the default schema.
pub fn fresh_location() -> PgLocation {
    match PgLocation::new(&fresh_database(), crate::DEFAULT_SCHEMA) {
        Ok(l) => l,
        Err(e) => panic!("test location: {e}"),
    }
}
