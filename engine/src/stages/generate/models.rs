//! One answer model in a pipeline file: the provider is the key, its options the value.
//!
//! ```yaml
//! generate:
//!   models:
//!     local: { extractive: { max_sentences: 3 } }
//!     lite:
//!       bedrock: { model_id: amazon.nova-2-lite-v1:0, aws: { region: us-east-1 }, fallback: local }
//!     ollama:
//!       openai_compat: { base_url: "http://127.0.0.1:11434/v1", model_id: llama3.2 }
//! ```
//!
//! An option another provider reads is an unknown key here, reported at its position.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::providers::llm::bedrock::Bedrock;
use crate::providers::llm::extractive::Extractive;
use crate::providers::llm::openai::{OpenAiChat, OpenAiTarget};
use crate::providers::llm::{Generator, InferenceSettings};
use crate::providers::resilience::RetryPolicy;
use crate::stages::CompileCx;
use crate::stages::remote::{AwsTargetConfig, RetryConfig, compile_policy};
use crate::vocab::Diagnostic;
use crate::vocab::pricing::ModelPrice;

/// An answer model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// Quotes the most relevant retrieved sentences with numbered citations: offline,
    /// deterministic, free. `{}` takes the defaults.
    Extractive(ExtractiveConfig),
    /// Amazon Bedrock's Converse and ConverseStream APIs (Nova, Claude, Llama, ...).
    Bedrock(BedrockModelConfig),
    /// An OpenAI-compatible `/chat/completions` server (Ollama, vLLM, llama.cpp, ...).
    OpenaiCompat(OpenAiModelConfig),
}

/// The extractive generator.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractiveConfig {
    /// Most sentences in an answer, 1 to 20 (default 3).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_sentences: Option<Spanned<u32>>,
}

/// A model on Amazon Bedrock.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BedrockModelConfig {
    /// The Bedrock model id, e.g. `amazon.nova-2-lite-v1:0`; also the key of its prices
    /// in `pricing.yaml`, where it must be listed.
    #[schemars(with = "String")]
    pub model_id: Spanned<String>,
    /// Where to reach Bedrock.
    #[serde(default)]
    pub aws: AwsTargetConfig,
    /// Most tokens to generate (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_tokens: Option<Spanned<u32>>,
    /// Sampling temperature, 0 to 2 (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub temperature: Option<Spanned<f32>>,
    /// Nucleus sampling mass, 0 to 1 (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub top_p: Option<Spanned<f32>>,
    /// Strings that end the answer when generated.
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    /// Longest single call, in milliseconds (for a stream: longest wait for the next
    /// piece); default 60000.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// How throttling, 5xx and timeouts are retried.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// Another model of this pipeline that answers when this one cannot (retries
    /// exhausted, timeouts, prompt too long), e.g. `pro` → `lite` → `local`. Permanent
    /// errors (access denied, invalid request) never fall back.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fallback: Option<Spanned<String>>,
}

/// A model on an OpenAI-compatible server.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAiModelConfig {
    /// The API base, ending before `/chat/completions`, e.g. `http://127.0.0.1:11434/v1`
    /// (Ollama) or `http://127.0.0.1:8000/v1` (vLLM).
    #[schemars(with = "String")]
    pub base_url: Spanned<String>,
    /// The server's model name, e.g. `llama3.2`; also the key of its prices in
    /// `pricing.yaml` (unlisted: free).
    #[schemars(with = "String")]
    pub model_id: Spanned<String>,
    /// Name of the environment variable holding the API key, sent as
    /// `Authorization: Bearer`. Never the key itself. Without it no key is sent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_key_env: Option<Spanned<String>>,
    /// Most tokens to generate (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_tokens: Option<Spanned<u32>>,
    /// Sampling temperature, 0 to 2 (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub temperature: Option<Spanned<f32>>,
    /// Nucleus sampling mass, 0 to 1 (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub top_p: Option<Spanned<f32>>,
    /// Strings that end the answer when generated.
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    /// Longest single call, in milliseconds (for a stream: longest wait for the next
    /// piece); default 60000.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// How throttling, 5xx and timeouts are retried.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// Another model of this pipeline that answers when this one cannot.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fallback: Option<Spanned<String>>,
}

/// What the two remote providers share, borrowed from either.
struct Remote<'a> {
    model_id: &'a Spanned<String>,
    max_tokens: Option<&'a Spanned<u32>>,
    temperature: Option<&'a Spanned<f32>>,
    top_p: Option<&'a Spanned<f32>>,
    stop_sequences: &'a [String],
    timeout_ms: Option<&'a Spanned<u64>>,
    retry: Option<&'a RetryConfig>,
}

/// A model's provider, checked: its generator, model id, prices and retry policy.
pub(super) struct Compiled {
    pub generator: Arc<dyn Generator>,
    pub model_id: Option<String>,
    pub price: ModelPrice,
    pub policy: RetryPolicy,
}

impl ModelConfig {
    /// The model this one falls back to, if any.
    pub fn fallback(&self) -> Option<&Spanned<String>> {
        match self {
            Self::Extractive(_) => None,
            Self::Bedrock(m) => m.fallback.as_ref(),
            Self::OpenaiCompat(m) => m.fallback.as_ref(),
        }
    }

    /// As the YAML spells the provider.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Extractive(_) => "extractive",
            Self::Bedrock(_) => "bedrock",
            Self::OpenaiCompat(_) => "openai_compat",
        }
    }

    /// Check the options of the model at `key` (`generate.models.<name>`). Problems go to `cx`.
    pub(super) fn compile(&self, cx: &mut CompileCx<'_>, key: &str) -> Compiled {
        let key = format!("{key}.{}", self.provider());
        match self {
            Self::Extractive(m) => {
                let max = m.max_sentences.as_ref().map_or(3, |s| s.value);
                if let Some(s) = &m.max_sentences
                    && !(1..=20).contains(&s.value)
                {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        s,
                        format!("{key}.max_sentences"),
                        "max_sentences must be between 1 and 20",
                    ));
                }
                Compiled {
                    generator: Arc::new(Extractive::new(max as usize)),
                    model_id: None,
                    price: ModelPrice::default(),
                    policy: RetryPolicy::default(),
                }
            }
            Self::Bedrock(m) => {
                let remote = Remote {
                    model_id: &m.model_id,
                    max_tokens: m.max_tokens.as_ref(),
                    temperature: m.temperature.as_ref(),
                    top_p: m.top_p.as_ref(),
                    stop_sequences: &m.stop_sequences,
                    timeout_ms: m.timeout_ms.as_ref(),
                    retry: m.retry.as_ref(),
                };
                let (inference, price, policy) = remote.compile(cx, &key, true);
                let target = m.aws.compile(cx, &format!("{key}.aws"));
                let id = m.model_id.value.clone();
                Compiled {
                    generator: Arc::new(Bedrock::new(id.clone(), target, inference)),
                    model_id: Some(id),
                    price,
                    policy,
                }
            }
            Self::OpenaiCompat(m) => {
                let remote = Remote {
                    model_id: &m.model_id,
                    max_tokens: m.max_tokens.as_ref(),
                    temperature: m.temperature.as_ref(),
                    top_p: m.top_p.as_ref(),
                    stop_sequences: &m.stop_sequences,
                    timeout_ms: m.timeout_ms.as_ref(),
                    retry: m.retry.as_ref(),
                };
                let (inference, price, policy) = remote.compile(cx, &key, false);
                let target = OpenAiTarget {
                    base_url: cx.http_url(format!("{key}.base_url"), &m.base_url),
                    api_key_env: m.api_key_env.as_ref().map(|e| e.value.clone()),
                };
                let id = m.model_id.value.clone();
                Compiled {
                    generator: Arc::new(OpenAiChat::new(id.clone(), target, inference)),
                    model_id: Some(id),
                    price,
                    policy,
                }
            }
        }
    }
}

impl Remote<'_> {
    /// Inference settings (range-checked), prices and retry policy. A model without a
    /// price is an error when `priced` (Bedrock bills), else free.
    fn compile(&self, cx: &mut CompileCx<'_>, key: &str, priced: bool) -> (InferenceSettings, ModelPrice, RetryPolicy) {
        if let Some(t) = self.max_tokens
            && !(1..=1_000_000).contains(&t.value)
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                t,
                format!("{key}.max_tokens"),
                "max_tokens must be between 1 and 1000000",
            ));
        }
        for (value, name, max) in [(self.temperature, "temperature", 2.0), (self.top_p, "top_p", 1.0)] {
            if let Some(v) = value
                && !(0.0..=max).contains(&v.value)
            {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    v,
                    format!("{key}.{name}"),
                    format!("{name} must be between 0 and {max}"),
                ));
            }
        }
        let price = match cx.pricing.models.get(&self.model_id.value) {
            Some(p) => *p,
            None if priced => {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    self.model_id,
                    format!("{key}.model_id"),
                    cx.pricing.missing("models", &self.model_id.value),
                ));
                ModelPrice::default()
            }
            None => ModelPrice::default(),
        };
        let policy = compile_policy(cx, key, self.retry, self.timeout_ms);
        let inference = InferenceSettings {
            max_tokens: self.max_tokens.map(|t| t.value),
            temperature: self.temperature.map(|t| t.value),
            top_p: self.top_p.map(|t| t.value),
            stop_sequences: self.stop_sequences.to_vec(),
        };
        (inference, price, policy)
    }
}
