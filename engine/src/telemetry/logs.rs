//! The process's `tracing` subscriber: log lines (text or JSON) on stderr, filtered by
//! `RUST_LOG`, and, when traces are exported, the OpenTelemetry layer. Each layer has
//! its own filter: logs stay at `info` while the exporter sees every ragline span.

use opentelemetry_sdk::trace::SdkTracer;
use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, `span` with
    /// the request's `trace_id`), as CloudWatch and log shippers read them.
    Json,
}

const DEFAULT_FILTER: &str = "info,tantivy=warn,pdf_extract=error,lopdf=error";

/// Install the subscriber; `tracer` adds the OpenTelemetry layer. A second call does
/// nothing (the first subscriber stays).
pub fn init(format: LogFormat, tracer: Option<SdkTracer>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let logs = match format {
        LogFormat::Text => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let traces = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(FilterFn::new(exported))
    });
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .try_init();
}

/// What the OpenTelemetry layer sees: ragline's spans, and warnings and errors inside
/// them (as span events).
fn exported(meta: &tracing::Metadata<'_>) -> bool {
    let ours = meta.target().starts_with("ragline");
    ours && (meta.is_span() || *meta.level() <= Level::WARN)
}
