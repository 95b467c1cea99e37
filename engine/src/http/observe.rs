//! The middleware that observes every request, and `GET /metrics`:
//! - a span per request, joined to the caller's trace (`traceparent`), its trace id in
//!   the `x-trace-id` response header and in every log line written while it runs;
//! - its duration by pipeline, endpoint (the route template) and status, and the
//!   `error.code` of an error response.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use tracing::Instrument as _;

use crate::telemetry::{self, TraceHeaders, record};

/// The `error.code` of an error response, for its metric.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// The pipeline a response answered for, when the path does not name it (the OpenAI
/// endpoint names it in the body).
#[derive(Debug, Clone)]
pub struct PipelineName(pub String);

/// The response header that names the request's trace.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Trace and measure one request.
pub async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let trace = {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let headers = TraceHeaders {
            traceparent: header("traceparent"),
            tracestate: header("tracestate"),
        };
        telemetry::server_request(request.method().as_str(), &endpoint, headers)
    };
    let named = pipeline_in_path(request.uri().path()).map(str::to_owned);
    let mut response = next.run(request).instrument(trace.span.clone()).await;
    telemetry::request_done(&trace.span, response.status().as_u16());
    if let Ok(id) = HeaderValue::from_str(&trace.trace_id) {
        response.headers_mut().insert(TRACE_ID_HEADER, id);
    }
    let pipeline = named.or_else(|| response.extensions().get::<PipelineName>().map(|p| p.0.clone()));
    let snapshot = state.engine.snapshot();
    let pipeline = match pipeline.as_deref() {
        Some(name) => telemetry::bounded(name, snapshot.pipelines.keys().map(String::as_str)),
        None => "none",
    };
    record::http_request(
        pipeline,
        &endpoint,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        record::http_error(pipeline, &endpoint, code);
    }
    response
}

/// `name` of `/v1/pipelines/{name}/...`.
pub(super) fn pipeline_in_path(path: &str) -> Option<&str> {
    let name = path.strip_prefix("/v1/pipelines/")?.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// Every metric the server recorded, in Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format (see docs/telemetry.md)", body = String, content_type = "text/plain"),
        (status = 503, description = "Metrics are not recorded by this process", body = super::error::ErrorBody),
    )
)]
pub async fn render(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let Some(metrics) = state.metrics.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics_disabled",
            "this process records no metrics",
        ));
    };
    let engine = state.engine.clone();
    let text = tokio::task::spawn_blocking(move || {
        index_sizes(&engine);
        metrics.render()
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response())
}

/// The size of every index the snapshot's pipelines use, as of now.
fn index_sizes(engine: &crate::pipeline::Engine) {
    let snapshot = engine.snapshot();
    let mut seen = std::collections::BTreeSet::new();
    for p in snapshot.pipelines.values() {
        if !seen.insert(p.spec.index.clone()) {
            continue;
        }
        match p.index().and_then(|i| i.stats()) {
            Ok(stats) => record::index_size(&p.spec.index, stats.documents, stats.chunks),
            Err(e) => tracing::warn!(index = %p.spec.index, error = %e, "cannot read the index size"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_is_read_from_its_path() {
        assert_eq!(pipeline_in_path("/v1/pipelines/hr/query"), Some("hr"));
        assert_eq!(pipeline_in_path("/v1/pipelines/hr"), Some("hr"));
        assert_eq!(pipeline_in_path("/v1/pipelines/"), None);
        assert_eq!(pipeline_in_path("/v1/chat/completions"), None);
    }
}
