//! Feedback, the analytics report and the drift assessment.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::analytics::Report;
use crate::analytics::drift::DriftReport;
use crate::analytics::drift::stats::Tested;
use crate::analytics::report::Group;
use crate::store::analytics::{EvalRecord, Rating};
use crate::vocab::time::rfc3339;

/// A user's rating of an answer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The answer's `id`, as the query response gave it.
    pub id: String,
    pub rating: RatingDto,
    /// Why (at most 2,000 characters).
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RatingDto {
    Up,
    Down,
}

impl From<RatingDto> for Rating {
    fn from(r: RatingDto) -> Self {
        match r {
            RatingDto::Up => Rating::Up,
            RatingDto::Down => Rating::Down,
        }
    }
}

/// Feedback recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackResponse {
    pub id: String,
    pub pipeline: String,
    pub rating: RatingDto,
}

/// `GET /v1/analytics` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Only this pipeline's queries (default: every pipeline's).
    pub pipeline: Option<String>,
    /// Start: an RFC 3339 time, a date (`2026-12-01`) or an age (`7d`); default 7 days ago.
    pub since: Option<String>,
    /// End (exclusive), same forms; default now.
    pub until: Option<String>,
    /// `domain` (default), `model`, `prompt_version`, `day`, `pipeline`, `role` or `key`
    /// (the API key id).
    pub by: Option<String>,
}

/// The report of a time range.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsReport {
    pub pipeline: Option<String>,
    /// RFC 3339.
    pub since: String,
    pub until: String,
    pub by: String,
    pub groups: Vec<AnalyticsGroup>,
    pub total: AnalyticsGroup,
    /// The latest `ragline eval` of each pipeline in the report.
    pub evals: Vec<EvalSummary>,
}

/// One group's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsGroup {
    pub key: String,
    pub queries: u64,
    pub p50_latency_ms: f64,
    pub p95_latency_ms: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub embedding_tokens: u64,
    pub cost_usd: f64,
    pub cost_per_query_usd: f64,
    /// Queries a guardrail refused.
    pub guardrail_blocks: u64,
    pub thumbs_up: u64,
    pub thumbs_down: u64,
    /// Thumbs up over rated answers, an accuracy proxy; null when none was rated.
    pub thumbs_up_rate: Option<f64>,
    /// nDCG@10 of the latest evaluation of the group's pipeline, when there is one.
    pub eval_ndcg_at_10: Option<f64>,
}

/// A pipeline's latest retrieval evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvalSummary {
    pub pipeline: String,
    /// RFC 3339.
    pub at: String,
    pub dataset: String,
    pub mode: String,
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
}

impl From<&Group> for AnalyticsGroup {
    fn from(g: &Group) -> Self {
        AnalyticsGroup {
            key: g.key.clone(),
            queries: g.queries,
            p50_latency_ms: g.p50_latency_ms,
            p95_latency_ms: g.p95_latency_ms,
            input_tokens: g.input_tokens,
            output_tokens: g.output_tokens,
            embedding_tokens: g.embedding_tokens,
            cost_usd: g.cost_usd,
            cost_per_query_usd: g.cost_per_query_usd,
            guardrail_blocks: g.guardrail_blocks,
            thumbs_up: g.thumbs_up,
            thumbs_down: g.thumbs_down,
            thumbs_up_rate: g.thumbs_up_rate,
            eval_ndcg_at_10: g.eval_ndcg_at_10,
        }
    }
}

impl From<&EvalRecord> for EvalSummary {
    fn from(e: &EvalRecord) -> Self {
        EvalSummary {
            pipeline: e.pipeline.clone(),
            at: rfc3339(e.at_ms),
            dataset: e.dataset.clone(),
            mode: e.mode.clone(),
            ndcg_at_10: e.ndcg_at_10,
            recall_at_10: e.recall_at_10,
            mrr_at_10: e.mrr_at_10,
        }
    }
}

impl From<&Report> for AnalyticsReport {
    fn from(r: &Report) -> Self {
        AnalyticsReport {
            pipeline: r.pipeline.clone(),
            since: rfc3339(r.range.since_ms),
            until: rfc3339(r.range.until_ms),
            by: r.by.as_str().to_owned(),
            groups: r.groups.iter().map(AnalyticsGroup::from).collect(),
            total: AnalyticsGroup::from(&r.total),
            evals: r.evals.iter().map(EvalSummary::from).collect(),
        }
    }
}

/// `GET /v1/analytics/drift` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DriftParams {
    /// Only this pipeline (default: every pipeline).
    pub pipeline: Option<String>,
}

/// Drift of every pipeline asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftList {
    pub pipelines: Vec<DriftStatus>,
}

/// One pipeline's drift.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftStatus {
    pub pipeline: String,
    pub embedder: String,
    /// `drifted`, `stable`, or `insufficient` (too few queries in a window).
    pub verdict: String,
    /// `previous`, `snapshot` or `period`.
    pub baseline_kind: String,
    pub recent_queries: usize,
    pub baseline_queries: usize,
    pub min_queries: usize,
    pub alpha: f64,
    /// Empty while the verdict is `insufficient`.
    pub signals: Vec<DriftSignal>,
}

/// One signal: drift when `score > threshold`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftSignal {
    /// `embedding_mmd`, `embedding_centroid`, `domain_psi` or `out_of_coverage`.
    pub name: String,
    pub score: f64,
    pub threshold: f64,
    pub drifted: bool,
}

impl From<&DriftReport> for DriftStatus {
    fn from(d: &DriftReport) -> Self {
        let verdict = match (&d.signals, d.drifted()) {
            (None, _) => "insufficient",
            (Some(_), true) => "drifted",
            (Some(_), false) => "stable",
        };
        let signal = |(name, t): (&str, Tested)| DriftSignal {
            name: name.to_owned(),
            score: t.score,
            threshold: t.threshold,
            drifted: t.drifted(),
        };
        DriftStatus {
            pipeline: d.pipeline.clone(),
            embedder: d.embedder.clone(),
            verdict: verdict.to_owned(),
            baseline_kind: d.baseline_kind.as_str().to_owned(),
            recent_queries: d.recent,
            baseline_queries: d.baseline,
            min_queries: d.min_queries,
            alpha: d.alpha,
            signals: d.signals.iter().flat_map(|s| s.all()).map(signal).collect(),
        }
    }
}
