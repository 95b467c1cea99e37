//! The Prometheus recorder: every metric described, every histogram with explicit
//! buckets (so it renders as a histogram, never a summary).

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use super::record::{
    BUDGET, BUDGET_EXCEEDED, CACHE_BYPASSES, CACHE_LOOKUPS, CACHE_REJECTED, CACHE_SAVED, CACHE_SIMILARITY, DRIFT_SCORE,
    DRIFT_THRESHOLD, DRIFT_WINDOW, FALLBACKS, FEEDBACK, GEN_AI_DURATION, GEN_AI_TOKENS, GUARDRAIL_INTERVENTIONS,
    HTTP_ERRORS, HTTP_REQUEST_DURATION, INDEX_CHUNKS, INDEX_DOCUMENTS, INGEST_FILES, PROVIDER_RETRIES, QUERY_COST,
    RATE_LIMITED, RELOADS, ROUTE_DECISIONS, SPANS_DROPPED, STAGE_DURATION,
};

/// Request and stage durations, in seconds: half a millisecond (a cached or keyword-only
/// answer) to a minute (a model call at its timeout).
pub const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Model call durations, in seconds: the OpenTelemetry GenAI advice for
/// `gen_ai.client.operation.duration`.
pub const GEN_AI_SECONDS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Tokens per call: the OpenTelemetry GenAI advice for `gen_ai.client.token.usage`.
pub const TOKENS: &[f64] = &[
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];
/// USD per query: a millionth of a dollar (an embedding) to a dollar (a long Pro answer).
pub const USD: &[f64] = &[
    0.000_001, 0.000_01, 0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Cosine similarity of the nearest cached question: fine steps where hits and misses part.
pub const SIMILARITY: &[f64] = &[0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99, 1.0];

/// Every histogram and its buckets.
const HISTOGRAMS: &[(&str, &[f64])] = &[
    (HTTP_REQUEST_DURATION, SECONDS),
    (STAGE_DURATION, SECONDS),
    (GEN_AI_DURATION, GEN_AI_SECONDS),
    (GEN_AI_TOKENS, TOKENS),
    (QUERY_COST, USD),
    (CACHE_SIMILARITY, SIMILARITY),
    (CACHE_SAVED, USD),
];

/// Why the metrics could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot set up the metrics recorder: {0}")]
    Metrics(#[from] BuildError),
    #[error("cannot start the metrics upkeep thread: {0}")]
    Upkeep(std::io::Error),
}

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's metrics, rendered on demand.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Install the process-wide recorder: `ragline serve` does this once at start.
    ///
    /// # Errors
    /// [`TelemetryError`] when a recorder is installed already.
    pub fn install() -> Result<Metrics, TelemetryError> {
        let handle = builder()?.install_recorder()?;
        super::handles::installed();
        describe();
        // Histograms keep raw samples until upkeep folds them into their buckets; a
        // scrape does it too, but a server nobody scrapes must not grow without end.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            })
            .map_err(TelemetryError::Upkeep)?;
        Ok(Metrics { handle })
    }

    /// Everything recorded, in Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

fn builder() -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in HISTOGRAMS {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)?;
    }
    Ok(builder)
}

fn describe() {
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP requests by pipeline, endpoint and status."
    );
    describe_counter!(HTTP_ERRORS, "Error responses by pipeline, endpoint and error code.");
    describe_histogram!(STAGE_DURATION, Unit::Seconds, "One run of a pipeline stage.");
    describe_histogram!(
        GEN_AI_DURATION,
        Unit::Seconds,
        "GenAI client operation duration (chat, embeddings)."
    );
    describe_histogram!(GEN_AI_TOKENS, "GenAI tokens per operation, by token type ({token}).");
    describe_histogram!(QUERY_COST, "USD per answered query, by pipeline, model and domain.");
    describe_counter!(PROVIDER_RETRIES, "Retries of transient provider failures.");
    describe_counter!(FALLBACKS, "Answers given by a fallback model.");
    describe_counter!(ROUTE_DECISIONS, "Route decisions by model and reason.");
    describe_counter!(
        GUARDRAIL_INTERVENTIONS,
        "Guardrail interventions by guard, side and action."
    );
    describe_counter!(RELOADS, "Config reloads by outcome.");
    describe_gauge!(INDEX_DOCUMENTS, "Documents in an index.");
    describe_gauge!(INDEX_CHUNKS, "Chunks in an index.");
    describe_counter!(INGEST_FILES, "Files ingested, by pipeline and outcome.");
    describe_counter!(CACHE_LOOKUPS, "Answer cache lookups by pipeline and status.");
    describe_counter!(CACHE_BYPASSES, "Answer cache bypasses by pipeline and reason.");
    describe_histogram!(CACHE_SAVED, "USD each answer cache hit saved.");
    describe_histogram!(
        CACHE_SIMILARITY,
        "Similarity of the nearest cached question, by outcome."
    );
    describe_counter!(CACHE_REJECTED, "Semantic cache candidates rejected, by check.");
    describe_counter!(SPANS_DROPPED, "Trace spans dropped instead of exported, by reason.");
    describe_counter!(FEEDBACK, "Answer feedback by pipeline and rating.");
    describe_gauge!(
        DRIFT_SCORE,
        "Drift score of the latest assessment, by pipeline and signal."
    );
    describe_gauge!(
        DRIFT_THRESHOLD,
        "Drift threshold (drift when the score is above), by pipeline and signal."
    );
    describe_gauge!(DRIFT_WINDOW, "Queries in each drift window, by pipeline.");
    describe_gauge!(BUDGET, "Configured spend budget in USD, by period.");
    describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit.");
    describe_counter!(
        BUDGET_EXCEEDED,
        "Requests refused because a key or role spent its budget, by role and budget."
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::record;

    /// Histograms render with buckets (never as summaries), counters and gauges with
    /// their labels, through a recorder local to the test.
    #[test]
    fn histograms_render_as_histograms() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            record::stage("hr", "retrieve", 0.003);
            record::query_cost("hr", "lite", "hr", 0.0004);
            record::gen_ai(&record::GenAiCall {
                pipeline: "hr",
                operation: "chat",
                provider: "bedrock",
                model: "amazon.nova-2-lite-v1:0",
                seconds: Some(0.5),
                input_tokens: 120,
                output_tokens: 40,
            });
            record::reload(false);
            record::index_size("corp", 22, 140);
        });
        let text = handle.render();
        assert!(!text.contains("quantile="), "{text}");
        assert!(
            text.contains(r#"ragline_stage_duration_seconds_bucket{pipeline="hr",stage="retrieve",le="0.005"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ragline_query_cost_usd_sum{pipeline="hr",model="lite",domain="hr"} 0.0004"#),
            "{text}"
        );
        assert!(text.contains(r#"gen_ai_provider_name="aws.bedrock""#), "{text}");
        assert!(text.contains(r#"gen_ai_token_type="output""#), "{text}");
        assert!(
            text.contains(r#"ragline_config_reloads_total{outcome="error"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"ragline_index_chunks{index="corp"} 140"#), "{text}");
        assert!(
            text.contains("# TYPE ragline_stage_duration_seconds histogram"),
            "{text}"
        );
    }
}
