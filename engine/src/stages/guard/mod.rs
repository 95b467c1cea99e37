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

use super::retrieve::Hit;
use super::{RunAsync, Stage};
use crate::providers::ProviderError;
use crate::telemetry::spans;
use crate::vocab::{PriceTable, StageUsage};

/// The answer to a refused query when `refusal_message` is not set.
pub const DEFAULT_REFUSAL: &str = "Sorry, I can't help with that request.";

/// The checked guard stage: a pipeline's guards in order, and its refusal.
#[derive(Debug, Clone)]
pub struct GuardStage {
    pub chain: GuardChain,
    /// The answer to a blocked query or answer.
    pub refusal_message: String,
}

impl Default for GuardStage {
    fn default() -> Self {
        Self {
            chain: GuardChain::default(),
            refusal_message: DEFAULT_REFUSAL.to_owned(),
        }
    }
}

impl Stage for GuardStage {
    fn name(&self) -> &'static str {
        "guard"
    }
}

/// A text after the guards: what to go on with, or the refusal to answer instead.
#[derive(Debug, Clone, Default)]
pub struct Guarded {
    /// The text, masked where a guard masked.
    pub text: String,
    /// Set when a guard refused: the answer to give instead.
    pub refusal: Option<String>,
    pub reasons: Vec<GuardReason>,
    /// Text units a Bedrock guardrail billed, when it ran.
    pub units: Option<u64>,
}

/// What the guards check: the query before retrieval, or the answer before it leaves
/// (with the hits returned with it).
pub enum Check<'a> {
    Query(&'a str),
    Answer { text: &'a str, hits: &'a mut [Hit] },
}

/// Check a query, or an answer and mask the hits returned with it (unless it is
/// refused, when they are to be dropped); fails when the Bedrock guardrail cannot be
/// applied.
impl RunAsync for GuardStage {
    type Input<'a> = Check<'a>;
    type Output = Guarded;
    type Error = ProviderError;

    fn label(&self, check: &Check<'_>) -> &'static str {
        match check {
            Check::Query(_) => "guard_query",
            Check::Answer { .. } => "guard_answer",
        }
    }

    async fn run<'a>(&'a self, check: Check<'a>) -> Result<Guarded, ProviderError> {
        let guarded = match check {
            Check::Query(text) => self.check(text, GuardSide::Query).await?,
            Check::Answer { text, hits } => {
                let mut guarded = self.check(text, GuardSide::Answer).await?;
                if guarded.refusal.is_none() && self.chain.applies_to(GuardSide::Answer) {
                    guarded.reasons.extend(self.mask_hits(hits));
                }
                guarded
            }
        };
        let action = match (&guarded.refusal, guarded.reasons.is_empty()) {
            (Some(_), _) => "blocked",
            (None, false) => "masked",
            (None, true) => "none",
        };
        spans::guarded(&tracing::Span::current(), action);
        Ok(guarded)
    }
}

impl GuardStage {
    /// Whether answers are checked: then a streamed answer is held back until it is
    /// complete and checked.
    pub fn checks_answers(&self) -> bool {
        self.chain.applies_to(GuardSide::Answer)
    }

    /// Mask the texts of hits about to be returned; the reasons, counted over all hits.
    pub fn mask_hits(&self, hits: &mut [Hit]) -> Vec<GuardReason> {
        self.chain.mask_sources(hits.iter_mut().flat_map(Hit::texts_mut))
    }

    /// What a Bedrock guardrail call billed as `stage`, priced by `prices`.
    pub fn usage(&self, stage: &str, units: Option<u64>, prices: &PriceTable) -> Option<StageUsage> {
        let (units, bedrock) = (units?, self.chain.bedrock()?);
        Some(StageUsage {
            stage: stage.to_owned(),
            model: bedrock.guardrail.label(),
            guardrail_units: units,
            cost_usd: prices.guardrail_cost(units),
            ..StageUsage::default()
        })
    }

    async fn check(&self, text: &str, side: GuardSide) -> Result<Guarded, ProviderError> {
        if !self.chain.applies_to(side) {
            return Ok(Guarded {
                text: text.to_owned(),
                ..Guarded::default()
            });
        }
        let checked = self.chain.check(text, side).await?;
        let refusal = (checked.action == GuardAction::Blocked)
            .then(|| checked.refusal.unwrap_or_else(|| self.refusal_message.clone()));
        Ok(Guarded {
            text: checked.text,
            refusal,
            reasons: checked.reasons,
            units: checked.bedrock_units,
        })
    }
}
