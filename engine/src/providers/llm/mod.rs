//! Answer generators. One trait; one file per provider.
//!
//! - `extractive`: quotes retrieved sentences; offline, free.
//! - `bedrock`: Amazon Bedrock Converse / ConverseStream (Nova, Claude, ...).
//! - `openai`: any OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp).
//!
//! [`crate::providers::resilience::Resilient`] wraps each of them with timeouts,
//! retries and a fallback model.

pub mod bedrock;
pub mod extractive;
pub mod openai;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt, stream};

use super::ProviderError;

/// A retrieved chunk as a generator sees it.
#[derive(Debug, Clone)]
pub struct ContextChunk {
    /// Citation number, from 1, in retrieval order.
    pub n: usize,
    pub title: String,
    pub text: String,
    /// Fused retrieval score.
    pub score: f32,
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub question: String,
    /// The rendered prompt (question and context), for models that read prompts.
    pub prompt: String,
    pub context: Vec<ContextChunk>,
}

/// Sampling settings of a remote model; `None` leaves the model's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferenceSettings {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stop_sequences: Vec<String>,
}

/// An answer and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    /// Citation numbers the answer uses.
    pub cited: Vec<usize>,
    /// Tokens the model read, as the provider reports them (words for `extractive`).
    pub input_tokens: u64,
    /// Tokens the model wrote, as the provider reports them (words for `extractive`).
    pub output_tokens: u64,
    /// Set when the routed model failed and a fallback model answered instead.
    pub fallback: Option<Fallback>,
}

/// A fallback that happened: which model was routed, which answered, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Fallback {
    /// The model the route chose (a `generate.models` name).
    pub from: String,
    /// The model that answered (a `generate.models` name).
    pub to: String,
    /// Provider of the model that answered, e.g. `extractive`.
    pub provider: &'static str,
    /// Why `from` could not answer.
    pub reason: String,
}

/// One event of a streamed generation.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    /// The next piece of answer text.
    Delta(String),
    /// The end: the whole answer (the deltas concatenated), citations and token counts.
    Done(Generation),
}

/// Boxed future, so generators can be trait objects.
pub type GenerateFuture<'a> = Pin<Box<dyn Future<Output = Result<Generation, ProviderError>> + Send + 'a>>;

/// A streamed generation: deltas, then one [`GenerationEvent::Done`]; or an error, after
/// which the stream ends.
pub type GenerationStream = Pin<Box<dyn Stream<Item = Result<GenerationEvent, ProviderError>> + Send>>;

/// An answer model.
pub trait Generator: Send + Sync + 'static {
    /// Provider name shown in responses, e.g. `extractive`.
    fn name(&self) -> &'static str;

    /// Answer one request.
    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> GenerateFuture<'a>;

    /// Answer one request as a stream of deltas. The default streams the whole answer of
    /// [`Generator::generate`] as one delta, so every generator can stream.
    fn generate_stream(self: Arc<Self>, request: GenerateRequest) -> GenerationStream {
        Box::pin(
            stream::once(async move { self.generate(&request).await }).flat_map(|result| {
                let events = match result {
                    Ok(g) => vec![Ok(GenerationEvent::Delta(g.text.clone())), Ok(GenerationEvent::Done(g))],
                    Err(e) => vec![Err(e)],
                };
                stream::iter(events)
            }),
        )
    }
}

/// A request's citation numbers that appear as `[n]` in `text`, sorted.
pub fn citations_in(text: &str, context: &[ContextChunk]) -> Vec<usize> {
    let mut cited: Vec<usize> = context
        .iter()
        .map(|c| c.n)
        .filter(|n| text.contains(&format!("[{n}]")))
        .collect();
    cited.sort_unstable();
    cited.dedup();
    cited
}
