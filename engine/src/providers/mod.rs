//! What ragline calls outside itself: embedding and answer models, the Bedrock
//! guardrail, and the document stores (a directory, S3). Only this module talks to
//! model runtimes and (through [`aws`]) to the AWS SDK.
pub mod aws;
pub mod docstore;
pub mod embed;
pub mod guardrail;
pub mod llm;
pub mod openai_http;
pub mod resilience;

use std::time::Duration;

pub use resilience::ErrorClass;

/// What went wrong in a provider, classed (see [`ProviderError::class`]) so callers
/// know whether a retry or a fallback model can help.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The model's files are missing or unusable, or the provider is not set up
    /// (e.g. no AWS region); the message says how to fix it. Permanent.
    #[error("model unavailable: {0}")]
    ModelUnavailable(String),
    /// The input cannot be processed (e.g. empty batch, wrong dimension). Permanent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Inference failed inside a local runtime. Permanent.
    #[error("inference failed: {0}")]
    Inference(String),
    /// The provider refused for now: throttling, quota, model not ready. Transient.
    #[error("{provider} throttled the request: {message}")]
    Throttled { provider: &'static str, message: String },
    /// The provider failed or could not be reached: 5xx, connection refused, reset. Transient.
    #[error("{provider} is unavailable: {message}")]
    Unavailable { provider: &'static str, message: String },
    /// One call took longer than its `timeout_ms`. Transient.
    #[error("{provider} did not answer within {} ms", .after.as_millis())]
    Timeout { provider: &'static str, after: Duration },
    /// Credentials were refused or lack permission for the model. Permanent.
    #[error("{provider} denied access: {message}")]
    AccessDenied { provider: &'static str, message: String },
    /// The provider rejected the request as invalid (bad model id, bad parameter,
    /// unknown resource). Permanent.
    #[error("{provider} rejected the request: {message}")]
    Rejected { provider: &'static str, message: String },
    /// The prompt is longer than the model's context window.
    #[error(
        "{provider}: the prompt is longer than the model accepts ({message}); lower retrieve.top_k or the chunk size"
    )]
    ContextTooLong { provider: &'static str, message: String },
    /// A transient error persisted through every retry the policy allows.
    #[error("gave up after {attempts} attempts in {elapsed_ms} ms: {last}")]
    RetriesExhausted {
        attempts: u32,
        elapsed_ms: u64,
        last: Box<ProviderError>,
    },
}

impl ProviderError {
    /// Whether a retry, a fallback model, or neither can help.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Throttled { .. } | Self::Unavailable { .. } | Self::Timeout { .. } => ErrorClass::Transient,
            Self::ContextTooLong { .. } => ErrorClass::ContextTooLong,
            Self::RetriesExhausted { last, .. } => last.class(),
            Self::ModelUnavailable(_)
            | Self::InvalidInput(_)
            | Self::Inference(_)
            | Self::AccessDenied { .. }
            | Self::Rejected { .. } => ErrorClass::Permanent,
        }
    }

    /// What failed, as metrics name it: `throttled`, `unavailable`, `timeout`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ModelUnavailable(_) => "model_unavailable",
            Self::InvalidInput(_) => "invalid_input",
            Self::Inference(_) => "inference",
            Self::Throttled { .. } => "throttled",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::AccessDenied { .. } => "access_denied",
            Self::Rejected { .. } => "rejected",
            Self::ContextTooLong { .. } => "context_too_long",
            Self::RetriesExhausted { last, .. } => last.kind(),
        }
    }

    /// The error that decided the outcome: the last one behind [`ProviderError::RetriesExhausted`].
    pub fn root(&self) -> &ProviderError {
        match self {
            Self::RetriesExhausted { last, .. } => last.root(),
            other => other,
        }
    }
}
