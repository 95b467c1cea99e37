//! Trace export over OTLP/HTTP (protobuf), on the SDK's batch span processor. The
//! processor exports from its own thread, so a collector that is slow or down never
//! holds up a request: when the queue is full or an export fails, spans are dropped
//! and counted (`ragline_otel_spans_dropped_total`), never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, Span, SpanData, SpanExporter,
    SpanProcessor,
};

use super::record;

/// Where and how spans are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpSettings {
    /// The OTLP/HTTP traces URL (`…/v1/traces`); `None` takes
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` from the
    /// environment, as the OTLP exporter does.
    pub traces_url: Option<String>,
    /// `service.name`; `None` takes `OTEL_SERVICE_NAME`, else `ragline`.
    pub service_name: Option<String>,
    /// The share of new traces recorded (a request with a sampled parent is always
    /// recorded, one with an unsampled parent never).
    pub sample_ratio: f64,
    /// Longest one export may take.
    pub timeout: Duration,
    /// Spans waiting for export at most; more are dropped.
    pub max_queue: usize,
    /// How long spans wait to be exported in a batch.
    pub batch_delay: Duration,
    /// Put question and answer text into spans.
    pub capture_content: bool,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        OtlpSettings {
            traces_url: None,
            service_name: None,
            sample_ratio: 1.0,
            timeout: Duration::from_secs(5),
            max_queue: 2048,
            batch_delay: Duration::from_secs(1),
            capture_content: false,
        }
    }
}

impl OtlpSettings {
    /// Whether the environment names an OTLP endpoint (and does not disable the SDK).
    pub fn endpoint_in_env() -> bool {
        let set = |name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
            || std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.eq_ignore_ascii_case("none"));
        !disabled && (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
    }
}

/// Why trace export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("cannot set up the OTLP trace exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The running exporter; [`Exporting::shutdown`] flushes what is queued.
#[derive(Debug)]
pub struct Exporting {
    provider: SdkTracerProvider,
}

impl Exporting {
    /// Start exporting with `settings`; returns the tracer the tracing layer uses.
    ///
    /// # Errors
    /// [`OtlpError`] when the exporter cannot be built (a malformed URL).
    pub fn start(settings: &OtlpSettings) -> Result<(Exporting, SdkTracer), OtlpError> {
        super::spans::set_capture_content(settings.capture_content);
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_timeout(settings.timeout);
        if let Some(url) = &settings.traces_url {
            builder = builder.with_endpoint(url.clone());
        }
        let queue = Arc::new(Queue::default());
        let exporter = Counted {
            inner: builder.build()?,
            queue: queue.clone(),
            failing: AtomicBool::new(false),
        };
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(settings.max_queue)
            .with_scheduled_delay(settings.batch_delay)
            .build();
        let processor = Bounded {
            inner: BatchSpanProcessor::builder(exporter).with_batch_config(batch).build(),
            queue,
            capacity: settings.max_queue,
        };
        let service = settings
            .service_name
            .clone()
            .or_else(|| std::env::var("OTEL_SERVICE_NAME").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "ragline".to_owned());
        let resource = Resource::builder()
            .with_service_name(service)
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let ratio = if settings.sample_ratio >= 1.0 {
            Sampler::AlwaysOn
        } else {
            Sampler::TraceIdRatioBased(settings.sample_ratio.max(0.0))
        };
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(Sampler::ParentBased(Box::new(ratio)))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("ragline");
        Ok((Exporting { provider }, tracer))
    }

    /// Export what is queued and stop. Blocks up to the export timeout; call it outside
    /// an async runtime.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "trace export did not shut down cleanly");
        }
    }
}

/// Spans handed to the batch processor and not yet exported or dropped.
#[derive(Debug, Default)]
struct Queue {
    pending: AtomicUsize,
}

/// The batch processor behind a counter that drops (and counts) a span when
/// `capacity` spans are pending, so the processor's own queue never overflows
/// unseen.
#[derive(Debug)]
struct Bounded {
    inner: BatchSpanProcessor,
    queue: Arc<Queue>,
    capacity: usize,
}

impl SpanProcessor for Bounded {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.queue.pending.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.queue.pending.fetch_sub(1, Ordering::AcqRel);
            record::spans_dropped("queue_full", 1);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter, counting what it sent or failed to send.
#[derive(Debug)]
struct Counted<E> {
    inner: E,
    queue: Arc<Queue>,
    /// Whether the last export failed, so a collector that is down is logged once,
    /// not once a batch.
    failing: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.queue.pending.fetch_sub(spans, Ordering::AcqRel);
        match &result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!(target: "ragline::otlp", "trace export works again");
                }
            }
            Err(e) => {
                record::spans_dropped("export_failed", spans as u64);
                if !self.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(target: "ragline::otlp", error = %e, spans, "trace export failed; spans are dropped until it works");
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
