//! `GET /metrics` of a real server under traffic (Bedrock through the real SDK against
//! the fake, so tokens, cost, retries and fallbacks are real), read back series by
//! series and linted by Debian's `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::bedrock;
use crate::debian;
use crate::fake_bedrock::{INPUT_TOKENS, OUTPUT_TOKENS};
use crate::support::{Server, client};

/// The server's `/metrics` text.
pub async fn scrape(s: &Server) -> String {
    let r = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    r.text().await.unwrap()
}

/// The sum of every sample of `name` whose labels include `labels`; `None` when no
/// sample matches.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let has = |(k, v): &(&str, &str)| series_labels.split(',').any(|pair| pair == format!("{k}=\"{v}\""));
        if labels.iter().all(has) {
            *found.get_or_insert(0.0) += value.parse::<f64>().unwrap();
        }
    }
    found
}

async fn post(s: &Server, path: &str, body: Value) -> reqwest::StatusCode {
    client().post(s.url(path)).json(&body).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_requests_stages_models_cost_and_indexes_and_lint_clean() {
    let (_fake, _config, s) = bedrock::start().await;
    let question = json!({ "query": "How many vacation days do employees get?", "domain": "hr" });
    assert_eq!(post(&s, "/v1/pipelines/nova/query", question.clone()).await, 200);
    assert_eq!(post(&s, "/v1/pipelines/flaky/query", question.clone()).await, 200);
    assert_eq!(post(&s, "/v1/pipelines/throttled/query", question.clone()).await, 200);
    assert_eq!(post(&s, "/v1/pipelines/overloaded/query", question.clone()).await, 503);
    // A name that is no pipeline must not become a series of its own.
    assert_eq!(
        post(&s, "/v1/pipelines/typo-pipeline/query", question.clone()).await,
        404
    );
    let form = Form::new().part(
        "file",
        Part::bytes(b"# Parental leave\n\nParents get 16 weeks of paid leave.\n".to_vec()).file_name("parental.md"),
    );
    let r = client()
        .post(s.url("/v1/pipelines/nova/documents"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let text = scrape(&s).await;
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    let query_endpoint = ("endpoint", "/v1/pipelines/{name}/query");

    // Requests by pipeline, endpoint and status; errors by code.
    let count = "ragline_http_request_duration_seconds_count";
    assert_eq!(
        value(count, &[("pipeline", "nova"), query_endpoint, ("status", "200")]),
        1.0
    );
    assert_eq!(value(count, &[("pipeline", "overloaded"), ("status", "503")]), 1.0);
    assert_eq!(value(count, &[("pipeline", "other"), ("status", "404")]), 1.0);
    assert!(!text.contains("typo-pipeline"), "{text}");
    let errors = "ragline_http_errors_total";
    assert_eq!(
        value(errors, &[("pipeline", "overloaded"), ("code", "provider_throttled")]),
        1.0
    );
    assert_eq!(
        value(errors, &[("pipeline", "other"), ("code", "pipeline_not_found")]),
        1.0
    );

    // Every query stage, and the three searches inside retrieval.
    for stage in [
        "retrieve",
        "retrieve.keyword",
        "retrieve.vector",
        "retrieve.fusion",
        "route",
        "generate",
    ] {
        let runs = value(
            "ragline_stage_duration_seconds_count",
            &[("pipeline", "nova"), ("stage", stage)],
        );
        assert_eq!(runs, 1.0, "{stage}");
    }
    for stage in ["parse", "chunk", "embed"] {
        assert!(
            value(
                "ragline_stage_duration_seconds_count",
                &[("pipeline", "nova"), ("stage", stage)]
            ) >= 1.0
        );
    }

    // Tokens and durations by model, under the GenAI names.
    let chat = [
        ("pipeline", "nova"),
        ("gen_ai_operation_name", "chat"),
        ("gen_ai_provider_name", "aws.bedrock"),
        ("gen_ai_request_model", "amazon.nova-2-lite-v1:0"),
    ];
    let with = |kind| [&chat[..], &[("gen_ai_token_type", kind)]].concat();
    assert_eq!(
        value("gen_ai_client_token_usage_sum", &with("input")),
        INPUT_TOKENS as f64
    );
    assert_eq!(
        value("gen_ai_client_token_usage_sum", &with("output")),
        OUTPUT_TOKENS as f64
    );
    assert_eq!(value("gen_ai_client_operation_duration_seconds_count", &chat), 1.0);
    let titan = [
        ("gen_ai_operation_name", "embeddings"),
        ("gen_ai_request_model", "amazon.titan-embed-text-v2:0"),
    ];
    assert!(value("gen_ai_client_token_usage_sum", &titan) > 0.0);

    // Cost by pipeline, model and domain: the query's own cost.
    let cost = value(
        "ragline_query_cost_usd_sum",
        &[("pipeline", "nova"), ("model", "main"), ("domain", "hr")],
    );
    let generate = (INPUT_TOKENS as f64 * 0.0003 + OUTPUT_TOKENS as f64 * 0.0025) / 1000.0;
    assert!(cost > generate && cost < generate * 1.01, "{cost} vs {generate}");

    // Retries, fallbacks, route decisions.
    assert!(
        value(
            "ragline_provider_retries_total",
            &[("provider", "bedrock"), ("failure", "throttled")]
        ) >= 3.0
    );
    let fallback = [("pipeline", "throttled"), ("from", "main"), ("to", "local")];
    assert_eq!(value("ragline_model_fallbacks_total", &fallback), 1.0);
    let decisions = [("pipeline", "nova"), ("model", "main"), ("reason", "default")];
    assert_eq!(value("ragline_route_decisions_total", &decisions), 1.0);

    // Ingest files by outcome; documents and chunks per index.
    assert_eq!(
        value(
            "ragline_ingest_files_total",
            &[("pipeline", "nova"), ("outcome", "ingested")]
        ),
        1.0
    );
    assert_eq!(value("ragline_index_documents", &[("index", "corp")]), 3.0);
    assert!(value("ragline_index_chunks", &[("index", "corp")]) >= 3.0);

    // Histograms, never summaries, and promtool accepts the whole exposition.
    assert!(!text.contains("quantile="), "{text}");
    assert!(text.contains("# TYPE ragline_stage_duration_seconds histogram"));
    let promtool = debian::program("promtool", "prometheus");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
