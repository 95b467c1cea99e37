//! `ragline bench`: in-process performance of one pipeline on a BEIR-layout dataset.
//!
//! Three measurements, each beside a baseline measured in the same run, because the
//! machines are noisy and a ratio survives noise better than a figure:
//! 1. ingest throughput with the pipeline's embedder (cold cache on a sample, warm
//!    cache on the whole corpus) against the `hash` embedder ([`throughput`]);
//! 2. embedding without the cache: per-query latency against `hash`, and batch tokens/s
//!    against the numpy/OpenBLAS reference ([`embed`]);
//! 3. retrieve latency excluding embedding: keyword, vector and hybrid, unfiltered
//!    and filtered ([`retrieve`]), on the index built by the warm run.

pub mod cache;
pub mod embed;
pub mod reload;
pub mod retrieve;
pub mod server;
pub mod soak;
pub mod stats;
pub mod table;
pub mod telemetry;
pub mod throughput;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::PipelineSpec;
use crate::eval::EvalError;
use crate::eval::dataset::load_texts;
use crate::pipeline::ingest::IngestError;
use crate::providers::ProviderError;
use crate::stages::ingest::embed::EmbedSpec;
use crate::store::StoreError;
use crate::vocab::Filter;

/// Tokens/s of the numpy/OpenBLAS all-MiniLM-L6-v2 reference on these machines (DESIGN.md).
pub const REFERENCE_TOKENS_PER_S: (f64, f64) = (850.0, 900.0);
/// Documents embedded as whole passages (title and abstract) for batch tokens/s.
pub const PASSAGE_SAMPLE_DOCS: usize = 100;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Directory holding `corpus.jsonl` and `queries.jsonl`.
    pub dataset: PathBuf,
    /// Use only the first this many queries (default: all).
    pub queries: Option<usize>,
    /// Documents for the cold-cache ingest (default: all).
    pub cold_docs: Option<usize>,
    /// Measured passes over the queries for retrieve latency.
    pub rounds: usize,
    /// Where model files are kept.
    pub model_dir: PathBuf,
    /// The real embedding cache, used by the warm run.
    pub cache_dir: PathBuf,
}

/// Where and how the run happened.
#[derive(Debug, Clone, Serialize)]
pub struct BenchMeta {
    /// UTC date, `YYYY-MM-DD`.
    pub date: String,
    /// `git rev-parse --short HEAD`, or `unknown`.
    pub commit: String,
    /// Whether tracked files differed from `commit` (`None` when git could not tell).
    pub dirty: Option<bool>,
    /// Threads available to the process.
    pub threads: usize,
    /// `debug` (dependencies optimised, engine at opt-level 0) or `release`.
    pub profile: &'static str,
}

/// Everything one run measured; written as JSON and printed as a table.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub meta: BenchMeta,
    pub pipeline: String,
    pub dataset: String,
    pub corpus_docs: usize,
    pub queries: usize,
    pub ingest: throughput::IngestBench,
    pub embed: EmbedBench,
    pub retrieve: retrieve::RetrieveBench,
}

/// Embedding cost without the cache.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedBench {
    pub embedder: String,
    /// One query per call, pipeline embedder and `hash`.
    pub query_latency: stats::Latency,
    pub hash_query_latency: stats::Latency,
    pub latency_over_hash_p50: Option<f64>,
    /// Every query in one call.
    pub batch_queries: embed::BatchRun,
    /// The first documents as passages (`title\n\ntext`) in one call.
    pub batch_passages: embed::BatchRun,
    pub reference_tokens_per_s: (f64, f64),
    /// Passage tokens/s over the middle of the reference range.
    pub passages_over_reference: Option<f64>,
    /// The cold ingest's model tokens/s (chunk-sized texts, end to end) over the same.
    pub cold_ingest_over_reference: Option<f64>,
}

/// A failure that stops the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A dataset file could not be read, or a temporary directory created.
    #[error("I/O error on {}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The dataset could not be read.
    #[error(transparent)]
    Dataset(Box<EvalError>),
    /// Nothing to measure: no documents or no queries.
    #[error("{0}")]
    Empty(String),
    /// Indexing failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The embedder could not be loaded or failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The index could not be opened or searched.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Run every measurement for the pipeline `spec`; progress is logged with tracing.
///
/// # Errors
/// [`BenchError`]: unreadable dataset, empty corpus or query set, model, ingest or
/// store failures.
pub fn run(spec: &PipelineSpec, opts: &BenchOptions, meta: BenchMeta) -> Result<BenchReport, BenchError> {
    let (docs, queries) = load_texts(&opts.dataset).map_err(|e| BenchError::Dataset(Box::new(e)))?;
    let queries: Vec<&str> = queries
        .iter()
        .take(opts.queries.unwrap_or(usize::MAX))
        .map(|q| q.text.as_str())
        .collect();
    if docs.is_empty() || queries.is_empty() {
        return Err(BenchError::Empty(format!(
            "{}: no documents or no queries",
            opts.dataset.display()
        )));
    }
    let hash_spec = hash_baseline(spec);

    let cold_docs = opts.cold_docs.unwrap_or(docs.len());
    let (ingest, warm_target) = throughput::ingest_bench(spec, &docs, cold_docs, opts)?;

    tracing::info!(queries = queries.len(), "embedding: one query per call, then batches");
    let model = embed::uncached(&spec.ingest.embed, &opts.model_dir)?;
    let hash_model = embed::uncached(&hash_spec, &opts.model_dir)?;
    let single = embed::one_at_a_time(model.as_ref(), &queries)?;
    let hash_single = embed::one_at_a_time(hash_model.as_ref(), &queries)?;
    let batch_queries = embed::batch(model.as_ref(), &queries)?;
    let passages: Vec<String> = docs
        .iter()
        .take(PASSAGE_SAMPLE_DOCS)
        .map(|d| format!("{}\n\n{}", d.title, d.text))
        .collect();
    let passage_refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let batch_passages = embed::batch(model.as_ref(), &passage_refs)?;
    let reference_mid = (REFERENCE_TOKENS_PER_S.0 + REFERENCE_TOKENS_PER_S.1) / 2.0;
    let cold_ingest_over_reference = stats::ratio(ingest.cold.model_tokens_per_s, reference_mid);

    tracing::info!(queries = queries.len(), rounds = opts.rounds, "retrieve latency");
    let pairs: Vec<(&str, &[f32])> = queries
        .iter()
        .zip(&single.vectors)
        .map(|(q, v)| (*q, v.as_slice()))
        .collect();
    let retrieve = retrieve::measure(&warm_target.pipeline, &pairs, &all_docs_filter(spec), opts.rounds)?;

    Ok(BenchReport {
        meta,
        pipeline: spec.name.clone(),
        dataset: dataset_name(&opts.dataset),
        corpus_docs: docs.len(),
        queries: queries.len(),
        ingest,
        embed: EmbedBench {
            embedder: model.id().to_owned(),
            latency_over_hash_p50: stats::ratio(single.latency.p50_ms, hash_single.latency.p50_ms),
            query_latency: single.latency,
            hash_query_latency: hash_single.latency,
            batch_queries,
            passages_over_reference: stats::ratio(batch_passages.tokens_per_s, reference_mid),
            cold_ingest_over_reference,
            batch_passages,
            reference_tokens_per_s: REFERENCE_TOKENS_PER_S,
        },
        retrieve,
    })
}

/// The `hash` embedder with the pipeline's dimension: the no-model baseline.
fn hash_baseline(spec: &PipelineSpec) -> EmbedSpec {
    EmbedSpec::hash(spec.ingest.embed.dims())
}

/// A filter every ingested document passes: the pipeline's default domain.
fn all_docs_filter(spec: &PipelineSpec) -> Filter {
    let mut filter = Filter::default();
    filter
        .fields
        .insert("domain".to_owned(), vec![spec.ingest.defaults.domain.clone()]);
    filter
}

/// The dataset's directory name, e.g. `scifact`.
pub fn dataset_name(dir: &Path) -> String {
    dir.canonicalize()
        .unwrap_or_else(|_| dir.to_owned())
        .file_name()
        .map_or_else(|| "dataset".to_owned(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests;
