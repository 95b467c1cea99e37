//! Generate stage: the models a pipeline may answer with, each wrapped with its
//! retry policy and fallback model.

mod run;

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use self::run::{Call, GenerateError, Generated};
use super::remote::{RetryConfig, compile_policy};
use super::{CompileCx, Stage};
use crate::providers::aws::AwsTarget;
use crate::providers::llm::bedrock::Bedrock;
use crate::providers::llm::openai::{OpenAiChat, OpenAiTarget};
use crate::providers::llm::{Generator, InferenceSettings, extractive::Extractive};
use crate::providers::resilience::Resilient;
use crate::vocab::diagnostic::Diagnostic;
use crate::vocab::pricing::ModelPrice;

/// Answer models, by the name routes refer to.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// Models by name, e.g. `local`, `lite`, `pro`. Routes pick one by name.
    pub models: BTreeMap<String, ModelConfig>,
}

/// One answer model. `provider` decides which of the other keys apply.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `extractive` quotes the most relevant retrieved sentences with numbered
    /// citations (offline, deterministic, free); `bedrock` calls Amazon Bedrock's
    /// Converse API; `openai_compat` calls an OpenAI-compatible chat-completions server.
    #[schemars(with = "LlmProvider")]
    pub provider: Spanned<LlmProvider>,
    /// `extractive`: most sentences in an answer (default 3).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_sentences: Option<Spanned<u32>>,
    /// `bedrock`, `openai_compat`: the provider's model id, e.g. `amazon.nova-2-lite-v1:0`
    /// or `llama3.2`. Also the key of its prices in `pricing.yaml`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub model_id: Option<Spanned<String>>,
    /// `bedrock`: AWS region, e.g. `us-east-1` (default: the standard AWS chain's, such
    /// as `AWS_REGION`). Credentials always come from the standard AWS chain.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// `bedrock`: endpoint to call instead of the region's, e.g. a VPC endpoint or a
    /// local test server (`http://127.0.0.1:4566`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub endpoint_url: Option<Spanned<String>>,
    /// `openai_compat`: the API base, ending before `/chat/completions`, e.g.
    /// `http://127.0.0.1:11434/v1` (Ollama) or `http://127.0.0.1:8000/v1` (vLLM).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub base_url: Option<Spanned<String>>,
    /// `openai_compat`: name of the environment variable holding the API key, sent as
    /// `Authorization: Bearer`. Never the key itself. Without it no key is sent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_key_env: Option<Spanned<String>>,
    /// `bedrock`, `openai_compat`: most tokens to generate (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_tokens: Option<Spanned<u32>>,
    /// `bedrock`, `openai_compat`: sampling temperature, 0 to 2 (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub temperature: Option<Spanned<f32>>,
    /// `bedrock`, `openai_compat`: nucleus sampling mass, 0 to 1 (default: the model's).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub top_p: Option<Spanned<f32>>,
    /// `bedrock`, `openai_compat`: strings that end the answer when generated.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub stop_sequences: Option<Spanned<Vec<String>>>,
    /// `bedrock`, `openai_compat`: longest single call, in milliseconds (for a stream:
    /// longest wait for the next piece); default 60000.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// `bedrock`, `openai_compat`: how throttling, 5xx and timeouts are retried.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// Another model of this pipeline that answers when this one cannot (retries
    /// exhausted, timeouts, prompt too long), e.g. `pro` → `lite` → `local`. Permanent
    /// errors (access denied, invalid request) never fall back.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fallback: Option<Spanned<String>>,
}

/// Answer providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LlmProvider {
    /// Sentence extraction from the retrieved chunks; costs nothing.
    Extractive,
    /// Amazon Bedrock, Converse and ConverseStream.
    Bedrock,
    /// An OpenAI-compatible `/chat/completions` server (Ollama, vLLM, llama.cpp, ...).
    OpenaiCompat,
}

impl LlmProvider {
    /// As the YAML spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Extractive => "extractive",
            Self::Bedrock => "bedrock",
            Self::OpenaiCompat => "openai_compat",
        }
    }
}

/// One checked model: its generator (with retries and fallback), provider, and prices.
pub struct ModelRuntime {
    pub generator: Arc<Resilient>,
    /// `extractive`, `bedrock`, `openai_compat`.
    pub provider: &'static str,
    /// The provider's model id, when it has one.
    pub model_id: Option<String>,
    pub price: ModelPrice,
}

impl ModelRuntime {
    /// `provider/model_id` (or just the provider), as usage reports name it.
    pub fn label(&self) -> String {
        match &self.model_id {
            Some(id) => format!("{}/{id}", self.provider),
            None => self.provider.to_owned(),
        }
    }
}

/// The checked generate stage.
#[derive(Clone)]
pub struct GenerateStage {
    pub models: BTreeMap<String, Arc<ModelRuntime>>,
}

impl std::fmt::Debug for GenerateStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.models.iter().map(|(k, v)| (k, v.label())))
            .finish()
    }
}

impl Stage for GenerateStage {
    fn name(&self) -> &'static str {
        "generate"
    }
}

impl GenerateConfig {
    /// Check the models and wire their fallbacks. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> GenerateStage {
        let mut built: BTreeMap<String, Arc<ModelRuntime>> = BTreeMap::new();
        for name in self.models.keys() {
            self.build(cx, name, &mut Vec::new(), &mut built);
        }
        GenerateStage { models: built }
    }

    /// Build model `name` after its fallback chain; `chain` detects cycles.
    fn build(
        &self,
        cx: &mut CompileCx<'_>,
        name: &str,
        chain: &mut Vec<String>,
        built: &mut BTreeMap<String, Arc<ModelRuntime>>,
    ) -> Option<Arc<ModelRuntime>> {
        if let Some(m) = built.get(name) {
            return Some(m.clone());
        }
        let m = self.models.get(name)?;
        let key = format!("generate.models.{name}");
        chain.push(name.to_owned());
        let fallback = match &m.fallback {
            None => None,
            Some(fb) if chain.contains(&fb.value) => {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    fb,
                    format!("{key}.fallback"),
                    format!("fallback cycle: {} → {}", chain.join(" → "), fb.value),
                ));
                None
            }
            Some(fb) if !self.models.contains_key(&fb.value) => {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    fb,
                    format!("{key}.fallback"),
                    format!(
                        "model `{}` is not defined in generate.models (defined: {})",
                        fb.value,
                        self.models.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
                None
            }
            Some(fb) => self.build(cx, &fb.value, chain, built),
        };
        chain.pop();
        let (inner, model_id, price) = compile_model(cx, &key, m)?;
        let policy = compile_policy(cx, &key, m.retry.as_ref(), m.timeout_ms.as_ref());
        let runtime = Arc::new(ModelRuntime {
            provider: inner.name(),
            generator: Arc::new(Resilient::new(
                name.to_owned(),
                inner,
                policy,
                fallback.map(|f| f.generator.clone()),
            )),
            model_id,
            price,
        });
        built.insert(name.to_owned(), runtime.clone());
        Some(runtime)
    }
}

/// The provider of one model, its model id and its prices.
fn compile_model(
    cx: &mut CompileCx<'_>,
    key: &str,
    m: &ModelConfig,
) -> Option<(Arc<dyn Generator>, Option<String>, ModelPrice)> {
    let provider = m.provider.value;
    check_applicable(cx, key, m);
    match provider {
        LlmProvider::Extractive => {
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
            Some((Arc::new(Extractive::new(max as usize)), None, ModelPrice::default()))
        }
        LlmProvider::Bedrock | LlmProvider::OpenaiCompat => {
            let model_id = required(cx, key, m, m.model_id.as_ref(), "model_id")?;
            let inference = inference(cx, key, m);
            let price = match cx.pricing.models.get(&model_id.value) {
                Some(p) => *p,
                None if provider == LlmProvider::Bedrock => {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        model_id,
                        format!("{key}.model_id"),
                        cx.pricing.missing("models", &model_id.value),
                    ));
                    ModelPrice::default()
                }
                None => ModelPrice::default(),
            };
            let id = model_id.value.clone();
            let generator: Arc<dyn Generator> = if provider == LlmProvider::Bedrock {
                let target = AwsTarget {
                    region: m.region.as_ref().map(|r| r.value.clone()),
                    endpoint_url: m
                        .endpoint_url
                        .as_ref()
                        .map(|u| cx.http_url(format!("{key}.endpoint_url"), u)),
                };
                Arc::new(Bedrock::new(id.clone(), target, inference))
            } else {
                let base = required(cx, key, m, m.base_url.as_ref(), "base_url")?;
                let target = OpenAiTarget {
                    base_url: cx.http_url(format!("{key}.base_url"), base),
                    api_key_env: m.api_key_env.as_ref().map(|e| e.value.clone()),
                };
                Arc::new(OpenAiChat::new(id.clone(), target, inference))
            };
            Some((generator, Some(id), price))
        }
    }
}

/// A key the provider needs, or a diagnostic at the provider.
fn required<'a>(
    cx: &mut CompileCx<'_>,
    key: &str,
    m: &ModelConfig,
    value: Option<&'a Spanned<String>>,
    name: &str,
) -> Option<&'a Spanned<String>> {
    if value.is_none() {
        cx.push(Diagnostic::spanned(
            cx.file,
            &m.provider,
            format!("{key}.{name}"),
            format!("provider `{}` needs `{name}`", m.provider.value.as_str()),
        ));
    }
    value
}

/// Keys set that `provider` does not read: a mistake worth saying.
fn check_applicable(cx: &mut CompileCx<'_>, key: &str, m: &ModelConfig) {
    use LlmProvider::{Bedrock, Extractive, OpenaiCompat};
    let p = m.provider.value;
    let remote = [Bedrock, OpenaiCompat].as_slice();
    let set: [(&str, Option<serde_saphyr::Location>, &[LlmProvider]); 12] = [
        (
            "max_sentences",
            m.max_sentences.as_ref().map(|s| s.referenced),
            &[Extractive],
        ),
        ("model_id", m.model_id.as_ref().map(|s| s.referenced), remote),
        ("region", m.region.as_ref().map(|s| s.referenced), &[Bedrock]),
        (
            "endpoint_url",
            m.endpoint_url.as_ref().map(|s| s.referenced),
            &[Bedrock],
        ),
        ("base_url", m.base_url.as_ref().map(|s| s.referenced), &[OpenaiCompat]),
        (
            "api_key_env",
            m.api_key_env.as_ref().map(|s| s.referenced),
            &[OpenaiCompat],
        ),
        ("max_tokens", m.max_tokens.as_ref().map(|s| s.referenced), remote),
        ("temperature", m.temperature.as_ref().map(|s| s.referenced), remote),
        ("top_p", m.top_p.as_ref().map(|s| s.referenced), remote),
        (
            "stop_sequences",
            m.stop_sequences.as_ref().map(|s| s.referenced),
            remote,
        ),
        ("timeout_ms", m.timeout_ms.as_ref().map(|s| s.referenced), remote),
        ("retry", m.retry.as_ref().map(|_| m.provider.referenced), remote),
    ];
    for (name, at, allowed) in set {
        if let Some(at) = at
            && !allowed.contains(&p)
        {
            cx.push(Diagnostic::at(
                cx.file,
                at,
                format!("{key}.{name}"),
                format!("`{name}` does not apply to provider `{}`", p.as_str()),
            ));
        }
    }
}

/// Inference settings, range-checked.
fn inference(cx: &mut CompileCx<'_>, key: &str, m: &ModelConfig) -> InferenceSettings {
    if let Some(t) = &m.max_tokens
        && !(1..=1_000_000).contains(&t.value)
    {
        cx.push(Diagnostic::spanned(
            cx.file,
            t,
            format!("{key}.max_tokens"),
            "max_tokens must be between 1 and 1000000",
        ));
    }
    for (value, name, max) in [(&m.temperature, "temperature", 2.0), (&m.top_p, "top_p", 1.0)] {
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
    InferenceSettings {
        max_tokens: m.max_tokens.as_ref().map(|t| t.value),
        temperature: m.temperature.as_ref().map(|t| t.value),
        top_p: m.top_p.as_ref().map(|t| t.value),
        stop_sequences: m.stop_sequences.as_ref().map(|s| s.value.clone()).unwrap_or_default(),
    }
}
