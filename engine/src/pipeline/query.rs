//! One query through the stages: retrieve (vector ∥ BM25 → fuse, filtered) →
//! route → prompt → generate, with usage and cost per stage. Streaming is in `stream.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Pipeline;
use crate::prompts::{Assignment, PromptSource, PromptVersion, RenderError};
use crate::providers::ProviderError;
use crate::providers::embed::Embedder;
use crate::providers::llm::{ContextChunk, Fallback, GenerateRequest, Generation};
use crate::stages::generate::ModelRuntime;
use crate::stages::guard::GuardrailReport;
use crate::stages::retrieve::SearchMode;
use crate::stages::retrieve::fusion::Fused;
use crate::stages::route::features::QueryFeatures;
use crate::stages::route::{Decision, RouteError, RouteHit, RouteInput};
use crate::store::{Filter, Index, StoreError};

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
    /// Stream the answer as server-sent events (`route`, `delta`..., `sources`, `usage`, `done`).
    #[serde(default)]
    pub stream: bool,
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
    /// What the guardrails did: `{action: none|masked|blocked, reasons: [...]}`.
    #[serde(default)]
    pub guardrail: GuardrailReport,
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

/// Which model and prompt answered. `model` and `provider` name the model that
/// answered: the routed one, or its fallback (then `fallback` says why).
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
    /// Set when the routed model failed and `model` is the fallback that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackInfo>,
}

/// The routed model that could not answer, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FallbackInfo {
    /// The model the route chose.
    pub from: String,
    /// Its error, e.g. `bedrock throttled the request: ...`.
    pub reason: String,
}

/// What the query consumed and cost, in total and per stage. Token counts are the
/// providers' own (the extractive generator counts words and costs nothing); costs come
/// from the price table (`pricing.yaml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub embedding_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Guardrail text units (Bedrock Guardrails bills per 1,000 characters).
    #[serde(default)]
    pub guardrail_units: u64,
    pub cost_usd: f64,
    /// The `version` of the price table the cost was computed with.
    #[serde(default)]
    pub pricing_version: String,
    /// The same, per stage, in the order the stages ran.
    #[serde(default)]
    pub stages: Vec<StageUsage>,
}

/// What one stage consumed and cost.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StageUsage {
    /// `retrieve` (the query embedding), `generate`, `guardrail_input`, `guardrail_output`.
    pub stage: String,
    /// The model behind the stage, e.g. `local/all-MiniLM-L6-v2` or
    /// `bedrock/amazon.nova-2-lite-v1:0`.
    pub model: String,
    #[serde(default)]
    pub embedding_tokens: u64,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub guardrail_units: u64,
    pub cost_usd: f64,
}

impl Usage {
    /// Add a stage's usage to the totals and the breakdown.
    pub fn add(&mut self, stage: StageUsage) {
        self.embedding_tokens += stage.embedding_tokens;
        self.input_tokens += stage.input_tokens;
        self.output_tokens += stage.output_tokens;
        self.guardrail_units += stage.guardrail_units;
        self.cost_usd += stage.cost_usd;
        self.stages.push(stage);
    }
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

/// Everything a query has before it generates: what [`Pipeline::query`] and
/// [`Pipeline::query_stream`] share.
pub(super) struct Prepared {
    pub started: Instant,
    pub hits: Vec<Source>,
    pub embedding_tokens: u64,
    pub decision: Decision,
    /// The routed model.
    pub model: Arc<ModelRuntime>,
    pub request: GenerateRequest,
}

impl Prepared {
    /// The route as reported: the model that answered (the routed one unless
    /// `fallback` says otherwise).
    pub fn route_info(&self, fallback: Option<&Fallback>) -> RouteInfo {
        let d = &self.decision;
        RouteInfo {
            model: fallback.map_or_else(|| d.model.clone(), |f| f.to.clone()),
            provider: fallback.map_or(self.model.provider, |f| f.provider).to_owned(),
            prompt: d.prompt.name().to_owned(),
            prompt_version: d.prompt.id.clone(),
            assignment: d.assignment,
            reason: d.reason.clone(),
            fallback: fallback.map(|f| FallbackInfo {
                from: f.from.clone(),
                reason: f.reason.clone(),
            }),
        }
    }
}

impl Pipeline {
    /// Validate, retrieve, route and render the prompt.
    pub(super) async fn prepare(self: &Arc<Self>, request: QueryRequest) -> Result<Prepared, QueryError> {
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

        let model = self
            .spec
            .generate
            .models
            .get(&decision.model)
            .cloned()
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
        Ok(Prepared {
            started,
            hits,
            embedding_tokens: embedding_tokens as u64,
            decision,
            model,
            request: GenerateRequest {
                question,
                prompt,
                context,
            },
        })
    }

    /// The response for a prepared query and its generation, with usage and cost per stage.
    pub(super) fn finish(&self, prepared: Prepared, generation: Generation) -> QueryResponse {
        let route = prepared.route_info(generation.fallback.as_ref());
        let answered_by = generation
            .fallback
            .as_ref()
            .and_then(|f| self.spec.generate.models.get(&f.to))
            .unwrap_or(&prepared.model);
        let embed = &self.spec.ingest.embed;
        let mut usage = Usage {
            pricing_version: self.spec.pricing.version.clone(),
            ..Usage::default()
        };
        usage.add(StageUsage {
            stage: "retrieve".to_owned(),
            model: embed.id(),
            embedding_tokens: prepared.embedding_tokens,
            cost_usd: self
                .spec
                .pricing
                .embedding_cost(embed.model_id(), prepared.embedding_tokens),
            ..StageUsage::default()
        });
        usage.add(StageUsage {
            stage: "generate".to_owned(),
            model: answered_by.label(),
            input_tokens: generation.input_tokens,
            output_tokens: generation.output_tokens,
            cost_usd: answered_by
                .price
                .cost(generation.input_tokens, generation.output_tokens),
            ..StageUsage::default()
        });
        QueryResponse {
            pipeline: self.spec.name.clone(),
            answer: generation.text,
            sources: prepared.hits,
            route,
            usage,
            latency_ms: prepared.started.elapsed().as_secs_f64() * 1000.0,
            guardrail: GuardrailReport::default(),
        }
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
                let embedder = self.embedder()?;
                check_embedder(&index, embedder.as_ref())?;
                let embedded = embedder.embed(&[question])?;
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

/// The domains a request names, if any.
fn requested_domains(request: &QueryRequest) -> Vec<String> {
    match &request.domain {
        None => Vec::new(),
        Some(OneOrMany::One(d)) => vec![d.clone()],
        Some(OneOrMany::Many(ds)) => ds.clone(),
    }
}
