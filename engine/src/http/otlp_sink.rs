//! An OTLP/HTTP trace endpoint that accepts every export and counts it, for
//! `ragline bench-telemetry`: the server under test encodes and sends its spans as it
//! would to a collector, and the benchmark can check that they arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;

/// A running sink.
#[derive(Debug, Clone)]
pub struct OtlpSink {
    /// The endpoint to configure (`http://127.0.0.1:PORT`; spans go to `/v1/traces`).
    pub endpoint: String,
    /// Export requests (batches of spans) received so far.
    pub exports: Arc<AtomicU64>,
}

/// Serve a sink on 127.0.0.1, on the current tokio runtime, until it ends.
///
/// # Errors
/// When no loopback port can be bound.
pub async fn start() -> std::io::Result<OtlpSink> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let exports = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/v1/traces", post(export))
        .with_state(exports.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the OTLP sink stopped");
        }
    });
    Ok(OtlpSink { endpoint, exports })
}

/// An empty `ExportTraceServiceResponse` (every field at its default) is zero bytes.
async fn export(State(exports): State<Arc<AtomicU64>>, _spans: Bytes) -> impl IntoResponse {
    exports.fetch_add(1, Ordering::Relaxed);
    ([(header::CONTENT_TYPE, "application/x-protobuf")], Bytes::new())
}
