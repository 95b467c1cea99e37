//! A query through the pipeline: what is asked ([`Query`]), what comes back
//! ([`Answer`]) and why a query fails ([`QueryError`]). `run` is the executor,
//! `stream` its streaming form.

mod cache;
mod done;
mod run;
mod stream;

use std::collections::BTreeMap;

pub use self::done::now_ms;
pub use self::stream::{QueryEvent, QueryStream};
use super::spend::Account;
use crate::prompts::{Assignment, PromptVersion, RenderError};
use crate::providers::ProviderError;
use crate::stages::cache::Outcome;
use crate::stages::generate::GenerateError;
use crate::stages::guard::GuardrailReport;
use crate::stages::retrieve::{Hit, RetrieveError};
use crate::stages::route::RouteError;
use crate::store::StoreError;
use crate::vocab::Usage;
use crate::vocab::metadata::FILTER_FIELDS;

pub use crate::vocab::MAX_QUERY_CHARS;

/// `route.provider` of a query the guardrails refused before any model was called.
pub const BLOCKED_PROVIDER: &str = "guardrail";

/// A question for a pipeline.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The question.
    pub text: String,
    /// Restrict to these domains (within the pipeline's own filter).
    pub domains: Option<Vec<String>>,
    /// Restrict by metadata: `doc_type: [policy]`, `tags: [leave]`.
    pub filters: BTreeMap<String, Vec<String>>,
    /// Sources to return (default: the pipeline's `retrieve.top_k`; 1 to 50).
    pub top_k: Option<usize>,
    /// The caller's role, for routing rules.
    pub role: Option<String>,
    /// The caller's session, for logs; A/B prompt splits give one session one version.
    pub session_id: Option<String>,
    /// The caller's user id; A/B prompt splits give one user one version across
    /// sessions (it takes precedence over the session).
    pub user: Option<String>,
    /// The domains the caller's API key may read (`None`: every domain). They narrow
    /// the pipeline's filter inside both searches, like the pipeline's own filter.
    pub granted_domains: Option<Vec<String>>,
    /// The API key that asks and its role, whose budgets the answer counts against.
    pub account: Option<Account>,
    /// Neither serve this query from the cache nor store its answer (an evaluation,
    /// a benchmark, or a caller that wants a fresh answer).
    pub skip_cache: bool,
}

impl Query {
    /// A query for `text` with every option at its default.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// What keeps A/B assignment sticky: the user, else the session, else nothing.
    pub fn sticky_key(&self) -> Option<&str> {
        fn non_empty(s: &Option<String>) -> Option<&str> {
            s.as_deref().filter(|s| !s.is_empty())
        }
        non_empty(&self.user).or_else(|| non_empty(&self.session_id))
    }
}

/// An answer with the sources it came from.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer's id: feedback names it.
    pub id: String,
    pub pipeline: String,
    pub text: String,
    pub sources: Vec<Hit>,
    pub route: RouteInfo,
    pub usage: Usage,
    pub latency_ms: f64,
    /// What the guardrails did.
    pub guardrail: GuardrailReport,
    /// Whether it came from the cache.
    pub cache: Outcome,
}

/// Which model and prompt answered. `model` and `provider` name the model that
/// answered: the routed one, or its fallback (then `fallback` says why).
#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub model: String,
    /// Provider behind the model, e.g. `extractive`.
    pub provider: String,
    /// Prompt name, e.g. `hr/answer`.
    pub prompt: String,
    /// The exact prompt text used: name, version and content hash.
    pub prompt_version: PromptVersion,
    /// How the version was chosen.
    pub assignment: Assignment,
    pub reason: String,
    /// Set when the routed model failed and `model` is the fallback that answered.
    pub fallback: Option<FallbackInfo>,
}

impl RouteInfo {
    /// The route of a query refused before routing: no model, no prompt.
    fn blocked() -> RouteInfo {
        RouteInfo {
            model: "none".to_owned(),
            provider: BLOCKED_PROVIDER.to_owned(),
            prompt: String::new(),
            prompt_version: PromptVersion {
                name: String::new(),
                version: None,
                hash: String::new(),
            },
            assignment: Assignment::Fixed,
            reason: "refused by the guardrails before retrieval; no model was called".to_owned(),
            fallback: None,
        }
    }
}

/// The routed model that could not answer, and why.
#[derive(Debug, Clone)]
pub struct FallbackInfo {
    /// The model the route chose.
    pub from: String,
    /// Its error, e.g. `bedrock throttled the request: ...`.
    pub reason: String,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("query must not be empty")]
    EmptyQuery,
    #[error("query is {0} characters; the limit is {MAX_QUERY_CHARS}")]
    QueryTooLong(usize),
    #[error("unknown filter field `{0}` (known: {known})", known = FILTER_FIELDS.join(", "))]
    UnknownFilterField(String),
    #[error("{field} `{value}` is not allowed by pipeline `{pipeline}` (allowed: {allowed})")]
    Forbidden {
        pipeline: String,
        field: String,
        value: String,
        allowed: String,
    },
    #[error("domain `{domain}` is outside what the API key may read (granted: {granted})")]
    DomainNotGranted { domain: String, granted: String },
    #[error("the API key may read none of pipeline `{pipeline}`'s domains (granted: {granted}; pipeline: {own})")]
    NothingGranted {
        pipeline: String,
        granted: String,
        own: String,
    },
    #[error("top_k must be between 1 and 50")]
    BadTopK,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("model `{0}` chosen by the route is not defined")]
    UnknownModel(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("routing failed: {0}")]
    Route(#[from] RouteError),
    /// The model's stream ended before its final event.
    #[error("the model stopped before the answer was complete")]
    Incomplete,
    /// A worker thread of the query panicked or was cancelled.
    #[error("a query worker stopped: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

impl From<RetrieveError> for QueryError {
    fn from(e: RetrieveError) -> Self {
        match e {
            RetrieveError::Store(e) => e.into(),
            RetrieveError::Provider(e) => e.into(),
        }
    }
}

impl From<GenerateError> for QueryError {
    fn from(e: GenerateError) -> Self {
        match e {
            GenerateError::UnknownModel(m) => QueryError::UnknownModel(m),
            GenerateError::Render(e) => e.into(),
        }
    }
}
