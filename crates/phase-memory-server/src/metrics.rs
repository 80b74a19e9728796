//! Observability of the HTTP service: `GET /metrics` in the Prometheus text
//! exposition format (OpenMetrics), built on `prometheus-client`, and one
//! `tracing` span per request.
//!
//! Series:
//! - `phase_memory_requests_total{operation, status, code}`: requests by
//!   operation (`unknown` for a name the registry does not have, `-` for the
//!   routes that are not operations), envelope status and HTTP status code;
//! - `phase_memory_request_duration_seconds{operation}`: latency histogram;
//! - `phase_memory_store_generation`: the store's commit generation, read at
//!   scrape time (kept from the last scrape when the store is busy);
//! - `phase_memory_in_flight_requests`: requests being served now;
//! - `phase_memory_group_commits_total` and `phase_memory_group_commit_records_total`:
//!   group commits of audit records and the records they carried (records per
//!   commit = the second over the first); each group commit is one durable commit;
//! - `phase_memory_write_group_commits_total` and `phase_memory_grouped_writes_total`:
//!   group commits that carried writes (`node.upsert`) and the writes they
//!   carried (writes per commit = the second over the first);
//! - `phase_memory_store_commits_total`: durable commits of this process (one
//!   fsync each on the file and SQLite adapters): writes and group commits;
//! - `phase_memory_snapshot_refreshes_total{kind}`: activation snapshots built from
//!   the whole store (`full`), brought forward with what commits changed
//!   (`incremental`) or read from the store folder's persisted snapshots
//!   (`loaded`), and `phase_memory_snapshot_refresh_seconds_total` the time spent
//!   on all three;
//! - `phase_memory_snapshot_persist_writes_total{result}`: persisted snapshots
//!   written (`ok`) and writes that failed (`failed`; the request went on);
//! - `phase_memory_index_refreshes_total{kind}`: full-text index rebuilds (`full`)
//!   and catch-ups with changed nodes (`incremental`).
//!
//! The runtime figures are process-wide counts read at scrape time.
//!
//! The endpoint needs no token (like `/v1/health`): it holds counts and
//! timings, never memory content, ids or actors.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use phase_memory_model::{Diagnostic, Status};
use phase_memory_runtime::{DerivedStats, PersistedStats};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;

use crate::shared::front_end_envelope;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    status: String,
    code: u16,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Labels of the refresh counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// Labels of the persisted-snapshot write counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// Runtime figures as of the last scrape (the counters move by the difference).
#[derive(Debug, Default)]
struct Seen {
    group: (u64, u64),
    writes: (u64, u64),
    derived: DerivedStats,
    persisted: PersistedStats,
}

/// The service's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    generation: Gauge,
    in_flight: Gauge,
    group_commits: Counter,
    group_records: Counter,
    write_groups: Counter,
    grouped_writes: Counter,
    store_commits: Counter,
    snapshot_refreshes: Family<KindLabel, Counter>,
    snapshot_seconds: Counter<f64, AtomicU64>,
    index_refreshes: Family<KindLabel, Counter>,
    persist_writes: Family<ResultLabel, Counter>,
    seen: Mutex<Seen>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry with every series registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("phase_memory");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "HTTP requests by operation, envelope status and HTTP status code",
            requests.clone(),
        );
        let latency: Family<OperationLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time from receiving a request to sending its response, by operation",
            latency.clone(),
        );
        let generation = Gauge::default();
        registry.register(
            "store_generation",
            "The store's commit generation (read at scrape time)",
            generation.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Requests being served now",
            in_flight.clone(),
        );
        let group_commits = Counter::default();
        registry.register(
            "group_commits",
            "Group commits of audit records of reads (one durable commit each)",
            group_commits.clone(),
        );
        let group_records = Counter::default();
        registry.register(
            "group_commit_records",
            "Audit records carried by group commits",
            group_records.clone(),
        );
        let write_groups = Counter::default();
        registry.register(
            "write_group_commits",
            "Group commits that carried writes (one durable commit each)",
            write_groups.clone(),
        );
        let grouped_writes = Counter::default();
        registry.register(
            "grouped_writes",
            "Writes carried by group commits",
            grouped_writes.clone(),
        );
        let store_commits = Counter::default();
        registry.register(
            "store_commits",
            "Durable store commits of this process (writes and group commits)",
            store_commits.clone(),
        );
        let snapshot_refreshes = Family::<KindLabel, Counter>::default();
        registry.register(
            "snapshot_refreshes",
            "Activation snapshots built from the whole store (full) or brought forward with what commits changed (incremental)",
            snapshot_refreshes.clone(),
        );
        let snapshot_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "snapshot_refresh_seconds",
            "Time spent building and bringing forward activation snapshots",
            snapshot_seconds.clone(),
        );
        let index_refreshes = Family::<KindLabel, Counter>::default();
        registry.register(
            "index_refreshes",
            "Full-text index rebuilds (full) and catch-ups with changed nodes (incremental)",
            index_refreshes.clone(),
        );
        let persist_writes = Family::<ResultLabel, Counter>::default();
        registry.register(
            "snapshot_persist_writes",
            "Persisted activation snapshots written (ok) and writes that failed (failed)",
            persist_writes.clone(),
        );
        for kind in ["full", "incremental"] {
            let _ = snapshot_refreshes.get_or_create(&KindLabel { kind });
            let _ = index_refreshes.get_or_create(&KindLabel { kind });
        }
        let _ = snapshot_refreshes.get_or_create(&KindLabel { kind: "loaded" });
        for result in ["ok", "failed"] {
            let _ = persist_writes.get_or_create(&ResultLabel { result });
        }
        Metrics {
            registry,
            requests,
            latency,
            generation,
            in_flight,
            group_commits,
            group_records,
            write_groups,
            grouped_writes,
            store_commits,
            snapshot_refreshes,
            snapshot_seconds,
            index_refreshes,
            persist_writes,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Moves the runtime counters to the figures read now: group commits
    /// `(commits, records)` and `(commits, writes)` of the front end's pool and the
    /// process's derived-state counts.
    pub fn update_runtime_figures(
        &self,
        group: (u64, u64),
        writes: (u64, u64),
        derived: DerivedStats,
    ) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let up = |c: &Counter, now: u64, before: u64| {
            c.inc_by(now.saturating_sub(before));
        };
        up(&self.group_commits, group.0, seen.group.0);
        up(&self.group_records, group.1, seen.group.1);
        up(&self.write_groups, writes.0, seen.writes.0);
        up(&self.grouped_writes, writes.1, seen.writes.1);
        let (d, b) = (derived, seen.derived);
        up(&self.store_commits, d.store_commits, b.store_commits);
        let kind = |kind| KindLabel { kind };
        up(
            &self.snapshot_refreshes.get_or_create(&kind("full")),
            d.snapshot_builds,
            b.snapshot_builds,
        );
        up(
            &self.snapshot_refreshes.get_or_create(&kind("incremental")),
            d.snapshot_updates,
            b.snapshot_updates,
        );
        up(
            &self.index_refreshes.get_or_create(&kind("full")),
            d.index_rebuilds,
            b.index_rebuilds,
        );
        up(
            &self.index_refreshes.get_or_create(&kind("incremental")),
            d.index_catch_ups,
            b.index_catch_ups,
        );
        let (p, q) = (phase_memory_runtime::persisted_stats(), seen.persisted);
        up(
            &self.snapshot_refreshes.get_or_create(&kind("loaded")),
            p.loads,
            q.loads,
        );
        let result = |result| ResultLabel { result };
        up(
            &self.persist_writes.get_or_create(&result("ok")),
            p.writes,
            q.writes,
        );
        up(
            &self.persist_writes.get_or_create(&result("failed")),
            p.write_failures,
            q.write_failures,
        );
        let nanos = d.snapshot_nanos.saturating_sub(b.snapshot_nanos)
            + p.load_nanos.saturating_sub(q.load_nanos);
        if nanos > 0 {
            self.snapshot_seconds.inc_by(nanos as f64 / 1e9);
        }
        seen.group = group;
        seen.writes = writes;
        seen.derived = derived;
        seen.persisted = p;
    }

    fn observe(&self, operation: &str, code: StatusCode, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.to_string(),
                status: envelope_status(code).to_string(),
                code: code.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&OperationLabel {
                operation: operation.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The envelope status an HTTP status code stands for.
fn envelope_status(code: StatusCode) -> &'static str {
    match code.as_u16() {
        200 => "ok",
        202 => "review_required",
        400 | 401 | 405 | 413 => "invalid",
        403 => "denied",
        404 => "not_found",
        409 => "conflict",
        _ => "error",
    }
}

/// The operation label of a request path: a registered operation's name,
/// `unknown` for any other name (bounded cardinality), `-` otherwise.
fn operation_label(path: &str) -> String {
    match path.strip_prefix("/v1/ops/") {
        Some(name) if phase_memory_runtime::registry::find(name).is_some() => name.to_string(),
        Some(_) => "unknown".to_string(),
        None => match path {
            "/v1/health" => "health.check".to_string(),
            "/v1/contracts" => "contracts".to_string(),
            "/metrics" => "metrics".to_string(),
            _ => "-".to_string(),
        },
    }
}

/// Middleware: counts and times every request, inside a `tracing` span.
pub async fn record(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let operation = operation_label(req.uri().path());
    let span = tracing::info_span!("request", operation = %operation, method = %req.method());
    let started = Instant::now();
    metrics.in_flight.inc();
    let response = next.run(req).instrument(span.clone()).await;
    metrics.in_flight.dec();
    let elapsed = started.elapsed();
    metrics.observe(&operation, response.status(), elapsed);
    span.in_scope(|| {
        tracing::info!(
            code = response.status().as_u16(),
            status = envelope_status(response.status()),
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "served"
        );
    });
    response
}

/// The `GET /metrics` answer: the registry in OpenMetrics text, with the store
/// generation when the caller could read it.
pub fn scrape_response(metrics: &Metrics, generation: Option<u64>) -> Response {
    if let Some(g) = generation {
        metrics.generation.set(i64::try_from(g).unwrap_or(i64::MAX));
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        metrics.encode(),
    )
        .into_response()
}

fn envelope(operation: &str, code: StatusCode, status: Status, message: String) -> Response {
    let env = front_end_envelope(
        operation,
        status,
        Diagnostic::error("request.invalid", message),
    );
    let mut r = (code, Body::from(env.to_json())).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Any method but POST on `/v1/ops/{operation}`: 405 with an envelope.
pub async fn method_not_allowed(req: Request) -> Response {
    let op = req
        .uri()
        .path()
        .strip_prefix("/v1/ops/")
        .unwrap_or("")
        .to_string();
    let mut r = envelope(
        &op,
        StatusCode::METHOD_NOT_ALLOWED,
        Status::Invalid,
        format!(
            "{} is not allowed here: operations are run with POST /v1/ops/{{operation}}",
            req.method()
        ),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

/// Any other path: 404 with an envelope.
pub async fn not_found(req: Request) -> Response {
    envelope(
        "",
        StatusCode::NOT_FOUND,
        Status::NotFound,
        format!(
            "no route {} {}: see GET /v1/contracts (POST /v1/ops/{{operation}}, GET /v1/health, GET /metrics)",
            req.method(),
            req.uri().path()
        ),
    )
}
