//! The generate stage: the models a pipeline may answer with (`models`: one closed
//! enum of providers), each wrapped with its retry policy and fallback model, and the
//! answer with its cost (`run`).

mod models;
mod run;

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

pub use self::models::{BedrockModelConfig, ExtractiveConfig, ModelConfig, OpenAiModelConfig};
pub use self::run::{Call, GenerateError, Generated};
use super::{CompileCx, Stage};
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

/// One checked model: its generator (with retries and fallback), provider, and prices.
pub struct ModelRuntime {
    pub generator: Arc<Resilient>,
    /// `extractive`, `bedrock`, `openai_compat`.
    pub provider: &'static str,
    /// The provider's model id, when it has one.
    pub model_id: Option<String>,
    pub price: ModelPrice,
}

impl std::fmt::Debug for ModelRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
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
        f.debug_map().entries(self.models.iter()).finish()
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
        let fallback = match m.fallback() {
            None => None,
            Some(fb) if chain.contains(&fb.value) => {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    fb,
                    format!("{key}.{}.fallback", m.provider()),
                    format!("fallback cycle: {} → {}", chain.join(" → "), fb.value),
                ));
                None
            }
            Some(fb) if !self.models.contains_key(&fb.value) => {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    fb,
                    format!("{key}.{}.fallback", m.provider()),
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
        let compiled = m.compile(cx, &key);
        let runtime = Arc::new(ModelRuntime {
            provider: compiled.generator.name(),
            generator: Arc::new(Resilient::new(
                name.to_owned(),
                compiled.generator,
                compiled.policy,
                fallback.map(|f| f.generator.clone()),
            )),
            model_id: compiled.model_id,
            price: compiled.price,
        });
        built.insert(name.to_owned(), runtime.clone());
        Some(runtime)
    }
}
