//! The OpenAI chat-completions wire shapes ragline reads and writes, plus the
//! `ragline` extension field carrying sources, route, guardrail verdict and usage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::wire::{CacheInfo, GuardrailReport, OneOrMany, RouteInfo, Source, Usage};
use crate::pipeline::Answer;
use crate::stages::guard::GuardAction;

/// A chat-completion request. ragline reads `model` (the pipeline), the last `user`
/// message (the question), `stream`, `stream_options.include_usage` and `user`; every
/// other OpenAI field (temperature, max_tokens, ...) is accepted and ignored: the
/// pipeline's own models and settings answer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// The pipeline to ask (see `GET /v1/models`).
    pub model: String,
    /// The conversation; only the last `user` message is used (earlier turns and
    /// `system` messages are ignored: the pipeline's prompt frames the answer).
    pub messages: Vec<ChatMessage>,
    /// Stream the answer as server-sent `chat.completion.chunk` events, ending with `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Caller's user id; keeps A/B prompt splits sticky.
    #[serde(default)]
    pub user: Option<String>,
    /// ragline's own request options (e.g. the Python client's `extra_body={"ragline": {...}}`).
    #[serde(default)]
    pub ragline: Option<RaglineOptions>,
}

/// One message of the conversation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or a list of content parts of which the `text` ones are read.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// Message content: a string or content parts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One content part; only `{"type": "text", "text": ...}` is read.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

impl MessageContent {
    /// The text of the message (text parts joined by newlines).
    pub fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter(|p| p.kind == "text")
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Streaming options.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` and no choices before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// Query options a plain OpenAI request cannot express.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaglineOptions {
    /// Restrict to these domains (within the pipeline's own filter).
    #[serde(default)]
    pub domain: Option<OneOrMany>,
    /// Restrict by metadata, e.g. `{"doc_type": ["policy"]}`.
    #[serde(default)]
    pub filters: Option<BTreeMap<String, Vec<String>>>,
    /// Sources to retrieve (1-50).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Caller's role, passed to routing rules.
    #[serde(default)]
    pub role: Option<String>,
    /// Caller's session, for logs and sticky A/B splits.
    #[serde(default)]
    pub session_id: Option<String>,
    /// `false`: neither serve this request from the answer cache nor store its answer
    /// (default true).
    #[serde(default)]
    pub cache: Option<bool>,
}

/// A chat completion (`object: chat.completion`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-` and 24 hex digits.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The pipeline that answered.
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: CompletionUsage,
    /// ragline extension: sources, route, guardrail verdict, full usage with cost.
    pub ragline: RaglineExtension,
}

/// The one answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    /// `stop`, or `content_filter` when the guardrails blocked the query or answer.
    pub finish_reason: String,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<()>,
}

/// The assistant's message.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: String,
    /// The answer (the refusal message when blocked).
    pub content: String,
    /// The refusal message when the guardrails blocked; else null.
    pub refusal: Option<String>,
}

/// Token counts as OpenAI names them.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct CompletionUsage {
    /// Tokens the model read (`usage.input_tokens`).
    pub prompt_tokens: u64,
    /// Tokens the model wrote (`usage.output_tokens`).
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// What a ragline answer carries beyond the OpenAI shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RaglineExtension {
    /// The answer's id, for `POST /v1/pipelines/{name}/feedback`.
    pub answer_id: String,
    pub pipeline: String,
    /// The retrieved chunks the answer cites as `[n]`.
    pub sources: Vec<Source>,
    /// The model and prompt version that answered.
    pub route: RouteInfo,
    /// What the guardrails did: `{action: none|masked|blocked, reasons}`.
    pub guardrail: GuardrailReport,
    /// Tokens and cost per stage (the full `usage` of `POST /v1/pipelines/{name}/query`).
    pub usage: Usage,
    /// How the answer met the answer cache.
    pub cache: CacheInfo,
    pub latency_ms: f64,
}

/// One streamed chunk (`object: chat.completion.chunk`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    pub created: u64,
    pub model: String,
    /// One choice; empty in the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Only in the last chunk, and only with `stream_options.include_usage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<CompletionUsage>,
    /// Only in the chunk with `finish_reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ragline: Option<RaglineExtension>,
}

/// A streamed choice.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: ChunkDelta,
    /// Null until the last content chunk: then `stop` or `content_filter`.
    pub finish_reason: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<()>,
}

/// The next piece of the message.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ChunkDelta {
    /// `assistant`, in the first chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `GET /v1/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Model>,
}

/// A pipeline, as an OpenAI model.
#[derive(Debug, Serialize, ToSchema)]
pub struct Model {
    /// The pipeline name: what `model` takes.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Always 0: pipelines have no creation time.
    pub created: u64,
    /// Always `ragline`.
    pub owned_by: String,
    /// The pipeline's description.
    pub description: String,
}

impl From<&Answer> for CompletionUsage {
    fn from(a: &Answer) -> Self {
        Self {
            prompt_tokens: a.usage.input_tokens,
            completion_tokens: a.usage.output_tokens,
            total_tokens: a.usage.input_tokens + a.usage.output_tokens,
        }
    }
}

impl From<&Answer> for RaglineExtension {
    fn from(a: &Answer) -> Self {
        Self {
            answer_id: a.id.clone(),
            pipeline: a.pipeline.clone(),
            sources: a.sources.iter().map(Source::from).collect(),
            route: RouteInfo::from(&a.route),
            guardrail: GuardrailReport::from(&a.guardrail),
            usage: Usage::from(&a.usage),
            cache: CacheInfo::from(&a.cache),
            latency_ms: a.latency_ms,
        }
    }
}

/// `content_filter` when the guardrails blocked, else `stop`.
pub fn finish_reason(a: &Answer) -> String {
    if a.guardrail.action == GuardAction::Blocked {
        "content_filter".to_owned()
    } else {
        "stop".to_owned()
    }
}
