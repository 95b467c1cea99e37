//! The price table: `pricing.yaml` at the root of the config directory. Versioned, so
//! every response says which prices its `cost_usd` came from. Prices are US dollars
//! per 1,000 tokens (or guardrail text units), keyed by the provider's model id.
//!
//! ```yaml
//! version: "2026-11-01"
//! models:
//!   amazon.nova-2-lite-v1:0: { input_per_1k: 0.0003, output_per_1k: 0.0025 }
//! embeddings:
//!   amazon.titan-embed-text-v2:0: { per_1k: 0.00002 }
//! guardrails:
//!   per_1k_text_units: 0.15
//! ```
//!
//! Without the file every price is zero and the version is `none`. A Bedrock model or
//! embedder missing from the table is a config error (its cost would be silently
//! wrong); other providers (self-hosted OpenAI-compatible servers, the local models)
//! cost zero unless listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{ConfigError, Diagnostic, from_yaml};

/// The file name, at the config directory's root.
pub const PRICING_FILE: &str = "pricing.yaml";

/// `pricing.yaml`, 1:1.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ragline price table")]
pub struct PricingConfig {
    /// Version of the table, e.g. a date (`2026-11-01`); reported in every response's
    /// `usage.pricing_version`. Change it whenever a price changes.
    #[schemars(with = "String")]
    pub version: Spanned<String>,
    /// Currency of every price; only `USD`.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// Answer models by provider model id (e.g. `amazon.nova-2-lite-v1:0`).
    #[serde(default)]
    pub models: BTreeMap<String, ModelPriceConfig>,
    /// Embedding models by provider model id (e.g. `amazon.titan-embed-text-v2:0`).
    #[serde(default)]
    pub embeddings: BTreeMap<String, EmbeddingPriceConfig>,
    /// Bedrock Guardrails (ApplyGuardrail).
    #[serde(default)]
    pub guardrails: Option<GuardrailPriceConfig>,
}

/// Currencies.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum Currency {
    /// US dollars.
    #[serde(rename = "USD")]
    Usd,
}

/// Prices of one answer model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPriceConfig {
    /// USD per 1,000 input (prompt) tokens.
    #[schemars(with = "f64")]
    pub input_per_1k: Spanned<f64>,
    /// USD per 1,000 output (generated) tokens.
    #[schemars(with = "f64")]
    pub output_per_1k: Spanned<f64>,
}

/// Price of one embedding model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingPriceConfig {
    /// USD per 1,000 input tokens.
    #[schemars(with = "f64")]
    pub per_1k: Spanned<f64>,
}

/// Price of guardrail checks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailPriceConfig {
    /// USD per 1,000 text units (a text unit is up to 1,000 characters of checked text).
    #[schemars(with = "f64")]
    pub per_1k_text_units: Spanned<f64>,
}

/// Prices of one answer model, checked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelPrice {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

impl ModelPrice {
    /// Cost in USD of a call that read `input` and wrote `output` tokens.
    pub fn cost(&self, input: u64, output: u64) -> f64 {
        (input as f64 * self.input_per_1k + output as f64 * self.output_per_1k) / 1000.0
    }
}

/// The checked price table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    /// `none` without a file.
    pub version: String,
    /// The file it came from, if any (watched for reloads).
    pub file: Option<PathBuf>,
    pub models: BTreeMap<String, ModelPrice>,
    /// USD per 1,000 tokens, by embedding model id.
    pub embeddings: BTreeMap<String, f64>,
    /// USD per 1,000 guardrail text units.
    pub guardrail_per_1k_units: f64,
}

impl PriceTable {
    /// The table when there is no `pricing.yaml`: everything costs zero.
    pub fn none() -> Self {
        Self {
            version: "none".to_owned(),
            ..Self::default()
        }
    }

    /// The message for a model id missing under `section` (`models`, `embeddings`).
    pub fn missing(&self, section: &str, model_id: &str) -> String {
        match &self.file {
            Some(_) => format!(
                "no price for `{model_id}` in pricing.yaml (version {}); add it under `{section}:` so costs are exact",
                self.version
            ),
            None => format!(
                "no price for `{model_id}`: the config directory has no pricing.yaml; add one with `{model_id}` under `{section}:` so costs are exact"
            ),
        }
    }

    /// Cost in USD of embedding `tokens` tokens with `model_id` (zero when unlisted or `None`).
    pub fn embedding_cost(&self, model_id: Option<&str>, tokens: u64) -> f64 {
        model_id
            .and_then(|m| self.embeddings.get(m))
            .map_or(0.0, |per_1k| tokens as f64 * per_1k / 1000.0)
    }

    /// Cost in USD of `units` guardrail text units.
    pub fn guardrail_cost(&self, units: u64) -> f64 {
        units as f64 * self.guardrail_per_1k_units / 1000.0
    }

    /// Load `<config_dir>/pricing.yaml`, or [`PriceTable::none`] when there is none.
    ///
    /// # Errors
    /// Every problem in the file, located.
    pub fn load(config_dir: &Path) -> Result<PriceTable, ConfigError> {
        let file = config_dir.join(PRICING_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PriceTable::none()),
            Err(e) => return Err(Diagnostic::file(&file, format!("cannot read: {e}")).into()),
        };
        let raw: PricingConfig = from_yaml(&file, &text)?;
        raw.compile(&file)
    }
}

impl PricingConfig {
    /// Check the prices: a version, and no negative or non-finite price.
    ///
    /// # Errors
    /// Every problem, located in `file`.
    pub fn compile(&self, file: &Path) -> Result<PriceTable, ConfigError> {
        let mut diagnostics = Vec::new();
        let mut price = |value: &Spanned<f64>, key: String| {
            if !value.value.is_finite() || value.value < 0.0 {
                diagnostics.push(Diagnostic::spanned(
                    file,
                    value,
                    key,
                    "a price must be a number of 0 or more",
                ));
            }
            value.value
        };
        let models = self
            .models
            .iter()
            .map(|(id, p)| {
                let input_per_1k = price(&p.input_per_1k, format!("models.{id}.input_per_1k"));
                let output_per_1k = price(&p.output_per_1k, format!("models.{id}.output_per_1k"));
                (
                    id.clone(),
                    ModelPrice {
                        input_per_1k,
                        output_per_1k,
                    },
                )
            })
            .collect();
        let embeddings = self
            .embeddings
            .iter()
            .map(|(id, p)| (id.clone(), price(&p.per_1k, format!("embeddings.{id}.per_1k"))))
            .collect();
        let guardrail_per_1k_units = self.guardrails.as_ref().map_or(0.0, |g| {
            price(&g.per_1k_text_units, "guardrails.per_1k_text_units".to_owned())
        });
        if self.version.value.trim().is_empty() {
            diagnostics.push(Diagnostic::spanned(
                file,
                &self.version,
                "version",
                "version must not be empty",
            ));
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics.into());
        }
        Ok(PriceTable {
            version: self.version.value.clone(),
            file: Some(file.to_path_buf()),
            models,
            embeddings,
            guardrail_per_1k_units,
        })
    }
}

/// JSON Schema of `pricing.yaml`.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(PricingConfig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(yaml: &str) -> Result<PriceTable, ConfigError> {
        let file = Path::new("pricing.yaml");
        let raw: PricingConfig = from_yaml(file, yaml)?;
        raw.compile(file)
    }

    #[test]
    fn prices_per_1k_tokens() {
        let t = table(
            "version: v1\nmodels:\n  m:1: { input_per_1k: 0.0003, output_per_1k: 0.0025 }\nembeddings:\n  e: { per_1k: 0.00002 }\nguardrails: { per_1k_text_units: 0.15 }\n",
        )
        .unwrap_or_default();
        assert_eq!(t.version, "v1");
        let cost = t.models["m:1"].cost(1000, 2000);
        assert!((cost - (0.0003 + 0.005)).abs() < 1e-12, "{cost}");
        assert!((t.embedding_cost(Some("e"), 500) - 0.00001).abs() < 1e-15);
        assert!(t.embedding_cost(Some("other"), 500).abs() < f64::EPSILON);
        assert!((t.guardrail_cost(2) - 0.0003).abs() < 1e-15);
    }

    #[test]
    fn negative_price_and_missing_version_are_located() {
        let err = table("models:\n  m: { input_per_1k: -1, output_per_1k: 0 }\n")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("version")));
        let err = table("version: v1\nmodels:\n  m: { input_per_1k: -1, output_per_1k: 0 }\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("pricing.yaml:3:") && err.contains("models.m.input_per_1k"),
            "{err}"
        );
    }
}
