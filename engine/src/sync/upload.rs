//! Uploads: each file is checked (type, size, metadata the pipeline may hold), written
//! to the pipeline's document store under `<domain>/<file name>` with its sha256, and
//! only then parsed and indexed, named by its stored object so a later sync of the
//! store finds it unchanged. If the store fails, nothing is indexed.

use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::origin_tag;
use crate::pipeline::Pipeline;
use crate::pipeline::ingest::{FileOutcome, IngestError};
use crate::providers::docstore::{DocStoreError, ObjectMeta, upload_key};
use crate::stages::ingest::FileError;
use crate::stages::ingest::parse::{ParseError, detect_format, type_name};
use crate::stages::ingest::sources::IngestInput;
use crate::stages::ingest::tag;
use crate::vocab::{Filter, Metadata};

/// One uploaded file.
#[derive(Debug, Clone)]
pub struct UploadFile {
    /// As the client named it; only its last path component is used.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What happened to one uploaded file.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    /// The file name used (the last path component of the client's).
    pub file: String,
    /// The document's source: the stored object (`s3://bucket/key`) or path.
    pub source: String,
    /// The key it was stored under, relative to the store; absent when refused before storing.
    pub stored_key: Option<String>,
    /// `ingested`, `unchanged` or `failed` (with `code` and `message`).
    pub outcome: FileOutcome,
}

/// An upload's result.
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// Where the files were stored.
    pub store: String,
    pub files: Vec<UploadedFile>,
    pub chunks: usize,
    pub seconds: f64,
}

/// Why an upload failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Writing to the store failed: nothing was indexed.
    #[error("{0}; nothing was indexed")]
    Store(DocStoreError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A worker thread of the upload panicked or was cancelled.
    #[error("an upload worker stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// Store, then index, `files` for `pipeline`. `metadata` (from the request) overrides
/// the pipeline's defaults and is recorded with each object. `granted` (an API
/// key's domains; `None`: every domain) bounds what the files may hold, before they are
/// stored and again after the tag rule ran; a file the rule puts outside it is refused
/// and its stored object removed, so no later sync indexes it either.
///
/// # Errors
/// [`UploadError::Store`] when the store cannot take a file (then nothing is indexed);
/// [`UploadError::Ingest`] when the index or embedder fails. Per-file problems are in the report.
pub async fn upload(
    pipeline: Arc<Pipeline>,
    files: Vec<UploadFile>,
    metadata: Option<Metadata>,
    granted: Option<&[String]>,
) -> Result<UploadReport, UploadError> {
    let started = Instant::now();
    let own = &pipeline.spec.retrieve.filter;
    let allowed = match granted {
        None => own.clone(),
        // Nothing in common: every domain value is refused.
        Some(domains) => own.narrowed("domain", domains).unwrap_or_else(|| {
            let mut none = own.clone();
            none.fields.insert("domain".to_owned(), Vec::new());
            none
        }),
    };
    let store = pipeline.docstore();
    let stage = &pipeline.spec.ingest;
    let effective = metadata.clone().unwrap_or_else(|| stage.defaults.clone());
    let mut results: Vec<UploadedFile> = Vec::with_capacity(files.len());
    let mut inputs = Vec::new();
    for file in files {
        let name = sanitize(&file.name);
        let key = upload_key(&effective.domain, &name);
        let source = store.source(&key);
        if let Some((error, message)) =
            refusal(&pipeline, &name, &source, file.bytes.len() as u64, &effective, &allowed)
        {
            results.push(UploadedFile {
                file: name,
                source,
                stored_key: None,
                outcome: FileOutcome::failed(error, message),
            });
            continue;
        }
        let meta = ObjectMeta {
            sha256: Some(hex::encode(Sha256::digest(&file.bytes))),
            metadata: metadata.clone(),
        };
        let stored = store
            .put(&key, file.bytes.clone(), &meta)
            .await
            .map_err(UploadError::Store)?;
        tracing::debug!(store = %store.describe(), key = %stored.key, "stored upload");
        inputs.push(IngestInput::Bytes {
            name: name.clone(),
            source: source.clone(),
            bytes: file.bytes,
            metadata: metadata.clone(),
            origin: Some(origin_tag(&stored.version, &stage.fingerprint)),
        });
        results.push(UploadedFile {
            file: name,
            source,
            stored_key: Some(stored.key),
            // Replaced by the ingest result below.
            outcome: FileOutcome::Unchanged {
                document_id: String::new(),
            },
        });
    }
    let ingest_pipeline = pipeline.clone();
    // The ingest stages' spans belong to the request's trace.
    let span = tracing::Span::current();
    let report = tokio::task::spawn_blocking(move || {
        span.in_scope(|| ingest_pipeline.ingest_within(&allowed, inputs, &mut |_| {}))
    })
    .await??;
    for file in report.files {
        if let Some(r) = results
            .iter_mut()
            .rev()
            .find(|r| r.source == file.source && r.stored_key.is_some())
        {
            r.outcome = file.outcome;
        }
    }
    for r in &mut results {
        if matches!(
            r.outcome,
            FileOutcome::Failed {
                error: FileError::ForbiddenMetadata,
                ..
            }
        ) && let Some(key) = r.stored_key.take()
        {
            tracing::warn!(pipeline = %pipeline.spec.name, key = %key, "upload tagged outside what it may hold; removed from the store");
            store.delete(&key).await.map_err(UploadError::Store)?;
        }
    }
    Ok(UploadReport {
        store: store.describe(),
        files: results,
        chunks: report.chunks,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Why a file is refused before it is stored: a type no parser reads, a size over the
/// limit, or metadata outside what the pipeline may hold.
fn refusal(
    pipeline: &Pipeline,
    name: &str,
    source: &str,
    size: u64,
    metadata: &Metadata,
    allowed: &Filter,
) -> Option<(FileError, String)> {
    let limit = pipeline.spec.ingest.limits.max_file_bytes;
    let error = if detect_format(name).is_none() {
        ParseError::Unsupported(type_name(name))
    } else if size > limit {
        ParseError::TooLarge { size, limit }
    } else if let Some(problem) = domain_problem(&metadata.domain) {
        let message = format!("{source}: domain `{}` {problem}", metadata.domain);
        return Some((FileError::InvalidMetadata, message));
    } else {
        let e = tag::validate(source, metadata, &[], allowed).err()?;
        return Some(((&e).into(), e.to_string()));
    };
    Some(((&error).into(), error.to_string()))
}

/// Why `domain` cannot name a folder of the store (`<domain>/<file name>`): it must be
/// one visible path segment, or the object would land outside its folder (or the
/// store's prefix), or in a hidden folder a sync never lists and so deletes.
fn domain_problem(domain: &str) -> Option<&'static str> {
    if domain.contains(['/', '\\']) || domain.chars().any(char::is_control) {
        Some("must be one path segment, without `/`, `\\` or control characters")
    } else if domain.starts_with('.') {
        Some("must not start with `.`")
    } else {
        None
    }
}

/// Keep only the last path component, so a file name cannot point elsewhere.
pub fn sanitize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    if base.is_empty() || base == "." || base == ".." {
        "unnamed".to_owned()
    } else if base.starts_with('.') {
        // Hidden files are not documents in a directory store.
        format!("unnamed{base}")
    } else {
        base.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_inside_their_folder() {
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(sanitize("C:\\x\\report.pdf"), "report.pdf");
        assert_eq!(sanitize(".."), "unnamed");
        assert_eq!(sanitize(""), "unnamed");
        assert_eq!(sanitize(".hidden.md"), "unnamed.hidden.md");
    }

    #[test]
    fn domains_stay_one_visible_folder() {
        for bad in ["..", "../../other", "hr/../legal", "a\\b", ".hr", "hr\n"] {
            assert!(domain_problem(bad).is_some(), "{bad:?}");
        }
        for good in ["hr", "legal-ops", "R&D"] {
            assert_eq!(domain_problem(good), None, "{good:?}");
        }
    }
}
