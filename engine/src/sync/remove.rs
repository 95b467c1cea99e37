//! Removing a document: its stored original first (the store is the source of truth,
//! so a later sync must not bring it back), then its chunks in the index.

use std::sync::Arc;

use crate::pipeline::Pipeline;
use crate::providers::docstore::DocStoreError;
use crate::store::{DocumentRecord, StoreError};

/// Why a document could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// The store could not delete the original: the document stays indexed.
    #[error("{0}; the document was not removed")]
    Store(DocStoreError),
    #[error(transparent)]
    Index(#[from] StoreError),
    /// A worker thread of the delete panicked or was cancelled.
    #[error("a delete worker stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// Remove document `id` from `pipeline`: from its store when it came from there, then
/// from the index. Returns the removed document, or `None` when the pipeline has no
/// such document (or may not see it).
///
/// # Errors
/// [`RemoveError::Store`] when the store fails (nothing is removed), [`RemoveError::Index`]
/// when the index fails.
pub async fn remove(pipeline: Arc<Pipeline>, id: &str) -> Result<Option<DocumentRecord>, RemoveError> {
    let found = blocking({
        let (pipeline, id) = (pipeline.clone(), id.to_owned());
        move || {
            let doc = pipeline.index()?.document(&id)?;
            Ok(doc.filter(|d| pipeline.spec.retrieve.filter.matches(&d.metadata)))
        }
    })
    .await?;
    let Some(doc) = found else { return Ok(None) };
    let store = pipeline.docstore();
    if let Some(key) = store.key_of(&doc.source) {
        store.delete(&key).await.map_err(RemoveError::Store)?;
    }
    let deleted = blocking({
        let id = id.to_owned();
        move || Ok(pipeline.index()?.delete(&id)?)
    })
    .await?;
    Ok(deleted.then_some(doc))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RemoveError> + Send + 'static,
) -> Result<T, RemoveError> {
    tokio::task::spawn_blocking(f).await?
}
