//! The embed sub-stage: which model turns chunks (and queries) into vectors. The
//! config is one closed enum, the provider the key; it compiles to an [`EmbedSpec`]
//! (`spec`), which opens the model from [`crate::providers::embed`], and `cached`
//! puts the persistent embedding cache in front of it.
//!
//! ```yaml
//! embed: local                                   # all-MiniLM-L6-v2, 384 dims
//! embed: { hash: { dims: 64 } }                  # no model, for tests
//! embed: { bedrock_titan: { dims: 1024, aws: { region: us-east-1 } } }
//! embed: { openai_compat: { base_url: "http://127.0.0.1:11434/v1", model_id: nomic-embed-text, dims: 768 } }
//! ```

pub mod cached;
mod spec;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use self::spec::{EmbedSpec, LOCAL_MAX_TOKENS, TITAN_V2, embedding_text};
use crate::providers::embed::titan::TITAN_DIMS;
use crate::providers::openai_http::OpenAiTarget;
use crate::stages::CompileCx;
use crate::stages::remote::{AwsTargetConfig, RetryConfig, compile_policy};
use crate::vocab::Diagnostic;

/// The embedding model. An index remembers the embedder that built it and refuses
/// another.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EmbedConfig {
    /// all-MiniLM-L6-v2 in-process on candle (384 dims), fetched and verified by the set-up.
    #[default]
    Local,
    /// Feature hashing of words and word pairs: fast, deterministic, no model. Lexical
    /// only, for tests. `{}` takes the defaults.
    Hash(HashEmbedConfig),
    /// Amazon Titan Text Embeddings V2 on Bedrock (InvokeModel).
    BedrockTitan(TitanEmbedConfig),
    /// An OpenAI-compatible `/embeddings` server.
    OpenaiCompat(OpenAiEmbedConfig),
}

/// The `hash` embedder.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HashEmbedConfig {
    /// Vector size, 8 to 4096 (default 384).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub dims: Option<Spanned<u32>>,
}

/// Titan Text Embeddings V2.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TitanEmbedConfig {
    /// The model id (default `amazon.titan-embed-text-v2:0`); also the key of its price
    /// in `pricing.yaml`, where it must be listed.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub model_id: Option<Spanned<String>>,
    /// Vector size: 256, 512 or 1024 (default 1024).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub dims: Option<Spanned<u32>>,
    /// Where to reach Bedrock.
    #[serde(default)]
    pub aws: AwsTargetConfig,
    /// Longest single call, in milliseconds (default 60000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// How throttling, 5xx and timeouts are retried.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
}

/// An OpenAI-compatible embeddings server.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAiEmbedConfig {
    /// The API base, ending before `/embeddings`, e.g. `http://127.0.0.1:11434/v1`.
    #[schemars(with = "String")]
    pub base_url: Spanned<String>,
    /// The server's model name; also the key of its price in `pricing.yaml` (unlisted: free).
    #[schemars(with = "String")]
    pub model_id: Spanned<String>,
    /// The model's vector size, 1 to 16384.
    #[schemars(with = "u32")]
    pub dims: Spanned<u32>,
    /// Name of the environment variable holding the API key (never the key).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_key_env: Option<Spanned<String>>,
    /// Longest single call, in milliseconds (default 60000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// How throttling, 5xx and timeouts are retried.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
}

impl EmbedConfig {
    /// Check the embedder settings. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> EmbedSpec {
        match self {
            Self::Local => EmbedSpec::Local,
            Self::Hash(h) => {
                let key = "ingest.embed.hash";
                check_dims(
                    cx,
                    key,
                    h.dims.as_ref(),
                    &|d| (8..=4096).contains(&d),
                    "dims must be between 8 and 4096",
                );
                EmbedSpec::hash(h.dims.as_ref().map_or(384, |d| d.value as usize))
            }
            Self::BedrockTitan(t) => {
                let key = "ingest.embed.bedrock_titan";
                check_dims(
                    cx,
                    key,
                    t.dims.as_ref(),
                    &|d| TITAN_DIMS.contains(&(d as usize)),
                    "Titan Text Embeddings V2 has 256, 512 or 1024 dimensions",
                );
                let model_id = t.model_id.as_ref().map_or(TITAN_V2, |m| m.value.as_str()).to_owned();
                if !cx.pricing.embeddings.contains_key(&model_id) {
                    let message = cx.pricing.missing("embeddings", &model_id);
                    cx.push(match &t.model_id {
                        Some(m) => Diagnostic::spanned(cx.file, m, format!("{key}.model_id"), message),
                        None => Diagnostic {
                            key_path: key.to_owned(),
                            ..Diagnostic::file(cx.file, message)
                        },
                    });
                }
                EmbedSpec::Titan {
                    model_id,
                    dims: t.dims.as_ref().map_or(1024, |d| d.value as usize),
                    aws: t.aws.compile(cx, &format!("{key}.aws")),
                    policy: compile_policy(cx, key, t.retry.as_ref(), t.timeout_ms.as_ref()),
                }
            }
            Self::OpenaiCompat(o) => {
                let key = "ingest.embed.openai_compat";
                check_dims(
                    cx,
                    key,
                    Some(&o.dims),
                    &|d| (1..=16384).contains(&d),
                    "dims must be between 1 and 16384",
                );
                EmbedSpec::OpenAi {
                    model_id: o.model_id.value.clone(),
                    dims: o.dims.value as usize,
                    target: OpenAiTarget {
                        base_url: cx.http_url(format!("{key}.base_url"), &o.base_url),
                        api_key_env: o.api_key_env.as_ref().map(|e| e.value.clone()),
                    },
                    policy: compile_policy(cx, key, o.retry.as_ref(), o.timeout_ms.as_ref()),
                }
            }
        }
    }
}

/// A diagnostic at `dims` unless `allowed`.
fn check_dims(
    cx: &mut CompileCx<'_>,
    key: &str,
    dims: Option<&Spanned<u32>>,
    allowed: &dyn Fn(u32) -> bool,
    message: &str,
) {
    if let Some(d) = dims
        && !allowed(d.value)
    {
        cx.push(Diagnostic::spanned(cx.file, d, format!("{key}.dims"), message));
    }
}
