//! `POST /v1/pipelines/{name}/query`: the request and the answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CacheInfo, GuardrailReport, RouteInfo, Source, Usage};
use crate::pipeline::{Answer, Query};

/// A question for a pipeline.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The question.
    #[schema(min_length = 1, max_length = 4000)]
    pub query: String,
    /// Restrict to these domains (must be within the pipeline's own filter).
    #[serde(default)]
    pub domain: Option<OneOrMany>,
    /// Restrict by metadata: `{"doc_type": ["policy"], "tags": ["leave"]}`.
    #[serde(default)]
    pub filters: Option<BTreeMap<String, Vec<String>>>,
    /// Sources to return (default: the pipeline's `retrieve.top_k`, at most 50).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 50)]
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
    /// `false`: neither serve this query from the answer cache nor store its answer
    /// (default true).
    #[serde(default)]
    pub cache: Option<bool>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Vec<String> {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(list) => list,
        }
    }
}

impl QueryRequest {
    /// The query the pipeline runs (everything but `stream`).
    pub fn into_query(self) -> Query {
        Query {
            text: self.query,
            domains: self.domain.map(Vec::from),
            filters: self.filters.unwrap_or_default(),
            top_k: self.top_k,
            role: self.role,
            session_id: self.session_id,
            user: self.user,
            granted_domains: None,
            account: None,
            skip_cache: self.cache == Some(false),
        }
    }
}

/// An answer with the sources it came from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueryResponse {
    /// The answer's id, for `POST /v1/pipelines/{name}/feedback`.
    pub id: String,
    pub pipeline: String,
    pub answer: String,
    pub sources: Vec<Source>,
    pub route: RouteInfo,
    pub usage: Usage,
    pub latency_ms: f64,
    /// What the guardrails did: `{action: none|masked|blocked, reasons: [...]}`.
    pub guardrail: GuardrailReport,
    /// Whether the answer came from the cache: `{status: exact|semantic|miss|bypass,
    /// similarity, age_s, saved_usd}`.
    pub cache: CacheInfo,
}

impl From<&Answer> for QueryResponse {
    fn from(a: &Answer) -> Self {
        Self {
            id: a.id.clone(),
            pipeline: a.pipeline.clone(),
            answer: a.text.clone(),
            sources: a.sources.iter().map(Source::from).collect(),
            route: RouteInfo::from(&a.route),
            usage: Usage::from(&a.usage),
            latency_ms: a.latency_ms,
            guardrail: GuardrailReport::from(&a.guardrail),
            cache: CacheInfo::from(&a.cache),
        }
    }
}

/// One server-sent event of a streamed answer, as `text/event-stream` carries it.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the stream in the OpenAPI document only")]
pub struct AnswerEvent {
    event: AnswerEventName,
    /// The event's JSON: RouteInfo, `{"text"}`, Source[], Usage, the final answer, or
    /// `{"error": {code, message}}`.
    data: String,
}

/// What an answer event carries, in stream order.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[expect(dead_code, reason = "describes the stream in the OpenAPI document only")]
pub enum AnswerEventName {
    Route,
    Delta,
    Sources,
    Usage,
    Done,
    Error,
}

/// One server-sent event of a streamed chat completion: `data:` with a
/// `chat.completion.chunk`, or `[DONE]` last.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the stream in the OpenAPI document only")]
pub struct ChatEvent {
    data: String,
}
