//! The embedder a keyword-only evaluation indexes with: the pipeline's tokenizer (so
//! chunks come out exactly as with the real model) but cheap hashed vectors, so
//! measuring BM25 never waits for the embedding model. Its vectors are never searched.

use std::sync::Arc;

use crate::providers::ProviderError;
use crate::providers::embed::hash::HashEmbedder;
use crate::providers::embed::{Embedder, Embeddings};

/// Dimensions of the placeholder vectors: small, as nothing searches them.
const DIMS: usize = 8;

/// `real`'s tokenizer with placeholder vectors.
pub(super) struct KeywordOnly {
    real: Arc<dyn Embedder>,
    hash: HashEmbedder,
}

impl KeywordOnly {
    pub(super) fn new(real: Arc<dyn Embedder>) -> Self {
        Self {
            real,
            hash: HashEmbedder::new(DIMS),
        }
    }
}

impl Embedder for KeywordOnly {
    fn id(&self) -> &str {
        "eval/keyword-only"
    }

    fn dims(&self) -> usize {
        DIMS
    }

    /// Hashed vectors; `tokens` is 0 as no model read anything.
    fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError> {
        let vectors = self.hash.embed(texts)?.vectors;
        Ok(Embeddings { vectors, tokens: 0 })
    }

    fn tokenizer(&self) -> Option<&tokenizers::Tokenizer> {
        self.real.tokenizer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tokenizer_and_hashes_cheaply() {
        let real: Arc<dyn Embedder> = Arc::new(HashEmbedder::new(64));
        let k = KeywordOnly::new(real);
        assert!(k.tokenizer().is_none());
        let out = k.embed(&["a b", "c"]).unwrap();
        assert_eq!(out.vectors.len(), 2);
        assert!(out.vectors.iter().all(|v| v.len() == DIMS));
        assert_eq!(out.tokens, 0);
    }
}
