//! A small Bedrock Runtime server for tests: axum on 127.0.0.1:0 speaking the REST
//! protocol the real SDK uses — `POST /model/{modelId}/converse`,
//! `/model/{modelId}/converse-stream` (AWS event-stream framing, written with
//! `aws-smithy-eventstream`) and `/model/{modelId}/invoke` (Titan Text Embeddings V2).
//! It records every request so tests can assert on what the SDK sent.
//!
//! The model id picks the behaviour:
//! - `test.throttle-once…`: 429 `ThrottlingException` on the first call, then an answer;
//! - `test.throttle-always…`: 429 every time;
//! - `test.denied…`: 403 `AccessDeniedException`;
//! - `test.too-long…`: 400 `ValidationException` "Input is too long for requested model.";
//! - `test.hang…`: never answers;
//! - anything else: the answer [`ANSWER`] with [`INPUT_TOKENS`] / [`OUTPUT_TOKENS`].
//!
//! Titan (`/invoke`) answers a deterministic unit vector of the asked dimension and
//! counts one token per word.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What every normal answer says (it cites source 1).
pub const ANSWER: &str = "Employees get 25 vacation days per year [1].";
/// The streamed answer, in pieces.
pub const STREAM_PIECES: [&str; 4] = ["Employees get ", "25 vacation ", "days per year ", "[1]."];
pub const INPUT_TOKENS: u64 = 1200;
pub const OUTPUT_TOKENS: u64 = 300;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The raw path, percent-encoding included (`/model/amazon.nova-2-lite-v1%3A0/converse`).
    pub path: String,
    /// The decoded model id.
    pub model_id: String,
    /// `converse`, `converse-stream` or `invoke`.
    pub operation: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    calls: Mutex<HashMap<String, u32>>,
}

/// The running fake; it stops when the test's runtime ends.
pub struct FakeBedrock {
    pub url: String,
    shared: Arc<Shared>,
}

impl FakeBedrock {
    pub async fn start() -> FakeBedrock {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/model/{model}/{operation}", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeBedrock { url, shared }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests for `operation` (`converse`, `converse-stream`, `invoke`) of `model_id`.
    pub fn calls(&self, operation: &str, model_id: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.operation == operation && s.model_id == model_id)
            .collect()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((model_id, operation)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        model_id: model_id.clone(),
        operation: operation.clone(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.clone(),
    });
    let call = {
        let mut calls = shared.calls.lock().unwrap();
        let n = calls.entry(format!("{operation} {model_id}")).or_default();
        *n += 1;
        *n
    };
    if operation == "invoke" {
        return titan(&body);
    }
    if model_id.starts_with("test.hang") {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    if model_id.starts_with("test.throttle-always") || (model_id.starts_with("test.throttle-once") && call == 1) {
        return aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait",
        );
    }
    if model_id.starts_with("test.denied") {
        return aws_error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        );
    }
    if model_id.starts_with("test.too-long") {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Input is too long for requested model.",
        );
    }
    match operation.as_str() {
        "converse" => converse(),
        "converse-stream" => converse_stream(),
        _ => aws_error(StatusCode::NOT_FOUND, "UnknownOperationException", "no such operation"),
    }
}

fn aws_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("x-amzn-errortype", code), ("content-type", "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn usage() -> Value {
    json!({
        "inputTokens": INPUT_TOKENS,
        "outputTokens": OUTPUT_TOKENS,
        "totalTokens": INPUT_TOKENS + OUTPUT_TOKENS,
    })
}

fn converse() -> Response {
    let body = json!({
        "output": { "message": { "role": "assistant", "content": [{ "text": ANSWER }] } },
        "stopReason": "end_turn",
        "usage": usage(),
        "metrics": { "latencyMs": 12 },
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

/// One event-stream frame.
fn frame(event_type: &'static str, payload: Value) -> Vec<u8> {
    let message = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(":event-type", HeaderValue::String(event_type.into())))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(":message-type", HeaderValue::String("event".into())));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut out).unwrap();
    out
}

fn converse_stream() -> Response {
    let mut body = frame("messageStart", json!({ "role": "assistant" }));
    for piece in STREAM_PIECES {
        body.extend(frame(
            "contentBlockDelta",
            json!({ "contentBlockIndex": 0, "delta": { "text": piece } }),
        ));
    }
    body.extend(frame("contentBlockStop", json!({ "contentBlockIndex": 0 })));
    body.extend(frame("messageStop", json!({ "stopReason": "end_turn" })));
    body.extend(frame(
        "metadata",
        json!({ "usage": usage(), "metrics": { "latencyMs": 12 } }),
    ));
    Response::builder()
        .header("content-type", "application/vnd.amazon.eventstream")
        .body(Body::from(body))
        .unwrap()
}

/// Titan V2: a deterministic unit vector from the words, one token per word.
fn titan(body: &Value) -> Response {
    let text = body["inputText"].as_str().unwrap_or_default();
    let dims = body["dimensions"].as_u64().unwrap_or(1024) as usize;
    let mut v = vec![0f32; dims];
    for word in text.split_whitespace() {
        let w = word.to_lowercase();
        let h = w
            .bytes()
            .fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
        v[h as usize % dims] += 1.0;
    }
    v[0] += 0.01;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let v: Vec<f32> = v.iter().map(|x| x / norm).collect();
    let body = json!({ "embedding": v, "inputTextTokenCount": text.split_whitespace().count() });
    ([("content-type", "application/json")], body.to_string()).into_response()
}
