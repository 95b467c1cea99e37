//! Retrieval evaluation on a BEIR-layout dataset (`ragline eval`): index the corpus
//! into a temporary index with a pipeline's ingest settings, run every judged query
//! through its retrieve stage, and score the rankings (nDCG@10, recall@10/100,
//! MRR@10). A document ranks by its best chunk.

pub mod dataset;
mod keyword_only;
pub mod metrics;
mod report;
pub mod run;

use std::path::PathBuf;

pub use dataset::{CorpusDoc, Dataset, Query};
pub use metrics::Scores;
pub use report::{EvalReport, Timings, report};
pub use run::{EvalIndex, IndexSummary, QueryRun, SearchSummary, default_depth};

use crate::pipeline::ingest::IngestError;
use crate::stages::retrieve::RetrieveError;
use crate::store::StoreError;

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A dataset file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A JSON Lines record does not parse.
    #[error("{path}:{line}: bad record: {source}")]
    Json {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    /// Two records share an `_id`.
    #[error("{path}:{line}: duplicate _id `{id}`")]
    DuplicateId { path: PathBuf, line: usize, id: String },
    /// A qrels line is malformed.
    #[error("{path}:{line}: {message}")]
    Qrels {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A judgment names a document the corpus lacks.
    #[error("{path}:{line}: corpus-id `{id}` is not in corpus.jsonl")]
    UnknownDocument { path: PathBuf, line: usize, id: String },
    /// A judgment names a query the queries file lacks.
    #[error("{path}:{line}: query-id `{id}` is not in queries.jsonl")]
    UnknownQuery { path: PathBuf, line: usize, id: String },
    /// The qrels hold no judgment at all.
    #[error("{path}: no judgments")]
    NoJudgments { path: PathBuf },
    /// The temporary index directory cannot be created.
    #[error("cannot create a temporary index: {0}")]
    TempDir(std::io::Error),
    /// Indexing the corpus failed.
    #[error("indexing the corpus failed: {0}")]
    Ingest(#[from] IngestError),
    /// A search failed.
    #[error("query `{query}` failed: {source}")]
    Query { query: String, source: Box<RetrieveError> },
    /// Reading chunks back from the index failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A search thread died.
    #[error("a search thread panicked")]
    ThreadPanicked,
}
