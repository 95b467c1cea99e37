//! The OpenAI-compatible providers (chat, streaming, embeddings) against the local
//! fake (`fake_openai.rs`), through the real server.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::bedrock::sse_events;
use crate::fake_openai::{ANSWER, COMPLETION_TOKENS, EMBED_DIMS, FakeOpenAi, PIECES, PROMPT_TOKENS};
use crate::support::{Server, cli_env, client};

const KEY_ENV: &str = "RAGLINE_TEST_OPENAI_KEY";
const KEY: &str = "sk-ragline-test";

fn pipeline(name: &str, base_url: &str, model: &str, extra: &str) -> String {
    format!(
        r#"name: {name}
index: local
ingest:
  sources: [{{ dir: ../docs }}]
  chunk: {{ kind: text, max_tokens: 80, overlap_tokens: 10 }}
  metadata: {{ domain: hr }}
  embed:
    openai_compat:
      model_id: nomic-embed-text
      dims: {EMBED_DIMS}
      base_url: {base_url}
      api_key_env: {KEY_ENV}
retrieve:
  top_k: 3
route:
  default: {{ model: main, prompt: answer }}
generate:
  models:
    main:
      openai_compat:
        model_id: {model}
        base_url: {base_url}/
        api_key_env: {KEY_ENV}
        max_tokens: 128
        temperature: 0.1
        retry: {{ max_attempts: 3, initial_backoff_ms: 10 }}
{extra}    local: {{ extractive: {{ max_sentences: 2 }} }}
"#
    )
}

fn config(base_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["pipelines", "prompts", "docs"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(
        d.join("prompts/answer.md"),
        "Sources:\n{{ context }}\n\nQuestion: {{ question }}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("docs/remote.txt"),
        "Remote work. Staff may work remotely two days a week with their manager's approval.\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pricing.yaml"),
        "version: test-1\nmodels:\n  llama3.2: { input_per_1k: 0.001, output_per_1k: 0.002 }\n",
    )
    .unwrap();
    for (name, model, extra) in [
        ("chat", "llama3.2", ""),
        ("flaky", "llama-throttle-once", ""),
        ("denied", "llama-denied", ""),
        ("toolong", "llama-too-long", "        fallback: local\n"),
    ] {
        std::fs::write(
            d.join(format!("pipelines/{name}.yaml")),
            pipeline(name, base_url, model, extra),
        )
        .unwrap();
    }
    dir
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_server_answers_streams_and_embeds() {
    let fake = FakeOpenAi::start().await;
    let config = config(&fake.base_url);
    let data = tempfile::tempdir().unwrap();
    let env = [(KEY_ENV, KEY)];
    let (cfg, dp) = (config.path().to_str().unwrap().to_owned(), data.path().to_owned());
    let (code, out) = tokio::task::spawn_blocking(move || cli_env(&cfg, &dp, &["ingest", "chat"], &env))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let embeds = fake.calls("/v1/embeddings", "nomic-embed-text");
    assert!(!embeds.is_empty());
    assert_eq!(embeds[0].authorization.as_deref(), Some("Bearer sk-ragline-test"));
    assert!(embeds[0].body["input"].is_array());

    let s = Server::start_env(config.path().to_str().unwrap(), data, &[], &[(KEY_ENV, KEY)]);
    let question = "Can staff work remotely?";
    let (status, body) = query(&s, "chat", json!({ "query": question })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["answer"], ANSWER);
    assert_eq!(body["route"]["provider"], "openai_compat");
    let usage = &body["usage"];
    assert_eq!(usage["input_tokens"], PROMPT_TOKENS);
    assert_eq!(usage["output_tokens"], COMPLETION_TOKENS);
    assert_eq!(usage["embedding_tokens"], question.split_whitespace().count());
    let cost = (PROMPT_TOKENS as f64 * 0.001 + COMPLETION_TOKENS as f64 * 0.002) / 1000.0;
    assert!((usage["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-12, "{usage}");
    assert_eq!(usage["stages"][1]["model"], "openai_compat/llama3.2");

    let sent = fake.calls("/v1/chat/completions", "llama3.2");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].authorization.as_deref(), Some("Bearer sk-ragline-test"));
    assert_eq!(sent[0].body["stream"], false);
    assert_eq!(sent[0].body["max_tokens"], 128);
    assert_eq!(sent[0].body["messages"][0]["role"], "user");
    assert!(
        sent[0].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains(question)
    );

    // Streaming: SSE chunks from the server become delta events; usage from its last chunk.
    let r = client()
        .post(s.url("/v1/pipelines/chat/query"))
        .json(&json!({ "query": question, "stream": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.unwrap());
    let deltas: Vec<&str> = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, PIECES);
    let usage = &events.iter().find(|(e, _)| e == "usage").unwrap().1;
    assert_eq!(usage["input_tokens"], PROMPT_TOKENS);
    assert_eq!(usage["output_tokens"], COMPLETION_TOKENS);
    let sent = fake.calls("/v1/chat/completions", "llama3.2");
    assert_eq!(sent[1].body["stream"], true);
    assert_eq!(sent[1].body["stream_options"]["include_usage"], true);

    // 429 once: retried.
    let (status, body) = query(&s, "flaky", json!({ "query": question })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.calls("/v1/chat/completions", "llama-throttle-once").len(), 2);

    // 401: permanent, 502 with the server's message.
    let (status, body) = query(&s, "denied", json!({ "query": question })).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "provider_access_denied");
    assert!(body["error"]["message"].as_str().unwrap().contains("Incorrect API key"));
    assert_eq!(fake.calls("/v1/chat/completions", "llama-denied").len(), 1);

    // Context too long: not retried; the fallback answers.
    let (status, body) = query(&s, "toolong", json!({ "query": question })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["route"]["model"], "local");
    assert!(
        body["route"]["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("longer than the model accepts")
    );
    assert_eq!(fake.calls("/v1/chat/completions", "llama-too-long").len(), 1);
}
