//! The HTTP service: `POST /v1/ops/{operation}`, `GET /v1/health`,
//! `GET /v1/contracts`. Authenticates the bearer token, reads the JSON body
//! under a size limit and a deadline, runs the operation through the shared
//! runner and answers with the envelope (HTTP status from the envelope status).
//!
//! Front-end refusals (the request never reached the runner) are envelopes too,
//! with an empty `profile_digest` and no audit record:
//! 401 `invalid` + `auth.unauthenticated`; 413 `invalid` + `request.invalid`;
//! 400 `invalid` + `request.invalid` for a body that is not JSON;
//! 503 `error` + `service.timeout` when the deadline passes.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use phase_memory_model::{Actor, Diagnostic, Envelope, Status, canonical_json_pretty};
use phase_memory_runtime::{CallContext, Clock, Extension};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout_at};

use crate::shared::{SharedRuntime, front_end_envelope, run_held};
use crate::tokens::TokenStore;

/// Default largest accepted request body (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Default largest NDJSON import body (`Content-Type: application/x-ndjson`).
pub const DEFAULT_MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;
/// Default per-request deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What `phase-memory serve` is configured with.
#[derive(Clone)]
pub struct ServeConfig {
    /// The store folder (shared: the writer lock is taken only around writes).
    pub store: PathBuf,
    /// Address to listen on, e.g. `127.0.0.1:7411`.
    pub listen: String,
    /// The tokens file (a missing file means no tokens: every operation is 401).
    pub tokens: PathBuf,
    /// Largest accepted request body; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Deadline of one request (reading the body, waiting for the store, running).
    pub timeout: Duration,
    /// Where "now" comes from.
    pub clock: Clock,
    /// Front-end handlers registered with the runtime (e.g. `eval.run`).
    pub extensions: Vec<(String, Extension)>,
    /// The only folder requests may name paths in (relative paths, resolved
    /// inside it). Without it no operation touches a server path.
    pub data_dir: Option<PathBuf>,
    /// How long a write waits for the store's writer lock (held by another
    /// process, e.g. a CLI write) before `store.locked`.
    pub write_wait: Duration,
}

impl ServeConfig {
    /// A configuration with the default limits, the system clock and no extensions.
    pub fn new(store: PathBuf, listen: impl Into<String>, tokens: PathBuf) -> Self {
        ServeConfig {
            store,
            listen: listen.into(),
            tokens,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeout: DEFAULT_TIMEOUT,
            clock: Clock::System,
            extensions: Vec::new(),
            data_dir: None,
            write_wait: phase_memory_runtime::DEFAULT_WRITE_WAIT,
        }
    }
}

/// Checks a data folder for `serve --data-dir`: it must exist, and neither hold
/// nor sit inside the store, nor hold the tokens file (a client writing there
/// must never reach the store's own files). Returns its canonical path.
pub fn check_data_dir(dir: &Path, store: &Path, tokens: &Path) -> anyhow::Result<PathBuf> {
    let data = dir
        .canonicalize()
        .with_context(|| format!("--data-dir {}: not an existing folder", dir.display()))?;
    if !data.is_dir() {
        anyhow::bail!("--data-dir {}: not a folder", dir.display());
    }
    let store = store.canonicalize().unwrap_or_else(|_| store.to_path_buf());
    if data.starts_with(&store) || store.starts_with(&data) {
        anyhow::bail!(
            "--data-dir {} overlaps the store folder {}: give a folder apart from the store",
            dir.display(),
            store.display()
        );
    }
    let tokens_dir = tokens
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .unwrap_or_default();
    if !tokens_dir.as_os_str().is_empty() && tokens_dir.starts_with(&data) {
        anyhow::bail!(
            "--data-dir {} holds the tokens file {}: keep tokens outside the data folder",
            dir.display(),
            tokens.display()
        );
    }
    Ok(data)
}

/// The tokens file, reloaded when it changes on disk (so `phase-memory token add`
/// takes effect without a restart).
#[derive(Debug)]
struct TokenGate {
    tokens: RwLock<TokenStore>,
}

impl TokenGate {
    fn authenticate(&self, token: &str) -> Option<Actor> {
        let stale = match self.tokens.read() {
            Ok(t) => t.is_stale(),
            Err(_) => true,
        };
        if stale {
            let file = match self.tokens.read() {
                Ok(t) => t.file().to_path_buf(),
                Err(p) => p.into_inner().file().to_path_buf(),
            };
            match TokenStore::load(&file) {
                Ok(fresh) => {
                    let mut w = self.tokens.write().unwrap_or_else(|p| p.into_inner());
                    *w = fresh;
                }
                Err(e) => {
                    eprintln!("phase-memory serve: keeping the previous tokens: {e:#}");
                }
            }
        }
        let t = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        t.authenticate(token)
    }
}

/// The state every request handler shares.
#[derive(Clone)]
pub struct AppState {
    runtime: SharedRuntime,
    tokens: Arc<TokenGate>,
    max_body_bytes: usize,
    timeout: Duration,
    contracts: Arc<String>,
    /// The document narrowed to the store's profile, by profile digest.
    profile_contracts: Arc<std::sync::Mutex<Option<ProfileContracts>>>,
    data_dir: Option<PathBuf>,
    max_import_bytes: usize,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

/// A served OpenAPI document and the digest of the profile it was built for.
type ProfileContracts = (String, Arc<String>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl AppState {
    /// The service state over a shared runtime and a tokens file.
    pub fn new(
        runtime: SharedRuntime,
        tokens: TokenStore,
        max_body_bytes: usize,
        timeout: Duration,
    ) -> Self {
        AppState {
            runtime,
            tokens: Arc::new(TokenGate {
                tokens: RwLock::new(tokens),
            }),
            max_body_bytes,
            timeout,
            contracts: Arc::new(canonical_json_pretty(&crate::openapi::openapi_document())),
            profile_contracts: Arc::default(),
            data_dir: None,
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            metrics: Arc::new(crate::metrics::Metrics::new()),
        }
    }

    /// Lets requests name relative paths inside `dir` (canonical; see
    /// [`check_data_dir`]).
    pub fn with_data_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.data_dir = dir;
        self
    }

    /// The shared runtime.
    pub fn runtime(&self) -> &SharedRuntime {
        &self.runtime
    }

    /// The OpenAPI document narrowed to the store's profile as this instance
    /// last read it (kinds, phases, sensitivity levels and edge types as enums),
    /// built once per profile digest; the generic document while no runtime is
    /// free within the request timeout.
    async fn contracts_document(&self) -> Arc<String> {
        let vocabulary = tokio::time::timeout(self.timeout, self.runtime.acquire())
            .await
            .ok()
            .and_then(|held| {
                held.profile()
                    .map(|p| (p.digest(), crate::schemas::Vocabulary::of(p)))
            });
        let Some((digest, vocabulary)) = vocabulary else {
            return self.contracts.clone();
        };
        let cached = self
            .profile_contracts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(d, _)| *d == digest)
            .map(|(_, doc)| doc.clone());
        if let Some(doc) = cached {
            return doc;
        }
        let doc = Arc::new(canonical_json_pretty(
            &crate::openapi::openapi_document_for(Some(&vocabulary)),
        ));
        *self
            .profile_contracts
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((digest, doc.clone()));
        doc
    }
}

/// The service's routes over `state`.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    let metrics = state.metrics.clone();
    Router::new()
        .route(
            "/v1/ops/{operation}",
            post(run_operation).fallback(crate::metrics::method_not_allowed),
        )
        .route("/v1/health", get(health))
        .route("/v1/contracts", get(contracts))
        .route("/metrics", get(metrics_scrape))
        .fallback(crate::metrics::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::record,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting
/// connections and lets in-flight requests finish.
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Loads the tokens file and says on stderr what was found.
pub fn load_tokens(file: &Path) -> anyhow::Result<TokenStore> {
    let tokens = TokenStore::load(file)?;
    if tokens.file_exists() {
        eprintln!(
            "phase-memory serve: {} token(s) from {}",
            tokens.len(),
            file.display()
        );
    } else {
        eprintln!(
            "phase-memory serve: no tokens file at {}: every /v1/ops request is refused (401) until `phase-memory token add` creates it",
            file.display()
        );
    }
    Ok(tokens)
}

/// Serves the HTTP API until SIGTERM/SIGINT, then shuts down gracefully
/// (in-flight requests finish; the store's writer lock is released on return).
/// Blocking: builds its own tokio runtime.
pub fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let tokens = load_tokens(&cfg.tokens)?;
    let data_dir = match &cfg.data_dir {
        Some(d) => Some(check_data_dir(d, &cfg.store, &cfg.tokens)?),
        None => None,
    };
    let shared = SharedRuntime::open_with(
        &cfg.store,
        cfg.clock,
        cfg.extensions,
        crate::shared::default_pool_size(),
        cfg.write_wait,
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The pool is dropped here, after the async runtime is gone, never on one of
    // its threads: a database client closes its connection with a blocking call
    // that must not run inside an async runtime.
    let pool = shared.clone();
    let result = rt.block_on(async move {
        let listener = TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("listening on {}", cfg.listen))?;
        let addr: SocketAddr = listener.local_addr().context("reading the bound address")?;
        eprintln!(
            "phase-memory serve: serving {} on http://{addr} (body limit {} bytes, timeout {:?})",
            cfg.store.display(),
            cfg.max_body_bytes,
            cfg.timeout
        );
        match &data_dir {
            Some(d) => eprintln!(
                "phase-memory serve: requests may name relative paths inside {}",
                d.display()
            ),
            None => {
                eprintln!("phase-memory serve: no --data-dir: requests cannot name server paths")
            }
        }
        let state = AppState::new(shared.clone(), tokens, cfg.max_body_bytes, cfg.timeout)
            .with_data_dir(data_dir);
        serve_on(listener, state, shutdown_signal()).await?;
        // A request that timed out may still be running: let it finish.
        drop(shared.drain().await);
        eprintln!("phase-memory serve: shut down");
        anyhow::Ok(())
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    drop(pool);
    result
}

fn envelope_response(env: &Envelope, status: StatusCode) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        env.to_json(),
    )
        .into_response()
}

fn http_status(status: Status) -> StatusCode {
    StatusCode::from_u16(status.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

fn unauthenticated(operation: &str) -> Response {
    let env = front_end_envelope(
        operation,
        Status::Invalid,
        Diagnostic::error(
            "auth.unauthenticated",
            "no bearer token or an unknown one; send `Authorization: Bearer <token>` (see `phase-memory token add`)",
        ),
    );
    let mut r = envelope_response(&env, StatusCode::UNAUTHORIZED);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"phase-memory\""),
    );
    r
}

fn timed_out(operation: &str, started: bool) -> Response {
    let message = if started {
        "the request timed out while the operation ran; it will still complete (the store never half-applies), so check its outcome (e.g. audit.query) before retrying"
    } else {
        "the request timed out before the operation started; nothing was applied and it is safe to retry"
    };
    let env = front_end_envelope(
        operation,
        Status::Error,
        Diagnostic::error("service.timeout", message),
    );
    let mut r = envelope_response(&env, StatusCode::SERVICE_UNAVAILABLE);
    if !started {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn invalid_body(operation: &str, status: StatusCode, message: String, path: &str) -> Response {
    let env = front_end_envelope(
        operation,
        Status::Invalid,
        Diagnostic::error("request.invalid", message).at(path),
    );
    envelope_response(&env, status)
}

/// Parses a request body: no bytes means `{}`; anything else must be a JSON object
/// (`null`, an array, a scalar or bare whitespace is refused, not taken as `{}`).
fn parse_body(body: &[u8]) -> Result<Value, (String, String)> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err((
            format!(
                "the request body must be a JSON object, not {}",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    _ => "an array",
                }
            ),
            "body".to_string(),
        )),
        Err(e) => Err((
            format!("the request body is not JSON: {e}"),
            format!("body:{}:{}", e.line(), e.column()),
        )),
    }
}

async fn run_operation(
    State(st): State<AppState>,
    UrlPath(operation): UrlPath<String>,
    request: Request,
) -> Response {
    let deadline = Instant::now() + st.timeout;
    let Some(actor) = bearer(request.headers()).and_then(|t| st.tokens.authenticate(t)) else {
        return unauthenticated(&operation);
    };
    let wants_tar = operation == "package.compile"
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/x-tar"));
    let ndjson = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    if ndjson {
        if operation != "graph.import" && operation != "store.import" {
            return invalid_body(
                &operation,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "an application/x-ndjson body is for graph.import and store.import".into(),
                "body",
            );
        }
        let records = match timeout_at(
            deadline,
            read_ndjson(request.into_body(), st.max_import_bytes),
        )
        .await
        {
            Err(_) => return timed_out(&operation, false),
            Ok(Err((status, message, path))) => {
                return invalid_body(&operation, status, message, &path);
            }
            Ok(Ok(records)) => records,
        };
        let request = serde_json::json!({ "records": records });
        return run_as(&st, operation, request, actor, deadline, false).await;
    }
    let body = match timeout_at(deadline, Bytes::from_request(request, &())).await {
        Err(_) => return timed_out(&operation, false),
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return invalid_body(
                &operation,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body exceeds the server's limit of {} bytes",
                    st.max_body_bytes
                ),
                "body",
            );
        }
        Ok(Err(rejection)) => {
            return invalid_body(
                &operation,
                rejection.status(),
                format!("reading the request body: {}", rejection.body_text()),
                "body",
            );
        }
        Ok(Ok(b)) => b,
    };
    let mut request = match parse_body(&body) {
        Ok(v) => v,
        Err((message, path)) => {
            return invalid_body(&operation, StatusCode::BAD_REQUEST, message, &path);
        }
    };
    if wants_tar && let Value::Object(m) = &mut request {
        // The package comes back as a tar stream, not written on the server.
        m.remove("out");
    }
    run_as(&st, operation, request, actor, deadline, wants_tar).await
}

/// Runs a parsed request as the token's actor, a network client: server paths
/// only inside the data folder, the service's clock for writes.
async fn run_as(
    st: &AppState,
    operation: String,
    mut request: Value,
    actor: Actor,
    deadline: Instant,
    wants_tar: bool,
) -> Response {
    // The actor comes only from the token: an actor object is dropped (a string
    // `actor` is an operation's own filter, e.g. audit.query's, and stays; any
    // other value is refused by the runner).
    if let Value::Object(m) = &mut request
        && matches!(m.get("actor"), Some(Value::Object(_)))
    {
        m.remove("actor");
    }
    let ctx = CallContext::remote(actor, st.data_dir.clone());
    if phase_memory_runtime::groups_writes(&operation) {
        // Joins the next group commit (no runtime is held while it queues).
        return match timeout_at(deadline, st.runtime.run_write(&operation, request, ctx)).await {
            Ok(env) => envelope_response(&env, http_status(env.status)),
            Err(_) => timed_out(&operation, true),
        };
    }
    let Ok(held) = timeout_at(deadline, st.runtime.acquire()).await else {
        return timed_out(&operation, false);
    };
    match timeout_at(deadline, run_held(held, operation.clone(), request, ctx)).await {
        Ok(env) if wants_tar && env.status == Status::Ok => tar_response(&env),
        Ok(env) => envelope_response(&env, http_status(env.status)),
        Err(_) => timed_out(&operation, true),
    }
}

/// A compiled package's files as a deterministic tar archive.
fn tar_response(env: &Envelope) -> Response {
    let files = env.data["contents"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").as_bytes().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    let id = env.data["id"].as_str().unwrap_or("").to_string();
    let pkg = phase_memory_package::Package { id, files };
    match phase_memory_package::tar_bytes(&pkg) {
        Ok(bytes) => {
            let mut r = (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-tar"),
                )],
                bytes,
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&pkg.id) {
                r.headers_mut().insert("x-package-id", v);
            }
            r
        }
        Err(e) => {
            let env = front_end_envelope(
                "package.compile",
                Status::Error,
                Diagnostic::error("package.invalid", format!("building the tar stream: {e}")),
            );
            envelope_response(&env, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Reads an NDJSON request body as it streams in, one JSON record a line, under
/// a byte limit. Errors are (HTTP status, message, location) and never quote
/// the body.
async fn read_ndjson(
    body: axum::body::Body,
    limit: usize,
) -> Result<Vec<Value>, (StatusCode, String, String)> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut records = Vec::new();
    let mut total = 0usize;
    let mut line_no = 0usize;
    let take_line = |line: &[u8], line_no: usize, records: &mut Vec<Value>| {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Ok(());
        }
        serde_json::from_slice::<Value>(trimmed)
            .map(|v| records.push(v))
            .map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("line {line_no} of the NDJSON body is not JSON: {e}"),
                    format!("body:{line_no}"),
                )
            })
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("reading the request body: {e}"),
                "body".to_string(),
            )
        })?;
        total += chunk.len();
        if total > limit {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the NDJSON body exceeds the server's import limit of {limit} bytes"),
                "body".to_string(),
            ));
        }
        pending.extend_from_slice(&chunk);
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            line_no += 1;
            let line: Vec<u8> = pending.drain(..=pos).collect();
            take_line(&line, line_no, &mut records)?;
        }
    }
    line_no += 1;
    take_line(&pending, line_no, &mut records)?;
    Ok(records)
}

/// The actor of unauthenticated health checks.
fn anonymous() -> Actor {
    Actor {
        id: "anonymous".into(),
        roles: Vec::new(),
        scopes: Vec::new(),
    }
}

async fn health(State(st): State<AppState>) -> Response {
    let deadline = Instant::now() + st.timeout;
    let run = st.runtime.run(
        "health.check",
        Value::Object(Default::default()),
        CallContext::new(anonymous()),
    );
    match timeout_at(deadline, run).await {
        Ok(env) => {
            let status = if env.status == Status::Ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            envelope_response(&env, status)
        }
        Err(_) => timed_out("health.check", false),
    }
}

async fn contracts(State(st): State<AppState>) -> Response {
    let document = st.contracts_document().await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document.as_str().to_string(),
    )
        .into_response()
}

/// `GET /metrics`: the store generation (when the store is free within a moment)
/// and the request figures.
async fn metrics_scrape(State(st): State<AppState>) -> axum::response::Response {
    let generation = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        st.runtime().acquire(),
    )
    .await
    .ok()
    .map(|held| held.generation());
    st.metrics.update_runtime_figures(
        st.runtime().group_commits(),
        st.runtime().grouped_writes(),
        phase_memory_runtime::derived_stats(),
    );
    crate::metrics::scrape_response(&st.metrics, generation)
}
