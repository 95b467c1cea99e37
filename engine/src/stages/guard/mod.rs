//! The guard stage: checks on the query before retrieval and generation, and on the
//! answer (and the sources returned with it) before they leave. One file per guard:
//!
//! - `pii`: masks (or blocks) US social security numbers, e-mail addresses and US phone numbers;
//! - `content_filter`: a deny list of terms and patterns, blocked or masked;
//! - `topics`: denied topics, refused with the pipeline's refusal message;
//! - `bedrock`: Amazon Bedrock Guardrails (the call is [`crate::providers::guardrail`]'s).
//!
//! `config` is `guardrails:` in the pipeline file and compiles it; `chain` runs a
//! pipeline's guards in order; `report` is what a response says about them;
//! `counters` counts interventions per pipeline.

pub mod bedrock;
pub mod chain;
pub mod config;
pub mod content_filter;
pub mod counters;
pub mod local;
pub mod phrases;
pub mod pii;
pub mod report;
pub mod topics;

pub use chain::{Checked, GuardChain};
pub use config::GuardrailsConfig;
pub use counters::{GuardCounters, InterventionCounts};
pub(crate) use local::standalone;
pub use local::{LocalGuard, Sides, Verdict};
pub use report::{GuardAction, GuardReason, GuardSide, GuardrailReport};

/// The answer to a refused query when `refusal_message` is not set.
pub const DEFAULT_REFUSAL: &str = "Sorry, I can't help with that request.";

/// The checked guardrails of a pipeline.
#[derive(Debug, Clone)]
pub struct GuardrailStage {
    pub chain: GuardChain,
    /// The answer to a blocked query or answer.
    pub refusal_message: String,
}

impl Default for GuardrailStage {
    fn default() -> Self {
        Self {
            chain: GuardChain::default(),
            refusal_message: DEFAULT_REFUSAL.to_owned(),
        }
    }
}
