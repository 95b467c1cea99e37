//! Trace export to a real OTLP/HTTP receiver (oteltap, from PyPI): the span tree of a
//! query through Bedrock (the real SDK against the fake), the GenAI attributes, content
//! capture off by default, the caller's `traceparent` joined, the trace id in the
//! response and in the JSON log lines, and a collector that is down.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bedrock::{self, AWS_ENV};
use crate::fake_bedrock::{FakeBedrock, INPUT_TOKENS, OUTPUT_TOKENS};
use crate::pytools;
use crate::support::{Server, cli_env, client};
use crate::telemetry;

const QUESTION: &str = "How many vacation days do employees get?";
const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// oteltap on a free loopback port, collecting every span it prints; killed on drop.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Value>>>,
    child: Child,
}

impl Receiver {
    fn start() -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(pytools::tool("python"))
            .args(["-m", "oteltap", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.next().expect("oteltap exited").unwrap();
        assert!(ready.starts_with("Listening for OTLP/HTTP"), "{ready}");
        let spans = Arc::new(Mutex::new(Vec::new()));
        let collected = spans.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(span) = serde_json::from_str::<Value>(&line) {
                    collected.lock().unwrap().push(span);
                }
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            spans,
            child,
        }
    }

    /// The spans of `trace_id`, once its root (the request's span) has arrived.
    async fn trace(&self, trace_id: &str) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let spans: Vec<Value> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s["traceId"] == trace_id)
                .cloned()
                .collect();
            if spans.iter().any(|s| s["kind"] == 2) {
                // The request span ends last; give a batch in flight a moment.
                tokio::time::sleep(Duration::from_millis(300)).await;
                return self
                    .spans
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| s["traceId"] == trace_id)
                    .cloned()
                    .collect();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no request span for {trace_id}: {spans:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A span's attributes as a map of their JSON values (`{"stringValue": ..}` unwrapped).
fn attributes(span: &Value) -> BTreeMap<String, Value> {
    span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let value = a["value"].as_object().unwrap().values().next().unwrap().clone();
            (a["key"].as_str().unwrap().to_owned(), value)
        })
        .collect()
}

fn named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans.iter().find(|s| s["name"] == name).unwrap_or_else(|| {
        panic!(
            "no span {name} in {:?}",
            spans.iter().map(|s| &s["name"]).collect::<Vec<_>>()
        )
    })
}

fn children<'a>(spans: &'a [Value], parent: &Value) -> Vec<&'a str> {
    let mut names: Vec<&str> = spans
        .iter()
        .filter(|s| s["parentSpanId"] == parent["spanId"])
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names
}

/// The Bedrock config ingested through Titan, and a server exporting to `receiver` via
/// the environment, with `extra` server settings (`ragline.yaml`) and flags.
async fn start(
    fake: &FakeBedrock,
    endpoint: &str,
    server_yaml: Option<&str>,
    flags: &[&str],
) -> (tempfile::TempDir, Server) {
    let config = bedrock::config(&fake.url, 256);
    if let Some(yaml) = server_yaml {
        std::fs::write(config.path().join("ragline.yaml"), yaml).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let (cfg, dp) = (config.path().to_str().unwrap().to_owned(), data.path().to_owned());
    let (code, out) = tokio::task::spawn_blocking(move || cli_env(&cfg, &dp, &["ingest", "nova"], AWS_ENV))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let mut envs = AWS_ENV.to_vec();
    envs.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint));
    envs.push(("OTEL_SERVICE_NAME", "ragline-test"));
    let server = Server::start_logged(config.path().to_str().unwrap(), data, flags, &envs);
    (config, server)
}

async fn ask(s: &Server, pipeline: &str, traceparent: Option<&str>) -> (reqwest::StatusCode, String, Value) {
    let mut request = client()
        .post(s.url(&format!("/v1/pipelines/{pipeline}/query")))
        .json(&json!({ "query": QUESTION }));
    if let Some(parent) = traceparent {
        request = request.header("traceparent", parent);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let trace_id = r.headers()["x-trace-id"].to_str().unwrap().to_owned();
    (status, trace_id, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_is_one_trace_with_a_genai_span_per_stage() {
    let receiver = Receiver::start();
    let fake = FakeBedrock::start().await;
    let (_config, s) = start(&fake, &receiver.url, None, &["--log-format", "json"]).await;

    let parent = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01");
    let (status, trace_id, body) = ask(&s, "nova", Some(&parent)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(trace_id, PARENT_TRACE, "the caller's trace is joined");
    let spans = receiver.trace(&trace_id).await;

    // The request's server span, child of the caller's span.
    let root = named(&spans, "POST /v1/pipelines/{name}/query");
    assert_eq!(root["kind"], 2);
    assert_eq!(root["parentSpanId"], PARENT_SPAN);
    let attrs = attributes(root);
    assert_eq!(attrs["http.route"], "/v1/pipelines/{name}/query");
    assert_eq!(attrs["http.response.status_code"], "200");

    // One span per stage under it, in a tree.
    let chat_name = "chat amazon.nova-2-lite-v1:0";
    assert_eq!(
        children(&spans, root),
        [chat_name, "guard_answer", "guard_query", "retrieval corp", "route"]
    );
    let retrieval = named(&spans, "retrieval corp");
    assert_eq!(children(&spans, retrieval), ["embeddings amazon.titan-embed-text-v2:0"]);
    // The searches inside it are timed on it.
    let attrs = attributes(retrieval);
    for search in ["keyword", "vector", "fusion"] {
        let ms = &attrs[format!("ragline.retrieve.{search}_ms").as_str()];
        let ms: f64 = ms.as_str().map_or_else(|| ms.as_f64().unwrap(), |s| s.parse().unwrap());
        assert!((0.0..10_000.0).contains(&ms), "{search}: {ms}");
    }

    // GenAI attributes: the model call.
    let chat = named(&spans, chat_name);
    assert_eq!(chat["kind"], 3, "a client span");
    let attrs = attributes(chat);
    assert_eq!(attrs["gen_ai.operation.name"], "chat");
    assert_eq!(attrs["gen_ai.provider.name"], "aws.bedrock");
    assert_eq!(attrs["gen_ai.request.model"], "amazon.nova-2-lite-v1:0");
    assert_eq!(attrs["gen_ai.response.model"], "amazon.nova-2-lite-v1:0");
    assert_eq!(attrs["gen_ai.usage.input_tokens"], INPUT_TOKENS.to_string());
    assert_eq!(attrs["gen_ai.usage.output_tokens"], OUTPUT_TOKENS.to_string());
    // The query embedding.
    let attrs = attributes(named(&spans, "embeddings amazon.titan-embed-text-v2:0"));
    assert_eq!(attrs["gen_ai.operation.name"], "embeddings");
    assert_eq!(attrs["gen_ai.provider.name"], "aws.bedrock");
    let words = QUESTION.split_whitespace().count();
    assert_eq!(attrs["gen_ai.usage.input_tokens"], words.to_string());
    // The retrieval: top_k and the documents as ids and scores, matching the answer.
    let attrs = attributes(retrieval);
    assert_eq!(attrs["gen_ai.operation.name"], "retrieval");
    assert_eq!(attrs["gen_ai.data_source.id"], "corp");
    assert_eq!(attrs["gen_ai.request.top_k"], "3");
    let docs: Value = serde_json::from_str(attrs["gen_ai.retrieval.documents"].as_str().unwrap()).unwrap();
    let sources = body["sources"].as_array().unwrap();
    assert_eq!(docs.as_array().unwrap().len(), sources.len());
    assert_eq!(docs[0]["id"], sources[0]["document_id"]);
    assert!((docs[0]["score"].as_f64().unwrap() - sources[0]["score"].as_f64().unwrap()).abs() < 1e-6);
    let route = attributes(named(&spans, "route"));
    assert_eq!(route["ragline.route.model"], "main");
    assert_eq!(route["ragline.route.reason"], "default");

    // No question or answer text anywhere unless capture is on.
    let everything = serde_json::to_string(&spans).unwrap();
    assert!(!everything.contains(QUESTION), "{everything}");
    assert!(!everything.contains("vacation days per year"), "{everything}");

    // A request without a traceparent starts its own trace.
    let (_, fresh, _) = ask(&s, "nova", None).await;
    assert_eq!(fresh.len(), 32);
    assert_ne!(fresh, PARENT_TRACE);
    let spans = receiver.trace(&fresh).await;
    assert_eq!(named(&spans, "POST /v1/pipelines/{name}/query")["parentSpanId"], "");

    // A failed model call marks its span and the request's.
    let (status, failed, _) = ask(&s, "overloaded", None).await;
    assert_eq!(status, 503);
    let spans = receiver.trace(&failed).await;
    let chat = named(&spans, "chat test.throttle-always-v1:0");
    assert_eq!(chat["status"]["code"], 2, "{chat}");
    assert_eq!(attributes(chat)["error.type"], "ProviderError");
    assert_eq!(named(&spans, "POST /v1/pipelines/{name}/query")["status"]["code"], 2);

    // Every JSON log line written inside a request names its trace.
    let logs = s.logs.lock().unwrap().clone();
    let lines: Vec<Value> = logs.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(lines.len() >= 3, "{logs:#?}");
    let answered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "query answered")
        .collect();
    assert_eq!(answered.len(), 2, "{logs:#?}");
    assert_eq!(answered[0]["span"]["trace_id"], PARENT_TRACE);
    assert_eq!(answered[1]["span"]["trace_id"], fresh.as_str());
    let failures: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "query failed")
        .collect();
    assert_eq!(failures.len(), 1, "{logs:#?}");
    assert_eq!(failures[0]["span"]["trace_id"], failed.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_capture_is_opt_in_in_the_server_config() {
    let receiver = Receiver::start();
    let fake = FakeBedrock::start().await;
    // The file's endpoint wins over the environment's (which points nowhere).
    let yaml = format!(
        "telemetry:\n  otlp_endpoint: {}\n  capture_content: true\n",
        receiver.url
    );
    let (_config, s) = start(&fake, "http://127.0.0.1:9", Some(&yaml), &[]).await;
    let (status, trace_id, _) = ask(&s, "nova", None).await;
    assert_eq!(status, 200);
    let spans = receiver.trace(&trace_id).await;
    let retrieval = attributes(named(&spans, "retrieval corp"));
    assert_eq!(retrieval["gen_ai.retrieval.query.text"], QUESTION);
    let chat = attributes(named(&spans, "chat amazon.nova-2-lite-v1:0"));
    let input: Value = serde_json::from_str(chat["gen_ai.input.messages"].as_str().unwrap()).unwrap();
    assert!(input[0]["parts"][0]["content"].as_str().unwrap().contains(QUESTION));
    let output: Value = serde_json::from_str(chat["gen_ai.output.messages"].as_str().unwrap()).unwrap();
    assert_eq!(output[0]["parts"][0]["content"], crate::fake_bedrock::ANSWER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_drops_and_counts_spans_and_fails_no_request() {
    let fake = FakeBedrock::start().await;
    // Nothing listens on the discard port.
    let (_config, s) = start(&fake, "http://127.0.0.1:9", None, &[]).await;
    for _ in 0..5 {
        let (status, _, body) = ask(&s, "nova", None).await;
        assert_eq!(status, 200, "{body}");
    }
    let started = Instant::now();
    loop {
        let text = telemetry::scrape(&s).await;
        let dropped = telemetry::sample(
            &text,
            "ragline_otel_spans_dropped_total",
            &[("reason", "export_failed")],
        );
        if dropped.is_some_and(|n| n >= 5.0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no dropped spans counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = s.logs.lock().unwrap().join("\n");
    assert!(
        logs.contains("trace export failed; spans are dropped until it works"),
        "{logs}"
    );
}
