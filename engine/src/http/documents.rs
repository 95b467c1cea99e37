//! `/v1/pipelines/{name}/documents`: upload (multipart), list, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::ingest::{FileOutcome, FileReport, IngestInput};
use crate::store::{DocumentRecord, Metadata};

/// Per-file results of an upload.
#[derive(Serialize, ToSchema)]
pub struct UploadResponse {
    /// One entry per uploaded file: `status` is `ingested`, `unchanged` or `failed`.
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<FileReport>,
    pub chunks: usize,
    pub seconds: f64,
}

/// A stored document.
#[derive(Serialize, ToSchema)]
pub struct DocumentInfo {
    pub id: String,
    pub title: String,
    pub source: String,
    pub format: String,
    pub domain: String,
    pub department: Option<String>,
    pub doc_type: Option<String>,
    pub tags: Vec<String>,
    pub content_hash: String,
    pub bytes: u64,
    pub chunks: u32,
    pub ingested_at: u64,
}

impl From<DocumentRecord> for DocumentInfo {
    fn from(d: DocumentRecord) -> Self {
        Self {
            id: d.id,
            title: d.title,
            source: d.source,
            format: d.format,
            domain: d.metadata.domain,
            department: d.metadata.department,
            doc_type: d.metadata.doc_type,
            tags: d.metadata.tags,
            content_hash: d.content_hash,
            bytes: d.bytes,
            chunks: d.chunk_count,
            ingested_at: d.ingested_at,
        }
    }
}

/// The documents a pipeline sees.
#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<DocumentInfo>,
}

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
/// pipeline's metadata defaults.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{name}/documents",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body(content_type = "multipart/form-data", description = "Files, plus optional metadata fields"),
    responses(
        (status = 200, description = "Per-file results; at least one file was ingested or unchanged", body = UploadResponse),
        (status = 400, description = "No file in the request", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody),
        (status = 413, description = "Request or file too large", body = super::error::ErrorBody),
        (status = 415, description = "Unsupported file type", body = super::error::ErrorBody),
        (status = 422, description = "No file could be read (encrypted, corrupt, no text...)", body = super::error::ErrorBody),
    )
)]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    mut multipart: Multipart,
) -> Result<Json<UploadResponse>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let mut metadata: Metadata = pipeline.spec.ingest.defaults.clone();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                files.push((file_name, bytes.to_vec()));
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
    let inputs = files
        .into_iter()
        .map(|(file_name, bytes)| {
            let file_name = sanitize(&file_name);
            let source = format!("upload/{}/{}", metadata.domain, file_name);
            IngestInput::Bytes {
                name: file_name,
                source,
                bytes,
                metadata: Some(metadata.clone()),
            }
        })
        .collect();
    let report = tokio::task::spawn_blocking(move || pipeline.ingest(inputs, &mut |_| {}))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| match e {
            crate::ingest::IngestError::Store(s) => ApiError::from(s),
            crate::ingest::IngestError::Provider(p) => ApiError::from(p),
        })?;
    let (ingested, unchanged, failed) = report.counts();
    tracing::info!(pipeline = %name, ingested, unchanged, failed, "upload done");
    if ingested + unchanged == 0 {
        return Err(all_failed(report.files));
    }
    Ok(Json(UploadResponse {
        files: report.files,
        chunks: report.chunks,
        seconds: report.seconds,
    }))
}

/// Every file failed: the status says why when they all failed the same way.
fn all_failed(files: Vec<FileReport>) -> ApiError {
    let codes: Vec<&str> = files
        .iter()
        .filter_map(|f| match &f.outcome {
            FileOutcome::Failed { code, .. } => Some(code.as_str()),
            _ => None,
        })
        .collect();
    let same = |c: &str| codes.iter().all(|x| *x == c);
    let (status, code) = if same("unsupported_type") {
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type")
    } else if same("too_large") {
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    } else if same("forbidden_metadata") {
        (StatusCode::FORBIDDEN, "forbidden")
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, "unreadable")
    };
    let message = files
        .iter()
        .filter_map(|f| match &f.outcome {
            FileOutcome::Failed { message, .. } => Some(format!("{}: {message}", f.source)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut err = ApiError::new(status, code, message);
    err.details = serde_json::to_value(serde_json::json!({ "files": files })).ok();
    err
}

/// Keep only the last path component, so a file name cannot point elsewhere.
fn sanitize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    if base.is_empty() || base == "." || base == ".." {
        "unnamed".to_owned()
    } else {
        base.to_owned()
    }
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
) -> Result<Json<DocumentList>, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let docs = tokio::task::spawn_blocking(move || {
        let index = pipeline.index()?;
        index.documents(&pipeline.spec.retrieve.filter)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(DocumentList {
        documents: docs.into_iter().map(DocumentInfo::from).collect(),
    }))
}

/// Remove a document and its chunks from the index.
#[utoipa::path(
    delete,
    path = "/v1/pipelines/{name}/documents/{id}",
    params(("name" = String, Path, description = "Pipeline name"), ("id" = String, Path, description = "Document id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = super::error::ErrorBody))
)]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let doc_id = id.clone();
    let deleted = tokio::task::spawn_blocking(move || {
        let index = pipeline.index()?;
        match index.document(&doc_id)? {
            Some(d) if pipeline.spec.retrieve.filter.matches(&d.metadata) => index.delete(&doc_id),
            _ => Ok(false),
        }
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    if deleted {
        tracing::info!(pipeline = %name, document = %id, "document deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "document_not_found",
            format!("no document `{id}` in pipeline `{name}`"),
        ))
    }
}
