//! Ingest throughput: the corpus indexed into a temporary index with the pipeline's
//! ingest settings, timed end to end (chunk, embed, write), model loading excluded.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tempfile::TempDir;

use super::stats::{per_second, ratio};
use super::{BenchError, BenchOptions, hash_baseline};
use crate::config::PipelineSpec;
use crate::eval::dataset::CorpusDoc;
use crate::pipeline::{Pipeline, Resources};
use crate::stages::ingest::embed::EmbedSpec;
use crate::stages::ingest::sources::IngestInput;

/// Name of the index inside each temporary data dir.
const INDEX: &str = "bench";
/// A progress line is logged after this many documents.
const PROGRESS_EVERY: usize = 500;

/// A pipeline over its own temporary index, removed on drop.
pub struct TempPipeline {
    // Declared before `_dir` so the index closes before its directory is removed.
    pub pipeline: Pipeline,
    _dir: TempDir,
}

impl TempPipeline {
    /// `base` with `embed` as embedder, indexing into a fresh temporary directory.
    /// Model embeddings are cached in `cache_dir`, or in a fresh temporary cache when
    /// `None` (so every text reaches the model).
    ///
    /// # Errors
    /// [`BenchError::Io`] when the temporary directory cannot be created.
    pub fn new(
        base: &PipelineSpec,
        embed: EmbedSpec,
        model_dir: &Path,
        cache_dir: Option<&Path>,
    ) -> Result<TempPipeline, BenchError> {
        let dir = tempfile::tempdir().map_err(|source| BenchError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let cache_dir = cache_dir.map_or_else(|| dir.path().join("embed-cache"), Path::to_owned);
        let resources = Resources::with_cache_dir(dir.path().join("data"), model_dir.to_owned(), cache_dir);
        let mut spec = base.clone();
        spec.index = INDEX.to_owned();
        spec.ingest.embed = embed;
        Ok(TempPipeline {
            pipeline: Pipeline::new(spec, Arc::new(resources)),
            _dir: dir,
        })
    }
}

/// Ingest throughput, pipeline embedder against `hash`.
#[derive(Debug, Clone, Serialize)]
pub struct IngestBench {
    /// `hash` embedder, whole corpus.
    pub hash: IngestRun,
    /// Pipeline embedder, real cache, whole corpus.
    pub warm: IngestRun,
    /// `hash` embedder on the documents of the cold run.
    pub hash_sample: IngestRun,
    /// Pipeline embedder, fresh cache, the first documents (all with `--cold`).
    pub cold: IngestRun,
    /// Whether the cold run covered the whole corpus.
    pub cold_full_corpus: bool,
    /// docs/s of `hash` over the warm run's, on the whole corpus.
    pub hash_over_warm_docs_per_s: Option<f64>,
    /// docs/s of `hash` over the cold run's, on the same documents.
    pub hash_over_cold_docs_per_s: Option<f64>,
}

/// Run the ingest measurements: `hash` and warm on all of `docs`, `hash` and cold on
/// the first `cold_docs`. Returns the warm run's pipeline: its index (the corpus with
/// the pipeline's own embedder) is the one to search.
///
/// # Errors
/// As [`measure`], and [`BenchError::Io`] for a temporary directory.
pub fn ingest_bench(
    spec: &PipelineSpec,
    docs: &[CorpusDoc],
    cold_docs: usize,
    opts: &BenchOptions,
) -> Result<(IngestBench, TempPipeline), BenchError> {
    let model_dir = &opts.model_dir;
    let hash_spec = hash_baseline(spec);
    let cold_docs = cold_docs.min(docs.len());
    let cold_full_corpus = cold_docs == docs.len();

    tracing::info!(docs = docs.len(), "ingest: hash embedder, whole corpus");
    let hash = measure(
        &TempPipeline::new(spec, hash_spec.clone(), model_dir, None)?,
        docs,
        "none",
    )?;
    let hash_sample = if cold_full_corpus {
        hash.clone()
    } else {
        tracing::info!(docs = cold_docs, "ingest: hash embedder, cold sample");
        measure(
            &TempPipeline::new(spec, hash_spec, model_dir, None)?,
            &docs[..cold_docs],
            "none",
        )?
    };
    tracing::info!(docs = cold_docs, "ingest: pipeline embedder, fresh cache");
    let cold_target = TempPipeline::new(spec, spec.ingest.embed.clone(), model_dir, None)?;
    let cold = measure(&cold_target, &docs[..cold_docs], "cold")?;
    drop(cold_target);
    tracing::info!(docs = docs.len(), cache = %opts.cache_dir.display(), "ingest: pipeline embedder, real cache");
    let warm_target = TempPipeline::new(spec, spec.ingest.embed.clone(), model_dir, Some(&opts.cache_dir))?;
    let warm = measure(&warm_target, docs, "warm")?;
    let bench = IngestBench {
        hash_over_warm_docs_per_s: ratio(hash.docs_per_s, warm.docs_per_s),
        hash_over_cold_docs_per_s: ratio(hash_sample.docs_per_s, cold.docs_per_s),
        cold_full_corpus,
        hash,
        warm,
        hash_sample,
        cold,
    };
    Ok((bench, warm_target))
}

/// One timed ingest run.
#[derive(Debug, Clone, Serialize)]
pub struct IngestRun {
    /// Embedder id, e.g. `local/all-MiniLM-L6-v2`.
    pub embedder: String,
    /// `cold` (fresh cache), `warm` (the real cache) or `none` (no cache: `hash`).
    pub cache: &'static str,
    pub docs: usize,
    pub failed_docs: usize,
    pub chunks: usize,
    /// Tokens the model actually read (cache hits cost none).
    pub model_tokens: usize,
    pub seconds: f64,
    pub docs_per_s: f64,
    pub chunks_per_s: f64,
    /// `model_tokens / seconds`, end to end.
    pub model_tokens_per_s: f64,
}

/// Ingest `docs` into `target` as text records (no parsing), timing the whole batch.
/// The embedder and index are opened before the clock starts. `cache` labels the run
/// (`none` whatever is passed when the embedder is `hash`, which is never cached).
///
/// # Errors
/// [`BenchError::Provider`] when the model cannot be loaded, [`BenchError::Store`] /
/// [`BenchError::Ingest`] when indexing fails.
pub fn measure(target: &TempPipeline, docs: &[CorpusDoc], cache: &'static str) -> Result<IngestRun, BenchError> {
    let pipeline = &target.pipeline;
    let cache = if pipeline.spec.ingest.embed.is_hash() {
        "none"
    } else {
        cache
    };
    let embedder = pipeline.embedder()?;
    pipeline.index()?;
    let inputs: Vec<IngestInput> = docs.iter().map(CorpusDoc::to_input).collect();
    let total = inputs.len();
    let mut done: usize = 0;
    let started = Instant::now();
    let report = pipeline.ingest(inputs, &mut |_| {
        done += 1;
        if done.is_multiple_of(PROGRESS_EVERY) {
            let seconds = started.elapsed().as_secs();
            tracing::info!(embedder = embedder.id(), cache, done, total, seconds, "ingesting");
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let (ingested, _, failed_docs) = report.counts();
    Ok(IngestRun {
        embedder: embedder.id().to_owned(),
        cache,
        docs: ingested,
        failed_docs,
        chunks: report.chunks,
        model_tokens: report.embedding_tokens,
        seconds,
        docs_per_s: per_second(ingested, seconds),
        chunks_per_s: per_second(report.chunks, seconds),
        model_tokens_per_s: per_second(report.embedding_tokens, seconds),
    })
}
