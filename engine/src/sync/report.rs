//! What a sync did, per object and in total.

use crate::stages::ingest::FileError;

/// What happened to one object (or, for `deleted`, one document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One object's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectReport {
    /// The document's source: `s3://bucket/key`, or a path.
    pub source: String,
    pub status: ObjectStatus,
    pub document_id: Option<String>,
    pub chunks: Option<usize>,
    pub code: Option<FileError>,
    pub message: Option<String>,
}

impl ObjectReport {
    pub fn new(source: String, status: ObjectStatus) -> Self {
        Self {
            source,
            status,
            document_id: None,
            chunks: None,
            code: None,
            message: None,
        }
    }

    pub fn failed(source: String, code: FileError, message: String) -> Self {
        Self {
            code: Some(code),
            message: Some(message),
            ..Self::new(source, ObjectStatus::Failed)
        }
    }
}

/// A whole sync's result. `objects` lists every object that was not unchanged.
#[derive(Debug, Clone, Default)]
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
    /// New or changed objects left for the next run by `--limit`.
    pub remaining: usize,
    pub chunks: usize,
    pub seconds: f64,
    pub objects: Vec<ObjectReport>,
}

impl SyncReport {
    /// Count `object` and keep it unless unchanged.
    pub fn record(&mut self, object: ObjectReport) {
        match object.status {
            ObjectStatus::Added => self.added += 1,
            ObjectStatus::Updated => self.updated += 1,
            ObjectStatus::Unchanged => {
                self.unchanged += 1;
                return;
            }
            ObjectStatus::Deleted => self.deleted += 1,
            ObjectStatus::Failed => self.failed += 1,
        }
        self.objects.push(object);
    }

    /// One line: `3 added, 1 updated, 0 deleted, 12 unchanged, 0 failed`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} added, {} updated, {} deleted, {} unchanged, {} failed",
            self.added, self.updated, self.deleted, self.unchanged, self.failed
        );
        if self.remaining > 0 {
            s.push_str(&format!(", {} left for the next run", self.remaining));
        }
        s
    }
}
