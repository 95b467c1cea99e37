//! The embed sub-stage: which model turns chunks (and queries) into vectors. The
//! models themselves are in [`crate::providers::embed`]; [`EmbedSpec::open`] builds
//! one, and `cached` puts the persistent embedding cache in front of it.

pub mod cached;

use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::providers::ProviderError;
use crate::providers::aws::AwsTarget;
use crate::providers::embed::hash::HashEmbedder;
use crate::providers::embed::local_bert::LocalBert;
use crate::providers::embed::openai::OpenAiEmbedder;
use crate::providers::embed::titan::{TITAN_DIMS, TitanEmbedder};
use crate::providers::embed::{Embedder, model_files};
use crate::providers::openai_http::OpenAiTarget;
use crate::providers::resilience::RetryPolicy;
use crate::stages::remote::{RetryConfig, compile_policy};
use crate::stages::{CompileCx, Stage};
use crate::vocab::{Diagnostic, PriceTable, StageUsage};

/// Embedder settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedConfig {
    /// `local` runs all-MiniLM-L6-v2 in-process (384 dims); `hash` is a deterministic
    /// bag-of-words hash with no model, for tests; `bedrock_titan` calls Titan Text
    /// Embeddings V2 on Amazon Bedrock; `openai_compat` calls an OpenAI-compatible
    /// `/embeddings` server. An index remembers the embedder that built it and refuses
    /// another.
    #[serde(default)]
    pub provider: EmbedProvider,
    /// Vector size: `hash` 8 to 4096 (default 384); `bedrock_titan` 256, 512 or 1024
    /// (default 1024); `openai_compat` the model's size (required). `local` is always 384.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub dims: Option<Spanned<u32>>,
    /// `bedrock_titan`, `openai_compat`: the model id (default for `bedrock_titan`:
    /// `amazon.titan-embed-text-v2:0`). Also the key of its price in `pricing.yaml`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub model_id: Option<Spanned<String>>,
    /// `bedrock_titan`: AWS region (default: the standard AWS chain's). Credentials
    /// always come from the standard AWS chain.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// `bedrock_titan`: endpoint to call instead of the region's (VPC endpoint, test server).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub endpoint_url: Option<Spanned<String>>,
    /// `openai_compat`: the API base, ending before `/embeddings`, e.g. `http://127.0.0.1:11434/v1`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub base_url: Option<Spanned<String>>,
    /// `openai_compat`: name of the environment variable holding the API key (never the key).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_key_env: Option<Spanned<String>>,
    /// `bedrock_titan`, `openai_compat`: longest single call, in milliseconds (default 60000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// `bedrock_titan`, `openai_compat`: how throttling, 5xx and timeouts are retried.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
}

/// Embedding providers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmbedProvider {
    /// all-MiniLM-L6-v2 on candle, fetched and verified by the set-up.
    #[default]
    Local,
    /// Feature hashing of words and word pairs: fast, deterministic, no model. Lexical only.
    Hash,
    /// Amazon Titan Text Embeddings V2 on Bedrock (InvokeModel).
    BedrockTitan,
    /// An OpenAI-compatible `/embeddings` server.
    OpenaiCompat,
}

impl EmbedProvider {
    /// As the YAML spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Hash => "hash",
            Self::BedrockTitan => "bedrock_titan",
            Self::OpenaiCompat => "openai_compat",
        }
    }
}

/// Titan's default model id.
pub const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";

/// Which embedder, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbedSpec {
    pub provider: EmbedProvider,
    pub dims: usize,
    /// The remote model id (`bedrock_titan`, `openai_compat`).
    pub model_id: Option<String>,
    /// Where a remote embedder is.
    pub remote: RemoteEmbed,
    /// Retries and timeouts of a remote embedder.
    pub policy: RetryPolicy,
}

/// Where a remote embedder is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteEmbed {
    /// `local` and `hash` run in-process.
    None,
    Bedrock(AwsTarget),
    OpenAi(OpenAiTarget),
}

impl EmbedSpec {
    /// The `hash` embedder with `dims` dimensions.
    pub fn hash(dims: usize) -> Self {
        Self {
            provider: EmbedProvider::Hash,
            dims,
            model_id: None,
            remote: RemoteEmbed::None,
            policy: RetryPolicy::default(),
        }
    }

    /// The id the embedder records in an index (what [`crate::providers::embed::Embedder::id`] says).
    pub fn id(&self) -> String {
        match (self.provider, &self.model_id) {
            (EmbedProvider::Local, _) => crate::providers::embed::local_bert::ID.to_owned(),
            (EmbedProvider::Hash, _) => "hash/v1".to_owned(),
            (p, Some(m)) => format!("{}/{m}", p.as_str()),
            (p, None) => p.as_str().to_owned(),
        }
    }

    /// The remote model id, the key of its price.
    pub fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }

    /// What of the embedder shapes stored vectors, for the ingest fingerprint. The
    /// in-process embedders keep the form older indexes were fingerprinted with.
    pub fn fingerprint_part(&self) -> String {
        match self.provider {
            EmbedProvider::Local | EmbedProvider::Hash => {
                format!("EmbedSpec {{ provider: {:?}, dims: {} }}", self.provider, self.dims)
            }
            _ => format!("{}/{}", self.id(), self.dims),
        }
    }

    /// Whether two specs produce the same vectors (same model and dimension), whatever
    /// their endpoints or retry settings.
    pub fn same_vectors(&self, other: &EmbedSpec) -> bool {
        self.id() == other.id() && self.dims == other.dims
    }
}

/// The local model's context window, in tokens.
pub const LOCAL_MAX_TOKENS: u32 = 256;

impl EmbedConfig {
    /// Check the embedder settings.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> EmbedSpec {
        let provider = self.provider;
        self.check_applicable(cx);
        let dims_in = |cx: &mut CompileCx<'_>, allowed: &dyn Fn(u32) -> bool, message: &str| {
            if let Some(d) = &self.dims
                && !allowed(d.value)
            {
                cx.push(Diagnostic::spanned(cx.file, d, "ingest.embed.dims", message));
            }
        };
        let policy = compile_policy(cx, "ingest.embed", self.retry.as_ref(), self.timeout_ms.as_ref());
        let mut spec = EmbedSpec {
            provider,
            dims: 384,
            model_id: None,
            remote: RemoteEmbed::None,
            policy,
        };
        match provider {
            EmbedProvider::Local => {
                dims_in(
                    cx,
                    &|d| d == 384,
                    "the local model has 384 dimensions; remove `dims` or set it to 384",
                );
            }
            EmbedProvider::Hash => {
                dims_in(cx, &|d| (8..=4096).contains(&d), "dims must be between 8 and 4096");
                spec.dims = self.dims.as_ref().map_or(384, |d| d.value as usize);
            }
            EmbedProvider::BedrockTitan => {
                dims_in(
                    cx,
                    &|d| TITAN_DIMS.contains(&(d as usize)),
                    "Titan Text Embeddings V2 has 256, 512 or 1024 dimensions",
                );
                spec.dims = self.dims.as_ref().map_or(1024, |d| d.value as usize);
                spec.model_id = Some(
                    self.model_id
                        .as_ref()
                        .map_or_else(|| TITAN_V2.to_owned(), |m| m.value.clone()),
                );
                spec.remote = RemoteEmbed::Bedrock(AwsTarget {
                    region: self.region.as_ref().map(|r| r.value.clone()),
                    endpoint_url: self
                        .endpoint_url
                        .as_ref()
                        .map(|u| cx.http_url("ingest.embed.endpoint_url".to_owned(), u)),
                });
                if let Some(id) = &spec.model_id
                    && !cx.pricing.embeddings.contains_key(id)
                {
                    let message = cx.pricing.missing("embeddings", id);
                    match &self.model_id {
                        Some(m) => cx.push(Diagnostic::spanned(cx.file, m, "ingest.embed.model_id", message)),
                        None => cx.push(Diagnostic {
                            key_path: "ingest.embed".to_owned(),
                            ..Diagnostic::file(cx.file, message)
                        }),
                    }
                }
            }
            EmbedProvider::OpenaiCompat => {
                dims_in(cx, &|d| (1..=16384).contains(&d), "dims must be between 1 and 16384");
                let missing = |cx: &mut CompileCx<'_>, key: &str| {
                    cx.push(Diagnostic {
                        key_path: format!("ingest.embed.{key}"),
                        ..Diagnostic::file(cx.file, format!("provider `openai_compat` needs `{key}`"))
                    });
                };
                if self.dims.is_none() {
                    missing(cx, "dims");
                }
                if self.model_id.is_none() {
                    missing(cx, "model_id");
                }
                spec.dims = self.dims.as_ref().map_or(0, |d| d.value as usize);
                spec.model_id = self.model_id.as_ref().map(|m| m.value.clone());
                let base_url = match &self.base_url {
                    Some(u) => cx.http_url("ingest.embed.base_url".to_owned(), u),
                    None => {
                        missing(cx, "base_url");
                        String::new()
                    }
                };
                spec.remote = RemoteEmbed::OpenAi(OpenAiTarget {
                    base_url,
                    api_key_env: self.api_key_env.as_ref().map(|e| e.value.clone()),
                });
            }
        }
        spec
    }

    /// Keys set that the provider does not read.
    fn check_applicable(&self, cx: &mut CompileCx<'_>) {
        use EmbedProvider::{BedrockTitan, OpenaiCompat};
        let p = self.provider;
        let remote = [BedrockTitan, OpenaiCompat].as_slice();
        let keys: [(&str, Option<serde_saphyr::Location>, &[EmbedProvider]); 6] = [
            ("model_id", self.model_id.as_ref().map(|s| s.referenced), remote),
            ("region", self.region.as_ref().map(|s| s.referenced), &[BedrockTitan]),
            (
                "endpoint_url",
                self.endpoint_url.as_ref().map(|s| s.referenced),
                &[BedrockTitan],
            ),
            (
                "base_url",
                self.base_url.as_ref().map(|s| s.referenced),
                &[OpenaiCompat],
            ),
            (
                "api_key_env",
                self.api_key_env.as_ref().map(|s| s.referenced),
                &[OpenaiCompat],
            ),
            ("timeout_ms", self.timeout_ms.as_ref().map(|s| s.referenced), remote),
        ];
        for (name, at, allowed) in keys {
            if let Some(at) = at
                && !allowed.contains(&p)
            {
                cx.push(Diagnostic::at(
                    cx.file,
                    at,
                    format!("ingest.embed.{name}"),
                    format!("`{name}` does not apply to embed provider `{}`", p.as_str()),
                ));
            }
        }
        if self.retry.is_some() && !remote.contains(&p) {
            cx.push(Diagnostic {
                key_path: "ingest.embed.retry".to_owned(),
                ..Diagnostic::file(
                    cx.file,
                    format!("`retry` does not apply to embed provider `{}`", p.as_str()),
                )
            });
        }
    }
}

impl EmbedSpec {
    /// The embedder this spec names, without a cache: the local model loaded from
    /// `model_dir` (fetched if missing), or a client of a remote one.
    ///
    /// # Errors
    /// [`ProviderError::ModelUnavailable`] when the local model cannot be fetched or
    /// loaded, or a remote embedder's runtime cannot start; [`ProviderError::InvalidInput`]
    /// for a spec its provider cannot serve.
    pub fn open(&self, model_dir: &Path) -> Result<Arc<dyn Embedder>, ProviderError> {
        let spec = self;
        let model_id = || spec.model_id.clone().unwrap_or_default();
        Ok(match (&spec.provider, &spec.remote) {
            (EmbedProvider::Hash, _) => Arc::new(HashEmbedder::new(spec.dims)),
            (EmbedProvider::Local, _) => Arc::new(LocalBert::load(&model_files::ensure_minilm(model_dir)?)?),
            (EmbedProvider::BedrockTitan, RemoteEmbed::Bedrock(target)) => Arc::new(TitanEmbedder::new(
                model_id(),
                spec.dims,
                target.clone(),
                spec.policy.clone(),
            )?),
            (EmbedProvider::OpenaiCompat, RemoteEmbed::OpenAi(target)) => Arc::new(OpenAiEmbedder::new(
                model_id(),
                spec.dims,
                target.clone(),
                spec.policy.clone(),
            )?),
            (p, _) => {
                return Err(ProviderError::InvalidInput(format!(
                    "embed provider {} has no endpoint",
                    p.as_str()
                )));
            }
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

impl EmbedSpec {
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
}

impl Stage for EmbedSpec {
    fn name(&self) -> &'static str {
        "embed"
    }
}
