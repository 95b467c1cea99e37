//! The span of one HTTP request: its trace joins the caller's (W3C `traceparent`), and
//! its trace id goes into the response (`x-trace-id`) and every log line inside it,
//! whether or not traces are exported.

use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::semconv::{HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE};

/// A request's span and its trace id (32 hex digits).
#[derive(Debug)]
pub struct RequestTrace {
    pub span: Span,
    pub trace_id: String,
}

/// The incoming W3C trace context headers.
#[derive(Debug, Default, Clone, Copy)]
pub struct TraceHeaders<'a> {
    pub traceparent: Option<&'a str>,
    pub tracestate: Option<&'a str>,
}

impl Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// Open the span of a request to `route` (the route template). A valid `traceparent`
/// makes it a child of the caller's span; otherwise it starts a new trace.
pub fn server_request(method: &str, route: &str, headers: TraceHeaders<'_>) -> RequestTrace {
    let span = tracing::info_span!(
        target: "ragline::request",
        "request",
        "otel.name" = format!("{method} {route}"),
        "otel.kind" = "server",
        trace_id = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&headers);
    let remote = parent.span().span_context().trace_id();
    // Without the OpenTelemetry layer (no exporter) this fails, and the id is ours.
    let exported = span.set_parent(parent).is_ok();
    let trace_id = if exported {
        span.set_attribute(HTTP_REQUEST_METHOD, method.to_owned());
        span.set_attribute(HTTP_ROUTE, route.to_owned());
        span.context().span().span_context().trace_id()
    } else if remote != TraceId::INVALID {
        remote
    } else {
        RandomIdGenerator::default().new_trace_id()
    };
    let trace_id = trace_id.to_string();
    span.record("trace_id", trace_id.as_str());
    RequestTrace { span, trace_id }
}

/// The response status on the request's span; 5xx marks it failed.
pub fn request_done(span: &Span, status: u16) {
    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, i64::from(status));
    if status >= 500 {
        span.set_status(opentelemetry::trace::Status::error(format!("HTTP {status}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_trace_is_joined_and_a_missing_one_started() {
        let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let joined = server_request(
            "POST",
            "/v1/pipelines/{name}/query",
            TraceHeaders {
                traceparent: Some(parent),
                tracestate: None,
            },
        );
        assert_eq!(joined.trace_id, "0af7651916cd43dd8448eb211c80319c");
        let fresh = server_request("GET", "/healthz", TraceHeaders::default());
        assert_eq!(fresh.trace_id.len(), 32);
        assert_ne!(fresh.trace_id, "0".repeat(32));
        let broken = server_request(
            "GET",
            "/healthz",
            TraceHeaders {
                traceparent: Some("00-zz-yy-01"),
                tracestate: None,
            },
        );
        assert_ne!(broken.trace_id, fresh.trace_id);
    }
}
