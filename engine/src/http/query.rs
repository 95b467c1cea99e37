//! `POST /v1/pipelines/{name}/query`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};

use super::{ApiError, AppState};
use crate::pipeline::{QueryRequest, QueryResponse};
use crate::prompts::stats::Answer;

/// Answer a question with sources.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{name}/query",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body = QueryRequest,
    responses(
        (status = 200, description = "Answer with sources, route and usage", body = QueryResponse),
        (status = 400, description = "Empty or too long query, bad filter", body = super::error::ErrorBody),
        (status = 403, description = "Domain or filter outside the pipeline's own", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody),
        (status = 415, description = "Body is not JSON", body = super::error::ErrorBody),
        (status = 422, description = "JSON does not match the request shape", body = super::error::ErrorBody),
        (status = 503, description = "Model unavailable", body = super::error::ErrorBody),
    )
)]
pub async fn query(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Json<QueryRequest>, JsonRejection>,
) -> Result<Json<QueryResponse>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let Json(request) = body.map_err(json_rejection)?;
    let session = request.session_id.clone().unwrap_or_default();
    let response = pipeline
        .query(request)
        .await
        .inspect_err(|e| tracing::warn!(pipeline = %name, error = %e, "query failed"))?;
    let route = &response.route;
    state.engine.stats.record(
        &name,
        &route.prompt_version,
        &Answer {
            input_tokens: response.usage.input_tokens,
            output_tokens: response.usage.output_tokens,
            embedding_tokens: response.usage.embedding_tokens,
            cost_usd: response.usage.cost_usd,
            latency_ms: response.latency_ms,
        },
    );
    tracing::info!(
        pipeline = %name,
        session = %session,
        sources = response.sources.len(),
        model = %route.model,
        prompt = %route.prompt_version,
        assignment = route.assignment.as_str(),
        latency_ms = response.latency_ms,
        "query answered"
    );
    Ok(Json(response))
}

/// Axum's JSON rejections in our error shape, keeping their status (400, 415, 422).
pub fn json_rejection(r: JsonRejection) -> ApiError {
    let code = match r.status().as_u16() {
        415 => "unsupported_media_type",
        422 => "invalid_request",
        413 => "too_large",
        _ => "bad_request",
    };
    ApiError::new(r.status(), code, r.body_text())
}
