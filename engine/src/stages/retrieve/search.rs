//! Running the searches: BM25 and the vector index, each filtered inside, fused, then
//! the hits read back with their chunk and document.

use std::collections::HashMap;
use std::time::Instant;

use super::fusion::Fused;
use super::{RetrieveStage, SearchMode};
use crate::providers::ProviderError;
use crate::providers::embed::Embedder;
use crate::stages::Run;
use crate::store::{Index, StoreError};
use crate::telemetry::{record, spans};
use crate::vocab::Filter;

/// One retrieved chunk, with the scores that ranked it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// Citation number used in the answer (`[n]`), from 1.
    pub n: usize,
    pub document_id: String,
    pub title: String,
    /// File path or upload name the document came from.
    pub source: String,
    pub domain: String,
    pub chunk_id: u32,
    pub text: String,
    pub page: Option<u32>,
    pub section: Option<String>,
    /// Fused score (the ranking).
    pub score: f32,
    /// BM25 score, when the keyword search found the chunk.
    pub keyword_score: Option<f32>,
    /// Cosine similarity, when the vector search found the chunk.
    pub vector_score: Option<f32>,
}

impl Hit {
    /// What the guards mask in a returned hit: its text, title and section (a heading
    /// can hold an e-mail address as well as the text under it).
    pub fn texts_mut(&mut self) -> impl Iterator<Item = &mut String> {
        [Some(&mut self.text), Some(&mut self.title), self.section.as_mut()]
            .into_iter()
            .flatten()
    }
}

/// What a query retrieved.
#[derive(Debug, Clone, Default)]
pub struct Retrieved {
    /// Best first, numbered from 1.
    pub hits: Vec<Hit>,
    /// Tokens the query embedding cost.
    pub embedding_tokens: u64,
    /// The query's embedding and how close the index came to it, when a vector search
    /// ran (for drift and coverage).
    pub probe: Option<Probe>,
}

/// A query's embedding, and the similarity of its nearest chunk (passing the filter).
#[derive(Debug, Clone)]
pub struct Probe {
    /// The embedder's id (`local/all-MiniLM-L6-v2`).
    pub embedder: String,
    pub vector: Vec<f32>,
    /// The best vector similarity among the candidates; `None` when nothing matched.
    pub best_similarity: Option<f32>,
}

/// What the searches found: fused, best first; and the tokens the query embedding cost.
#[derive(Debug)]
pub struct Searched {
    pub fused: Vec<Fused>,
    pub tokens: usize,
    pub probe: Option<Probe>,
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    /// The index could not be read, or was built by another embedder.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The query could not be embedded.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// One query's search.
#[derive(Clone, Copy)]
pub struct Search<'a> {
    /// The pipeline searching, for its metrics.
    pub pipeline: &'a str,
    /// The index's name, for spans.
    pub index_name: &'a str,
    pub index: &'a Index,
    pub embedder: &'a dyn Embedder,
    pub question: &'a str,
    /// Only chunks passing it are searched.
    pub filter: &'a Filter,
    /// Most hits.
    pub limit: usize,
}

/// The hybrid search of one query: at most `limit` hits passing the filter, with their
/// chunks and documents; fails when the index or the embedder does.
impl Run for RetrieveStage {
    type Input<'a> = Search<'a>;
    type Output = Retrieved;
    type Error = RetrieveError;

    /// `retrieval {index}`.
    fn span(&self, pipeline: &str, search: &Search<'_>) -> tracing::Span {
        spans::retrieval(pipeline, search.index_name, search.limit)
    }

    fn run(&self, search: Search<'_>) -> Result<Retrieved, RetrieveError> {
        let Searched { fused, tokens, probe } = self.search(&search, SearchMode::Hybrid)?;
        let index = search.index;
        let ids: Vec<u32> = fused.iter().map(|f| f.chunk).collect();
        let chunks: HashMap<u32, _> = index.chunks(&ids)?.into_iter().map(|c| (c.id, c)).collect();
        let mut docs = HashMap::new();
        let mut hits = Vec::with_capacity(fused.len());
        for f in fused {
            let Some(chunk) = chunks.get(&f.chunk) else { continue };
            if !docs.contains_key(&chunk.doc_id) {
                docs.insert(chunk.doc_id.clone(), index.document(&chunk.doc_id)?);
            }
            let Some(Some(doc)) = docs.get(&chunk.doc_id) else {
                continue;
            };
            hits.push(Hit {
                n: hits.len() + 1,
                document_id: doc.id.clone(),
                title: doc.title.clone(),
                source: doc.source.clone(),
                domain: doc.metadata.domain.clone(),
                chunk_id: chunk.id,
                text: chunk.text.clone(),
                page: chunk.page,
                section: chunk.section.clone(),
                score: f.score,
                keyword_score: f.keyword_score,
                vector_score: f.vector_score,
            });
        }
        let found = hits.iter().map(|h| (h.document_id.as_str(), h.chunk_id, h.score));
        spans::retrieved(&tracing::Span::current(), search.question, found);
        Ok(Retrieved {
            hits,
            embedding_tokens: tokens as u64,
            probe,
        })
    }
}

impl RetrieveStage {
    /// The searches `mode` names, each filtered inside, fused, best first, at most
    /// `limit` chunks; and the tokens embedded. `ragline eval --mode` and the
    /// benchmarks measure each half on its own with this.
    ///
    /// # Errors
    /// Store and embedder failures; [`StoreError::EmbedderMismatch`] when the index was
    /// built by another embedder or dimension.
    pub fn search(&self, s: &Search<'_>, mode: SearchMode) -> Result<Searched, RetrieveError> {
        let Search {
            pipeline,
            index,
            embedder,
            question,
            filter,
            limit,
            ..
        } = *s;
        // Each search timed as a stage of its own, and on the retrieval span.
        let done = |name: &'static str, started: Instant| {
            let seconds = started.elapsed().as_secs_f64();
            record::stage(pipeline, name, seconds);
            spans::part_done(name, seconds);
        };
        let candidates = self.candidates.max(limit);
        let keyword = match mode {
            SearchMode::Vector => Vec::new(),
            _ => {
                let started = Instant::now();
                let hits = index.keyword_search(question, filter, candidates)?;
                done("retrieve.keyword", started);
                hits
            }
        };
        let (semantic, tokens, probe) = match mode {
            SearchMode::Keyword => (Vec::new(), 0, None),
            _ => {
                check_embedder(index, embedder)?;
                let span = spans::embeddings(pipeline, "retrieve", embedder.id());
                let started = Instant::now();
                let embedded = span.in_scope(|| embedder.embed(&[question]))?;
                let seconds = started.elapsed().as_secs_f64();
                spans::embedded(&span, embedded.tokens as u64);
                drop(span);
                record::embeddings(pipeline, embedder.id(), seconds, embedded.tokens as u64);
                let vector = embedded
                    .vectors
                    .first()
                    .ok_or_else(|| ProviderError::Inference("the embedder returned no vector for the query".into()))?;
                let started = Instant::now();
                let hits = index.vector_search(vector, filter, candidates)?;
                done("retrieve.vector", started);
                let probe = Probe {
                    embedder: embedder.id().to_owned(),
                    vector: vector.clone(),
                    best_similarity: hits.first().map(|&(_, s)| s),
                };
                (hits, embedded.tokens, Some(probe))
            }
        };
        let started = Instant::now();
        let only = |list: &[(u32, f32)], keyword: bool| -> Vec<Fused> {
            list.iter()
                .map(|&(chunk, s)| Fused {
                    chunk,
                    score: s,
                    keyword_score: keyword.then_some(s),
                    vector_score: (!keyword).then_some(s),
                })
                .collect()
        };
        let mut fused = match mode {
            SearchMode::Hybrid => self.fusion.fuse(&keyword, &semantic),
            SearchMode::Keyword => only(&keyword, true),
            SearchMode::Vector => only(&semantic, false),
        };
        fused.truncate(limit);
        done("retrieve.fusion", started);
        Ok(Searched { fused, tokens, probe })
    }
}

/// Refuse to search an index with vectors from another embedder or dimension: the
/// similarities would be garbage.
///
/// # Errors
/// [`StoreError::EmbedderMismatch`], or a store read failure.
fn check_embedder(index: &Index, embedder: &dyn Embedder) -> Result<(), StoreError> {
    match index.embedder()? {
        Some(stored) if stored.id != embedder.id() || stored.dims != embedder.dims() => {
            Err(StoreError::EmbedderMismatch {
                stored: stored.id,
                stored_dims: stored.dims,
                requested: embedder.id().to_owned(),
                requested_dims: embedder.dims(),
            })
        }
        _ => Ok(()),
    }
}
