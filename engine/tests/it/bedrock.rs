//! Bedrock through the real AWS SDK against the local fake (`fake_bedrock.rs`):
//! pipelines with `bedrock` models and a `bedrock_titan` embedder pointed at it with
//! `endpoint_url`, static test credentials in the server's environment. Asserts on
//! what the SDK sent and on ragline's answers, streams, usage, cost and errors.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_bedrock::{ANSWER, FakeBedrock, INPUT_TOKENS, OUTPUT_TOKENS, STREAM_PIECES};
use crate::support::{Server, cli_env, client};

const LITE: &str = "amazon.nova-2-lite-v1:0";
const TITAN: &str = "amazon.titan-embed-text-v2:0";
const LITE_IN: f64 = 0.0003;
const LITE_OUT: f64 = 0.0025;
const TITAN_PER_1K: f64 = 0.00002;

/// Static test credentials, and nothing that could send the SDK off the machine.
pub const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIDRAGLINETEST"),
    ("AWS_SECRET_ACCESS_KEY", "ragline-test-secret"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ("AWS_PROFILE", "default"),
];

/// A pipeline on the shared index, embedding with Titan (256 dims) at the fake, whose
/// default route answers with `model` (YAML for one model) or `local` (extractive).
fn pipeline(name: &str, url: &str, dims: u32, model: &str) -> String {
    format!(
        r#"name: {name}
index: corp
ingest:
  sources: [{{ dir: ../docs }}]
  chunk: {{ kind: markdown, max_tokens: 80, overlap_tokens: 10 }}
  metadata: {{ domain: hr }}
  embed:
    bedrock_titan:
      model_id: {TITAN}
      dims: {dims}
      aws: {{ region: us-east-1, endpoint_url: "{url}" }}
retrieve:
  top_k: 3
route:
  default: {{ model: main, prompt: answer }}
generate:
  models:
    main:
{model}
    local: {{ extractive: {{ max_sentences: 2 }} }}
"#
    )
}

/// `extra` holds more options of the model, one per line, indented as `model_id`'s parent.
fn bedrock_model(url: &str, model_id: &str, extra: &str) -> String {
    let extra: String = extra.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "      bedrock:\n        model_id: {model_id}\n        aws: {{ region: us-east-1, endpoint_url: \"{url}\" }}\n{extra}"
    )
}

/// A config directory with one pipeline per behaviour of the fake.
pub fn config(url: &str, dims: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["pipelines", "prompts", "docs"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(
        d.join("prompts/answer.md"),
        "Answer from the sources and cite them like [1].\n\n{{ context }}\n\nQuestion: {{ question }}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("docs/leave.md"),
        "# Leave policy\n\nEmployees get 25 vacation days per year. Unused days carry over until March.\n",
    )
    .unwrap();
    std::fs::write(
        d.join("docs/remote.md"),
        "# Remote work\n\nStaff may work remotely two days a week with their manager's approval.\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pricing.yaml"),
        format!(
            "version: test-2026-11\ncurrency: USD\nmodels:\n  {LITE}: {{ input_per_1k: {LITE_IN}, output_per_1k: {LITE_OUT} }}\n  test.throttle-once-v1:0: {{ input_per_1k: {LITE_IN}, output_per_1k: {LITE_OUT} }}\n  test.throttle-always-v1:0: {{ input_per_1k: 1, output_per_1k: 1 }}\n  test.denied-v1:0: {{ input_per_1k: 1, output_per_1k: 1 }}\n  test.hang-v1:0: {{ input_per_1k: 1, output_per_1k: 1 }}\n  test.too-long-v1:0: {{ input_per_1k: 1, output_per_1k: 1 }}\nembeddings:\n  {TITAN}: {{ per_1k: {TITAN_PER_1K} }}\n"
        ),
    )
    .unwrap();
    let fast_retry =
        "      retry: { max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 50, max_elapsed_ms: 20000 }\n";
    let pipelines = [
        (
            "nova",
            bedrock_model(
                url,
                LITE,
                "      max_tokens: 256\n      temperature: 0.2\n      top_p: 0.9\n      stop_sequences: [\"END\"]\n",
            ),
        ),
        ("flaky", bedrock_model(url, "test.throttle-once-v1:0", fast_retry)),
        (
            "throttled",
            bedrock_model(
                url,
                "test.throttle-always-v1:0",
                &format!("{fast_retry}      fallback: local\n"),
            ),
        ),
        (
            "overloaded",
            bedrock_model(url, "test.throttle-always-v1:0", fast_retry),
        ),
        (
            "denied",
            bedrock_model(url, "test.denied-v1:0", &format!("{fast_retry}      fallback: local\n")),
        ),
        (
            "hang",
            bedrock_model(
                url,
                "test.hang-v1:0",
                "      timeout_ms: 300\n      retry: { max_attempts: 2, initial_backoff_ms: 10 }\n",
            ),
        ),
        ("toolong", bedrock_model(url, "test.too-long-v1:0", fast_retry)),
    ];
    for (name, model) in pipelines {
        std::fs::write(
            d.join(format!("pipelines/{name}.yaml")),
            pipeline(name, url, dims, &model),
        )
        .unwrap();
    }
    dir
}

/// The fake, a config pointed at it, its documents ingested (through Titan), and the server.
pub async fn start() -> (FakeBedrock, tempfile::TempDir, Server) {
    let fake = FakeBedrock::start().await;
    let config = config(&fake.url, 256);
    let server = serve(&config, &[]).await;
    (fake, config, server)
}

/// Ingest `nova`'s documents of `config` (one made by [`config`], maybe edited), then
/// serve it with `extra` arguments.
pub async fn serve(config: &tempfile::TempDir, extra: &[&str]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let (cfg, dp) = (config.path().to_str().unwrap().to_owned(), data.path().to_owned());
    let (code, out) = tokio::task::spawn_blocking(move || cli_env(&cfg, &dp, &["ingest", "nova"], AWS_ENV))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    Server::start_env(config.path().to_str().unwrap(), data, extra, AWS_ENV)
}

async fn query(s: &Server, pipeline: &str, body: Value) -> (StatusCode, Value) {
    let r = client()
        .post(s.url(&format!("/v1/pipelines/{pipeline}/query")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// A server-sent event stream as (event, data) pairs.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = Some(e.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            Some((event?, serde_json::from_str(&data).unwrap_or(Value::String(data))))
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_answers_with_exact_tokens_and_cost_through_the_real_sdk() {
    let (fake, _config, s) = start().await;

    // Ingest embedded both documents' chunks with Titan: signed InvokeModel calls.
    let invokes = fake.calls("invoke", TITAN);
    assert!(invokes.len() >= 2, "{invokes:?}");
    let first = &invokes[0];
    assert_eq!(first.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
    assert_eq!(first.body["dimensions"], 256);
    assert_eq!(first.body["normalize"], true);
    assert!(first.body["inputText"].as_str().unwrap().len() > 10);
    let auth = first.authorization.as_deref().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDRAGLINETEST/")
            && auth.contains("/us-east-1/bedrock/aws4_request"),
        "{auth}"
    );

    let question = "How many vacation days do employees get?";
    let (status, body) = query(&s, "nova", json!({ "query": question })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["answer"], ANSWER);
    assert_eq!(body["route"]["model"], "main");
    assert_eq!(body["route"]["provider"], "bedrock");
    assert!(body["route"].get("fallback").is_none(), "{body}");
    assert_eq!(body["sources"][0]["title"], "Leave policy");

    // What the SDK sent: Converse for the model, signed, with the prompt and settings.
    let calls = fake.calls("converse", LITE);
    assert_eq!(calls.len(), 1);
    let sent = &calls[0];
    assert_eq!(sent.path, "/model/amazon.nova-2-lite-v1%3A0/converse");
    assert!(sent.authorization.as_deref().unwrap().starts_with("AWS4-HMAC-SHA256 "));
    let prompt = sent.body["messages"][0]["content"][0]["text"].as_str().unwrap();
    assert_eq!(sent.body["messages"][0]["role"], "user");
    assert!(
        prompt.contains(question) && prompt.contains("25 vacation days"),
        "{prompt}"
    );
    let inference = &sent.body["inferenceConfig"];
    assert_eq!(inference["maxTokens"], 256);
    assert!((inference["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert!((inference["topP"].as_f64().unwrap() - 0.9).abs() < 1e-6);
    assert_eq!(inference["stopSequences"], json!(["END"]));

    // Exact tokens and cost, per stage: the query embedding (Titan counts one token a
    // word in the fake) and the answer (the usage block Converse returned).
    let query_embed = fake.calls("invoke", TITAN).last().unwrap().body.clone();
    assert_eq!(query_embed["inputText"], question);
    let embed_tokens = question.split_whitespace().count() as u64;
    let usage = &body["usage"];
    assert_eq!(usage["input_tokens"], INPUT_TOKENS);
    assert_eq!(usage["output_tokens"], OUTPUT_TOKENS);
    assert_eq!(usage["embedding_tokens"], embed_tokens);
    assert_eq!(usage["pricing_version"], "test-2026-11");
    let generate_cost = (INPUT_TOKENS as f64 * LITE_IN + OUTPUT_TOKENS as f64 * LITE_OUT) / 1000.0;
    let embed_cost = embed_tokens as f64 * TITAN_PER_1K / 1000.0;
    assert!(
        close(usage["cost_usd"].as_f64().unwrap(), generate_cost + embed_cost),
        "{usage}"
    );
    let stages = usage["stages"].as_array().unwrap();
    assert_eq!(stages[0]["stage"], "retrieve");
    assert_eq!(stages[0]["model"], format!("bedrock_titan/{TITAN}"));
    assert!(close(stages[0]["cost_usd"].as_f64().unwrap(), embed_cost));
    assert_eq!(stages[1]["stage"], "generate");
    assert_eq!(stages[1]["model"], format!("bedrock/{LITE}"));
    assert!(close(stages[1]["cost_usd"].as_f64().unwrap(), generate_cost));

    // The prompt statistics counted the real tokens and cost.
    let list: Value = client()
        .get(s.url("/v1/pipelines"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let nova = list["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "nova")
        .unwrap();
    let usage = &nova["prompts"][0]["versions"][0]["usage"];
    assert_eq!(usage["input_tokens"], INPUT_TOKENS, "{nova}");
    assert!(usage["cost_usd"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_streams_over_sse_with_converse_stream() {
    let (fake, _config, s) = start().await;
    let r = client()
        .post(s.url("/v1/pipelines/nova/query"))
        .json(&json!({ "query": "How many vacation days?", "stream": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_events(&r.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        ["route", "delta", "delta", "delta", "delta", "sources", "usage", "done"]
    );
    assert_eq!(events[0].1["model"], "main");
    let text: Vec<&str> = events[1..5].iter().map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert_eq!(text, STREAM_PIECES);
    assert_eq!(events[5].1[0]["title"], "Leave policy");
    assert_eq!(events[6].1["input_tokens"], INPUT_TOKENS);
    assert_eq!(events[6].1["output_tokens"], OUTPUT_TOKENS);
    assert!(events[6].1["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(events[7].1["answer"], STREAM_PIECES.concat());

    let calls = fake.calls("converse-stream", LITE);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/model/amazon.nova-2-lite-v1%3A0/converse-stream");
    assert!(calls[0].authorization.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_failures_are_retried_fall_back_or_fail_clearly() {
    let (fake, _config, s) = start().await;
    let q = json!({ "query": "How many vacation days?" });

    // 429 once, then an answer: retried.
    let (status, body) = query(&s, "flaky", q.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["answer"], ANSWER);
    assert_eq!(fake.calls("converse", "test.throttle-once-v1:0").len(), 2);

    // Throttled on every attempt: the fallback answers, and the response says so.
    let (status, body) = query(&s, "throttled", q.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.calls("converse", "test.throttle-always-v1:0").len(), 3);
    assert_eq!(body["route"]["model"], "local");
    assert_eq!(body["route"]["provider"], "extractive");
    assert_eq!(body["route"]["fallback"]["from"], "main");
    let reason = body["route"]["fallback"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("gave up after 3 attempts") && reason.contains("throttled"),
        "{reason}"
    );
    assert!(body["answer"].as_str().unwrap().contains("25 vacation days"), "{body}");
    assert_eq!(body["usage"]["stages"][1]["cost_usd"], 0.0);

    // The same with streaming: the fallback streams.
    let r = client()
        .post(s.url("/v1/pipelines/throttled/query"))
        .json(&json!({ "query": "How many vacation days?", "stream": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.unwrap());
    let done = &events.last().unwrap().1;
    assert_eq!(done["route"]["model"], "local", "{events:?}");
    assert_eq!(done["route"]["fallback"]["from"], "main");

    // Throttled without a fallback: 503 with the cause.
    let (status, body) = query(&s, "overloaded", q.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "provider_throttled");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("Too many requests"),
        "{body}"
    );

    // Streaming that cannot start is an HTTP error too, not a broken stream.
    let r = client()
        .post(s.url("/v1/pipelines/overloaded/query"))
        .json(&json!({ "query": "How many vacation days?", "stream": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);

    // Access denied: permanent, not retried, no fallback: 502.
    let before = fake.calls("converse", "test.denied-v1:0").len();
    let (status, body) = query(&s, "denied", q.clone()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "provider_access_denied");
    assert!(body["error"]["message"].as_str().unwrap().contains("access"), "{body}");
    assert_eq!(fake.calls("converse", "test.denied-v1:0").len(), before + 1);

    // Prompt too long: its own code.
    let (status, body) = query(&s, "toolong", q.clone()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "context_too_long");

    // A model that never answers: each attempt times out (300 ms), then 503, bounded.
    let started = std::time::Instant::now();
    let (status, body) = query(&s, "hang", q.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "provider_timeout");
    assert!(body["error"]["message"].as_str().unwrap().contains("300 ms"), "{body}");
    assert_eq!(fake.calls("converse", "test.hang-v1:0").len(), 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_embedder_that_does_not_match_the_index_is_refused() {
    let (fake, first, s) = start().await;
    drop(s);
    // The same index, now configured for 512 dimensions: queries must not mix them.
    let other = config(&fake.url, 512);
    let data = tempfile::tempdir().unwrap();
    let (cfg, dp) = (first.path().to_str().unwrap().to_owned(), data.path().to_owned());
    let (code, out) = tokio::task::spawn_blocking(move || cli_env(&cfg, &dp, &["ingest", "nova"], AWS_ENV))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let s = Server::start_env(other.path().to_str().unwrap(), data, &[], AWS_ENV);
    let (status, body) = query(&s, "nova", json!({ "query": "vacation days" })).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "index_mismatch");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("256 dims") && message.contains("512 dims"),
        "{message}"
    );
}
