//! Running the generate stage: the prompt rendered for the routed model, the answer,
//! and what it cost (priced for the model that answered, which may be a fallback).

use std::sync::Arc;
use std::time::Instant;

use super::{GenerateStage, ModelRuntime};
use crate::prompts::{PromptSource, RenderError};
use crate::providers::ProviderError;
use crate::providers::llm::{ContextChunk, Fallback, GenerateRequest, Generation, GenerationStream, Generator as _};
use crate::stages::RunAsync;
use crate::stages::retrieve::Hit;
use crate::stages::route::Decision;
use crate::telemetry::spans;
use crate::vocab::StageUsage;

/// A generation ready to run: the routed model and what it is asked.
pub struct Call {
    pub model: Arc<ModelRuntime>,
    pub request: GenerateRequest,
    /// When the call was prepared, just before it runs.
    pub started: Instant,
}

/// An answer and what it consumed.
#[derive(Debug, Clone)]
pub struct Generated {
    pub text: String,
    /// Set when the routed model failed and a fallback answered.
    pub fallback: Option<Fallback>,
    /// Priced for the model that answered.
    pub usage: StageUsage,
    /// The model that answered: the routed one, or its fallback.
    pub answered_by: Arc<ModelRuntime>,
    /// From the call's start to the whole answer.
    pub seconds: f64,
}

/// Why a generation could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("model `{0}` chosen by the route is not defined")]
    UnknownModel(String),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Answer a call (with the model's retries and fallback); fails when neither the
/// model nor its fallbacks could answer.
impl RunAsync for GenerateStage {
    type Input<'a> = &'a Call;
    type Output = Generated;
    type Error = ProviderError;

    /// `chat {model}`, a GenAI client span.
    fn span(&self, pipeline: &str, call: &&Call) -> tracing::Span {
        let model = &call.model;
        spans::chat(
            pipeline,
            model.provider,
            model.model_id.as_deref().unwrap_or(model.provider),
        )
    }

    async fn run<'a>(&'a self, call: &'a Call) -> Result<Generated, ProviderError> {
        let generation = call.model.generator.generate(&call.request).await?;
        Ok(self.finish(call, generation))
    }
}

impl GenerateStage {
    /// The call `decision` makes for `question` with `hits`: its model, and its prompt
    /// rendered (the pipeline's name is a template variable).
    ///
    /// # Errors
    /// [`GenerateError`] when the model is not defined or the prompt cannot be rendered.
    pub fn prepare(
        &self,
        pipeline: &str,
        decision: &Decision,
        question: &str,
        hits: &[Hit],
    ) -> Result<Call, GenerateError> {
        let model = self
            .models
            .get(&decision.model)
            .cloned()
            .ok_or_else(|| GenerateError::UnknownModel(decision.model.clone()))?;
        let sources: Vec<PromptSource> = hits
            .iter()
            .map(|h| PromptSource {
                n: h.n,
                title: h.title.clone(),
                text: h.text.clone(),
                page: h.page,
                section: h.section.clone(),
            })
            .collect();
        let prompt = decision.prompt.render(pipeline, question, &sources)?;
        let context = hits
            .iter()
            .map(|h| ContextChunk {
                n: h.n,
                title: h.title.clone(),
                text: h.text.clone(),
                score: h.score,
            })
            .collect();
        Ok(Call {
            model,
            request: GenerateRequest {
                question: question.to_owned(),
                prompt,
                context,
            },
            started: Instant::now(),
        })
    }

    /// Answer `call` as a stream of deltas, then the whole generation (see
    /// [`Self::finish`]).
    pub fn run_stream(&self, call: &Call) -> GenerationStream {
        call.model.generator.clone().generate_stream(call.request.clone())
    }

    /// What a finished generation of `call` answered and cost (also written on the
    /// current span, the call's).
    pub fn finish(&self, call: &Call, generation: Generation) -> Generated {
        let answered_by = generation
            .fallback
            .as_ref()
            .and_then(|f| self.models.get(&f.to))
            .unwrap_or(&call.model)
            .clone();
        let span = tracing::Span::current();
        spans::chat_done(
            &span,
            answered_by.model_id.as_deref().unwrap_or(answered_by.provider),
            generation.input_tokens,
            generation.output_tokens,
            generation.fallback.as_ref().map(|f| f.from.as_str()),
        );
        spans::chat_content(&span, &call.request.prompt, &generation.text);
        Generated {
            usage: StageUsage {
                stage: "generate".to_owned(),
                model: answered_by.label(),
                input_tokens: generation.input_tokens,
                output_tokens: generation.output_tokens,
                cost_usd: answered_by
                    .price
                    .cost(generation.input_tokens, generation.output_tokens),
                ..StageUsage::default()
            },
            text: generation.text,
            fallback: generation.fallback,
            answered_by,
            seconds: call.started.elapsed().as_secs_f64(),
        }
    }
}
