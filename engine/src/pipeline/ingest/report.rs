//! What an ingest batch reports: per file, ingested, unchanged or failed with a typed
//! reason; and the failures that stop a batch.

use serde::Serialize;

use crate::providers::ProviderError;
use crate::stages::ingest::FileError;
use crate::store::StoreError;

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// New or changed: parsed, chunked, embedded and stored.
    Ingested { document_id: String, chunks: usize },
    /// Same content and metadata as already indexed: nothing written.
    Unchanged { document_id: String },
    /// Not indexed: `code` says what kind of failure, `message` says why.
    Failed {
        #[serde(rename = "code")]
        error: FileError,
        message: String,
    },
}

impl FileOutcome {
    /// A failure of kind `error`, saying why in `message`.
    pub fn failed(error: FileError, message: impl Into<String>) -> Self {
        FileOutcome::Failed {
            error,
            message: message.into(),
        }
    }
}

/// One file's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub source: String,
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

/// A whole batch's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    pub chunks: usize,
    pub embedding_tokens: usize,
    pub seconds: f64,
}

impl IngestReport {
    /// Files in each state: (ingested, unchanged, failed).
    pub fn counts(&self) -> (usize, usize, usize) {
        self.files.iter().fold((0, 0, 0), |(i, u, f), r| match r.outcome {
            FileOutcome::Ingested { .. } => (i + 1, u, f),
            FileOutcome::Unchanged { .. } => (i, u + 1, f),
            FileOutcome::Failed { .. } => (i, u, f + 1),
        })
    }
}

/// A failure that stops the batch (files done before it stay committed).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}
