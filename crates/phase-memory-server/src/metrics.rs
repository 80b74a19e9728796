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
//! - `phase_memory_in_flight_requests`: requests being served now.
//!
//! The endpoint needs no token (like `/v1/health`): it holds counts and
//! timings, never memory content, ids or actors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use phase_memory_model::{Diagnostic, Status};
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

/// The service's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    generation: Gauge,
    in_flight: Gauge,
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
        Metrics {
            registry,
            requests,
            latency,
            generation,
            in_flight,
        }
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
