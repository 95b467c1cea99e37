//! An embedder in front of the persistent embedding cache: only texts it has not
//! seen reach the model. A cache failure is logged and bypassed, never fatal.

use std::sync::Arc;

use crate::providers::ProviderError;
use crate::providers::embed::{Embedder, Embeddings};
use crate::store::{EmbeddingCache, cache_key};

/// `inner`, with its results kept in `cache`.
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    cache: Arc<EmbeddingCache>,
}

impl CachedEmbedder {
    pub fn new(inner: Arc<dyn Embedder>, cache: Arc<EmbeddingCache>) -> Self {
        Self { inner, cache }
    }
}

impl Embedder for CachedEmbedder {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn dims(&self) -> usize {
        self.inner.dims()
    }

    fn tokenizer(&self) -> Option<&tokenizers::Tokenizer> {
        self.inner.tokenizer()
    }

    /// `tokens` counts only what the model read; cached texts cost nothing.
    fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError> {
        let keys: Vec<_> = texts.iter().map(|t| cache_key(self.id(), self.dims(), t)).collect();
        let mut found = self.cache.get_many(&keys).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "embedding cache read failed; embedding without it");
            vec![None; texts.len()]
        });
        let missing: Vec<usize> = (0..texts.len())
            .filter(|&i| found[i].as_ref().is_none_or(|v| v.len() != self.dims()))
            .collect();
        if missing.is_empty() {
            return Ok(Embeddings {
                vectors: found.into_iter().flatten().collect(),
                tokens: 0,
            });
        }
        let batch: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
        let fresh = self.inner.embed(&batch)?;
        let entries: Vec<_> = missing
            .iter()
            .zip(&fresh.vectors)
            .map(|(&i, v)| (keys[i], v.as_slice()))
            .collect();
        if let Err(e) = self.cache.put_many(&entries) {
            tracing::warn!(error = %e, "embedding cache write failed");
        }
        for (&i, v) in missing.iter().zip(fresh.vectors) {
            found[i] = Some(v);
        }
        let vectors: Vec<Vec<f32>> = found.into_iter().flatten().collect();
        if vectors.len() != texts.len() {
            return Err(ProviderError::Inference(format!(
                "embedder returned {} vectors for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        Ok(Embeddings {
            vectors,
            tokens: fresh.tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::providers::embed::hash::HashEmbedder;

    /// Counts the texts that reach the model.
    struct Counting(HashEmbedder, AtomicUsize);

    impl Embedder for Counting {
        fn id(&self) -> &str {
            self.0.id()
        }
        fn dims(&self) -> usize {
            self.0.dims()
        }
        fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError> {
            self.1.fetch_add(texts.len(), Ordering::SeqCst);
            self.0.embed(texts)
        }
    }

    #[test]
    fn only_unseen_texts_reach_the_model_and_order_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(Counting(HashEmbedder::new(16), AtomicUsize::new(0)));
        let cached = CachedEmbedder::new(inner.clone(), Arc::new(EmbeddingCache::open(dir.path()).unwrap()));
        let first = cached.embed(&["alpha beta", "gamma"]).unwrap();
        assert_eq!(inner.1.load(Ordering::SeqCst), 2);
        let second = cached.embed(&["gamma", "delta", "alpha beta"]).unwrap();
        assert_eq!(inner.1.load(Ordering::SeqCst), 3, "only `delta` is new");
        assert_eq!(second.vectors[0], first.vectors[1]);
        assert_eq!(second.vectors[2], first.vectors[0]);
        assert_eq!(second.vectors[1], inner.0.embed(&["delta"]).unwrap().vectors[0]);
        assert_eq!(second.tokens, 1);
    }
}
