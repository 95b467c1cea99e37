//! One sync: list the store (every page), plan against the index, download new and
//! changed objects a few at a time and ingest them in batches (each batch committed
//! with its objects' origins), then remove the documents whose objects are gone.
//!
//! Nothing is deleted unless the whole listing succeeded. A store failure part-way
//! stops the sync with an error; what it committed stays and the next run resumes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

use super::origin_tag;
use super::plan::{Fetch, plan};
use super::report::{ObjectReport, ObjectStatus, SyncReport};
use crate::pipeline::Pipeline;
use crate::pipeline::ingest::{FileOutcome, IngestError};
use crate::providers::docstore::{DocStore, DocStoreError, ObjectInfo};
use crate::stages::ingest::parse::{ParseError, detect_format, type_name};
use crate::stages::ingest::sources::IngestInput;
use crate::store::StoreError;

/// Downloads in flight at once.
const CONCURRENCY: usize = 4;
/// Objects per ingest batch.
const BATCH_OBJECTS: usize = 32;
/// Downloaded bytes per ingest batch (a batch also ends after the object that crosses it).
const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// How to sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Ingest at most this many new or changed objects; the rest wait for the next run.
    pub limit: Option<usize>,
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store failed before anything was changed (listing, or the first download).
    #[error("{0}; the index was not changed")]
    Store(DocStoreError),
    /// The store failed part-way; the objects committed before stay indexed.
    #[error(
        "{source}; sync stopped after {committed} objects were committed (they stay indexed; run sync again to resume)"
    )]
    Interrupted { committed: usize, source: DocStoreError },
    #[error(transparent)]
    Index(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A worker thread of the sync panicked or was cancelled.
    #[error("a sync worker stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// The key prefixes a pipeline syncs from its store: `<domain>/` for each domain its
/// filter allows, or everything when it allows any domain.
pub fn scopes_for(pipeline: &Pipeline) -> Vec<String> {
    match pipeline.spec.retrieve.filter.fields.get("domain") {
        Some(domains) if !domains.is_empty() => domains.iter().map(|d| format!("{d}/")).collect(),
        _ => vec![String::new()],
    }
}

/// Mirror the objects under `scopes` of `store` into `pipeline`'s index, calling
/// `on_object` for each object that changed something (or failed) once it is committed.
///
/// # Errors
/// [`SyncError`] when the store cannot be listed or fails part-way, or the index or
/// embedder fails; per-object problems are in the report.
pub async fn sync(
    pipeline: &Arc<Pipeline>,
    store: &DocStore,
    scopes: &[String],
    options: &SyncOptions,
    on_object: &mut (dyn FnMut(&ObjectReport) + Send),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let mut report = SyncReport {
        store: store.describe(),
        scopes: scopes.to_vec(),
        ..SyncReport::default()
    };
    let mut listing: BTreeMap<String, ObjectInfo> = BTreeMap::new();
    for scope in scopes {
        for object in store.list(scope).await.map_err(SyncError::Store)? {
            listing.insert(object.key.clone(), object);
        }
    }
    let prefixes: Vec<String> = scopes.iter().map(|s| store.source(s)).collect();
    let indexed = blocking({
        let pipeline = pipeline.clone();
        move || {
            let docs = pipeline.index()?.documents(&pipeline.spec.retrieve.filter)?;
            Ok::<_, SyncError>(docs)
        }
    })
    .await?
    .into_iter()
    .filter(|d| prefixes.iter().any(|p| d.source.starts_with(p.as_str())))
    .collect();
    let fingerprint = pipeline.spec.ingest.fingerprint.clone();
    let mut plan = plan(
        listing.into_values().collect(),
        indexed,
        |k| store.source(k),
        &fingerprint,
    );
    report.unchanged = plan.unchanged;
    if let Some(limit) = options.limit
        && plan.fetch.len() > limit
    {
        report.remaining = plan.fetch.len() - limit;
        plan.fetch.truncate(limit);
    }
    tracing::info!(
        pipeline = %pipeline.spec.name,
        store = %report.store,
        fetch = plan.fetch.len(),
        unchanged = plan.unchanged,
        delete = plan.delete.len(),
        "sync planned"
    );

    let max_bytes = pipeline.spec.ingest.limits.max_file_bytes;
    // What the listing already shows cannot be indexed is failed without a download.
    let mut fetch: Vec<Fetch> = Vec::with_capacity(plan.fetch.len());
    for f in plan.fetch {
        match refusal(&f.object, max_bytes) {
            Some(e) => {
                let object = ObjectReport::failed(f.source, (&e).into(), e.to_string());
                on_object(&object);
                report.record(object);
            }
            None => fetch.push(f),
        }
    }
    let mut downloads = futures_util::stream::iter(fetch)
        .map(|fetch| async move {
            let got = store.get(&fetch.object.key, max_bytes).await;
            (fetch, got)
        })
        .buffered(CONCURRENCY);
    let mut batch = Batch::default();
    let mut committed = 0;
    while let Some((fetch, got)) = downloads.next().await {
        match got {
            Ok(object) => {
                batch.bytes += object.bytes.len();
                let name = file_name(&object.key).to_owned();
                batch.inputs.push(IngestInput::Bytes {
                    name,
                    source: fetch.source.clone(),
                    bytes: object.bytes,
                    metadata: object.meta.metadata,
                    origin: Some(origin_tag(&object.version, &fingerprint)),
                });
                batch.fetched.insert(fetch.source.clone(), fetch);
            }
            Err(e) if e.is_per_object() => {
                let object = ObjectReport::failed(fetch.source, (&e).into(), e.to_string());
                on_object(&object);
                report.record(object);
            }
            Err(e) if committed == 0 && batch.inputs.is_empty() => return Err(SyncError::Store(e)),
            Err(source) => return Err(SyncError::Interrupted { committed, source }),
        }
        if batch.inputs.len() >= BATCH_OBJECTS || batch.bytes >= BATCH_BYTES {
            committed += ingest(pipeline, std::mem::take(&mut batch), &mut report, on_object).await?;
        }
    }
    ingest(pipeline, batch, &mut report, on_object).await?;

    let deletes: Vec<String> = plan.delete.iter().map(|d| d.id.clone()).collect();
    if !deletes.is_empty() {
        blocking({
            let pipeline = pipeline.clone();
            move || {
                let index = pipeline.index()?;
                if let Some(embedder) = index.embedder()? {
                    index.write(&embedder, Vec::new(), &deletes)?;
                }
                Ok::<_, SyncError>(())
            }
        })
        .await?;
        for doc in plan.delete {
            let object = ObjectReport {
                document_id: Some(doc.id),
                ..ObjectReport::new(doc.source, ObjectStatus::Deleted)
            };
            on_object(&object);
            report.record(object);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Why a listed object cannot be indexed, as far as the listing tells: a type no parser
/// reads, or a size over the limit.
fn refusal(object: &ObjectInfo, max_bytes: u64) -> Option<ParseError> {
    let name = file_name(&object.key);
    if detect_format(name).is_none() {
        Some(ParseError::Unsupported(type_name(name)))
    } else if object.size > max_bytes {
        Some(ParseError::TooLarge {
            size: object.size,
            limit: max_bytes,
        })
    } else {
        None
    }
}

/// The last segment of a key.
fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Downloaded objects waiting to be ingested.
#[derive(Default)]
struct Batch {
    inputs: Vec<IngestInput>,
    /// By source: what the plan said about each.
    fetched: HashMap<String, Fetch>,
    bytes: usize,
}

/// Ingest one batch (committed by the ingest run as it goes); returns how many objects it held.
async fn ingest(
    pipeline: &Arc<Pipeline>,
    batch: Batch,
    report: &mut SyncReport,
    on_object: &mut (dyn FnMut(&ObjectReport) + Send),
) -> Result<usize, SyncError> {
    let Batch { inputs, fetched, .. } = batch;
    if inputs.is_empty() {
        return Ok(0);
    }
    let count = inputs.len();
    let ingested = blocking({
        let pipeline = pipeline.clone();
        move || Ok::<_, SyncError>(pipeline.ingest(inputs, &mut |_| {})?)
    })
    .await?;
    report.chunks += ingested.chunks;
    for file in ingested.files {
        let indexed = fetched.get(&file.source).is_some_and(|f| f.indexed);
        let object = match file.outcome {
            FileOutcome::Ingested { document_id, chunks } => ObjectReport {
                document_id: Some(document_id),
                chunks: Some(chunks),
                ..ObjectReport::new(
                    file.source,
                    if indexed {
                        ObjectStatus::Updated
                    } else {
                        ObjectStatus::Added
                    },
                )
            },
            FileOutcome::Unchanged { document_id } => ObjectReport {
                document_id: Some(document_id),
                ..ObjectReport::new(file.source, ObjectStatus::Unchanged)
            },
            FileOutcome::Failed { error, message } => ObjectReport::failed(file.source, error, message),
        };
        on_object(&object);
        report.record(object);
    }
    Ok(count)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SyncError> + Send + 'static,
) -> Result<T, SyncError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await?
}
