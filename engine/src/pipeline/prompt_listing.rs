//! A pipeline's prompts as listings show them: every version in each prompt's
//! directory, which of them are live (with their A/B weights), and what each served.

use std::collections::HashMap;

use serde::Serialize;

use super::Pipeline;
use crate::prompts::PromptVersion;
use crate::prompts::stats::VersionStats;

/// A prompt a pipeline uses.
#[derive(Debug, Clone)]
pub struct PromptInfo {
    /// e.g. `hr/answer`.
    pub name: String,
    /// Whether an A/B split serves its versions.
    pub split: bool,
    /// Every version, oldest first.
    pub versions: Vec<PromptVersionInfo>,
}

/// One version of a prompt.
#[derive(Debug, Clone)]
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

/// What one prompt version served.
#[derive(Debug, Clone, Default, Serialize)]
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

impl VersionUsage {
    /// The usage in `stats`, with its share of `prompt_total` answers.
    pub fn of(stats: &VersionStats, prompt_total: u64) -> VersionUsage {
        VersionUsage {
            requests: stats.requests,
            share: if prompt_total == 0 {
                0.0
            } else {
                stats.requests as f64 / prompt_total as f64
            },
            input_tokens: stats.input_tokens,
            output_tokens: stats.output_tokens,
            cost_usd: stats.cost_usd,
            mean_latency_ms: stats.mean_latency_ms(),
            p95_latency_ms: stats.latency_quantile_ms(0.95),
        }
    }
}

impl Pipeline {
    /// Every prompt the pipeline's route names, with every version, whether it is
    /// live, and its usage from `stats` (this pipeline's counts).
    pub fn prompt_listing(&self, stats: &[VersionStats]) -> Vec<PromptInfo> {
        let route = &self.spec.route;
        // Live versions, with their weight and their split's total weight.
        let mut live: HashMap<&PromptVersion, Option<(u32, u64)>> = HashMap::new();
        for choice in route.prompts.values() {
            let arms = choice.live();
            let total: u64 = arms.iter().filter_map(|(_, w)| w.map(u64::from)).sum();
            for (p, w) in arms {
                live.insert(&p.id, w.map(|w| (w, total)));
            }
        }
        let mut totals: HashMap<&str, u64> = HashMap::new();
        for s in stats {
            *totals.entry(s.prompt.name.as_str()).or_default() += s.requests;
        }
        route
            .families
            .values()
            .map(|family| {
                let total = totals.get(family.name.as_str()).copied().unwrap_or(0);
                let versions: Vec<PromptVersionInfo> = family
                    .versions
                    .iter()
                    .map(|p| {
                        let weight = live.get(&p.id).copied().flatten();
                        PromptVersionInfo {
                            version: p.id.version.clone(),
                            hash: p.id.hash.clone(),
                            file: p.file.display().to_string(),
                            description: p.description.clone(),
                            model: p.model.as_ref().map(|m| m.value.clone()),
                            live: live.contains_key(&p.id),
                            weight: weight.map(|(w, _)| w),
                            target_share: weight.map(|(w, t)| f64::from(w) / t.max(1) as f64),
                            usage: stats
                                .iter()
                                .find(|s| s.prompt == p.id)
                                .map(|s| VersionUsage::of(s, total))
                                .unwrap_or_default(),
                        }
                    })
                    .collect();
                PromptInfo {
                    name: family.name.clone(),
                    split: versions.iter().any(|v| v.weight.is_some()),
                    versions,
                }
            })
            .collect()
    }
}
