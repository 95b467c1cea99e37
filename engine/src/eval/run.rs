//! Running an evaluation: a temporary index with the pipeline's ingest settings, the
//! corpus indexed into it, and every judged query searched (on several threads).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use tempfile::TempDir;

use super::EvalError;
use super::dataset::{CorpusDoc, Dataset, Query};
use super::keyword_only::KeywordOnly;
use super::metrics;
use crate::config::PipelineSpec;
use crate::pipeline::ingest::{self, FileOutcome, FileReport, IngestError, IngestTarget};
use crate::pipeline::{Pipeline, Resources};
use crate::providers::embed::Embedder;
use crate::stages::retrieve::{Search, SearchMode};
use crate::store::Index;
use crate::vocab::Filter;
use crate::vocab::ids::document_id;

/// Documents a ranking keeps: enough for recall@100.
const RANKING_DEPTH: usize = 100;

/// A pipeline over a temporary index, deleted when this is dropped.
pub struct EvalIndex {
    /// Declared first so the index closes before its directory is removed.
    pub pipeline: Pipeline,
    _dir: TempDir,
}

/// What indexing the corpus did.
#[derive(Debug, Clone, Default)]
pub struct IndexSummary {
    pub documents: usize,
    pub chunks: usize,
    /// Documents not indexed, with the reason.
    pub failed: Vec<(String, String)>,
    pub seconds: f64,
}

/// One query's result: dataset document ids, best first (at most 100).
#[derive(Debug, Clone)]
pub struct QueryRun {
    pub query_id: String,
    pub ranking: Vec<String>,
    pub millis: f64,
}

/// Every query's result, in dataset order, and the wall time of the whole run.
#[derive(Debug, Clone, Default)]
pub struct SearchSummary {
    pub runs: Vec<QueryRun>,
    pub seconds: f64,
}

impl EvalIndex {
    /// `spec`'s settings over a new temporary index (named `eval`, in the system temp
    /// dir), with model files from `model_dir` and the persistent embedding cache in
    /// `cache_dir`, so a corpus is embedded once across runs.
    ///
    /// # Errors
    /// [`EvalError::TempDir`] when the directory cannot be created.
    pub fn create(mut spec: PipelineSpec, model_dir: PathBuf, cache_dir: PathBuf) -> Result<EvalIndex, EvalError> {
        let dir = tempfile::Builder::new()
            .prefix("ragline-eval-")
            .tempdir()
            .map_err(EvalError::TempDir)?;
        spec.index = "eval".to_owned();
        let resources = Resources::with_cache_dir(dir.path().to_owned(), model_dir, cache_dir);
        Ok(EvalIndex {
            pipeline: Pipeline::new(spec, Arc::new(resources)),
            _dir: dir,
        })
    }

    /// Index the corpus, one document per record (source = its `_id`), calling `on_doc`
    /// after each. For `keyword` mode chunks are sized by the pipeline's tokenizer but
    /// not embedded (see `keyword_only`).
    ///
    /// # Errors
    /// [`EvalError::Ingest`] when the embedder or a write fails, [`EvalError::Store`]
    /// when the index cannot be opened. Documents that cannot be indexed (e.g. empty,
    /// or outside the pipeline's filter) are listed in the summary, not errors.
    pub fn index_corpus(
        &self,
        dataset: &Dataset,
        mode: SearchMode,
        on_doc: &mut dyn FnMut(&FileReport),
    ) -> Result<IndexSummary, EvalError> {
        let spec = &self.pipeline.spec;
        let real = self.pipeline.embedder().map_err(IngestError::from)?;
        let embedder: Arc<dyn Embedder> = match mode {
            SearchMode::Keyword => Arc::new(KeywordOnly::new(real)),
            SearchMode::Hybrid | SearchMode::Vector => real,
        };
        let index = self.pipeline.index()?;
        let target = IngestTarget {
            pipeline: &spec.name,
            stage: &spec.ingest,
            allowed: &spec.retrieve.filter,
            index: &index,
            embedder: embedder.as_ref(),
        };
        let inputs = dataset.corpus.iter().map(CorpusDoc::to_input).collect();
        let report = ingest::ingest(&target, inputs, on_doc)?;
        let mut summary = IndexSummary {
            chunks: report.chunks,
            seconds: report.seconds,
            ..IndexSummary::default()
        };
        for file in report.files {
            match file.outcome {
                FileOutcome::Failed { message, .. } => summary.failed.push((file.source, message)),
                FileOutcome::Ingested { .. } | FileOutcome::Unchanged { .. } => summary.documents += 1,
            }
        }
        Ok(summary)
    }

    /// Search every judged query (`depth` chunks each, unfiltered) on `threads`
    /// threads, calling `on_query` after each.
    ///
    /// # Errors
    /// [`EvalError::Query`] for the first query that fails, [`EvalError::Store`] when
    /// chunks cannot be read back, [`EvalError::ThreadPanicked`].
    pub fn search_queries(
        &self,
        dataset: &Dataset,
        mode: SearchMode,
        depth: usize,
        threads: usize,
        on_query: &(dyn Fn() + Sync),
    ) -> Result<SearchSummary, EvalError> {
        let index = self.pipeline.index()?;
        let embedder = self.pipeline.embedder().map_err(IngestError::from)?;
        let names: HashMap<String, &str> = dataset
            .corpus
            .iter()
            .map(|d| (document_id(&d.id), d.id.as_str()))
            .collect();
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let worker = || -> Result<Vec<(usize, QueryRun)>, EvalError> {
            let mut out = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(query) = dataset.queries.get(i) else { break };
                match self.search_one(&index, embedder.as_ref(), &names, query, mode, depth) {
                    Ok(run) => out.push((i, run)),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                on_query();
            }
            Ok(out)
        };
        let results: Vec<Result<Vec<(usize, QueryRun)>, EvalError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads.max(1)).map(|_| s.spawn(worker)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(EvalError::ThreadPanicked)))
                .collect()
        });
        let mut runs = Vec::with_capacity(dataset.queries.len());
        for r in results {
            runs.extend(r?);
        }
        runs.sort_by_key(|(i, _)| *i);
        Ok(SearchSummary {
            runs: runs.into_iter().map(|(_, run)| run).collect(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// One query: search, map chunks to documents (each scored by its best chunk), rank.
    fn search_one(
        &self,
        index: &Index,
        embedder: &dyn Embedder,
        names: &HashMap<String, &str>,
        query: &Query,
        mode: SearchMode,
        depth: usize,
    ) -> Result<QueryRun, EvalError> {
        let started = Instant::now();
        let fused = self
            .pipeline
            .spec
            .retrieve
            .search(
                &Search {
                    pipeline: &self.pipeline.spec.name,
                    index_name: "eval",
                    index,
                    embedder,
                    question: &query.text,
                    filter: &Filter::default(),
                    limit: depth,
                },
                mode,
            )
            .map_err(|source| EvalError::Query {
                query: query.id.clone(),
                source: Box::new(source),
            })?
            .fused;
        let ids: Vec<u32> = fused.iter().map(|f| f.chunk).collect();
        let doc_of: HashMap<u32, String> = index.chunks(&ids)?.into_iter().map(|c| (c.id, c.doc_id)).collect();
        let mut best: HashMap<&str, f32> = HashMap::new();
        for f in &fused {
            let Some(name) = doc_of.get(&f.chunk).and_then(|d| names.get(d)) else {
                continue;
            };
            best.entry(*name).and_modify(|s| *s = s.max(f.score)).or_insert(f.score);
        }
        let scored = best.into_iter().map(|(d, s)| (d.to_owned(), s)).collect();
        let mut ranking = metrics::rank(scored);
        ranking.truncate(RANKING_DEPTH);
        Ok(QueryRun {
            query_id: query.id.clone(),
            ranking,
            millis: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

/// Chunks to retrieve per query so that about 100 distinct documents come back:
/// 100 × the corpus's chunks per document (rounded up), within 100..=1000.
pub fn default_depth(documents: usize, chunks: usize) -> usize {
    let per_doc = chunks.div_ceil(documents.max(1)).max(1);
    (RANKING_DEPTH * per_doc).clamp(RANKING_DEPTH, 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_covers_a_hundred_documents() {
        assert_eq!(default_depth(10, 10), 100);
        // 2.3 chunks per document → 3 → 300.
        assert_eq!(default_depth(1000, 2300), 300);
        assert_eq!(default_depth(1, 50), 1000);
        assert_eq!(default_depth(0, 0), 100);
    }
}
