//! Analytics over HTTP on a real server: answers get ids, feedback lands on them,
//! `GET /v1/analytics` reports queries, latency, tokens, cost and thumbs-up by group,
//! the records survive a crash and a restart, bad parameters get 400 with the accepted
//! values, unknown answers 404; drift and budgets show in `/metrics`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::bedrock;
use crate::fake_bedrock::{FakeBedrock, INPUT_TOKENS};
use crate::support::{SERVER_CONFIG, Server, client, copy_dir};
use crate::telemetry::{sample, scrape};

const SERVER_YAML: &str =
    "analytics:\n  retention_days: 7\n  drift_every_s: 1\nbudgets:\n  daily_usd: 5\n  monthly_usd: 100\n";

async fn start() -> (FakeBedrock, tempfile::TempDir, Server) {
    let fake = FakeBedrock::start().await;
    let config = bedrock::config(&fake.url, 256);
    std::fs::write(config.path().join("ragline.yaml"), SERVER_YAML).unwrap();
    let server = bedrock::serve(&config, &[]).await;
    (fake, config, server)
}

async fn post(s: &Server, path: &str, body: Value) -> (StatusCode, Value) {
    let r = client().post(s.url(path)).json(&body).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn get(s: &Server, path: &str) -> (StatusCode, Value) {
    let r = client().get(s.url(path)).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

fn group<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key}: {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_and_the_report_by_group_survive_a_restart() {
    let (_fake, _config, s) = start().await;
    let question = json!({ "query": "How many vacation days do employees get?", "domain": "hr" });
    let (status, first) = post(&s, "/v1/pipelines/nova/query", question.clone()).await;
    assert_eq!(status, 200, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{first}");
    let (_, second) = post(&s, "/v1/pipelines/nova/query", question.clone()).await;
    assert_ne!(second["id"], first["id"]);
    let (status, _) = post(&s, "/v1/pipelines/flaky/query", json!({ "query": "Remote work?" })).await;
    assert_eq!(status, 200);

    // Feedback: up on the first, down (with a comment) on the second.
    let (status, body) = post(&s, "/v1/pipelines/nova/feedback", json!({ "id": id, "rating": "up" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "id": id, "pipeline": "nova", "rating": "up" }));
    let down = json!({ "id": second["id"], "rating": "down", "comment": "cite the handbook" });
    assert_eq!(post(&s, "/v1/pipelines/nova/feedback", down).await.0, 200);

    // Unknown answers, another pipeline's answer, a bad rating, a long comment.
    let (status, body) = post(
        &s,
        "/v1/pipelines/nova/feedback",
        json!({ "id": "0".repeat(32), "rating": "up" }),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "answer_not_found");
    let (status, body) = post(&s, "/v1/pipelines/flaky/feedback", json!({ "id": id, "rating": "up" })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("answer_not_found"))
    );
    let (status, _) = post(&s, "/v1/pipelines/nova/feedback", json!({ "id": id, "rating": "meh" })).await;
    assert_eq!(status, 422);
    let long = json!({ "id": id, "rating": "up", "comment": "x".repeat(2001) });
    let (status, body) = post(&s, "/v1/pipelines/nova/feedback", long).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(&s, "/v1/pipelines/typo/feedback", json!({ "id": id, "rating": "up" })).await;
    assert_eq!(status, 404);

    // The report by model and by domain.
    let (status, report) = get(&s, "/v1/analytics?pipeline=nova&by=model").await;
    assert_eq!(status, 200, "{report}");
    let main = group(&report, "main");
    assert_eq!(main["queries"], 2);
    assert_eq!(main["input_tokens"], 2 * INPUT_TOKENS);
    assert_eq!(
        (main["thumbs_up"].as_u64(), main["thumbs_down"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(main["thumbs_up_rate"], 0.5);
    let cost = first["usage"]["cost_usd"].as_f64().unwrap() + second["usage"]["cost_usd"].as_f64().unwrap();
    assert!((main["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9, "{main}");
    assert!((main["cost_per_query_usd"].as_f64().unwrap() - cost / 2.0).abs() < 1e-9);
    assert!(main["p95_latency_ms"].as_f64().unwrap() >= main["p50_latency_ms"].as_f64().unwrap());
    let (_, by_domain) = get(&s, "/v1/analytics?by=domain").await;
    assert_eq!(group(&by_domain, "hr")["queries"], 2);
    assert_eq!(by_domain["total"]["queries"], 3, "{by_domain}");
    let (_, by_day) = get(&s, "/v1/analytics?by=day&since=1d").await;
    assert_eq!(by_day["groups"].as_array().unwrap().len(), 1, "{by_day}");

    // Bad parameters: 400 with what is accepted.
    let (status, body) = get(&s, "/v1/analytics?by=colour").await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("domain, model, prompt_version, day, pipeline, role, key"),
        "{message}"
    );
    let (status, body) = get(&s, "/v1/analytics?since=last-tuesday").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("RFC 3339"),
        "{body}"
    );
    let (status, _) = get(&s, "/v1/analytics?since=1d&until=2d").await;
    assert_eq!(status, 400);

    // Budgets, feedback and drift windows are metrics.
    let started = Instant::now();
    let text = loop {
        let text = scrape(&s).await;
        if sample(
            &text,
            "ragline_drift_window_queries",
            &[("pipeline", "nova"), ("window", "recent")],
        ) == Some(2.0)
        {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no drift metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sample(&text, "ragline_budget_usd", &[("period", "day")]), Some(5.0));
    assert_eq!(
        sample(
            &text,
            "ragline_feedback_total",
            &[("pipeline", "nova"), ("rating", "down")]
        ),
        Some(1.0)
    );
    let (status, drift) = get(&s, "/v1/analytics/drift?pipeline=nova").await;
    assert_eq!(status, 200, "{drift}");
    assert_eq!(drift["pipelines"][0]["verdict"], "insufficient");
    assert_eq!(drift["pipelines"][0]["recent_queries"], 2);
    assert_eq!(get(&s, "/v1/analytics/drift?pipeline=typo").await.0, 404);

    // A crash and a restart keep every record and its feedback.
    let s = s.restart();
    let (status, report) = get(&s, "/v1/analytics?pipeline=nova&by=model").await;
    assert_eq!(status, 200);
    let main = group(&report, "main");
    assert_eq!(
        (main["queries"].as_u64(), main["thumbs_up"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    let (status, _) = post(&s, "/v1/pipelines/nova/feedback", json!({ "id": id, "rating": "down" })).await;
    assert_eq!(status, 200, "feedback still finds the answer after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_the_query_log_switched_off_record_nothing() {
    let config = tempfile::tempdir().unwrap();
    copy_dir(std::path::Path::new(SERVER_CONFIG), config.path());
    std::fs::write(
        config.path().join("ragline.yaml"),
        "telemetry:\n  metrics: false\nanalytics:\n  enabled: false\n",
    )
    .unwrap();
    let s = Server::start(config.path().to_str().unwrap(), &["--ingest"]);
    let (status, answer) = post(
        &s,
        "/v1/pipelines/hr/query",
        json!({ "query": "How many vacation days?" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let r = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let (status, body) = post(
        &s,
        "/v1/pipelines/hr/feedback",
        json!({ "id": answer["id"], "rating": "up" }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("analytics_unavailable"))
    );
    assert_eq!(get(&s, "/v1/analytics").await.0, 503);
    // Nothing was written either.
    assert!(!s.data_dir().join("analytics").exists());
}
