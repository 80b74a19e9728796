//! Logs and traces of the long-running front ends (`serve`, `mcp`).
//!
//! - **Structured logs** (`--log text|json`, default `off`): one event per
//!   request (`served`: operation, HTTP code, envelope status, milliseconds)
//!   and one span per operation, written to standard error through
//!   `tracing-subscriber`; `PHASE_MEMORY_LOG` narrows or widens them with the
//!   usual filter syntax (default `info`). Logs carry operation names, codes,
//!   statuses and timings, never memory content.
//! - **Traces** (`--otlp-endpoint URL`): the same spans exported over
//!   OTLP/HTTP (protobuf) to `URL/v1/traces` by a batch exporter on its own
//!   thread, as service `phase-memory`; flushed when the front end stops.
//!
//! Without either flag nothing is installed and the front ends behave as before.

use std::str::FromStr;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The service name traces are exported under.
pub const SERVICE_NAME: &str = "phase-memory";

/// The environment variable holding a log filter (e.g. `info`, `phase_memory_server=debug`).
pub const LOG_FILTER_ENV: &str = "PHASE_MEMORY_LOG";

/// How logs are written to standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// No logs (the default).
    #[default]
    Off,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(LogFormat::Off),
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}; use off, text or json"
            )),
        }
    }
}

/// What to install.
#[derive(Clone, Debug, Default)]
pub struct TelemetryConfig {
    /// The log format.
    pub log: LogFormat,
    /// The OTLP/HTTP collector's base URL (`http://127.0.0.1:4318`), if any.
    pub otlp_endpoint: Option<String>,
}

/// Keeps the exporter alive; dropping it flushes and shuts the exporter down.
#[must_use = "dropping the guard stops the trace exporter"]
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes pending spans and stops the exporter.
    pub fn shutdown(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("phase-memory: the trace exporter did not stop cleanly: {e}");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The full URL spans are posted to.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let base = endpoint.trim_end_matches('/');
    anyhow::ensure!(
        base.starts_with("http://") || base.starts_with("https://"),
        "--otlp-endpoint must be an http:// or https:// URL (e.g. http://127.0.0.1:4318)"
    );
    Ok(if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    })
}

/// Installs logs and traces as configured, process-wide (once).
pub fn init(cfg: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    if cfg.log == LogFormat::Off && cfg.otlp_endpoint.is_none() {
        return Ok(TelemetryGuard::default());
    }
    let filter = match std::env::var(LOG_FILTER_ENV) {
        Ok(f) => EnvFilter::try_new(&f)
            .with_context(|| format!("{LOG_FILTER_ENV} is not a valid log filter"))?,
        Err(_) => EnvFilter::new("info"),
    };
    let text = (cfg.log == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
    });
    let json = (cfg.log == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
    });
    let provider = match &cfg.otlp_endpoint {
        None => None,
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(traces_url(endpoint)?)
                .build()
                .context("could not build the OTLP trace exporter")?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
                    .build(),
            )
        }
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(SERVICE_NAME)));
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otel)
        .try_init()
        .context("logging was already set up in this process")?;
    Ok(TelemetryGuard { provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_parse_and_unknown_ones_are_named() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert_eq!("off".parse::<LogFormat>(), Ok(LogFormat::Off));
        let e = "yaml".parse::<LogFormat>().expect_err("yaml");
        assert!(e.contains("\"yaml\"") && e.contains("json"), "{e}");
    }

    #[test]
    fn the_traces_url_is_the_base_plus_v1_traces() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").expect("url"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:4318/").expect("url"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces").expect("url"),
            "http://c:4318/v1/traces"
        );
        assert!(traces_url("127.0.0.1:4318").is_err());
    }
}
