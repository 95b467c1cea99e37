//! Generate stage: the models a pipeline may answer with.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use crate::config::Diagnostic;
use crate::providers::llm::{Generator, extractive::Extractive};

/// Answer models, by the name routes refer to.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// Models by name, e.g. `local`, `lite`, `pro`. Routes pick one by name.
    pub models: BTreeMap<String, ModelConfig>,
}

/// One answer model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `extractive` composes the answer from the most relevant retrieved sentences,
    /// with numbered citations: offline and deterministic, no language model.
    pub provider: LlmProvider,
    /// Most sentences in an extractive answer (default 3).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_sentences: Option<Spanned<u32>>,
}

/// Answer providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LlmProvider {
    /// Sentence extraction from the retrieved chunks; costs nothing.
    Extractive,
}

/// The checked generate stage.
#[derive(Clone)]
pub struct GenerateStage {
    pub models: BTreeMap<String, Arc<dyn Generator>>,
}

impl std::fmt::Debug for GenerateStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.models.iter().map(|(k, v)| (k, v.name())))
            .finish()
    }
}

impl GenerateConfig {
    /// Check the models. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> GenerateStage {
        let mut models: BTreeMap<String, Arc<dyn Generator>> = BTreeMap::new();
        for (name, m) in &self.models {
            let max = m.max_sentences.as_ref().map_or(3, |s| s.value);
            if let Some(s) = &m.max_sentences
                && !(1..=20).contains(&s.value)
            {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    s,
                    format!("generate.models.{name}.max_sentences"),
                    "max_sentences must be between 1 and 20",
                ));
            }
            let generator: Arc<dyn Generator> = match m.provider {
                LlmProvider::Extractive => Arc::new(Extractive::new(max as usize)),
            };
            models.insert(name.clone(), generator);
        }
        GenerateStage { models }
    }
}
