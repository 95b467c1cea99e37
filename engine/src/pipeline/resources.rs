//! Heavy things shared by every snapshot: open indexes and loaded models. A
//! reload builds new pipelines but reuses these, so it never reloads a model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::spend::Spend;
use crate::prompts::PromptStats;
use crate::providers::ProviderError;
use crate::providers::docstore::StoreCache;
use crate::providers::embed::Embedder;
use crate::stages::cache::RedisBackends;
use crate::stages::guard::GuardCounters;
use crate::stages::ingest::embed::EmbedSpec;
use crate::stages::ingest::embed::cached::CachedEmbedder;
use crate::store::analytics::{Limits, QueryLog};
use crate::store::keys::KeyStore;
use crate::store::{EmbeddingCache, Index, IndexOptions, StoreError};

/// Open indexes and loaded embedders, opened on first use and kept.
pub struct Resources {
    data_dir: PathBuf,
    model_dir: PathBuf,
    cache_dir: PathBuf,
    /// Open indexes with the options they were opened with.
    indexes: Mutex<HashMap<String, (Arc<Index>, IndexOptions)>>,
    embedders: Mutex<HashMap<EmbedSpec, Arc<dyn Embedder>>>,
    /// Guardrail interventions per pipeline; outlive reloads.
    pub guard_counts: GuardCounters,
    /// Document stores (and their S3 clients), made on first use and kept.
    pub docstores: StoreCache,
    /// What each prompt version served; outlives reloads.
    pub stats: PromptStats,
    /// The query log (`data_dir/analytics`), opened on first use; `None` after it
    /// failed to open (logged once).
    query_log: OnceLock<Option<Arc<QueryLog>>>,
    keys: Mutex<Option<Arc<KeyStore>>>,
    /// What each API key and role spent this day and month.
    pub spend: Spend,
    /// The Redis servers answer caches use.
    pub redis: RedisBackends,
}

impl Resources {
    /// Indexes live under `data_dir/indexes/<name>` and model embeddings are cached in
    /// `data_dir/embed-cache`; model files are kept in `model_dir`.
    pub fn new(data_dir: PathBuf, model_dir: PathBuf) -> Self {
        let cache_dir = data_dir.join("embed-cache");
        Self::with_cache_dir(data_dir, model_dir, cache_dir)
    }

    /// Like [`Resources::new`] with the embedding cache elsewhere (e.g. a temporary
    /// index that should still reuse the cache of the real data dir).
    pub fn with_cache_dir(data_dir: PathBuf, model_dir: PathBuf, cache_dir: PathBuf) -> Self {
        Self {
            data_dir,
            model_dir,
            cache_dir,
            indexes: Mutex::default(),
            embedders: Mutex::default(),
            guard_counts: GuardCounters::default(),
            docstores: StoreCache::default(),
            stats: PromptStats::default(),
            query_log: OnceLock::new(),
            keys: Mutex::default(),
            spend: Spend::default(),
            redis: RedisBackends::default(),
        }
    }

    /// The query log, opened on first use. When it cannot be opened, queries are
    /// answered but not logged (warned once).
    pub fn query_log(&self) -> Option<&Arc<QueryLog>> {
        self.query_log
            .get_or_init(|| self.open_query_log(Limits::default()))
            .as_ref()
    }

    fn open_query_log(&self, limits: Limits) -> Option<Arc<QueryLog>> {
        let dir = self.data_dir.join("analytics");
        QueryLog::open(&dir, limits)
            .inspect_err(
                |e| tracing::warn!(dir = %dir.display(), error = %e, "query log unavailable; queries are not logged"),
            )
            .ok()
    }

    /// The API key store (`<data-dir>/keys`), opened on first use (and tried again
    /// after a failure).
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be opened.
    pub fn keys(&self) -> Result<Arc<KeyStore>, StoreError> {
        let mut slot = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(store) = &*slot {
            return Ok(store.clone());
        }
        let store = Arc::new(KeyStore::open(&self.data_dir.join("keys"))?);
        *slot = Some(store.clone());
        Ok(store)
    }

    /// Open the query log now with `limits`, or log no queries (`None`, for
    /// `analytics.enabled: false`); call before the first query.
    pub fn configure_query_log(&self, limits: Option<Limits>) {
        let _ = self.query_log.set(limits.and_then(|l| self.open_query_log(l)));
    }

    /// Where the indexes live.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The index called `name`, opened (and created) with `options` on first use; later
    /// calls get the open index (pipelines sharing an index agree on its options).
    ///
    /// # Errors
    /// [`StoreError`] when the index cannot be opened.
    pub fn index(&self, name: &str, options: &IndexOptions) -> Result<Arc<Index>, StoreError> {
        let mut indexes = self
            .indexes
            .lock()
            .map_err(|_| StoreError::Corrupt("index registry lock poisoned".into()))?;
        if let Some((index, _)) = indexes.get(name) {
            return Ok(index.clone());
        }
        let index = Arc::new(Index::open(&self.data_dir.join("indexes").join(name), options)?);
        indexes.insert(name.to_owned(), (index.clone(), options.clone()));
        Ok(index)
    }

    /// The options index `name` was opened with, if it is open. A reload that asks for
    /// other options is refused: an open index keeps its analysis until restart.
    pub fn opened_with(&self, name: &str) -> Option<IndexOptions> {
        let indexes = self.indexes.lock().ok()?;
        indexes.get(name).map(|(_, options)| options.clone())
    }

    /// The embedder for `spec`, loaded (and for `local`, fetched) on first use, behind
    /// the persistent embedding cache (except `hash`, which is cheaper than the cache).
    ///
    /// # Errors
    /// [`ProviderError::ModelUnavailable`] when the model cannot be fetched or loaded.
    pub fn embedder(&self, spec: &EmbedSpec) -> Result<Arc<dyn Embedder>, ProviderError> {
        let mut embedders = self
            .embedders
            .lock()
            .map_err(|_| ProviderError::ModelUnavailable("embedder registry lock poisoned".into()))?;
        if let Some(e) = embedders.get(spec) {
            return Ok(e.clone());
        }
        let model = spec.open(&self.model_dir)?;
        let embedder: Arc<dyn Embedder> = if spec.is_hash() {
            model
        } else {
            match EmbeddingCache::open(&self.cache_dir) {
                Ok(cache) => Arc::new(CachedEmbedder::new(model, Arc::new(cache))),
                Err(e) => {
                    tracing::warn!(dir = %self.cache_dir.display(), error = %e, "embedding cache unavailable; embedding without it");
                    model
                }
            }
        };
        embedders.insert(spec.clone(), embedder.clone());
        Ok(embedder)
    }
}
