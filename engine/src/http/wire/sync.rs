//! `POST /v1/pipelines/{name}/sync`: its options and its report (also what
//! `ragline sync --json` prints).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sync;

/// Options of a sync; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Ingest at most this many new or changed objects; the rest wait for the next call.
    pub limit: Option<usize>,
}

/// A whole sync's result. `objects` lists every object that was not unchanged.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncReport {
    /// The store, e.g. `s3://bucket/prefix/`.
    pub store: String,
    /// The key prefixes listed (relative to the store).
    pub scopes: Vec<String>,
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// New or changed objects left for the next run by `limit`.
    pub remaining: usize,
    pub chunks: usize,
    pub seconds: f64,
    pub objects: Vec<ObjectReport>,
}

impl From<&sync::SyncReport> for SyncReport {
    fn from(r: &sync::SyncReport) -> Self {
        Self {
            store: r.store.clone(),
            scopes: r.scopes.clone(),
            added: r.added,
            updated: r.updated,
            deleted: r.deleted,
            unchanged: r.unchanged,
            failed: r.failed,
            remaining: r.remaining,
            chunks: r.chunks,
            seconds: r.seconds,
            objects: r.objects.iter().map(ObjectReport::from).collect(),
        }
    }
}

/// What happened to one object (or, for `deleted`, one document).
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectReport {
    /// The document's source: `s3://bucket/key`, or a path.
    pub source: String,
    pub status: ObjectStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// With `failed`: the kind of failure, as in upload results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<&sync::ObjectReport> for ObjectReport {
    fn from(o: &sync::ObjectReport) -> Self {
        Self {
            source: o.source.clone(),
            status: o.status.into(),
            document_id: o.document_id.clone(),
            chunks: o.chunks,
            code: o.code.map(|c| c.code().to_owned()),
            message: o.message.clone(),
        }
    }
}

/// The state of one object.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectStatus {
    /// New in the store: indexed.
    Added,
    /// Changed in the store: its document was replaced.
    Updated,
    /// Same version (or, after a download, same bytes) as indexed.
    Unchanged,
    /// Gone from the store: its document was removed from the index.
    Deleted,
    /// Not indexed; `code` and `message` say why. A changed object that fails keeps its
    /// previous document, and is tried again by the next sync.
    Failed,
}

impl From<sync::ObjectStatus> for ObjectStatus {
    fn from(s: sync::ObjectStatus) -> Self {
        match s {
            sync::ObjectStatus::Added => Self::Added,
            sync::ObjectStatus::Updated => Self::Updated,
            sync::ObjectStatus::Unchanged => Self::Unchanged,
            sync::ObjectStatus::Deleted => Self::Deleted,
            sync::ObjectStatus::Failed => Self::Failed,
        }
    }
}
