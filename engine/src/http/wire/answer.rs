//! The parts of an answer: its sources, its route and its usage.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{pipeline, prompts, stages, vocab};

/// One retrieved chunk, with the scores that ranked it.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<&stages::retrieve::Hit> for Source {
    fn from(h: &stages::retrieve::Hit) -> Self {
        Self {
            n: h.n,
            document_id: h.document_id.clone(),
            title: h.title.clone(),
            source: h.source.clone(),
            domain: h.domain.clone(),
            chunk_id: h.chunk_id,
            text: h.text.clone(),
            page: h.page,
            section: h.section.clone(),
            score: h.score,
            keyword_score: h.keyword_score,
            vector_score: h.vector_score,
        }
    }
}

/// Which model and prompt answered. `model` and `provider` name the model that
/// answered: the routed one, or its fallback (then `fallback` says why).
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackInfo>,
}

impl From<&pipeline::RouteInfo> for RouteInfo {
    fn from(r: &pipeline::RouteInfo) -> Self {
        Self {
            model: r.model.clone(),
            provider: r.provider.clone(),
            prompt: r.prompt.clone(),
            prompt_version: PromptVersion::from(&r.prompt_version),
            assignment: r.assignment.into(),
            reason: r.reason.clone(),
            fallback: r.fallback.as_ref().map(|f| FallbackInfo {
                from: f.from.clone(),
                reason: f.reason.clone(),
            }),
        }
    }
}

/// The routed model that could not answer, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FallbackInfo {
    /// The model the route chose.
    pub from: String,
    /// Its error, e.g. `bedrock throttled the request: ...`.
    pub reason: String,
}

/// Which prompt text answered: name, version and content hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromptVersion {
    /// Prompt name, e.g. `hr/answer`.
    pub name: String,
    /// Version, e.g. `v2` (the file `prompts/hr/answer/v2.md`); null for a single-file prompt.
    pub version: Option<String>,
    /// First 12 hex digits of the sha256 of the file: the exact text used.
    pub hash: String,
}

impl From<&prompts::PromptVersion> for PromptVersion {
    fn from(p: &prompts::PromptVersion) -> Self {
        Self {
            name: p.name.clone(),
            version: p.version.clone(),
            hash: p.hash.clone(),
        }
    }
}

/// How the answering prompt version was chosen.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The route names one version.
    Fixed,
    /// An A/B split, by the hash of the request's `user` or `session_id`.
    Sticky,
    /// An A/B split, drawn for this request (it carries no user or session).
    Random,
}

impl From<prompts::Assignment> for Assignment {
    fn from(a: prompts::Assignment) -> Self {
        match a {
            prompts::Assignment::Fixed => Self::Fixed,
            prompts::Assignment::Sticky => Self::Sticky,
            prompts::Assignment::Random => Self::Random,
        }
    }
}

/// What the query consumed and cost, in total and per stage. Token counts are the
/// providers' own (the extractive generator counts words and costs nothing); costs come
/// from the price table (`pricing.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    pub embedding_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Guardrail text units (Bedrock Guardrails bills per 1,000 characters).
    pub guardrail_units: u64,
    pub cost_usd: f64,
    /// The `version` of the price table the cost was computed with.
    pub pricing_version: String,
    /// The same, per stage, in the order the stages ran.
    pub stages: Vec<StageUsage>,
}

impl From<&vocab::Usage> for Usage {
    fn from(u: &vocab::Usage) -> Self {
        Self {
            embedding_tokens: u.embedding_tokens,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            guardrail_units: u.guardrail_units,
            cost_usd: u.cost_usd,
            pricing_version: u.pricing_version.clone(),
            stages: u.stages.iter().map(StageUsage::from).collect(),
        }
    }
}

/// What one stage consumed and cost.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageUsage {
    /// `retrieve` (the query embedding), `generate`, `guardrail_input`, `guardrail_output`.
    pub stage: String,
    /// The model behind the stage, e.g. `local/all-MiniLM-L6-v2` or
    /// `bedrock/amazon.nova-2-lite-v1:0`.
    pub model: String,
    pub embedding_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub guardrail_units: u64,
    pub cost_usd: f64,
}

impl From<&vocab::StageUsage> for StageUsage {
    fn from(s: &vocab::StageUsage) -> Self {
        Self {
            stage: s.stage.clone(),
            model: s.model.clone(),
            embedding_tokens: s.embedding_tokens,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            guardrail_units: s.guardrail_units,
            cost_usd: s.cost_usd,
        }
    }
}

/// How an answer met the cache.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// The same question (normalized) was answered before in this scope.
    Exact,
    /// A question that asks the same thing, and passed every check, was answered in this scope.
    Semantic,
    /// Generated now (and stored, when it may be served again).
    Miss,
    /// The cache was not consulted: the pipeline has none, the request said
    /// `"cache": false`, the guards refused the question, or the backend is down.
    Bypass,
}

/// Whether the answer came from the cache.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CacheInfo {
    pub status: CacheStatus,
    /// Cosine similarity of the served question to this one (1 for `exact`); on a
    /// miss, the nearest cached question's.
    pub similarity: Option<f32>,
    /// Age of the served entry in seconds.
    pub age_s: Option<f64>,
    /// USD this answer did not spend: the cached answer's generation and answer guards.
    pub saved_usd: f64,
}

impl From<&stages::cache::Outcome> for CacheInfo {
    fn from(o: &stages::cache::Outcome) -> Self {
        use stages::cache::Status;
        Self {
            status: match o.status {
                Status::Exact => CacheStatus::Exact,
                Status::Semantic => CacheStatus::Semantic,
                Status::Miss => CacheStatus::Miss,
                Status::Bypass => CacheStatus::Bypass,
            },
            similarity: o.similarity,
            age_s: o.age_s,
            saved_usd: o.saved_usd,
        }
    }
}
