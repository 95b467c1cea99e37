//! The report of an evaluation: the averaged metrics and the timings.

use serde::Serialize;

use super::dataset::Dataset;
use super::metrics::{self, Scores};
use super::run::{IndexSummary, SearchSummary};
use crate::pipeline::Pipeline;
use crate::stages::retrieve::SearchMode;

/// What `ragline eval --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The dataset directory, as given.
    pub dataset: String,
    pub pipeline: String,
    /// `hybrid`, `keyword` or `vector`.
    pub mode: String,
    /// Judged queries with at least one relevant document (the ones averaged).
    pub queries: usize,
    pub corpus_docs: usize,
    pub chunks: usize,
    /// Corpus documents that could not be indexed (e.g. empty text).
    pub failed_docs: usize,
    /// Chunks retrieved per query (documents are ranked by their best chunk).
    pub depth: usize,
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
    pub timings: Timings,
    /// The fusion settings of the pipeline (used by `hybrid` only).
    pub fusion: String,
}

/// Wall-clock times.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timings {
    /// Indexing the corpus (chunk, embed or read the embedding cache, write).
    pub index_secs: f64,
    /// Running every query (in parallel when several threads).
    pub search_secs: f64,
    /// Median latency of one query: search plus mapping chunks to documents.
    pub per_query_ms_p50: f64,
    pub per_query_ms_p99: f64,
}

/// Score every run against the judgments and assemble the report.
pub fn report(
    dataset_name: &str,
    pipeline: &Pipeline,
    mode: SearchMode,
    dataset: &Dataset,
    indexed: &IndexSummary,
    searched: &SearchSummary,
    depth: usize,
) -> EvalReport {
    let scores: Vec<Scores> = searched
        .runs
        .iter()
        .filter_map(|run| {
            let judged = dataset.qrels.get(&run.query_id)?;
            metrics::score_query(&run.ranking, judged)
        })
        .collect();
    let mean = metrics::mean(&scores);
    let mut millis: Vec<f64> = searched.runs.iter().map(|r| r.millis).collect();
    millis.sort_by(f64::total_cmp);
    EvalReport {
        dataset: dataset_name.to_owned(),
        pipeline: pipeline.spec.name.clone(),
        mode: mode.to_string(),
        queries: scores.len(),
        corpus_docs: dataset.corpus.len(),
        chunks: indexed.chunks,
        failed_docs: indexed.failed.len(),
        depth,
        ndcg_at_10: mean.ndcg_at_10,
        recall_at_10: mean.recall_at_10,
        recall_at_100: mean.recall_at_100,
        mrr_at_10: mean.mrr_at_10,
        timings: Timings {
            index_secs: indexed.seconds,
            search_secs: searched.seconds,
            per_query_ms_p50: percentile(&millis, 0.50),
            per_query_ms_p99: percentile(&millis, 0.99),
        },
        fusion: format!("{:?}", pipeline.spec.retrieve.fusion),
    }
}

/// Nearest-rank percentile of sorted values: the ⌈p·n⌉-th smallest (0 for none).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        // ⌈0.5·100⌉ = 50th, ⌈0.99·100⌉ = 99th.
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        // 3 values: ⌈1.5⌉ = 2nd, ⌈2.97⌉ = 3rd.
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.99), 3.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
