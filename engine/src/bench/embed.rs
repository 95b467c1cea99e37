//! Embedding cost without the cache: per-query latency (one text per call) and
//! batch throughput in tokens/s (one call, the model sorting and batching by length).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::stats::{Latency, per_second};
use crate::providers::ProviderError;
use crate::providers::embed::Embedder;
use crate::stages::ingest::embed::EmbedSpec;

/// Calls made before timing starts (first-call allocations, page faults).
const WARMUP_CALLS: usize = 5;

/// The embedder for `spec` with no cache in front, so every call runs the model.
///
/// # Errors
/// [`ProviderError::ModelUnavailable`] when the local model cannot be fetched or loaded.
pub fn uncached(spec: &EmbedSpec, model_dir: &Path) -> Result<Arc<dyn Embedder>, ProviderError> {
    spec.open(model_dir)
}

/// Latency of embedding one query per call, and the vectors (in input order).
#[derive(Debug, Clone)]
pub struct OneAtATime {
    pub latency: Latency,
    pub vectors: Vec<Vec<f32>>,
}

/// Embed each text on its own, timing every call after a short warm-up.
///
/// # Errors
/// [`ProviderError`] from the embedder, or `Inference` when it returns no vector.
pub fn one_at_a_time(embedder: &dyn Embedder, texts: &[&str]) -> Result<OneAtATime, ProviderError> {
    for text in texts.iter().take(WARMUP_CALLS) {
        embedder.embed(&[text])?;
    }
    let mut samples = Vec::with_capacity(texts.len());
    let mut vectors = Vec::with_capacity(texts.len());
    for text in texts {
        let started = Instant::now();
        let embedded = embedder.embed(&[text])?;
        samples.push(started.elapsed());
        let vector = embedded
            .vectors
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::Inference("embedder returned no vector".into()))?;
        vectors.push(vector);
    }
    Ok(OneAtATime {
        latency: Latency::from_samples(&samples),
        vectors,
    })
}

/// One batch embedding call.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRun {
    pub texts: usize,
    /// Tokens the model read, as it counts them (after truncation).
    pub tokens: usize,
    pub seconds: f64,
    pub tokens_per_s: f64,
    pub texts_per_s: f64,
}

/// Embed `texts` in one call and time it.
///
/// # Errors
/// [`ProviderError`] from the embedder.
pub fn batch(embedder: &dyn Embedder, texts: &[&str]) -> Result<BatchRun, ProviderError> {
    let started = Instant::now();
    let embedded = embedder.embed(texts)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(BatchRun {
        texts: texts.len(),
        tokens: embedded.tokens,
        seconds,
        tokens_per_s: per_second(embedded.tokens, seconds),
        texts_per_s: per_second(texts.len(), seconds),
    })
}
