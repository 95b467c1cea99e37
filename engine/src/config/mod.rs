//! Pipeline files: raw serde types (1:1 with YAML) and `compile`, which checks
//! them into a [`PipelineSpec`] and reports every problem at once with
//! `file:line:col: key.path: message`.

pub mod access;
pub mod drift;
pub mod http;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use self::drift::{DriftConfig, DriftSpec};
use crate::stages::CompileCx;
use crate::stages::Stage;
use crate::stages::cache::{CacheConfig, CacheStage};
use crate::stages::generate::{GenerateConfig, GenerateStage};
use crate::stages::guard::{GuardStage, GuardrailsConfig};
use crate::stages::ingest::{IngestConfig, IngestStage};
use crate::stages::retrieve::{RetrieveConfig, RetrieveStage};
use crate::stages::route::{RouteConfig, RouteStage};
use crate::vocab::{ConfigError, Diagnostic, PriceTable, from_yaml};

/// A pipeline file: its stages, and the index it reads and writes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ragline pipeline")]
pub struct PipelineConfig {
    /// Pipeline name, unique in the config directory; the URL segment of `/v1/pipelines/{name}`.
    /// Lowercase letters, digits, `-` and `_`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// One line saying what the pipeline is for; shown in listings.
    #[serde(default)]
    pub description: String,
    /// Name of the index (a directory under the data dir). Pipelines may share an index;
    /// documents carry a domain, and each pipeline's filter decides what it sees.
    #[schemars(with = "String")]
    pub index: Spanned<String>,
    /// Parse, chunk, tag and embed.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Hybrid search settings.
    #[serde(default)]
    pub retrieve: RetrieveConfig,
    /// Which model and prompt answer a query.
    pub route: RouteConfig,
    /// The answer models.
    pub generate: GenerateConfig,
    /// Checks on the query and the answer: PII masking, a deny list, denied topics,
    /// Amazon Bedrock Guardrails.
    #[serde(default)]
    pub guardrails: GuardrailsConfig,
    /// Drift detection: recent questions against a baseline (see `docs/telemetry.md`).
    #[serde(default)]
    pub drift: DriftConfig,
    /// Answers served again to the same question, or one that asks the same thing, in
    /// the same scope (see `docs/cache.md`). Without this section nothing is cached.
    #[serde(default)]
    pub cache: Option<CacheConfig>,
}

/// A checked pipeline: every reference resolved, every value in range. Holds no
/// open resources, so validating is cheap.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    pub index: String,
    pub ingest: IngestStage,
    pub retrieve: RetrieveStage,
    pub route: RouteStage,
    pub generate: GenerateStage,
    pub guardrails: GuardStage,
    pub drift: DriftSpec,
    pub cache: Option<CacheStage>,
    /// The sha256 of every file the pipeline was compiled from (the pipeline file,
    /// its scripts, the price table): part of the cache's epoch.
    pub config_hash: [u8; 32],
    /// The price table the pipeline's costs are computed with (`pricing.yaml`).
    pub pricing: Arc<PriceTable>,
}

impl PipelineSpec {
    /// Every file and prompt directory this pipeline was compiled from: the pipeline
    /// file, its scripts, and each prompt's directory (or single file) and versions.
    pub fn files_to_watch(&self) -> Vec<PathBuf> {
        let mut files = vec![self.file.clone()];
        files.extend(self.ingest.files_to_watch());
        files.extend(self.route.files_to_watch());
        files.extend(self.pricing.file.clone());
        files
    }
}

impl PipelineSpec {
    /// With `config_hash` set from the files it was compiled from as they are now
    /// (directories, such as a prompt's, are left out: the cache keys each answer by
    /// its prompt version's own hash).
    fn hashed(mut self) -> PipelineSpec {
        let contents: Vec<Vec<u8>> = self
            .files_to_watch()
            .iter()
            .map(|f| std::fs::read(f).unwrap_or_default())
            .collect();
        let parts: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
        self.config_hash = crate::vocab::ids::digest(&parts);
        self
    }
}

/// JSON Schema of a pipeline file.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(PipelineConfig)
}

/// Read, parse and check one pipeline file. `config_dir` holds `prompts/`.
///
/// # Errors
/// Every problem found, each located in the pipeline file or the prompt it names.
pub fn load(file: &Path, config_dir: &Path) -> Result<PipelineSpec, ConfigError> {
    let pricing = Arc::new(PriceTable::load(config_dir)?);
    load_with(file, config_dir, &pricing)
}

/// [`load`] with the price table already loaded.
///
/// # Errors
/// As [`load`].
pub fn load_with(file: &Path, config_dir: &Path, pricing: &Arc<PriceTable>) -> Result<PipelineSpec, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| Diagnostic::file(file, format!("cannot read: {e}")))?;
    let raw: PipelineConfig = from_yaml(file, &text)?;
    raw.compile(file, config_dir, pricing)
}

/// The pipeline files of a config directory: `pipelines/*.yaml` and `*.yml`, sorted.
///
/// # Errors
/// A diagnostic when `pipelines/` cannot be read.
pub fn pipeline_files(config_dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let dir = config_dir.join("pipelines");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Diagnostic::file(&dir, format!("cannot read pipelines directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Load every pipeline of a config directory, checking across files too (unique
/// names). All problems in all files are reported together.
///
/// # Errors
/// Every problem found.
pub fn load_dir(config_dir: &Path) -> Result<Vec<PipelineSpec>, ConfigError> {
    let pricing = Arc::new(PriceTable::load(config_dir)?);
    let mut specs: Vec<PipelineSpec> = Vec::new();
    let mut diagnostics = Vec::new();
    for file in pipeline_files(config_dir)? {
        match load_with(&file, config_dir, &pricing) {
            Ok(spec) => {
                if let Some(other) = specs.iter().find(|s| s.name == spec.name) {
                    diagnostics.push(Diagnostic::file(
                        &file,
                        format!(
                            "pipeline name `{}` is already used by {}",
                            spec.name,
                            other.file.display()
                        ),
                    ));
                } else {
                    specs.push(spec);
                }
            }
            Err(e) => diagnostics.extend(e.diagnostics),
        }
    }
    if diagnostics.is_empty() {
        Ok(specs)
    } else {
        Err(diagnostics.into())
    }
}

impl PipelineConfig {
    /// Check this config. `file` locates errors and anchors relative paths; `pricing`
    /// prices its models.
    ///
    /// # Errors
    /// Every problem found in the file and in the prompts it names.
    pub fn compile(
        &self,
        file: &Path,
        config_dir: &Path,
        pricing: &Arc<PriceTable>,
    ) -> Result<PipelineSpec, ConfigError> {
        let mut cx = CompileCx {
            file,
            config_dir,
            pricing,
            diagnostics: Vec::new(),
        };
        for (value, key) in [(&self.name, "name"), (&self.index, "index")] {
            if !is_identifier(&value.value) {
                cx.push(Diagnostic::spanned(
                    file,
                    value,
                    key,
                    format!(
                        "`{}` is not a valid {key}: use 1-64 lowercase letters, digits, `-` or `_`",
                        value.value
                    ),
                ));
            }
        }
        let ingest = self.ingest.compile(&mut cx);
        let retrieve = self.retrieve.compile(&mut cx);
        let generate = self.generate.compile(&mut cx);
        let model_names: Vec<&str> = self.generate.models.keys().map(String::as_str).collect();
        let route = self.route.compile(&mut cx, &model_names);
        let guardrails = self.guardrails.compile(&mut cx);
        let drift = self.drift.compile(&mut cx);
        let cache = self.cache.as_ref().map(|c| c.compile(&mut cx));
        match route {
            Some(route) if cx.diagnostics.is_empty() => Ok(PipelineSpec {
                cache,
                config_hash: [0; 32],
                name: self.name.value.clone(),
                description: self.description.clone(),
                file: file.to_path_buf(),
                index: self.index.value.clone(),
                ingest,
                retrieve,
                route,
                generate,
                guardrails,
                drift,
                pricing: pricing.clone(),
            }
            .hashed()),
            _ => Err(cx.diagnostics.into()),
        }
    }
}

fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}
