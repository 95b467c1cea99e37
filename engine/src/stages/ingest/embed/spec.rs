//! The checked embedder: which model, how many dimensions, and for a remote one where
//! it is and how it is retried. It opens the model and names what it costs.

use std::path::Path;
use std::sync::Arc;

use crate::providers::ProviderError;
use crate::providers::aws::AwsTarget;
use crate::providers::embed::hash::HashEmbedder;
use crate::providers::embed::local_bert::{self, LocalBert};
use crate::providers::embed::openai::OpenAiEmbedder;
use crate::providers::embed::titan::TitanEmbedder;
use crate::providers::embed::{Embedder, Embeddings, model_files};
use crate::providers::openai_http::OpenAiTarget;
use crate::providers::resilience::RetryPolicy;
use crate::stages::{Run, Stage};
use crate::telemetry::spans;
use crate::vocab::{PriceTable, StageUsage};

/// Titan's default model id.
pub const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";

/// The local model's context window, in tokens.
pub const LOCAL_MAX_TOKENS: u32 = 256;

/// Which embedder, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EmbedSpec {
    /// all-MiniLM-L6-v2, 384 dimensions.
    Local,
    Hash {
        dims: usize,
    },
    Titan {
        model_id: String,
        dims: usize,
        aws: AwsTarget,
        policy: RetryPolicy,
    },
    OpenAi {
        model_id: String,
        dims: usize,
        target: OpenAiTarget,
        policy: RetryPolicy,
    },
}

impl Stage for EmbedSpec {
    fn name(&self) -> &'static str {
        "embed"
    }
}

/// Embed a batch of texts with the embedder this spec opened.
impl Run for EmbedSpec {
    type Input<'a> = (&'a dyn Embedder, &'a [&'a str]);
    type Output = Embeddings;
    type Error = ProviderError;

    /// `embeddings {model}`, a GenAI client span.
    fn span(&self, pipeline: &str, (embedder, _): &Self::Input<'_>) -> tracing::Span {
        spans::embeddings(pipeline, "embed", embedder.id())
    }

    fn run(&self, (embedder, texts): Self::Input<'_>) -> Result<Embeddings, ProviderError> {
        let embedded = embedder.embed(texts)?;
        spans::embedded(&tracing::Span::current(), embedded.tokens as u64);
        Ok(embedded)
    }
}

impl EmbedSpec {
    /// The `hash` embedder with `dims` dimensions.
    pub fn hash(dims: usize) -> Self {
        Self::Hash { dims }
    }

    /// The provider, as the YAML spells it.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Hash { .. } => "hash",
            Self::Titan { .. } => "bedrock_titan",
            Self::OpenAi { .. } => "openai_compat",
        }
    }

    /// Vector size.
    pub fn dims(&self) -> usize {
        match self {
            Self::Local => 384,
            Self::Hash { dims } | Self::Titan { dims, .. } | Self::OpenAi { dims, .. } => *dims,
        }
    }

    /// The remote model id, the key of its price.
    pub fn model_id(&self) -> Option<&str> {
        match self {
            Self::Local | Self::Hash { .. } => None,
            Self::Titan { model_id, .. } | Self::OpenAi { model_id, .. } => Some(model_id),
        }
    }

    /// The id the embedder records in an index (what [`Embedder::id`] says).
    pub fn id(&self) -> String {
        match self {
            Self::Local => local_bert::ID.to_owned(),
            Self::Hash { .. } => "hash/v1".to_owned(),
            Self::Titan { model_id, .. } | Self::OpenAi { model_id, .. } => format!("{}/{model_id}", self.provider()),
        }
    }

    /// Whether this is the `hash` embedder, which is cheaper than an embedding-cache lookup.
    pub fn is_hash(&self) -> bool {
        matches!(self, Self::Hash { .. })
    }

    /// What of the embedder shapes stored vectors, for the ingest fingerprint. The
    /// in-process embedders keep the form older indexes were fingerprinted with.
    pub fn fingerprint_part(&self) -> String {
        match self {
            Self::Local => format!("EmbedSpec {{ provider: Local, dims: {} }}", self.dims()),
            Self::Hash { dims } => format!("EmbedSpec {{ provider: Hash, dims: {dims} }}"),
            _ => format!("{}/{}", self.id(), self.dims()),
        }
    }

    /// Whether two specs produce the same vectors (same model and dimension), whatever
    /// their endpoints or retry settings.
    pub fn same_vectors(&self, other: &EmbedSpec) -> bool {
        self.id() == other.id() && self.dims() == other.dims()
    }

    /// What embedding `tokens` tokens cost as `stage`, priced by `prices`.
    pub fn usage(&self, stage: &str, tokens: u64, prices: &PriceTable) -> StageUsage {
        StageUsage {
            stage: stage.to_owned(),
            model: self.id(),
            embedding_tokens: tokens,
            cost_usd: prices.embedding_cost(self.model_id(), tokens),
            ..StageUsage::default()
        }
    }

    /// The embedder, without a cache: the local model loaded from `model_dir` (fetched
    /// if missing), or a client of a remote one.
    ///
    /// # Errors
    /// [`ProviderError::ModelUnavailable`] when the local model cannot be fetched or
    /// loaded, or a remote embedder's runtime cannot start.
    pub fn open(&self, model_dir: &Path) -> Result<Arc<dyn Embedder>, ProviderError> {
        Ok(match self {
            Self::Local => Arc::new(LocalBert::load(&model_files::ensure_minilm(model_dir)?)?),
            Self::Hash { dims } => Arc::new(HashEmbedder::new(*dims)),
            Self::Titan {
                model_id,
                dims,
                aws,
                policy,
            } => Arc::new(TitanEmbedder::new(
                model_id.clone(),
                *dims,
                aws.clone(),
                policy.clone(),
            )?),
            Self::OpenAi {
                model_id,
                dims,
                target,
                policy,
            } => Arc::new(OpenAiEmbedder::new(
                model_id.clone(),
                *dims,
                target.clone(),
                policy.clone(),
            )?),
        })
    }
}

/// The text an embedder sees for a chunk: title and section give it context.
pub fn embedding_text(title: &str, section: Option<&str>, text: &str) -> String {
    match section {
        Some(s) => format!("{title} — {s}\n{text}"),
        None => format!("{title}\n{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_fingerprints_keep_their_old_form() {
        // Indexes built before the provider enum were fingerprinted with these strings;
        // changing them would re-ingest every document.
        assert_eq!(
            EmbedSpec::Local.fingerprint_part(),
            "EmbedSpec { provider: Local, dims: 384 }"
        );
        assert_eq!(
            EmbedSpec::hash(64).fingerprint_part(),
            "EmbedSpec { provider: Hash, dims: 64 }"
        );
        let titan = EmbedSpec::Titan {
            model_id: TITAN_V2.to_owned(),
            dims: 256,
            aws: AwsTarget::default(),
            policy: RetryPolicy::default(),
        };
        assert_eq!(
            titan.fingerprint_part(),
            "bedrock_titan/amazon.titan-embed-text-v2:0/256"
        );
        let smaller = EmbedSpec::Titan {
            model_id: TITAN_V2.to_owned(),
            dims: 512,
            aws: AwsTarget::default(),
            policy: RetryPolicy::default(),
        };
        assert!(!titan.same_vectors(&smaller));
        assert!(titan.same_vectors(&titan.clone()));
    }
}
