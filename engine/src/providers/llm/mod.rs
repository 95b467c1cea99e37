//! Answer generators. One trait; one file per provider.

pub mod extractive;

use std::future::Future;
use std::pin::Pin;

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

/// An answer and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    /// Citation numbers the answer uses.
    pub cited: Vec<usize>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Boxed future, so generators can be trait objects.
pub type GenerateFuture<'a> = Pin<Box<dyn Future<Output = Result<Generation, ProviderError>> + Send + 'a>>;

/// An answer model.
pub trait Generator: Send + Sync {
    /// Provider name shown in responses, e.g. `extractive`.
    fn name(&self) -> &'static str;
    /// Answer one request.
    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> GenerateFuture<'a>;
}
