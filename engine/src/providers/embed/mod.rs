//! Embedders turn text into vectors. One trait, one file per provider:
//! `local_bert` (MiniLM on candle), `hash` (no model, for tests), `titan` (Bedrock
//! Titan Text Embeddings V2) and `openai` (OpenAI-compatible servers). `cached` puts
//! the persistent embedding cache in front of any of them; `blocking` lets the remote
//! ones, which are async, serve this synchronous trait.

pub mod blocking;
pub mod hash;
pub mod local_bert;
pub mod model_files;
pub mod openai;
pub mod titan;

use super::ProviderError;

/// Vectors for a batch of texts, plus the tokens the model read (for usage and cost).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// One L2-normalised vector per input text, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens consumed by the model over the whole batch.
    pub tokens: usize,
}

/// An embedding model. Implementations are loaded once and shared (`Arc<dyn Embedder>`).
pub trait Embedder: Send + Sync {
    /// Stable id recorded in an index, e.g. `local/all-MiniLM-L6-v2` or `hash/v1`. Two
    /// embedders with the same id and dimension produce the same vectors.
    fn id(&self) -> &str;
    /// Vector dimension.
    fn dims(&self) -> usize;
    /// Embed a batch. Implementations batch internally as suits them.
    ///
    /// # Errors
    /// [`ProviderError::Inference`] when the runtime fails, [`ProviderError::InvalidInput`]
    /// for input it cannot take.
    fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError>;
    /// The tokenizer the model uses, when it has one, so chunks can be sized in its tokens.
    fn tokenizer(&self) -> Option<&tokenizers::Tokenizer> {
        None
    }
}

/// Scale `vector` to unit length (left as is when it is all zeros).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for x in vector.iter_mut() {
            *x /= norm;
        }
    }
}
