//! Guardrails over HTTP on the real server: the local guard (PII masked in the query,
//! the answer and its sources; denied topics and the deny list refused with HTTP 200;
//! interventions counted), streamed answers held back until checked, and Bedrock
//! Guardrails through the real SDK against the local fake (`fake_guardrail.rs`).

use std::path::Path;

use serde_json::{Value, json};

use crate::bedrock::AWS_ENV;
use crate::fake_guardrail::{BLOCKED_MESSAGE, FakeGuardrail, UNITS_PER_CALL};
use crate::support::{Server, client};

pub const GUARD_CONFIG: &str = "tests/fixtures/guard";
const REFUSAL: &str = "I can only answer questions about company policy.";
const PII_QUERY: &str = "My SSN is 123-45-6789. How do I contact payroll by e-mail or phone?";

async fn post(s: &Server, path: &str, body: Value) -> (u16, Value) {
    let r = client().post(s.url(path)).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn reasons(body: &Value) -> Vec<(String, String, String, String)> {
    body["guardrail"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (s("guard"), s("on"), s("action"), s("what"))
        })
        .collect()
}

fn has(reasons: &[(String, String, String, String)], guard: &str, on: &str, action: &str, what: &str) -> bool {
    reasons
        .iter()
        .any(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_str()) == (guard, on, action, what))
}

#[tokio::test]
async fn local_guard_masks_pii_refuses_topics_and_counts() {
    let s = Server::start(GUARD_CONFIG, &["--ingest"]);

    // Without guardrails the answer quotes the payroll contact as written.
    let (status, plain) = post(&s, "/v1/pipelines/plain/query", json!({ "query": PII_QUERY })).await;
    assert_eq!(status, 200, "{plain:#}");
    assert!(
        plain["answer"].as_str().unwrap().contains("payroll@acme-corp.com"),
        "{plain:#}"
    );
    assert_eq!(plain["guardrail"]["action"], "none");

    // With them, PII is masked in the query, the answer and the sources.
    let (status, body) = post(&s, "/v1/pipelines/guarded/query", json!({ "query": PII_QUERY })).await;
    assert_eq!(status, 200, "{body:#}");
    let answer = body["answer"].as_str().unwrap();
    assert!(answer.contains("[EMAIL]") && answer.contains("[PHONE]"), "{body:#}");
    let text = body.to_string();
    for pii in ["123-45-6789", "payroll@acme-corp.com", "234-5678"] {
        assert!(!text.contains(pii), "{pii} leaked: {body:#}");
    }
    assert_eq!(body["guardrail"]["action"], "masked");
    let r = reasons(&body);
    assert!(has(&r, "pii", "query", "masked", "ssn"), "{r:?}");
    assert!(has(&r, "pii", "answer", "masked", "email"), "{r:?}");
    assert!(has(&r, "pii", "answer", "masked", "phone"), "{r:?}");
    assert!(has(&r, "pii", "sources", "masked", "email"), "{r:?}");
    assert!(!body["sources"].as_array().unwrap().is_empty());
    assert_eq!(body["route"]["model"], "quotes");

    // A denied topic is refused with HTTP 200, before retrieval and without a model.
    let (status, body) = post(
        &s,
        "/v1/pipelines/guarded/query",
        json!({ "query": "Any stock tips for my bonus?" }),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["answer"], REFUSAL);
    assert_eq!(body["guardrail"]["action"], "blocked");
    assert_eq!(
        reasons(&body),
        [(
            "denied_topic".into(),
            "query".into(),
            "blocked".into(),
            "investment advice".into()
        )]
    );
    assert_eq!(body["guardrail"]["reasons"][0]["count"], 1);
    assert_eq!(body["sources"], json!([]));
    assert_eq!(body["route"]["provider"], "guardrail");
    assert_eq!(body["usage"]["input_tokens"], 0);
    assert_eq!(body["usage"]["embedding_tokens"], 0);

    // So is a deny-list term.
    let (status, body) = post(
        &s,
        "/v1/pipelines/guarded/query",
        json!({ "query": "What is Project  Falcon?" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["answer"], REFUSAL);
    assert!(
        has(&reasons(&body), "content_filter", "query", "blocked", "project falcon"),
        "{body:#}"
    );

    // A clean question and answer pass untouched; only the sources that carry the
    // payroll contact are masked.
    let (_, body) = post(
        &s,
        "/v1/pipelines/guarded/query",
        json!({ "query": "How many vacation days do employees get?" }),
    )
    .await;
    assert!(body["answer"].as_str().unwrap().contains("25 days"), "{body:#}");
    assert!(reasons(&body).iter().all(|r| r.1 == "sources"), "{body:#}");

    // Streamed: the answer is held back until checked, so no delta holds PII.
    let r = client()
        .post(s.url("/v1/pipelines/guarded/query"))
        .json(&json!({ "query": PII_QUERY, "stream": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.unwrap());
    let deltas: String = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap().to_owned())
        .collect();
    let done = &events.iter().find(|(e, _)| e == "done").unwrap().1;
    assert_eq!(deltas, done["answer"].as_str().unwrap(), "{events:?}");
    assert!(
        deltas.contains("[EMAIL]") && !deltas.contains("acme-corp.com"),
        "{deltas}"
    );
    assert_eq!(done["guardrail"]["action"], "masked", "{done:#}");
    let sources = &events.iter().find(|(e, _)| e == "sources").unwrap().1;
    assert!(!sources.to_string().contains("acme-corp.com"), "{sources}");

    // And a refused query streams its refusal.
    let r = client()
        .post(s.url("/v1/pipelines/guarded/query"))
        .json(&json!({ "query": "which stocks now?", "stream": true }))
        .send()
        .await
        .unwrap();
    let events = sse_events(&r.text().await.unwrap());
    let done = &events.iter().find(|(e, _)| e == "done").unwrap().1;
    assert_eq!(done["answer"], REFUSAL);
    assert_eq!(done["guardrail"]["action"], "blocked");

    // Every checked query is counted by its final action.
    let info: Value = client()
        .get(s.url("/v1/pipelines/guarded"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let g = &info["guardrails"];
    assert_eq!(g["guards"], json!(["content_filter", "denied_topic", "pii"]));
    assert_eq!(g["refusal_message"], REFUSAL);
    assert_eq!(
        g["interventions"],
        json!({ "none": 0, "masked": 3, "blocked": 3 }),
        "{info:#}"
    );
    let plain: Value = client()
        .get(s.url("/v1/pipelines/plain"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(plain["guardrails"]["guards"], json!([]));
    assert_eq!(
        plain["guardrails"]["interventions"],
        json!({ "none": 0, "masked": 0, "blocked": 0 })
    );
}

/// `(event, data)` of each server-sent event in `text`.
pub fn sse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            (!data.is_empty()).then(|| (event, serde_json::from_str(&data).unwrap_or(Value::String(data))))
        })
        .collect()
}

/// A config directory with one pipeline guarded by the local PII guard and the fake Bedrock guardrail.
fn bedrock_config(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join(GUARD_CONFIG).join("docs");
    std::fs::create_dir_all(d.join("pipelines")).unwrap();
    std::fs::create_dir_all(d.join("prompts")).unwrap();
    std::fs::copy(
        Path::new(GUARD_CONFIG).join("prompts/answer.md"),
        d.join("prompts/answer.md"),
    )
    .unwrap();
    std::fs::write(
        d.join("pricing.yaml"),
        "version: guard-test-1\nguardrails: { per_1k_text_units: 0.15 }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pipelines/shielded.yaml"),
        format!(
            r#"name: shielded
index: shielded
ingest:
  sources: [{{ dir: "{docs}" }}]
  chunk: {{ kind: markdown, max_tokens: 80, overlap_tokens: 10 }}
  metadata: {{ domain: hr }}
  embed: {{ hash: {{}} }}
retrieve: {{ top_k: 3 }}
route:
  default: {{ model: quotes, prompt: answer }}
generate:
  models:
    quotes: {{ extractive: {{ max_sentences: 2 }} }}
guardrails:
  pii: {{ kinds: [ssn] }}
  bedrock:
    guardrail_id: gr1abc
    version: "2"
    aws: {{ region: us-east-1, endpoint_url: "{url}" }}
    timeout_ms: 10000
    retry: {{ max_attempts: 2, initial_backoff_ms: 10, max_backoff_ms: 20 }}
"#,
            docs = docs.display()
        ),
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn bedrock_guardrail_through_the_real_sdk() {
    let fake = FakeGuardrail::start().await;
    let config = bedrock_config(&fake.url);
    let s = Server::start_env(
        config.path().to_str().unwrap(),
        tempfile::tempdir().unwrap(),
        &["--ingest"],
        AWS_ENV,
    );

    // The query goes to Bedrock as INPUT after the local guard masked the SSN; Bedrock
    // anonymizes the name; the answer goes to Bedrock as OUTPUT.
    let query = "Jane Roe asks: how many vacation days do employees get? SSN 123-45-6789";
    let (status, body) = post(&s, "/v1/pipelines/shielded/query", json!({ "query": query })).await;
    assert_eq!(status, 200, "{body:#}");
    let sent = fake.with_text("Jane Roe");
    assert_eq!(sent.len(), 1, "{:?}", fake.seen());
    let input = &sent[0];
    assert_eq!(input.path, "/guardrail/gr1abc/version/2/apply");
    assert_eq!(input.source, "INPUT");
    assert_eq!(
        input.text,
        "Jane Roe asks: how many vacation days do employees get? SSN [SSN]"
    );
    assert_eq!(input.body["content"].as_array().unwrap().len(), 1);
    assert!(
        input
            .authorization
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDRAGLINETEST/")
            && input.authorization.contains("/us-east-1/bedrock/aws4_request"),
        "{}",
        input.authorization
    );
    let outputs: Vec<_> = fake.seen().into_iter().filter(|a| a.source == "OUTPUT").collect();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert!(outputs[0].text.contains("25 days"), "{outputs:?}");
    assert_eq!(outputs[0].text, body["answer"].as_str().unwrap());

    assert_eq!(body["guardrail"]["action"], "masked", "{body:#}");
    let r = reasons(&body);
    assert!(has(&r, "pii", "query", "masked", "ssn"), "{r:?}");
    assert!(has(&r, "bedrock", "query", "masked", "pii:NAME"), "{r:?}");
    assert!(!body.to_string().contains("Jane Roe"));

    // Each call's billable text units and cost are in the usage, input first.
    let stages = body["usage"]["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["guardrail_input", "retrieve", "generate", "guardrail_output"],
        "{body:#}"
    );
    for stage in [&stages[0], &stages[3]] {
        assert_eq!(stage["model"], "bedrock-guardrail/gr1abc@2");
        assert_eq!(stage["guardrail_units"], UNITS_PER_CALL);
        let cost = stage["cost_usd"].as_f64().unwrap();
        assert!((cost - 3.0 * 0.15 / 1000.0).abs() < 1e-12, "{cost}");
    }
    assert_eq!(body["usage"]["guardrail_units"], 2 * UNITS_PER_CALL);
    assert_eq!(body["usage"]["pricing_version"], "guard-test-1");

    // A blocked topic: Bedrock's own message, no retrieval, no model, no OUTPUT check.
    let (status, body) = post(
        &s,
        "/v1/pipelines/shielded/query",
        json!({ "query": "Which stocks should I buy?" }),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["answer"], BLOCKED_MESSAGE);
    assert_eq!(body["guardrail"]["action"], "blocked");
    assert_eq!(
        reasons(&body),
        [(
            "bedrock".into(),
            "query".into(),
            "blocked".into(),
            "topic:Investment advice".into()
        )]
    );
    assert_eq!(body["route"]["provider"], "guardrail");
    let stages: Vec<&str> = body["usage"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["guardrail_input"]);
    assert_eq!(fake.seen().iter().filter(|a| a.source == "OUTPUT").count(), 1);

    // Throttling is retried.
    let (status, body) = post(
        &s,
        "/v1/pipelines/shielded/query",
        json!({ "query": "throttle-once: how many vacation days?" }),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        fake.with_text("throttle-once")
            .iter()
            .filter(|a| a.source == "INPUT")
            .count(),
        2
    );

    // A guardrail that stays down fails the query: the check is never skipped.
    let (status, body) = post(
        &s,
        "/v1/pipelines/shielded/query",
        json!({ "query": "always-down vacation?" }),
    )
    .await;
    assert_eq!(status, 503, "{body:#}");
    assert_eq!(body["error"]["code"], "provider_unavailable", "{body:#}");
    assert_eq!(fake.with_text("always-down").len(), 2);

    let info: Value = client()
        .get(s.url("/v1/pipelines/shielded"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["guardrails"]["guards"], json!(["pii", "bedrock"]));
    assert_eq!(
        info["guardrails"]["interventions"],
        json!({ "none": 1, "masked": 1, "blocked": 1 }),
        "{info:#}"
    );
}
