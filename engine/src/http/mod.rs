//! HTTP surface (the only module that knows axum). Routes are fixed; each handler
//! resolves its pipeline in the current snapshot, so a reload never rebuilds the router.

mod analytics;
pub mod auth;
mod browser;
mod cache;
mod documents;
mod error;
mod observe;
mod openai;
mod openapi;
pub mod otlp_sink;
mod pipelines;
mod query;
mod rate;
mod sync;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{delete, get, post};
pub use error::ApiError;
use tower_http::trace::TraceLayer;

use crate::config::http::{Cors, RateLimits};
use crate::pipeline::{Engine, Pipeline};
use crate::telemetry::Metrics;

/// Server settings that are not part of any pipeline.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest request body (uploads included), in bytes.
    pub max_body_bytes: usize,
    /// Most files in one upload.
    pub max_upload_files: usize,
    /// Longest question, in characters.
    pub max_query_chars: usize,
    /// Request rates per client IP and per key.
    pub rate: RateLimits,
    /// Which origins browsers may call from.
    pub cors: Cors,
    /// `/metrics` is served on its own address ([`metrics_router`]), not with the API.
    pub metrics_apart: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            max_upload_files: 100,
            max_query_chars: crate::vocab::MAX_QUERY_CHARS,
            rate: RateLimits::default(),
            cors: Cors::SameOrigin,
            metrics_apart: false,
        }
    }
}

/// Shared state of every handler.
pub struct AppState {
    pub engine: Arc<Engine>,
    /// The process's metrics, when it records them (`ragline serve` does).
    pub metrics: Option<Metrics>,
    pub settings: HttpSettings,
    /// Requests per key of each role that has a `key_rate`.
    pub key_rates: rate::KeyRates,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, settings: HttpSettings, metrics: Option<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            engine,
            metrics,
            settings,
            key_rates: rate::KeyRates::default(),
        })
    }

    /// 400 when `question` is over `settings.max_query_chars`.
    fn check_query_length(&self, question: &str) -> Result<(), ApiError> {
        let chars = question.chars().count();
        let limit = self.settings.max_query_chars;
        if chars > limit {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("query is {chars} characters; the limit is {limit}"),
            ));
        }
        Ok(())
    }

    /// The pipeline `name` in the current snapshot.
    fn pipeline(&self, name: &str) -> Result<Arc<Pipeline>, ApiError> {
        self.engine
            .snapshot()
            .pipelines
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::pipeline_not_found(name))
    }
}

/// The whole API as a router, for `serve` and for tests.
///
/// From the outside in: metrics and the request span, browser headers (security
/// headers, CORS), then, for the API routes only, the rate limits, the key check and
/// the body limit. The probes, `/openapi.json` and `/metrics` are neither limited nor
/// keyed.
pub fn router(state: Arc<AppState>) -> Router {
    let settings = &state.settings;
    let api = Router::new()
        .route("/v1/pipelines", get(pipelines::list))
        .route("/v1/pipelines/{name}", get(pipelines::show))
        .route("/v1/pipelines/{name}/query", post(query::query))
        .route(
            "/v1/pipelines/{name}/documents",
            post(documents::upload).get(documents::list),
        )
        .route("/v1/pipelines/{name}/documents/{id}", delete(documents::remove))
        .route("/v1/pipelines/{name}/sync", post(sync::run))
        .route("/v1/pipelines/{name}/feedback", post(analytics::feedback))
        .route("/v1/pipelines/{name}/cache", delete(cache::clear))
        .route("/v1/analytics", get(analytics::report))
        .route("/v1/analytics/drift", get(analytics::drift))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/models/{model}", get(openai::get_model))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        // Before any body is read, so a refused request never reaches a model or the store.
        .layer(middleware::from_fn_with_state(state.clone(), auth::check));
    let api = rate::limit(api, settings.rate);
    let mut open = Router::new()
        .route("/healthz", get(pipelines::healthz))
        .route("/readyz", get(pipelines::readyz))
        .route("/openapi.json", get(openapi::openapi_json));
    if !settings.metrics_apart {
        open = open.route("/metrics", get(observe::render));
    }
    let app = open
        .merge(api)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") });
    browser::headers(app, &settings.cors)
        // Inside the request's span, so its failure lines carry the trace id.
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(state.clone(), observe::track))
        .with_state(state)
}

/// `/metrics` alone, for `telemetry.metrics_addr`.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(observe::render))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "only /metrics is served here") })
        .with_state(state)
}

/// Serve `router` on `listener` until ctrl-c or SIGTERM. Handlers see the peer's
/// address (for the per-IP rate limit).
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
