//! `/v1/pipelines/{name}/documents`: upload (multipart), list, delete.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use super::auth::Principal;
use super::error::all_files_failed;
use super::wire::{DocumentInfo, DocumentList, FileResult, UploadResponse};
use super::{ApiError, AppState};
use crate::pipeline::Pipeline;
use crate::pipeline::ingest::FileOutcome;
use crate::stages::ingest::FileError;
use crate::sync::{UploadFile, UploadReport};
use crate::vocab::{Filter, Metadata};

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "too_large"
    } else {
        "bad_multipart"
    };
    ApiError::new(status, code, e.body_text())
}

/// Upload files (multipart, one part per file, any field name). Optional text fields
/// `domain`, `department`, `doc_type` and `tags` (comma-separated) override the
/// pipeline's metadata defaults. Each file is written to the pipeline's document store
/// first (`<domain>/<file name>`, sha256 in its metadata), then parsed and indexed.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{name}/documents",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body(content = super::wire::UploadForm, content_type = "multipart/form-data", description = "Files, plus optional metadata fields"),
    responses(
        (status = 200, description = "Per-file results; at least one file was ingested or unchanged", body = UploadResponse),
        (status = 400, description = "No file in the request", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody),
        (status = 413, description = "Request or file too large", body = super::error::ErrorBody),
        (status = 415, description = "Unsupported file type", body = super::error::ErrorBody),
        (status = 422, description = "No file could be read (encrypted, corrupt, no text...)", body = super::error::ErrorBody),
        (status = 502, description = "The document store refused the write; nothing was indexed", body = super::error::ErrorBody),
        (status = 503, description = "The document store is unavailable; nothing was indexed", body = super::error::ErrorBody),
    )
)]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    principal: Option<Extension<Principal>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<UploadResponse>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let mut multipart = multipart.map_err(|r| ApiError::new(r.status(), "bad_multipart", r.body_text()))?;
    let mut metadata: Metadata = pipeline.spec.ingest.defaults.clone();
    let mut overridden = false;
    let mut files: Vec<UploadFile> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                let limit = state.settings.max_upload_files;
                if files.len() == limit {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_many_files",
                        format!(
                            "more than {limit} files in one upload (limits.max_upload_files); send them in several"
                        ),
                    ));
                }
                let bytes = field.bytes().await.map_err(multipart_error)?;
                files.push(UploadFile {
                    name: file_name,
                    bytes: bytes.to_vec(),
                });
            }
            None => {
                let key = field.name().unwrap_or_default().to_owned();
                let value = field.text().await.map_err(multipart_error)?.trim().to_owned();
                if value.is_empty() && key != "tags" {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        format!("form field `{key}` is empty"),
                    ));
                }
                overridden = true;
                match key.as_str() {
                    "domain" => metadata.domain = value,
                    "department" => metadata.department = Some(value),
                    "doc_type" => metadata.doc_type = Some(value),
                    "tags" => {
                        metadata.tags = value
                            .split(',')
                            .map(|t| t.trim().to_owned())
                            .filter(|t| !t.is_empty())
                            .collect()
                    }
                    other => {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "bad_request",
                            format!(
                                "unknown form field `{other}` (expected files, domain, department, doc_type, tags)"
                            ),
                        ));
                    }
                }
            }
        }
    }
    if files.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "no file in the request: send multipart parts with a filename",
        ));
    }
    if let Some(Extension(p)) = &principal
        && !p.role.domains.allows(&metadata.domain)
    {
        return Err(domain_forbidden(p, &metadata.domain));
    }
    let metadata = overridden.then_some(metadata);
    let granted = principal.and_then(|Extension(p)| p.role.domains.names());
    let report = crate::sync::upload(pipeline, files, metadata, granted.as_deref())
        .await
        .map_err(|e| {
            tracing::warn!(pipeline = %name, error = %e, "upload not stored");
            ApiError::from(e)
        })?;
    let failed = report
        .files
        .iter()
        .filter(|f| matches!(f.outcome, FileOutcome::Failed { .. }))
        .count();
    tracing::info!(pipeline = %name, store = %report.store, files = report.files.len(), failed, "upload done");
    if failed == report.files.len() {
        return Err(all_failed(&report));
    }
    Ok(Json(UploadResponse::from(&report)))
}

/// Every file failed: the status says why when they all failed the same way; the
/// per-file results are in `error.details.files`.
fn all_failed(report: &UploadReport) -> ApiError {
    let errors: Vec<FileError> = report
        .files
        .iter()
        .filter_map(|f| match &f.outcome {
            FileOutcome::Failed { error, .. } => Some(*error),
            _ => None,
        })
        .collect();
    let message = report
        .files
        .iter()
        .filter_map(|f| match &f.outcome {
            FileOutcome::Failed { message, .. } => Some(format!("{}: {message}", f.file)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut err = all_files_failed(&errors, message);
    let files: Vec<FileResult> = report.files.iter().map(FileResult::from).collect();
    err.details = serde_json::to_value(serde_json::json!({ "files": files })).ok();
    err
}

/// The documents this pipeline sees.
#[utoipa::path(
    get,
    path = "/v1/pipelines/{name}/documents",
    params(("name" = String, Path, description = "Pipeline name")),
    responses((status = 200, body = DocumentList), (status = 404, body = super::error::ErrorBody))
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<DocumentList>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let Some(filter) = visible(&pipeline, principal.as_ref().map(|Extension(p)| p)) else {
        return Ok(Json(DocumentList { documents: Vec::new() }));
    };
    let docs = tokio::task::spawn_blocking(move || pipeline.index()?.documents(&filter)).await??;
    Ok(Json(DocumentList {
        documents: docs.into_iter().map(DocumentInfo::from).collect(),
    }))
}

/// Remove a document: its original from the pipeline's document store (when it came
/// from there), then its chunks from the index.
#[utoipa::path(
    delete,
    path = "/v1/pipelines/{name}/documents/{id}",
    params(("name" = String, Path, description = "Pipeline name"), ("id" = String, Path, description = "Document id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = super::error::ErrorBody),
        (status = 502, description = "The document store refused; nothing was removed", body = super::error::ErrorBody),
        (status = 503, description = "The document store is unavailable; nothing was removed", body = super::error::ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path((name, id)): Path<(String, String)>,
    principal: Option<Extension<Principal>>,
) -> Result<StatusCode, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "document_not_found",
            format!("no document `{id}` in pipeline `{name}`"),
        )
    };
    // A key sees, and so deletes, only documents of its domains; others do not exist for it.
    if let Some(Extension(p)) = &principal
        && p.role.domains.names().is_some()
    {
        let filter = visible(&pipeline, Some(p)).ok_or_else(not_found)?;
        let (pipeline, wanted) = (pipeline.clone(), id.clone());
        let docs = tokio::task::spawn_blocking(move || pipeline.index()?.documents(&filter)).await??;
        if !docs.iter().any(|d| d.id == wanted) {
            return Err(not_found());
        }
    }
    let removed = crate::sync::remove(pipeline, &id).await.map_err(|e| {
        tracing::warn!(pipeline = %name, document = %id, error = %e, "document not removed");
        ApiError::from(e)
    })?;
    if let Some(doc) = removed {
        tracing::info!(pipeline = %name, document = %id, source = %doc.source, "document deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// The filter of the documents `principal` may see in `pipeline`: the pipeline's own,
/// narrowed to the key's domains; `None` when that leaves none.
fn visible(pipeline: &Pipeline, principal: Option<&Principal>) -> Option<Filter> {
    let own = &pipeline.spec.retrieve.filter;
    match principal.and_then(|p| p.role.domains.names()) {
        Some(granted) => own.narrowed("domain", &granted),
        None => Some(own.clone()),
    }
}

fn domain_forbidden(p: &Principal, domain: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "domain_forbidden",
        format!("role `{}` may not write to domain `{domain}`", p.role.name),
    )
}
