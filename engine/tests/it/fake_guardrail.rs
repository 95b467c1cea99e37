//! A small Bedrock Guardrails server for tests: axum on 127.0.0.1:0 speaking
//! `POST /guardrail/{id}/version/{v}/apply` as the real SDK calls it, recording every
//! request. (Converse and InvokeModel have their own fake, `fake_bedrock.rs`.)
//!
//! The checked text picks the behaviour:
//! - `Jane Roe` in an `INPUT`: intervenes, anonymizing the name as `{NAME}`;
//! - `stocks` in an `INPUT`: intervenes, blocking the topic `Investment advice` with [`BLOCKED_MESSAGE`];
//! - `throttle-once`: 429 `ThrottlingException` on its first call, then no intervention;
//! - `always-down`: 500 `InternalServerException` every time;
//! - anything else: no intervention.
//!
//! Every answer reports [`UNITS_PER_CALL`] billable text units (topic, content and PII
//! policies at one unit each; the free word-policy unit is not billed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// What the guardrail answers instead of a blocked query.
pub const BLOCKED_MESSAGE: &str = "Sorry, the guardrail blocked this.";
/// Billable text units of every call.
pub const UNITS_PER_CALL: u64 = 3;

/// One `ApplyGuardrail` request as the fake received it.
#[derive(Debug, Clone)]
pub struct Applied {
    pub path: String,
    pub authorization: String,
    /// `INPUT` or `OUTPUT`.
    pub source: String,
    /// The checked text.
    pub text: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Applied>>,
    calls: Mutex<HashMap<String, u32>>,
}

/// The running fake; it stops when the test's runtime ends.
pub struct FakeGuardrail {
    pub url: String,
    shared: Arc<Shared>,
}

impl FakeGuardrail {
    pub async fn start() -> FakeGuardrail {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/guardrail/{id}/version/{version}/apply", post(apply))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGuardrail { url, shared }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Applied> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Requests whose text contains `needle`.
    pub fn with_text(&self, needle: &str) -> Vec<Applied> {
        self.seen().into_iter().filter(|a| a.text.contains(needle)).collect()
    }
}

async fn apply(
    State(shared): State<Arc<Shared>>,
    Path((_id, _version)): Path<(String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let source = body["source"].as_str().unwrap_or_default().to_owned();
    let text = body["content"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    shared.seen.lock().unwrap().push(Applied {
        path: uri.path().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        source: source.clone(),
        text: text.clone(),
        body: body.clone(),
    });
    let call = {
        let mut calls = shared.calls.lock().unwrap();
        let n = calls.entry(format!("{source} {text}")).or_default();
        *n += 1;
        *n
    };
    if text.contains("always-down") {
        return aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "guardrail down",
        );
    }
    if text.contains("throttle-once") && call == 1 {
        return aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests",
        );
    }
    let input = source == "INPUT";
    if input && text.contains("Jane Roe") {
        let pii = json!({"sensitiveInformationPolicy": {
            "piiEntities": [{"match": "Jane Roe", "type": "NAME", "action": "ANONYMIZED", "detected": true}],
            "regexes": []
        }});
        return intervened(&text.replace("Jane Roe", "{NAME}"), pii);
    }
    if input && text.contains("stocks") {
        let topic = json!({"topicPolicy": {"topics": [
            {"name": "Investment advice", "type": "DENY", "action": "BLOCKED", "detected": true}
        ]}});
        return intervened(BLOCKED_MESSAGE, topic);
    }
    Json(json!({"action": "NONE", "outputs": [], "assessments": [{}], "usage": usage()})).into_response()
}

fn intervened(output: &str, assessment: Value) -> Response {
    Json(json!({
        "action": "GUARDRAIL_INTERVENED",
        "actionReason": "Guardrail blocked.",
        "outputs": [{"text": output}],
        "assessments": [assessment],
        "usage": usage(),
    }))
    .into_response()
}

fn usage() -> Value {
    json!({
        "topicPolicyUnits": 1,
        "contentPolicyUnits": 1,
        "wordPolicyUnits": 1,
        "sensitiveInformationPolicyUnits": 1,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 0
    })
}

fn aws_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("x-amzn-errortype", code)],
        Json(json!({ "message": message })),
    )
        .into_response()
}
