//! What the pipeline listings show of prompts and reloads.

use serde::Serialize;
use utoipa::ToSchema;

use crate::pipeline;

/// A prompt a pipeline uses.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromptInfo {
    /// e.g. `hr/answer`.
    pub name: String,
    /// Whether an A/B split serves its versions.
    pub split: bool,
    /// Every version, oldest first.
    pub versions: Vec<PromptVersionInfo>,
}

impl From<&pipeline::PromptInfo> for PromptInfo {
    fn from(p: &pipeline::PromptInfo) -> Self {
        Self {
            name: p.name.clone(),
            split: p.split,
            versions: p.versions.iter().map(PromptVersionInfo::from).collect(),
        }
    }
}

/// One version of a prompt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromptVersionInfo {
    /// e.g. `v2`; null for a single-file prompt.
    pub version: Option<String>,
    /// First 12 hex digits of the sha256 of the file.
    pub hash: String,
    pub file: String,
    /// From the front matter.
    pub description: String,
    /// The model named in the front matter.
    pub model: Option<String>,
    /// Whether this pipeline answers with it now.
    pub live: bool,
    /// Its weight, when an A/B split serves it.
    pub weight: Option<u32>,
    /// Its intended share of the prompt's answers in the split (weight / sum of weights).
    pub target_share: Option<f64>,
    /// What this exact text (this hash) served, as counted by the server.
    pub usage: VersionUsage,
}

impl From<&pipeline::PromptVersionInfo> for PromptVersionInfo {
    fn from(v: &pipeline::PromptVersionInfo) -> Self {
        Self {
            version: v.version.clone(),
            hash: v.hash.clone(),
            file: v.file.clone(),
            description: v.description.clone(),
            model: v.model.clone(),
            live: v.live,
            weight: v.weight,
            target_share: v.target_share,
            usage: VersionUsage::from(&v.usage),
        }
    }
}

/// What one prompt version served.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionUsage {
    pub requests: u64,
    /// Its share of all answers counted for the prompt in this pipeline.
    pub share: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub mean_latency_ms: f64,
    pub p95_latency_ms: f64,
}

impl From<&pipeline::VersionUsage> for VersionUsage {
    fn from(u: &pipeline::VersionUsage) -> Self {
        Self {
            requests: u.requests,
            share: u.share,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cost_usd: u.cost_usd,
            mean_latency_ms: u.mean_latency_ms,
            p95_latency_ms: u.p95_latency_ms,
        }
    }
}

/// Reloads of the config directory.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReloadStatus {
    /// Whether the server watches the config directory (`ragline serve --watch`).
    pub watching: bool,
    pub state: ReloadState,
    /// The config generation served: 1 at start, one more per successful reload.
    pub generation: u64,
    /// Reloads that succeeded since start.
    pub succeeded: u64,
    /// Reloads that failed since start (each left the previous generation serving).
    pub failed: u64,
    /// When the latest reload was tried (RFC 3339, UTC).
    pub last_reload_at: Option<String>,
    /// How long the latest reload took, from reading files to the swap or the refusal.
    pub last_duration_ms: Option<f64>,
    /// The latest failure; kept after a later success, for the record.
    pub last_error: Option<ReloadFailure>,
}

/// Whether the files on disk are what is served.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadState {
    /// The latest load succeeded: the server serves the files on disk.
    Ok,
    /// The latest reload failed: the server keeps serving the previous generation.
    Error,
}

/// A failed reload.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReloadFailure {
    /// When it failed (RFC 3339, UTC).
    pub at: String,
    /// Every problem, as `file:line:col: key.path: message`.
    pub errors: Vec<String>,
}

impl From<&pipeline::ReloadStatus> for ReloadStatus {
    fn from(s: &pipeline::ReloadStatus) -> Self {
        Self {
            watching: s.watching,
            state: match s.state {
                pipeline::ReloadState::Ok => ReloadState::Ok,
                pipeline::ReloadState::Error => ReloadState::Error,
            },
            generation: s.generation,
            succeeded: s.succeeded,
            failed: s.failed,
            last_reload_at: s.last_reload_at.clone(),
            last_duration_ms: s.last_duration_ms,
            last_error: s.last_error.as_ref().map(|f| ReloadFailure {
                at: f.at.clone(),
                errors: f.errors.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_reload_is_reported_with_its_errors() {
        let mut status = pipeline::ReloadStatus::default();
        let e: crate::vocab::ConfigError =
            crate::vocab::Diagnostic::file(std::path::Path::new("p.yaml"), "broken").into();
        status.failed(&e, 2.0);
        let json = serde_json::to_value(ReloadStatus::from(&status)).unwrap_or_default();
        assert_eq!(json["state"], "error");
        assert_eq!(json["last_error"]["errors"][0], "p.yaml:1:1: broken");
    }
}
