//! One query through the stages: retrieve (vector ∥ BM25 → fuse, filtered) →
//! route → prompt → generate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Pipeline;
use crate::prompts::{Assignment, PromptSource, PromptVersion, RenderError};
use crate::providers::ProviderError;
use crate::providers::llm::{ContextChunk, GenerateRequest};
use crate::stages::features::QueryFeatures;
use crate::stages::fusion::Fused;
use crate::stages::retrieve::SearchMode;
use crate::stages::route::{Decision, RouteError, RouteHit, RouteInput};
use crate::store::{Filter, StoreError};

/// Longest accepted question, in characters.
pub const MAX_QUERY_CHARS: usize = 4000;
/// Filter fields a request may use.
const FILTER_FIELDS: &[&str] = &["domain", "department", "doc_type", "tags"];

/// A question for a pipeline.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The question.
    pub query: String,
    /// Restrict to these domains (must be within the pipeline's own filter).
    #[serde(default)]
    pub domain: Option<OneOrMany>,
    /// Restrict by metadata: `{"doc_type": ["policy"], "tags": ["leave"]}`.
    #[serde(default)]
    pub filters: Option<BTreeMap<String, Vec<String>>>,
    /// Sources to return (default: the pipeline's `retrieve.top_k`, at most 50).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Caller's role (e.g. `manager`), passed to routing rules.
    #[serde(default)]
    pub role: Option<String>,
    /// Caller's session, for logs; A/B prompt splits give one session one version.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Caller's user id; when given, A/B prompt splits give this user one version
    /// across sessions (it takes precedence over `session_id`).
    #[serde(default)]
    pub user: Option<String>,
}

impl QueryRequest {
    /// What keeps A/B assignment sticky: the user, else the session, else nothing.
    pub fn sticky_key(&self) -> Option<&str> {
        fn non_empty(s: &Option<String>) -> Option<&str> {
            s.as_deref().filter(|s| !s.is_empty())
        }
        non_empty(&self.user).or_else(|| non_empty(&self.session_id))
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// An answer with the sources it came from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueryResponse {
    pub pipeline: String,
    pub answer: String,
    pub sources: Vec<Source>,
    pub route: RouteInfo,
    pub usage: Usage,
    pub latency_ms: f64,
}

/// One retrieved chunk, with the scores that ranked it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Source {
    /// Citation number used in the answer (`[n]`).
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

/// Which model and prompt answered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouteInfo {
    pub model: String,
    /// Provider behind the model, e.g. `extractive`.
    pub provider: String,
    /// Prompt name, e.g. `hr/answer`.
    pub prompt: String,
    /// The exact prompt text used: name, version and content hash.
    pub prompt_version: PromptVersion,
    /// How the version was chosen: `fixed`, or by an A/B split (`sticky` per user or
    /// session, `random` per request).
    pub assignment: Assignment,
    pub reason: String,
}

/// What the query consumed. The extractive generator counts words, having no tokenizer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub embedding_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("query must not be empty")]
    EmptyQuery,
    #[error("query is {0} characters; the limit is {MAX_QUERY_CHARS}")]
    QueryTooLong(usize),
    #[error("unknown filter field `{0}` (known: domain, department, doc_type, tags)")]
    UnknownFilterField(String),
    #[error("{field} `{value}` is not allowed by pipeline `{pipeline}` (allowed: {allowed})")]
    Forbidden {
        pipeline: String,
        field: String,
        value: String,
        allowed: String,
    },
    #[error("top_k must be between 1 and 50")]
    BadTopK,
    #[error("model `{0}` chosen by the route is not defined")]
    UnknownModel(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("routing failed: {0}")]
    Route(#[from] RouteError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Pipeline {
    /// Answer one question.
    ///
    /// # Errors
    /// [`QueryError`]: bad requests (empty, too long, bad filters, forbidden domain) and
    /// failures of the store, embedder or generator.
    pub async fn query(self: &Arc<Self>, request: QueryRequest) -> Result<QueryResponse, QueryError> {
        let started = Instant::now();
        let question = request.query.trim().to_owned();
        if question.is_empty() {
            return Err(QueryError::EmptyQuery);
        }
        let chars = question.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError::QueryTooLong(chars));
        }
        let top_k = match request.top_k {
            None => self.spec.retrieve.top_k,
            Some(k) if (1..=50).contains(&k) => k,
            Some(_) => return Err(QueryError::BadTopK),
        };
        let filter = self.effective_filter(&request)?;

        let this = self.clone();
        let q = question.clone();
        let domains = requested_domains(&request);
        let role = request.role.clone().unwrap_or_default();
        let key = request.sticky_key().map(str::to_owned);
        let (hits, embedding_tokens, decision) = tokio::task::spawn_blocking(move || {
            let (hits, tokens) = this.retrieve(&q, &filter, top_k)?;
            let (_, decision) = this.decide_route(&q, &hits, domains, role, key.as_deref())?;
            Ok::<_, QueryError>((hits, tokens, decision))
        })
        .await
        .map_err(|e| QueryError::Internal(e.to_string()))??;

        let generator = self
            .spec
            .generate
            .models
            .get(&decision.model)
            .ok_or_else(|| QueryError::UnknownModel(decision.model.clone()))?;
        let prompt_sources: Vec<PromptSource> = hits
            .iter()
            .map(|s| PromptSource {
                n: s.n,
                title: s.title.clone(),
                text: s.text.clone(),
                page: s.page,
                section: s.section.clone(),
            })
            .collect();
        let prompt = decision.prompt.render(&self.spec.name, &question, &prompt_sources)?;
        let context = hits
            .iter()
            .map(|s| ContextChunk {
                n: s.n,
                title: s.title.clone(),
                text: s.text.clone(),
                score: s.score,
            })
            .collect();
        let generation = generator
            .generate(&GenerateRequest {
                question,
                prompt,
                context,
            })
            .await?;

        Ok(QueryResponse {
            pipeline: self.spec.name.clone(),
            answer: generation.text,
            sources: hits,
            route: RouteInfo {
                model: decision.model.clone(),
                provider: generator.name().to_owned(),
                prompt: decision.prompt.name().to_owned(),
                prompt_version: decision.prompt.id.clone(),
                assignment: decision.assignment,
                reason: decision.reason,
            },
            usage: Usage {
                embedding_tokens: embedding_tokens as u64,
                input_tokens: generation.input_tokens,
                output_tokens: generation.output_tokens,
                cost_usd: 0.0,
            },
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// The route for a question and its hits, with what the route script saw. `key`
    /// (user or session) keeps A/B prompt splits sticky.
    ///
    /// # Errors
    /// [`QueryError::Route`] when the script fails and the pipeline says `on_error: fail`.
    pub fn decide_route(
        &self,
        question: &str,
        hits: &[Source],
        domains: Vec<String>,
        role: String,
        key: Option<&str>,
    ) -> Result<(RouteInput, Decision), QueryError> {
        let input = RouteInput {
            features: QueryFeatures::of(question),
            text: question.to_owned(),
            domains,
            role,
            pipeline: self.spec.name.clone(),
            hits: hits
                .iter()
                .map(|h| RouteHit {
                    domain: h.domain.clone(),
                    title: h.title.clone(),
                    score: f64::from(h.score),
                })
                .collect(),
        };
        let decision = self.spec.route.decide(&input, key)?;
        Ok((input, decision))
    }

    /// Retrieve for `request` and decide its route, without generating: what
    /// `ragline route` prints (blocking).
    ///
    /// # Errors
    /// As [`Pipeline::query`], before generation.
    pub fn dry_run_route(&self, request: &QueryRequest) -> Result<(RouteInput, Decision), QueryError> {
        let filter = self.effective_filter(request)?;
        let (hits, _) = self.retrieve(request.query.trim(), &filter, self.spec.retrieve.top_k)?;
        self.decide_route(
            request.query.trim(),
            &hits,
            requested_domains(request),
            request.role.clone().unwrap_or_default(),
            request.sticky_key(),
        )
    }

    /// The pipeline's filter narrowed by the request; never widened.
    fn effective_filter(&self, request: &QueryRequest) -> Result<Filter, QueryError> {
        let mut requested: BTreeMap<String, Vec<String>> = request.filters.clone().unwrap_or_default();
        if request.domain.is_some() {
            requested.insert("domain".to_owned(), requested_domains(request));
        }
        let mut filter = self.spec.retrieve.filter.clone();
        for (field, values) in requested {
            if !FILTER_FIELDS.contains(&field.as_str()) {
                return Err(QueryError::UnknownFilterField(field));
            }
            if values.is_empty() {
                continue;
            }
            if let Some(allowed) = filter.fields.get(&field)
                && let Some(bad) = values.iter().find(|v| !allowed.contains(v))
            {
                return Err(QueryError::Forbidden {
                    pipeline: self.spec.name.clone(),
                    field,
                    value: bad.clone(),
                    allowed: allowed.join(", "),
                });
            }
            filter.fields.insert(field, values);
        }
        Ok(filter)
    }

    /// Search the pipeline's index: the searches `mode` names, each filtered inside,
    /// fused, best first, at most `limit` hits. Also returns the tokens embedded.
    ///
    /// # Errors
    /// Store and embedder failures.
    pub fn search(
        &self,
        question: &str,
        filter: &Filter,
        limit: usize,
        mode: SearchMode,
    ) -> Result<(Vec<Fused>, usize), QueryError> {
        let index = self.index()?;
        let stage = &self.spec.retrieve;
        let candidates = stage.candidates.max(limit);
        let keyword = match mode {
            SearchMode::Vector => Vec::new(),
            _ => index.keyword_search(question, filter, candidates)?,
        };
        let (semantic, tokens) = match mode {
            SearchMode::Keyword => (Vec::new(), 0),
            _ => {
                let embedded = self.embedder()?.embed(&[question])?;
                let vector = embedded
                    .vectors
                    .first()
                    .ok_or_else(|| QueryError::Internal("embedder returned no vector".into()))?;
                (index.vector_search(vector, filter, candidates)?, embedded.tokens)
            }
        };
        let mut fused = match mode {
            SearchMode::Hybrid => stage.fusion.fuse(&keyword, &semantic),
            SearchMode::Keyword => keyword
                .iter()
                .map(|&(chunk, s)| Fused {
                    chunk,
                    score: s,
                    keyword_score: Some(s),
                    vector_score: None,
                })
                .collect(),
            SearchMode::Vector => semantic
                .iter()
                .map(|&(chunk, s)| Fused {
                    chunk,
                    score: s,
                    keyword_score: None,
                    vector_score: Some(s),
                })
                .collect(),
        };
        fused.truncate(limit);
        Ok((fused, tokens))
    }

    /// Hybrid search for a query, with each hit's chunk and document.
    fn retrieve(&self, question: &str, filter: &Filter, top_k: usize) -> Result<(Vec<Source>, usize), QueryError> {
        let index = self.index()?;
        let (fused, embedding_tokens) = self.search(question, filter, top_k, SearchMode::Hybrid)?;
        let ids: Vec<u32> = fused.iter().map(|f| f.chunk).collect();
        let chunks: HashMap<u32, _> = index.chunks(&ids)?.into_iter().map(|c| (c.id, c)).collect();
        let mut docs = HashMap::new();
        let mut sources = Vec::with_capacity(fused.len());
        for f in fused {
            let Some(chunk) = chunks.get(&f.chunk) else { continue };
            if !docs.contains_key(&chunk.doc_id) {
                let doc = index.document(&chunk.doc_id)?;
                docs.insert(chunk.doc_id.clone(), doc);
            }
            let Some(Some(doc)) = docs.get(&chunk.doc_id) else {
                continue;
            };
            sources.push(Source {
                n: sources.len() + 1,
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
        Ok((sources, embedding_tokens))
    }
}

/// The domains a request names, if any.
fn requested_domains(request: &QueryRequest) -> Vec<String> {
    match &request.domain {
        None => Vec::new(),
        Some(OneOrMany::One(d)) => vec![d.clone()],
        Some(OneOrMany::Many(ds)) => ds.clone(),
    }
}
