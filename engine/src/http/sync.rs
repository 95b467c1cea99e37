//! `POST /v1/pipelines/{name}/sync`: mirror the pipeline's document store into its
//! index from inside the server, the same incremental sync as `ragline sync`. This is
//! what the `data-sync` workflow calls after uploading changed files, so the served
//! index (not a throw-away copy on the runner) picks them up.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};

use super::wire::{SyncReport, SyncRequest};
use super::{ApiError, AppState};
use crate::sync::{SyncOptions, scopes_for, sync};

/// Sync the pipeline's document store into its index: new and changed objects (by
/// ETag and ingest settings) are ingested, deleted ones removed. Safe to repeat; a sync
/// cut short resumes where it stopped.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{name}/sync",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body(content = Option<SyncRequest>, description = "Optional `limit`"),
    responses(
        (status = 200, description = "The sync report: added, updated, deleted, unchanged, failed, and each object that changed or failed", body = SyncReport),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody),
        (status = 502, description = "The document store refused; the index was not changed", body = super::error::ErrorBody),
        (status = 503, description = "The document store is unavailable, or failed part-way (objects committed before stay indexed)", body = super::error::ErrorBody),
    )
)]
pub async fn run(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Option<Json<Option<SyncRequest>>>, JsonRejection>,
) -> Result<Json<SyncReport>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    // No body, or `null`: the defaults.
    let request = body
        .map_err(super::query::json_rejection)?
        .and_then(|Json(r)| r)
        .unwrap_or_default();
    let store = pipeline.docstore();
    let scopes = scopes_for(&pipeline);
    let options = SyncOptions { limit: request.limit };
    let report = sync(&pipeline, &store, &scopes, &options, &mut |_| {})
        .await
        .map_err(|e| {
            tracing::warn!(pipeline = %name, error = %e, "sync failed");
            ApiError::from(e)
        })?;
    tracing::info!(pipeline = %name, store = %report.store, summary = %report.summary(), "sync done");
    Ok(Json(SyncReport::from(&report)))
}
