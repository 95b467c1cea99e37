//! Feedback on answers, the analytics report and drift.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::query::json_rejection;
use super::wire::{
    AnalyticsParams, AnalyticsReport, DriftList, DriftParams, DriftStatus, FeedbackRequest, FeedbackResponse,
};
use super::{ApiError, AppState};
use crate::analytics::report::GroupBy;
use crate::analytics::service;
use crate::pipeline::now_ms;
use crate::vocab::time::TimeRange;

/// Rate an answer.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{name}/feedback",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body = FeedbackRequest,
    responses(
        (status = 200, description = "Recorded (a second rating of the same answer replaces the first)", body = FeedbackResponse),
        (status = 400, description = "Comment too long", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline, or no answer of it with this id", body = super::error::ErrorBody),
        (status = 422, description = "JSON does not match the request shape (rating is `up` or `down`)", body = super::error::ErrorBody),
        (status = 503, description = "The query log is unavailable", body = super::error::ErrorBody),
    )
)]
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Json<FeedbackRequest>, JsonRejection>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let Json(request) = body.map_err(json_rejection)?;
    let (id, rating) = (request.id.clone(), request.rating);
    let record = tokio::task::spawn_blocking(move || {
        service::feedback(&pipeline, &request.id, request.rating.into(), request.comment)
    })
    .await??;
    Ok(Json(FeedbackResponse {
        id,
        pipeline: record.pipeline,
        rating,
    }))
}

/// Queries, latency, tokens, cost, blocks, feedback and evaluations, grouped.
#[utoipa::path(
    get,
    path = "/v1/analytics",
    params(AnalyticsParams),
    responses(
        (status = 200, description = "The report", body = AnalyticsReport),
        (status = 400, description = "Unknown `by`, or a malformed or empty time range", body = super::error::ErrorBody),
        (status = 503, description = "The query log is unavailable", body = super::error::ErrorBody),
    )
)]
pub async fn report(
    State(state): State<Arc<AppState>>,
    params: Result<Query<AnalyticsParams>, QueryRejection>,
) -> Result<Json<AnalyticsReport>, ApiError> {
    let Query(mut params) = params.map_err(bad_query)?;
    // An empty parameter (`?pipeline=`) means the same as none.
    for p in [
        &mut params.pipeline,
        &mut params.since,
        &mut params.until,
        &mut params.by,
    ] {
        p.take_if(|v| v.is_empty());
    }
    let by = match params.by.as_deref() {
        None => GroupBy::Domain,
        Some(by) => GroupBy::parse(by)
            .ok_or_else(|| bad_request(format!("unknown by=`{by}`: use one of {}", GroupBy::NAMES.join(", "))))?,
    };
    let range = TimeRange::parse(params.since.as_deref(), params.until.as_deref(), now_ms())
        .map_err(|e| bad_request(e.to_string()))?;
    let engine = state.engine.clone();
    let report =
        tokio::task::spawn_blocking(move || service::report(&engine.resources, params.pipeline.as_deref(), range, by))
            .await??;
    Ok(Json(AnalyticsReport::from(&report)))
}

/// Drift of each pipeline's recent questions from its baseline.
#[utoipa::path(
    get,
    path = "/v1/analytics/drift",
    params(DriftParams),
    responses(
        (status = 200, description = "Every pipeline's (or one's) drift, assessed now", body = DriftList),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody),
        (status = 503, description = "The query log or the embedder is unavailable", body = super::error::ErrorBody),
    )
)]
pub async fn drift(
    State(state): State<Arc<AppState>>,
    params: Result<Query<DriftParams>, QueryRejection>,
) -> Result<Json<DriftList>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let pipelines = match &params.pipeline {
        Some(name) => vec![state.pipeline(name)?],
        None => state.engine.snapshot().pipelines.values().cloned().collect(),
    };
    let reports = tokio::task::spawn_blocking(move || {
        pipelines
            .iter()
            .map(|p| service::drift(p).map(|r| DriftStatus::from(&r)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await??;
    Ok(Json(DriftList { pipelines: reports }))
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

fn bad_query(r: QueryRejection) -> ApiError {
    bad_request(r.body_text())
}
