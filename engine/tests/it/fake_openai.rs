//! A small OpenAI-compatible server for tests (what Ollama, vLLM or llama.cpp serve):
//! `POST /v1/chat/completions` (JSON or SSE chunks with a final usage chunk) and
//! `POST /v1/embeddings`. It records every request.
//!
//! The model name picks the behaviour: `*-throttle-once` (429 first), `*-denied` (401),
//! `*-too-long` (400 `context_length_exceeded`), otherwise an answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const ANSWER: &str = "Staff may work remotely two days a week [1].";
pub const PIECES: [&str; 3] = ["Staff may work ", "remotely two days ", "a week [1]."];
pub const PROMPT_TOKENS: u64 = 800;
pub const COMPLETION_TOKENS: u64 = 40;
pub const EMBED_DIMS: usize = 64;

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    calls: Mutex<HashMap<String, u32>>,
}

pub struct FakeOpenAi {
    /// The API base, e.g. `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    shared: Arc<Shared>,
}

impl FakeOpenAi {
    pub async fn start() -> FakeOpenAi {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeOpenAi { base_url, shared }
    }

    /// Requests to `path` for `model`.
    pub fn calls(&self, path: &str, model: &str) -> Vec<Seen> {
        self.shared
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path && s.body["model"] == model)
            .cloned()
            .collect()
    }
}

fn record(shared: &Shared, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> (Value, u32) {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    shared.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.clone(),
    });
    let mut calls = shared.calls.lock().unwrap();
    let n = calls
        .entry(format!("{} {}", uri.path(), body["model"].as_str().unwrap_or_default()))
        .or_default();
    *n += 1;
    (body, *n)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "error": { "message": message, "type": "invalid_request_error", "code": code } }).to_string(),
    )
        .into_response()
}

async fn chat(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (body, call) = record(&shared, &uri, &headers, &body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    if model.ends_with("-throttle-once") && call == 1 {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Rate limit reached",
        );
    }
    if model.ends_with("-denied") {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Incorrect API key provided",
        );
    }
    if model.ends_with("-too-long") {
        return error(
            StatusCode::BAD_REQUEST,
            "context_length_exceeded",
            "This model's maximum context length is 2048 tokens",
        );
    }
    let usage = json!({ "prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS, "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS });
    if body["stream"] == true {
        let mut out = String::new();
        let chunk = |delta: Value| json!({ "id": "c1", "object": "chat.completion.chunk", "model": model, "choices": [{ "index": 0, "delta": delta, "finish_reason": null }] });
        out.push_str(&format!("data: {}\n\n", chunk(json!({ "role": "assistant" }))));
        for p in PIECES {
            out.push_str(&format!("data: {}\n\n", chunk(json!({ "content": p }))));
        }
        if body["stream_options"]["include_usage"] == true {
            out.push_str(&format!(
                "data: {}\n\n",
                json!({ "id": "c1", "choices": [], "usage": usage })
            ));
        }
        out.push_str("data: [DONE]\n\n");
        return Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from(out))
            .unwrap();
    }
    let response = json!({
        "id": "c1",
        "object": "chat.completion",
        "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": ANSWER }, "finish_reason": "stop" }],
        "usage": usage,
    });
    ([("content-type", "application/json")], response.to_string()).into_response()
}

async fn embeddings(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (body, _) = record(&shared, &uri, &headers, &body);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect(),
        _ => vec![],
    };
    let mut tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut v = vec![0.01f32; EMBED_DIMS];
            for word in text.split_whitespace() {
                tokens += 1;
                let h = word
                    .to_lowercase()
                    .bytes()
                    .fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
                v[h as usize % EMBED_DIMS] += 1.0;
            }
            json!({ "object": "embedding", "index": i, "embedding": v })
        })
        .collect();
    let response = json!({ "object": "list", "data": data, "model": body["model"], "usage": { "prompt_tokens": tokens, "total_tokens": tokens } });
    ([("content-type", "application/json")], response.to_string()).into_response()
}
