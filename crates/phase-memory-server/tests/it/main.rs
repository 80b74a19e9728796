//! Integration tests of the HTTP service and the MCP server over real transports:
//! a real server on a loopback port with a real HTTP client, and the MCP server
//! driven over an in-memory duplex stream.

mod docs;
mod http;
mod mcp;
mod metrics;
mod tokens;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use phase_memory_model::{Actor, Status, Time};
use phase_memory_runtime::{Adapter, Clock, Extension, init_store};
use phase_memory_server::SharedRuntime;
use phase_memory_server::http::{AppState, serve_on};
use phase_memory_server::tokens::{TokenStore, add_token};
use serde_json::{Value, json};

/// The clock every test request uses (`as_of`).
pub const AS_OF: &str = "2026-03-01T00:00:00Z";

/// The built-in profile plus a lifecycle rule that forgets nodes labelled
/// `obsolete` (held for review by the built-in `forget-needs-review` policy).
pub fn test_profile() -> String {
    format!(
        "{}\n[[lifecycle]]\nid = \"obsolete-forgets\"\nfrom = [\"captured\", \"active\", \"dormant\", \"archived\"]\nto = \"forgotten\"\nwhen = {{ label = \"obsolete\" }}\n",
        phase_memory_profile::DEFAULT_PROFILE_TOML
    )
}

/// A small graph: three visible facts, a secret, and an obsolete note.
pub fn records() -> Vec<Value> {
    vec![
        json!({"record": "node", "id": "paris", "kind": "fact", "title": "Paris", "body": "Paris is the capital of France.", "labels": ["geo"], "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "france", "kind": "entity", "title": "France", "body": "France is a country in Europe.", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "eiffel", "kind": "fact", "title": "Eiffel Tower", "body": "The Eiffel Tower stands in Paris.", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "vault", "kind": "fact", "title": "Vault combination", "body": "The Paris vault combination is WITHHELD-SECRET-4711.", "sensitivity": "secret", "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "node", "id": "old-plan", "kind": "fact", "title": "Old plan", "body": "An obsolete plan about Paris.", "labels": ["obsolete"], "created_at": "2026-01-01T00:00:00Z"}),
        json!({"record": "edge", "from": "paris", "to": "france", "type": "part_of"}),
        json!({"record": "edge", "from": "eiffel", "to": "paris", "type": "relates_to"}),
        json!({"record": "edge", "from": "vault", "to": "paris", "type": "relates_to"}),
        json!({"record": "event", "event": "node.accessed", "at": "2026-02-01T00:00:00Z", "actor": "owner", "subjects": ["paris"], "payload": {}}),
    ]
}

/// A time.
pub fn t(s: &str) -> Time {
    s.parse().expect("time")
}

/// An actor.
pub fn actor(id: &str, roles: &[&str], scopes: &[&str]) -> Actor {
    Actor {
        id: id.into(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

/// Creates a file store with the test profile in `dir`.
pub fn new_store(dir: &Path) {
    let profile = test_profile();
    let env = init_store(
        dir,
        Adapter::File,
        Some(("test profile", &profile)),
        AS_OF.parse::<Time>().expect("time"),
    );
    assert_eq!(env.status, Status::Ok, "{}", env.to_json());
}

/// Tokens of the test actors.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// The owner (every role that matters, every scope).
    pub owner: String,
    /// A reviewer (second actor for approvals).
    pub bob: String,
    /// A member (denied the audit log by the built-in profile).
    pub mallory: String,
}

/// A running HTTP service over a temporary store.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Tokens of the test actors.
    pub tokens: Tokens,
    /// The store folder.
    pub store: PathBuf,
    /// The tokens file.
    pub tokens_file: PathBuf,
    /// Temporary files of the test (packages, …).
    pub scratch: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// How to start a test server.
pub struct Options {
    /// Body limit.
    pub max_body_bytes: usize,
    /// Request deadline.
    pub timeout: Duration,
    /// Write the test actors' tokens before starting.
    pub with_tokens: bool,
    /// Extensions to register.
    pub extensions: Vec<(String, Extension)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body_bytes: 64 * 1024,
            timeout: Duration::from_secs(30),
            with_tokens: true,
            extensions: Vec::new(),
        }
    }
}

impl Server {
    /// Starts a server with the default options.
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    /// Starts a server on a free loopback port (the semantic index's model
    /// installed first: the built-in profile's activation uses it).
    pub fn start_with(opts: Options) -> Server {
        phase_memory_embed::testing::ensure_model();
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("store");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir_all(&scratch).expect("scratch");
        new_store(&store);
        let tokens_file = dir.path().join("tokens.json");
        let tokens = if opts.with_tokens {
            Tokens {
                owner: add_token(&tokens_file, &Actor::owner()).expect("owner token"),
                bob: add_token(&tokens_file, &actor("bob", &["reviewer"], &["*"]))
                    .expect("bob token"),
                mallory: add_token(&tokens_file, &actor("mallory", &["member"], &["default"]))
                    .expect("mallory token"),
            }
        } else {
            Tokens {
                owner: String::new(),
                bob: String::new(),
                mallory: String::new(),
            }
        };
        let shared = SharedRuntime::open(&store, Clock::Fixed(t(AS_OF)), opts.extensions)
            .expect("open store");
        let token_store = TokenStore::load(&tokens_file).expect("tokens");
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr: SocketAddr = std_listener.local_addr().expect("addr");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // Requests may name relative paths inside the scratch folder.
        let state = AppState::new(shared, token_store, opts.max_body_bytes, opts.timeout)
            .with_data_dir(Some(scratch.canonicalize().expect("scratch")));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)?;
                serve_on(listener, state, async move {
                    let _ = rx.await;
                })
                .await
            })
        });
        Server {
            base: format!("http://{addr}"),
            tokens,
            store,
            tokens_file,
            scratch,
            shutdown: Some(tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Stops the server gracefully and waits until it has released the store.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread").expect("server");
        }
    }

    /// POSTs an operation with a token (or none) and returns (HTTP status, body).
    pub fn post_raw(&self, operation: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let mut req = agent()
            .post(format!("{}/v1/ops/{operation}", self.base))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut resp = req.send(body).expect("request");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().expect("body");
        (status, text)
    }

    /// POSTs an operation and parses the envelope.
    pub fn op(&self, operation: &str, token: &str, request: Value) -> (u16, Value) {
        let (status, text) = self.post_raw(operation, Some(token), &request.to_string());
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{operation}: body is not JSON ({e}): {text}"));
        (status, v)
    }

    /// GETs a path and returns (HTTP status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut resp = agent()
            .get(format!("{}{path}", self.base))
            .call()
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().expect("body");
        (status, text)
    }

    /// Imports the test graph as the owner.
    pub fn import(&self) {
        let (status, env) = self.op(
            "graph.import",
            &self.tokens.owner,
            json!({"records": records()}),
        );
        assert_eq!(status, 200, "{env}");
        assert_eq!(env["data"]["nodes"], json!(5), "{env}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTP client that reports every status as a response, not an error.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}
