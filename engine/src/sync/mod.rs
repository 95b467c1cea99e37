//! The document store and the index kept in step: uploads written to the store first
//! ([`upload`]), deletes that remove the stored original too ([`remove`]), and
//! `ragline sync` mirroring a store into the index ([`run`], planned by [`plan`],
//! reported by [`report`]).
//!
//! Each indexed object records its origin, `<object version>@<ingest settings
//! fingerprint>` (see [`crate::store::DocumentRecord::origin`]), in the same LMDB
//! transaction as its chunks. That record is the only sync state: an object whose
//! listing matches it is skipped without a download, and an interrupted sync simply
//! finds the objects it committed unchanged. Document ids derive from the object's
//! name, so a changed object replaces its document.

pub mod plan;
pub mod remove;
pub mod report;
pub mod run;
pub mod upload;

pub use remove::{RemoveError, remove};
pub use report::{ObjectReport, ObjectStatus, SyncReport};
pub use run::{SyncError, SyncOptions, scopes_for, sync};
pub use upload::{UploadError, UploadFile, UploadReport, UploadedFile, upload};

/// The origin tag of an object version ingested under the settings `fingerprint`.
pub fn origin_tag(version: &str, fingerprint: &str) -> String {
    format!("{version}@{fingerprint}")
}
