//! `POST /v1/pipelines/{name}/query`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::{Stream, StreamExt, stream};
use serde::Serialize;
use std::convert::Infallible;

use super::auth::Principal;
use super::wire::{QueryRequest, QueryResponse, RouteInfo};
use super::{ApiError, AppState};
use crate::pipeline::{QueryError, QueryEvent, QueryStream};

/// Answer a question with sources.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{name}/query",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body = QueryRequest,
    responses(
        (status = 200, description = "Answer with sources, route and usage. With `\"stream\": true`, \
            `text/event-stream` instead: one `route` event (RouteInfo), `delta` events (`{\"text\"}`, in order), \
            then `sources` (Source[]), `usage` (Usage) and `done` (`{id, pipeline, answer, route, guardrail, latency_ms}`); \
            or an `error` event (`{\"error\": {code, message}}`) if the model fails part-way",
            content((QueryResponse = "application/json"), (super::wire::AnswerEvent = "text/event-stream"))),
        (status = 400, description = "Empty or too long query, bad filter", body = super::error::ErrorBody),
        (status = 403, description = "Domain or filter outside the pipeline's own", body = super::error::ErrorBody),
        (status = 404, description = "No such pipeline", body = super::error::ErrorBody),
        (status = 415, description = "Body is not JSON", body = super::error::ErrorBody),
        (status = 422, description = "JSON does not match the request shape", body = super::error::ErrorBody),
        (status = 502, description = "The model provider refused the request (access denied, invalid request, prompt too long)", body = super::error::ErrorBody),
        (status = 503, description = "Model unavailable: throttled, down or timed out after retries and fallback", body = super::error::ErrorBody),
    )
)]
pub async fn query(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    principal: Option<Extension<Principal>>,
    body: Result<Json<QueryRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let pipeline = state.pipeline(&name)?;
    let Json(request) = body.map_err(json_rejection)?;
    let stream = request.stream;
    state.check_query_length(&request.query)?;
    let mut query = request.into_query();
    if let Some(Extension(p)) = &principal {
        p.bound(&mut query);
    }
    let failed = |e: &QueryError| tracing::warn!(pipeline = %name, error = %e, "query failed");
    if stream {
        let events = pipeline.query_stream(query).await.inspect_err(failed)?;
        return Ok(sse(name, events).into_response());
    }
    let answer = pipeline.query(query).await.inspect_err(failed)?;
    Ok(Json(QueryResponse::from(&answer)).into_response())
}

/// The SSE events of a streamed answer: `route`, `delta`..., then `sources`, `usage`
/// and `done`; or `error` if the generation fails part-way.
fn sse(name: String, events: QueryStream) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let out = events.flat_map(move |event| {
        let items: Vec<Event> = match event {
            QueryEvent::Route { route, .. } => vec![json_event("route", &RouteInfo::from(&route))],
            QueryEvent::Delta(text) => vec![json_event("delta", &serde_json::json!({ "text": text }))],
            QueryEvent::Done(answer) => {
                let response = QueryResponse::from(answer.as_ref());
                vec![
                    json_event("sources", &response.sources),
                    json_event("usage", &response.usage),
                    json_event(
                        "done",
                        &serde_json::json!({
                            "id": response.id,
                            "pipeline": response.pipeline,
                            "answer": response.answer,
                            "route": response.route,
                            "guardrail": response.guardrail,
                            "latency_ms": response.latency_ms,
                            "cache": response.cache,
                        }),
                    ),
                ]
            }
            QueryEvent::Error(e) => {
                tracing::warn!(pipeline = %name, error = %e, "streamed query failed");
                let e = ApiError::from(e);
                vec![json_event(
                    "error",
                    &serde_json::json!({ "error": { "code": e.code, "message": e.message } }),
                )]
            }
        };
        stream::iter(items.into_iter().map(Ok))
    });
    Sse::new(out).keep_alive(KeepAlive::default())
}

/// An SSE event named `name` with `data` as JSON.
fn json_event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_else(|e| format!("{{\"serialize_error\":\"{e}\"}}")))
}

/// Axum's JSON rejections in our error shape, keeping their status (400, 415, 422).
pub fn json_rejection(r: JsonRejection) -> ApiError {
    let code = match r.status().as_u16() {
        415 => "unsupported_media_type",
        422 => "invalid_request",
        413 => "too_large",
        _ => "bad_request",
    };
    ApiError::new(r.status(), code, r.body_text())
}
