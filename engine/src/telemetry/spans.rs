//! The spans of a request: one per stage (and per search inside retrieval), GenAI
//! client spans for model calls and embedding batches, their attributes. Stage spans
//! are `debug`: without an OTLP exporter nothing enables them, they are disabled, and
//! every function here returns at once without building a value.
//!
//! Attributes set here (through `set_attribute`) go to OpenTelemetry only; log lines
//! show a span's fields, which are kept to its name.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::Status;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::record::gen_ai_provider;
use super::semconv::{
    ERROR_TYPE, GEN_AI_DATA_SOURCE_ID, GEN_AI_INPUT_MESSAGES, GEN_AI_OPERATION_NAME, GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, GEN_AI_REQUEST_TOP_K, GEN_AI_RESPONSE_MODEL,
    GEN_AI_RETRIEVAL_DOCUMENTS, GEN_AI_RETRIEVAL_QUERY_TEXT, GEN_AI_RETRIEVAL_TOP_K, GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS, OP_CHAT, OP_EMBEDDINGS, OP_RETRIEVAL, RAGLINE_FALLBACK_FROM, RAGLINE_GUARD_ACTION,
    RAGLINE_PIPELINE, RAGLINE_PROMPT_VERSION, RAGLINE_RETRIEVE_FUSION_MS, RAGLINE_RETRIEVE_KEYWORD_MS,
    RAGLINE_RETRIEVE_VECTOR_MS, RAGLINE_ROUTE_MODEL, RAGLINE_ROUTE_REASON, RAGLINE_STAGE,
};

/// Whether question and answer text go into spans (`telemetry.capture_content`).
static CAPTURE_CONTENT: AtomicBool = AtomicBool::new(false);

pub(super) fn set_capture_content(on: bool) {
    CAPTURE_CONTENT.store(on, Ordering::Relaxed);
}

fn capture_content() -> bool {
    CAPTURE_CONTENT.load(Ordering::Relaxed)
}

/// The span of one stage run (`retrieve`, `route`, `guard_query`, ...).
pub fn stage(pipeline: &str, stage: &'static str) -> Span {
    let span = tracing::debug_span!(target: "ragline::stage", "stage", "otel.name" = stage);
    common(&span, pipeline, stage);
    span
}

/// How long one search inside retrieval took (`retrieve.keyword`, `retrieve.vector`,
/// `retrieve.fusion`): an attribute of the current `retrieval {index}` span
/// (`ragline.retrieve.keyword_ms`, ...). Attributes, not child spans: a span costs
/// about 6 µs to build and export (docs/bench/telemetry.md), and the
/// `ragline_stage_duration_seconds` metric has the same figures.
pub fn part_done(name: &'static str, seconds: f64) {
    let key = match name {
        "retrieve.keyword" => RAGLINE_RETRIEVE_KEYWORD_MS,
        "retrieve.vector" => RAGLINE_RETRIEVE_VECTOR_MS,
        _ => RAGLINE_RETRIEVE_FUSION_MS,
    };
    let span = Span::current();
    if !span.is_disabled() {
        span.set_attribute(key, seconds * 1e3);
    }
}

/// The retrieve stage's span, `retrieval {index}`, asking for `top_k` sources.
pub fn retrieval(pipeline: &str, index: &str, top_k: usize) -> Span {
    let span = tracing::debug_span!(target: "ragline::stage", "retrieval", "otel.name" = tracing::field::Empty);
    if span.is_disabled() {
        return span;
    }
    span.record("otel.name", format!("{OP_RETRIEVAL} {index}"));
    common(&span, pipeline, "retrieve");
    span.set_attribute(GEN_AI_OPERATION_NAME, OP_RETRIEVAL);
    span.set_attribute(GEN_AI_DATA_SOURCE_ID, index.to_owned());
    let top_k = i64::try_from(top_k).unwrap_or(i64::MAX);
    span.set_attribute(GEN_AI_REQUEST_TOP_K, top_k);
    span.set_attribute(GEN_AI_RETRIEVAL_TOP_K, top_k);
    span
}

/// What a retrieval found, best first: each hit's document id, chunk id and fused
/// score; and the question when content capture is on.
pub fn retrieved<'a>(span: &Span, question: &str, hits: impl IntoIterator<Item = (&'a str, u32, f32)>) {
    if span.is_disabled() {
        return;
    }
    #[derive(serde::Serialize)]
    struct Hit<'a> {
        id: &'a str,
        chunk: u32,
        score: f32,
    }
    let docs: Vec<Hit<'_>> = hits
        .into_iter()
        .map(|(id, chunk, score)| Hit { id, chunk, score })
        .collect();
    // Serialising plain structs cannot fail.
    let docs = serde_json::to_string(&docs).unwrap_or_default();
    span.set_attribute(GEN_AI_RETRIEVAL_DOCUMENTS, docs);
    if capture_content() {
        span.set_attribute(GEN_AI_RETRIEVAL_QUERY_TEXT, question.to_owned());
    }
}

/// A model call of `pipeline`: `chat {model}`, a client span. `provider` as the YAML
/// names it; `model` the model id, or the provider when it has none.
pub fn chat(pipeline: &str, provider: &str, model: &str) -> Span {
    client(pipeline, "generate", OP_CHAT, provider, model)
}

/// What a model call used, and which model answered (a fallback, when `fallback_from`
/// names the routed one).
pub fn chat_done(span: &Span, answered_by: &str, input_tokens: u64, output_tokens: u64, fallback_from: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    span.set_attribute(GEN_AI_RESPONSE_MODEL, answered_by.to_owned());
    tokens(span, input_tokens, Some(output_tokens));
    if let Some(from) = fallback_from {
        span.set_attribute(RAGLINE_FALLBACK_FROM, from.to_owned());
    }
}

/// The prompt and the answer, as GenAI messages, when content capture is on.
pub fn chat_content(span: &Span, prompt: &str, answer: &str) {
    if span.is_disabled() || !capture_content() {
        return;
    }
    let message = |role: &str, text: &str| {
        serde_json::json!([{ "role": role, "parts": [{ "type": "text", "content": text }] }]).to_string()
    };
    span.set_attribute(GEN_AI_INPUT_MESSAGES, message("user", prompt));
    span.set_attribute(GEN_AI_OUTPUT_MESSAGES, message("assistant", answer));
}

/// An embedding batch by the embedder recorded in indexes as `embedder_id`
/// (`provider/model`): `embeddings {model}`, a client span.
pub fn embeddings(pipeline: &str, stage: &'static str, embedder_id: &str) -> Span {
    let (provider, model) = embedder_id.split_once('/').unwrap_or((embedder_id, embedder_id));
    client(pipeline, stage, OP_EMBEDDINGS, provider, model)
}

/// The tokens an embedding batch read.
pub fn embedded(span: &Span, tokens: u64) {
    if !span.is_disabled() {
        self::tokens(span, tokens, None);
    }
}

/// A route decision: the model, who chose it (`default`, `script`, `script_error`),
/// the prompt version.
pub fn routed(span: &Span, model: &str, chosen: &'static str, prompt: &dyn std::fmt::Display) {
    if !span.is_disabled() {
        span.set_attribute(RAGLINE_ROUTE_MODEL, model.to_owned());
        span.set_attribute(RAGLINE_ROUTE_REASON, chosen);
        span.set_attribute(RAGLINE_PROMPT_VERSION, prompt.to_string());
    }
}

/// What a guard did: `none`, `masked` or `blocked`.
pub fn guarded(span: &Span, action: &'static str) {
    if !span.is_disabled() {
        span.set_attribute(RAGLINE_GUARD_ACTION, action);
    }
}

/// Mark `span` failed: status error with `message`, and `error.type`.
pub fn failed(span: &Span, error_type: &str, message: &dyn std::fmt::Display) {
    if span.is_disabled() {
        return;
    }
    span.set_status(Status::error(message.to_string()));
    span.set_attribute(ERROR_TYPE, error_type.to_owned());
}

fn client(pipeline: &str, stage: &'static str, operation: &'static str, provider: &str, model: &str) -> Span {
    let span = tracing::debug_span!(
        target: "ragline::stage",
        "gen_ai",
        "otel.name" = tracing::field::Empty,
        "otel.kind" = "client"
    );
    if span.is_disabled() {
        return span;
    }
    span.record("otel.name", format!("{operation} {model}"));
    common(&span, pipeline, stage);
    span.set_attribute(GEN_AI_OPERATION_NAME, operation);
    span.set_attribute(GEN_AI_PROVIDER_NAME, gen_ai_provider(provider));
    span.set_attribute(GEN_AI_REQUEST_MODEL, model.to_owned());
    span
}

fn common(span: &Span, pipeline: &str, stage: &'static str) {
    if !span.is_disabled() {
        span.set_attribute(RAGLINE_PIPELINE, pipeline.to_owned());
        span.set_attribute(RAGLINE_STAGE, stage);
    }
}

fn tokens(span: &Span, input: u64, output: Option<u64>) {
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    span.set_attribute(GEN_AI_USAGE_INPUT_TOKENS, int(input));
    if let Some(output) = output {
        span.set_attribute(GEN_AI_USAGE_OUTPUT_TOKENS, int(output));
    }
}
