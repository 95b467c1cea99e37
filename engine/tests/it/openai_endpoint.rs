//! `POST /v1/chat/completions` and `GET /v1/models` driven by the official `openai`
//! Python client (pinned, installed by `pytools`) against the real server: answers,
//! sources in the `ragline` extension, usage, streamed chunks that reassemble to the
//! same answer, guardrail masking and refusals, and errors in the OpenAI shape.

use std::process::Command;

use serde_json::{Value, json};

use crate::guardrails::GUARD_CONFIG;
use crate::pytools;
use crate::support::{Server, client};

const SCRIPT: &str = r#"
import json, os, openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["RAGLINE_BASE"] + "/v1", api_key="unused", timeout=120, max_retries=0)
out = {"models": [m.id for m in client.models.list().data]}

def ask(model, question, **kw):
    return client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "ignored"}, {"role": "user", "content": question}],
        **kw,
    )

out["answer"] = ask("plain", "How many vacation days do employees get?", user="u1").model_dump()
chunks = list(ask("plain", "How many vacation days do employees get?", stream=True, stream_options={"include_usage": True}))
out["chunks"] = [c.model_dump() for c in chunks]
out["streamed"] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
out["masked"] = ask("guarded", "My SSN is 123-45-6789. How do I contact payroll by e-mail or phone?").model_dump()
masked_stream = ask("guarded", "How do I contact payroll by e-mail or phone?", stream=True)
out["masked_streamed"] = "".join(c.choices[0].delta.content or "" for c in masked_stream if c.choices)
out["refused"] = ask("guarded", "Any stock tips?").model_dump()
try:
    ask("no-such-pipeline", "hello")
except openai.NotFoundError as e:
    out["not_found"] = {"status": e.status_code, "body": e.body}
try:
    client.chat.completions.create(model="plain", messages=[{"role": "system", "content": "no user"}])
except openai.BadRequestError as e:
    out["bad_request"] = {"status": e.status_code, "body": e.body}
print(json.dumps(out))
"#;

#[test]
fn the_openai_python_client_gets_answers_and_streams() {
    let s = Server::start(GUARD_CONFIG, &["--ingest"]);
    let out = Command::new(pytools::tool("python"))
        .args(["-c", SCRIPT])
        .env("RAGLINE_BASE", &s.base)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(out["models"], json!(["guarded", "plain"]));

    let a = &out["answer"];
    assert_eq!(a["object"], "chat.completion");
    assert_eq!(a["model"], "plain");
    assert!(a["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &a["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["finish_reason"], "stop");
    let answer = choice["message"]["content"].as_str().unwrap();
    assert!(answer.contains("25 days"), "{a:#}");
    let usage = &a["usage"];
    let (prompt, completion) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    assert!(prompt > 0 && completion > 0, "{usage}");
    assert_eq!(usage["total_tokens"].as_u64().unwrap(), prompt + completion);
    let ext = &a["ragline"];
    assert_eq!(ext["pipeline"], "plain");
    let sources = ext["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    assert!(sources[0]["text"].as_str().unwrap().contains("25 days"), "{ext:#}");
    assert_eq!(ext["route"]["model"], "quotes");
    assert_eq!(ext["guardrail"]["action"], "none");
    assert_eq!(ext["usage"]["input_tokens"].as_u64().unwrap(), prompt);
    assert_eq!(ext["cache"]["status"], "bypass", "this config caches nothing: {ext:#}");

    // Streamed: role first, pieces that reassemble to the same answer, a last chunk with
    // finish_reason and the extension, a usage chunk, then [DONE] (the client stops there).
    assert_eq!(out["streamed"].as_str().unwrap(), answer);
    let chunks = out["chunks"].as_array().unwrap();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["id"] == chunks[0]["id"])
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let last = &chunks[chunks.len() - 2];
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(!last["ragline"]["sources"].as_array().unwrap().is_empty(), "{last:#}");
    let usage_chunk = &chunks[chunks.len() - 1];
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"].as_u64().unwrap(), completion);

    // Guardrails apply: PII masked, in the answer and the sources, streamed or not.
    let m = &out["masked"];
    let text = m.to_string();
    assert!(
        !text.contains("123-45-6789") && !text.contains("acme-corp.com"),
        "{m:#}"
    );
    assert!(
        m["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("[EMAIL]"),
        "{m:#}"
    );
    assert_eq!(m["ragline"]["guardrail"]["action"], "masked");
    let streamed = out["masked_streamed"].as_str().unwrap();
    assert!(
        streamed.contains("[PHONE]") && !streamed.contains("234-5678"),
        "{streamed}"
    );

    // A refused question is a normal completion with finish_reason content_filter.
    let r = &out["refused"];
    assert_eq!(r["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(
        r["choices"][0]["message"]["content"],
        "I can only answer questions about company policy."
    );
    assert_eq!(
        r["choices"][0]["message"]["refusal"],
        r["choices"][0]["message"]["content"]
    );
    assert_eq!(r["ragline"]["guardrail"]["action"], "blocked");

    // Errors in the OpenAI shape.
    let nf = &out["not_found"];
    assert_eq!(nf["status"], 404);
    assert_eq!(nf["body"]["code"], "model_not_found");
    assert_eq!(nf["body"]["type"], "invalid_request_error");
    assert_eq!(nf["body"]["param"], "model");
    let br = &out["bad_request"];
    assert_eq!(br["status"], 400);
    assert_eq!(br["body"]["param"], "messages");
}

#[tokio::test]
async fn chat_completions_raw_http_shapes() {
    let s = Server::start(GUARD_CONFIG, &["--ingest"]);
    let c = client();
    // Raw SSE: data-only events, the last one `[DONE]`.
    let r = c
        .post(s.url("/v1/chat/completions"))
        .json(&json!({"model": "plain", "stream": true, "messages": [{"role": "user", "content": "vacation days?"}]}))
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
    let text = r.text().await.unwrap();
    assert!(!text.contains("event:"), "{text}");
    let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    assert!(
        data[..data.len() - 1]
            .iter()
            .all(|d| serde_json::from_str::<Value>(d).is_ok())
    );

    // Streamed and plain completions count in the prompt statistics, as queries do.
    let r = c
        .post(s.url("/v1/chat/completions"))
        .json(&json!({"model": "plain", "messages": [{"role": "user", "content": "vacation days?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plain: Value = c
        .get(s.url("/v1/pipelines/plain"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let requests: u64 = plain["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["versions"].as_array().unwrap())
        .map(|v| v["usage"]["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 2, "{plain}");

    // A body that is not a chat request: 422 in the OpenAI shape.
    let r = c
        .post(s.url("/v1/chat/completions"))
        .json(&json!({"messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("model"), "{body}");

    let r = c.get(s.url("/v1/models/guarded")).send().await.unwrap();
    let model: Value = r.json().await.unwrap();
    assert_eq!(model["id"], "guarded");
    assert_eq!(model["object"], "model");
    let r = c.get(s.url("/v1/models/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let spec: Value = c
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in ["/v1/chat/completions", "/v1/models", "/v1/models/{model}"] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}
