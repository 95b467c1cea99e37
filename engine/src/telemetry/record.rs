//! What ragline records, one function per measurement, its labels as arguments. Label
//! values must come from config or a closed set (see the module docs of
//! [`crate::telemetry`]). Without an installed recorder (the CLI, tests) every call is
//! a no-op.

use metrics::{Counter, Histogram, counter, gauge, histogram};

use super::handles::{Lazy, lazy};

/// Requests by pipeline, endpoint (the route template) and status; `_count` is the
/// request count.
pub const HTTP_REQUEST_DURATION: &str = "ragline_http_request_duration_seconds";
/// Error responses by pipeline, endpoint and `error.code`.
pub const HTTP_ERRORS: &str = "ragline_http_errors_total";
/// One run of a stage, by pipeline and stage (`guard_query`, `retrieve`,
/// `retrieve.keyword`, `retrieve.vector`, `retrieve.fusion`, `route`, `generate`,
/// `guard_answer`; ingest: `parse`, `chunk`, `tag`, `embed`).
pub const STAGE_DURATION: &str = "ragline_stage_duration_seconds";
/// OpenTelemetry GenAI `gen_ai.client.operation.duration` (s): one model call (chat)
/// or embedding batch, with its retries and fallback.
pub const GEN_AI_DURATION: &str = "gen_ai_client_operation_duration_seconds";
/// OpenTelemetry GenAI `gen_ai.client.token.usage` ({token}): tokens of one call, by
/// `gen_ai_token_type` (`input`, `output`).
pub const GEN_AI_TOKENS: &str = "gen_ai_client_token_usage";
/// USD one answered query cost, by pipeline, answering model and domain; `_sum` is
/// the spend.
pub const QUERY_COST: &str = "ragline_query_cost_usd";
/// Retries of a transient provider failure, by provider and what failed.
pub const PROVIDER_RETRIES: &str = "ragline_provider_retries_total";
/// Answers a fallback model gave, by pipeline, routed and answering model.
pub const FALLBACKS: &str = "ragline_model_fallbacks_total";
/// Route decisions by pipeline, model and reason (`default`, `script`, `script_error`).
pub const ROUTE_DECISIONS: &str = "ragline_route_decisions_total";
/// Guardrail interventions by pipeline, guard, side (`query`, `answer`, `sources`) and
/// action (`masked`, `blocked`).
pub const GUARDRAIL_INTERVENTIONS: &str = "ragline_guardrail_interventions_total";
/// Config reloads by outcome (`ok`, `error`).
pub const RELOADS: &str = "ragline_config_reloads_total";
/// Documents in an index, as of the latest scrape.
pub const INDEX_DOCUMENTS: &str = "ragline_index_documents";
/// Chunks in an index, as of the latest scrape.
pub const INDEX_CHUNKS: &str = "ragline_index_chunks";
/// Feedback by pipeline and rating (`up`, `down`).
pub const FEEDBACK: &str = "ragline_feedback_total";
/// A drift signal's score on the latest assessment, by pipeline and signal.
pub const DRIFT_SCORE: &str = "ragline_drift_score";
/// The threshold the score is drift above, by pipeline and signal.
pub const DRIFT_THRESHOLD: &str = "ragline_drift_threshold";
/// Queries in each drift window (`recent`, `baseline`), by pipeline.
pub const DRIFT_WINDOW: &str = "ragline_drift_window_queries";
/// A configured spend budget in USD, by period (`day`, `month`).
pub const BUDGET: &str = "ragline_budget_usd";
/// Spans dropped instead of exported, by reason (`queue_full`, `export_failed`).
pub const SPANS_DROPPED: &str = "ragline_otel_spans_dropped_total";
/// Requests refused by a rate limit, by limit (`per_ip`, `per_key`, `key_rate`).
pub const RATE_LIMITED: &str = "ragline_rate_limited_total";
/// Requests refused because a key or role spent its budget, by role and budget
/// (`key_daily_usd`, `role_monthly_tokens`, ...).
pub const BUDGET_EXCEEDED: &str = "ragline_budget_exceeded_total";
/// Files an ingest batch handled, by pipeline and outcome (`ingested`, `unchanged`, or
/// the failure's code).
pub const INGEST_FILES: &str = "ragline_ingest_files_total";

/// Cache lookups by pipeline and status (`exact`, `semantic`, `miss`, `bypass`).
pub const CACHE_LOOKUPS: &str = "ragline_cache_lookups_total";
/// Lookups that bypassed the cache, by pipeline and reason (`off`, `requested`,
/// `stream`, `unavailable`; `unavailable` also counts answers that could not be stored).
pub const CACHE_BYPASSES: &str = "ragline_cache_bypasses_total";
/// USD each cache hit saved (its cached generation and answer guards); `_sum` is the saving.
pub const CACHE_SAVED: &str = "ragline_cache_saved_usd";
/// Cosine similarity of the nearest cached question, by pipeline and outcome (`hit`, `miss`).
pub const CACHE_SIMILARITY: &str = "ragline_cache_nearest_similarity";
/// Semantic candidates a check rejected, by pipeline and check (`negation`,
/// `polarity`, `numbers`, `entities`, `sources`).
pub const CACHE_REJECTED: &str = "ragline_cache_rejected_total";

/// The OpenTelemetry `gen_ai.provider.name` of a provider as the YAML names it.
pub fn gen_ai_provider(provider: &str) -> &'static str {
    match provider {
        "bedrock" | "bedrock_titan" => "aws.bedrock",
        "openai_compat" => "openai",
        _ => "ragline",
    }
}

pub fn http_request(pipeline: &str, endpoint: &str, status: u16, seconds: f64) {
    static H: Lazy<Histogram, 3> = lazy();
    let mut buf = [0; 5];
    let status = digits(status, &mut buf);
    H.get([pipeline, endpoint, status], || {
        histogram!(HTTP_REQUEST_DURATION, "pipeline" => pipeline.to_owned(), "endpoint" => endpoint.to_owned(), "status" => status.to_owned())
    })
    .record(seconds);
}

/// `n` in decimal, written into `buf` (no allocation).
fn digits(mut n: u16, buf: &mut [u8; 5]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[start..]).unwrap_or_default()
}

pub fn http_error(pipeline: &str, endpoint: &str, code: &'static str) {
    counter!(HTTP_ERRORS, "pipeline" => pipeline.to_owned(), "endpoint" => endpoint.to_owned(), "code" => code)
        .increment(1);
}

pub fn stage(pipeline: &str, stage: &'static str, seconds: f64) {
    static H: Lazy<Histogram, 2> = lazy();
    H.get(
        [pipeline, stage],
        || histogram!(STAGE_DURATION, "pipeline" => pipeline.to_owned(), "stage" => stage),
    )
    .record(seconds);
}

/// One model call: its duration and its tokens.
pub struct GenAiCall<'a> {
    pub pipeline: &'a str,
    /// `chat` or `embeddings`.
    pub operation: &'static str,
    /// As the YAML names it (`bedrock`, `openai_compat`, `extractive`, `local`, ...).
    pub provider: &'a str,
    /// The model id, or the provider when it has none.
    pub model: &'a str,
    pub seconds: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

pub fn gen_ai(call: &GenAiCall<'_>) {
    static DURATION: Lazy<Histogram, 4> = lazy();
    static TOKENS: Lazy<Histogram, 5> = lazy();
    let provider = gen_ai_provider(call.provider);
    let values = [call.pipeline, call.operation, provider, call.model];
    let labels = || {
        vec![
            ("pipeline", call.pipeline.to_owned()),
            ("gen_ai_operation_name", call.operation.to_owned()),
            ("gen_ai_provider_name", provider.to_owned()),
            ("gen_ai_request_model", call.model.to_owned()),
        ]
    };
    if let Some(seconds) = call.seconds {
        DURATION
            .get(values, || histogram!(GEN_AI_DURATION, &labels()))
            .record(seconds);
    }
    for (kind, tokens) in [("input", call.input_tokens), ("output", call.output_tokens)] {
        // Embeddings write no tokens.
        if kind == "input" || call.operation == "chat" {
            let [p, o, v, m] = values;
            TOKENS
                .get([p, o, v, m, kind], || {
                    let mut with_type = labels();
                    with_type.push(("gen_ai_token_type", kind.to_owned()));
                    histogram!(GEN_AI_TOKENS, &with_type)
                })
                .record(tokens as f64);
        }
    }
}

/// One embedding batch of the embedder recorded in indexes as `embedder_id`
/// (`provider/model`, e.g. `local/all-MiniLM-L6-v2`).
pub fn embeddings(pipeline: &str, embedder_id: &str, seconds: f64, tokens: u64) {
    let (provider, model) = embedder_id.split_once('/').unwrap_or((embedder_id, embedder_id));
    gen_ai(&GenAiCall {
        pipeline,
        operation: "embeddings",
        provider,
        model,
        seconds: Some(seconds),
        input_tokens: tokens,
        output_tokens: 0,
    });
}

pub fn query_cost(pipeline: &str, model: &str, domain: &str, usd: f64) {
    static H: Lazy<Histogram, 3> = lazy();
    H.get([pipeline, model, domain], || {
        histogram!(QUERY_COST, "pipeline" => pipeline.to_owned(), "model" => model.to_owned(), "domain" => domain.to_owned())
    })
    .record(usd);
}

pub fn provider_retry(provider: &'static str, failure: &'static str) {
    counter!(PROVIDER_RETRIES, "provider" => provider, "failure" => failure).increment(1);
}

pub fn fallback(pipeline: &str, from: &str, to: &str) {
    counter!(FALLBACKS, "pipeline" => pipeline.to_owned(), "from" => from.to_owned(), "to" => to.to_owned())
        .increment(1);
}

pub fn route_decision(pipeline: &str, model: &str, reason: &'static str) {
    static C: Lazy<Counter, 3> = lazy();
    C.get([pipeline, model, reason], || {
        counter!(ROUTE_DECISIONS, "pipeline" => pipeline.to_owned(), "model" => model.to_owned(), "reason" => reason)
    })
    .increment(1);
}

pub fn guardrail_intervention(pipeline: &str, guard: &str, side: &'static str, action: &'static str, count: u32) {
    counter!(GUARDRAIL_INTERVENTIONS, "pipeline" => pipeline.to_owned(), "guard" => guard.to_owned(), "side" => side, "action" => action)
        .increment(u64::from(count));
}

pub fn rate_limited(limit: &'static str) {
    counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

pub fn budget_exceeded(role: &str, budget: &'static str) {
    counter!(BUDGET_EXCEEDED, "role" => role.to_owned(), "budget" => budget).increment(1);
}

pub fn reload(ok: bool) {
    counter!(RELOADS, "outcome" => if ok { "ok" } else { "error" }).increment(1);
}

pub fn index_size(index: &str, documents: u64, chunks: u64) {
    gauge!(INDEX_DOCUMENTS, "index" => index.to_owned()).set(documents as f64);
    gauge!(INDEX_CHUNKS, "index" => index.to_owned()).set(chunks as f64);
}

pub fn feedback(pipeline: &str, rating: &'static str) {
    counter!(FEEDBACK, "pipeline" => pipeline.to_owned(), "rating" => rating).increment(1);
}

/// One drift assessment: the window sizes, and each signal's score and threshold
/// (`None` while a window is too small: the old scores are removed).
pub fn drift(pipeline: &str, recent: usize, baseline: usize, signals: Option<&[(&'static str, f64, f64)]>) {
    for (window, n) in [("recent", recent), ("baseline", baseline)] {
        gauge!(DRIFT_WINDOW, "pipeline" => pipeline.to_owned(), "window" => window).set(n as f64);
    }
    for &(signal, score, threshold) in signals.unwrap_or_default() {
        gauge!(DRIFT_SCORE, "pipeline" => pipeline.to_owned(), "signal" => signal).set(score);
        gauge!(DRIFT_THRESHOLD, "pipeline" => pipeline.to_owned(), "signal" => signal).set(threshold);
    }
}

pub fn budget(period: &'static str, usd: f64) {
    gauge!(BUDGET, "period" => period).set(usd);
}

pub fn spans_dropped(reason: &'static str, spans: u64) {
    counter!(SPANS_DROPPED, "reason" => reason).increment(spans);
}

pub fn cache_lookup(pipeline: &str, status: &'static str) {
    static C: Lazy<Counter, 2> = lazy();
    C.get(
        [pipeline, status],
        || counter!(CACHE_LOOKUPS, "pipeline" => pipeline.to_owned(), "status" => status),
    )
    .increment(1);
}

pub fn cache_bypass(pipeline: &str, reason: &'static str) {
    counter!(CACHE_BYPASSES, "pipeline" => pipeline.to_owned(), "reason" => reason).increment(1);
}

pub fn cache_saved(pipeline: &str, usd: f64) {
    histogram!(CACHE_SAVED, "pipeline" => pipeline.to_owned()).record(usd);
}

pub fn cache_similarity(pipeline: &str, hit: bool, similarity: f64) {
    let outcome = if hit { "hit" } else { "miss" };
    histogram!(CACHE_SIMILARITY, "pipeline" => pipeline.to_owned(), "outcome" => outcome).record(similarity);
}

pub fn cache_rejected(pipeline: &str, check: &'static str) {
    counter!(CACHE_REJECTED, "pipeline" => pipeline.to_owned(), "check" => check).increment(1);
}

pub fn ingest_file(pipeline: &str, outcome: &'static str) {
    counter!(INGEST_FILES, "pipeline" => pipeline.to_owned(), "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_digits() {
        let mut buf = [0; 5];
        for n in [0, 7, 200, 429, 65_535] {
            assert_eq!(super::digits(n, &mut buf), n.to_string());
        }
    }
}
