//! The OpenAI-compatible surface: `POST /v1/chat/completions` and `GET /v1/models`,
//! so OpenAI clients can ask ragline pipelines.
//!
//! - `model` names a pipeline; each pipeline is listed as a model.
//! - The last `user` message is the question. Earlier messages (and `system` ones) are
//!   ignored: a pipeline answers one question from its retrieved sources with its own
//!   prompt. Sampling fields (temperature, max_tokens, ...) are ignored too: the
//!   pipeline's models and settings answer.
//! - The answer comes back as `chat.completion` with `usage` (prompt, completion and
//!   total tokens) and the extension field `ragline: {pipeline, sources, route,
//!   guardrail, usage, latency_ms}`. A query the guardrails refused is answered (200)
//!   with the refusal message, `finish_reason: content_filter` and `message.refusal`.
//! - `stream: true` streams `chat.completion.chunk` events ending with `data: [DONE]`
//!   (see `chunks.rs`).
//! - Errors use the OpenAI shape `{"error": {"message", "type", "param", "code"}}`;
//!   an unknown model is 404 `model_not_found`.

mod chunks;
pub mod error;
pub mod types;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use self::chunks::ChunkMeta;
use self::error::OpenAiError;
use self::types::{
    AssistantMessage, ChatCompletion, ChatCompletionRequest, Choice, CompletionUsage, Model, ModelList,
    RaglineExtension, finish_reason,
};
use super::AppState;
use super::auth::{Principal, may_see};
use super::observe::PipelineName;
use crate::pipeline::{Pipeline, Query};
use crate::stages::guard::GuardAction;

/// Answer the last user message with the pipeline `model`.
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    request_body = ChatCompletionRequest,
    responses(
        (status = 200, description = "`chat.completion` with the `ragline` extension (sources, route, guardrail, usage). \
            With `\"stream\": true`, `text/event-stream` of `chat.completion.chunk` data events ending with `data: [DONE]`",
            content((ChatCompletion = "application/json"), (super::wire::ChatEvent = "text/event-stream"))),
        (status = 400, description = "No user message, empty or too long question, bad body", body = error::OpenAiErrorBody),
        (status = 403, description = "Domain or filter outside the pipeline's own", body = error::OpenAiErrorBody),
        (status = 404, description = "No pipeline named `model`", body = error::OpenAiErrorBody),
        (status = 415, description = "Body is not JSON", body = error::OpenAiErrorBody),
        (status = 422, description = "JSON does not match the request shape", body = error::OpenAiErrorBody),
        (status = 502, description = "The model provider refused the request", body = error::OpenAiErrorBody),
        (status = 503, description = "Model unavailable after retries and fallback", body = error::OpenAiErrorBody),
    )
)]
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    principal: Option<Extension<Principal>>,
    body: Result<Json<ChatCompletionRequest>, JsonRejection>,
) -> Response {
    // The pipeline is named in the body, not the path: say it for the request metrics.
    let named = body.as_ref().ok().map(|Json(b)| PipelineName(b.model.clone()));
    // ... and the key's role is checked against it here.
    let allowed = match (&principal, &body) {
        (Some(Extension(p)), Ok(Json(b))) => p.check_pipeline(&b.model).map_err(OpenAiError::from),
        _ => Ok(()),
    };
    let completed = match allowed {
        Ok(()) => complete(state, body, principal.map(|Extension(p)| p)).await,
        Err(e) => Err(e),
    };
    let mut response = completed.unwrap_or_else(IntoResponse::into_response);
    if let Some(name) = named {
        response.extensions_mut().insert(name);
    }
    response
}

async fn complete(
    state: Arc<AppState>,
    body: Result<Json<ChatCompletionRequest>, JsonRejection>,
    principal: Option<Principal>,
) -> Result<Response, OpenAiError> {
    let Json(body) = body.map_err(|r| OpenAiError::from(super::query::json_rejection(r)))?;
    let pipeline = pipeline(&state, &body.model)?;
    let include_usage = body.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let stream = body.stream;
    let mut request = query_request(body)?;
    state.check_query_length(&request.text)?;
    if let Some(p) = &principal {
        p.bound(&mut request);
    }
    let meta = ChunkMeta {
        id: completion_id(),
        created: now(),
        model: pipeline.spec.name.clone(),
        include_usage,
    };
    let fail =
        |e: &crate::pipeline::QueryError| tracing::warn!(pipeline = %meta.model, error = %e, "chat completion failed");
    if stream {
        let events = pipeline.query_stream(request).await.inspect_err(fail)?;
        return Ok(chunks::sse(meta, events).into_response());
    }
    let response = pipeline.query(request).await.inspect_err(fail)?;
    let blocked = response.guardrail.action == GuardAction::Blocked;
    let completion = ChatCompletion {
        id: meta.id,
        object: "chat.completion".to_owned(),
        created: meta.created,
        model: meta.model,
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant".to_owned(),
                refusal: blocked.then(|| response.text.clone()),
                content: response.text.clone(),
            },
            finish_reason: finish_reason(&response),
            logprobs: None,
        }],
        usage: CompletionUsage::from(&response),
        ragline: RaglineExtension::from(&response),
    };
    Ok(Json(completion).into_response())
}

/// Every pipeline, as a model.
#[utoipa::path(get, path = "/v1/models", responses((status = 200, body = ModelList)))]
pub async fn list_models(
    State(state): State<Arc<AppState>>,
    principal: Option<Extension<Principal>>,
) -> Json<ModelList> {
    let snapshot = state.engine.snapshot();
    let granted = |p: &&Arc<Pipeline>| may_see(principal.as_ref(), &p.spec.name);
    Json(ModelList {
        object: "list".to_owned(),
        data: snapshot.pipelines.values().filter(granted).map(|p| model(p)).collect(),
    })
}

/// One pipeline, as a model.
#[utoipa::path(
    get,
    path = "/v1/models/{model}",
    params(("model" = String, Path, description = "Pipeline name")),
    responses((status = 200, body = Model), (status = 404, body = error::OpenAiErrorBody))
)]
pub async fn get_model(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Model>, OpenAiError> {
    if let Some(Extension(p)) = &principal {
        p.check_pipeline(&name)?;
    }
    Ok(Json(model(pipeline(&state, &name)?.as_ref())))
}

fn model(p: &Pipeline) -> Model {
    Model {
        id: p.spec.name.clone(),
        object: "model".to_owned(),
        created: 0,
        owned_by: "ragline".to_owned(),
        description: p.spec.description.clone(),
    }
}

fn pipeline(state: &AppState, name: &str) -> Result<Arc<Pipeline>, OpenAiError> {
    state
        .engine
        .snapshot()
        .pipelines
        .get(name)
        .cloned()
        .ok_or_else(|| OpenAiError::model_not_found(name))
}

/// The query a chat request asks: its last user message, with the `ragline` options.
fn query_request(body: ChatCompletionRequest) -> Result<Query, OpenAiError> {
    let question = body
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .and_then(|m| m.content.as_ref())
        .map(types::MessageContent::text)
        .ok_or_else(|| OpenAiError::invalid("messages", "messages must hold at least one `user` message with text"))?;
    let options = body.ragline.unwrap_or_default();
    Ok(Query {
        text: question,
        domains: options.domain.map(Vec::from),
        filters: options.filters.unwrap_or_default(),
        top_k: options.top_k,
        role: options.role,
        session_id: options.session_id,
        user: body.user,
        granted_domains: None,
        account: None,
        skip_cache: options.cache == Some(false),
    })
}

/// `chatcmpl-` and 24 random hex digits.
fn completion_id() -> String {
    format!("chatcmpl-{:024x}", rand::random::<u128>() >> 32)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<Query, OpenAiError> {
        query_request(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn the_last_user_message_is_the_question() {
        let r = request(serde_json::json!({
            "model": "hr",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "first?"},
                {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "part"}]}
            ],
            "temperature": 0.2,
            "user": "u1",
            "ragline": {"domain": "hr", "top_k": 3}
        }))
        .unwrap();
        assert_eq!(r.text, "second\npart");
        assert_eq!(r.user.as_deref(), Some("u1"));
        assert_eq!(r.top_k, Some(3));
        assert_eq!(r.domains, Some(vec!["hr".to_owned()]));
    }

    #[test]
    fn no_user_message_is_a_bad_request() {
        let e =
            request(serde_json::json!({"model": "hr", "messages": [{"role": "system", "content": "x"}]})).unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert_eq!(e.body.param.as_deref(), Some("messages"));
    }

    #[test]
    fn ids_look_like_openai_ids() {
        let id = completion_id();
        assert!(id.starts_with("chatcmpl-") && id.len() == 9 + 24, "{id}");
    }
}
