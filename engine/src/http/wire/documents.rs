//! `/v1/pipelines/{name}/documents`: upload results and the document listing.

use serde::Serialize;
use utoipa::ToSchema;

use crate::pipeline::ingest::FileOutcome;
use crate::store::DocumentRecord;
use crate::sync::{UploadReport, UploadedFile};

/// Per-file results of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResponse {
    /// The document store the files were written to (`s3://bucket/prefix/` or a directory).
    pub store: String,
    /// One entry per uploaded file.
    pub files: Vec<FileResult>,
    pub chunks: usize,
    pub seconds: f64,
}

impl From<&UploadReport> for UploadResponse {
    fn from(r: &UploadReport) -> Self {
        Self {
            store: r.store.clone(),
            files: r.files.iter().map(FileResult::from).collect(),
            chunks: r.chunks,
            seconds: r.seconds,
        }
    }
}

/// What happened to one uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileResult {
    /// The file name used (the last path component of the client's).
    pub file: String,
    /// The document's source: the stored object (`s3://bucket/key`) or path.
    pub source: String,
    /// The key it was stored under, relative to the store; absent when refused before storing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_key: Option<String>,
    pub status: FileStatus,
    /// With `ingested` and `unchanged`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// With `ingested`: the chunks indexed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// With `failed`: `unsupported_type`, `too_large`, `encrypted`, `no_text`, `empty`,
    /// `corrupt`, `unsupported_content`, `limit_exceeded`, `tag_script`,
    /// `invalid_metadata`, `forbidden_metadata`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// With `failed`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The state of one file.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// New or changed: stored and indexed.
    Ingested,
    /// The same content is indexed already.
    Unchanged,
    /// Not indexed; `code` and `message` say why.
    Failed,
}

impl From<&UploadedFile> for FileResult {
    fn from(f: &UploadedFile) -> Self {
        let mut out = Self {
            file: f.file.clone(),
            source: f.source.clone(),
            stored_key: f.stored_key.clone(),
            status: FileStatus::Failed,
            document_id: None,
            chunks: None,
            code: None,
            message: None,
        };
        match &f.outcome {
            FileOutcome::Ingested { document_id, chunks } => {
                out.status = FileStatus::Ingested;
                out.document_id = Some(document_id.clone());
                out.chunks = Some(*chunks);
            }
            FileOutcome::Unchanged { document_id } => {
                out.status = FileStatus::Unchanged;
                out.document_id = Some(document_id.clone());
            }
            FileOutcome::Failed { error, message } => {
                out.code = Some(error.code().to_owned());
                out.message = Some(message.clone());
            }
        }
        out
    }
}

/// A stored document.
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<DocumentInfo>,
}

/// An upload (`multipart/form-data`): each part with a file name is a file, whatever
/// its field name; the text fields override the pipeline's metadata defaults.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the form in the OpenAPI document only")]
pub struct UploadForm {
    /// The files, one part each.
    #[schema(value_type = Vec<String>, format = Binary, min_items = 1)]
    file: Vec<Vec<u8>>,
    /// The documents' domain (one path segment).
    domain: Option<String>,
    department: Option<String>,
    doc_type: Option<String>,
    /// Comma-separated.
    tags: Option<String>,
}
