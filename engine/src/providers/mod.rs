//! Embedding and answer providers. Only this module talks to model runtimes.
pub mod embed;
pub mod llm;

/// What went wrong in a provider, classed so callers know whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The model's files are missing or unusable; the message says how to fix it.
    #[error("model unavailable: {0}")]
    ModelUnavailable(String),
    /// The input cannot be processed (e.g. empty batch, wrong dimension). Retrying will not help.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Inference failed inside the runtime.
    #[error("inference failed: {0}")]
    Inference(String),
}
