//! `DELETE /v1/pipelines/{name}/cache`: clear a pipeline's cached answers (admin scope).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};

/// What clearing a pipeline's cache removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheCleared {
    pub pipeline: String,
    /// Whether the pipeline has a `cache:` section.
    pub enabled: bool,
    /// Entries removed, of every scope and epoch.
    pub removed: u64,
}

/// Clear a pipeline's cached answers, in every scope (needs the `admin` scope).
#[utoipa::path(
    delete,
    path = "/v1/pipelines/{name}/cache",
    params(("name" = String, Path, description = "Pipeline name")),
    responses(
        (status = 200, body = CacheCleared),
        (status = 404, body = super::error::ErrorBody),
        (status = 503, description = "The cache backend is unavailable", body = super::error::ErrorBody),
    )
)]
pub async fn clear(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<CacheCleared>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let enabled = pipeline.spec.cache.is_some();
    let removed = tokio::task::spawn_blocking(move || pipeline.clear_cache()).await??;
    tracing::info!(pipeline = %name, removed, "answer cache cleared");
    Ok(Json(CacheCleared {
        pipeline: name,
        enabled,
        removed,
    }))
}
