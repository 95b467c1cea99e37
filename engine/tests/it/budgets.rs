//! Key and role budgets of `access.yaml` on a real server: a key that spent its day's
//! tokens gets 429 `budget_exceeded` with `Retry-After` until the day ends (counted in
//! the metrics), another key of its role does not, a role's budget counts all its keys,
//! the OpenAI endpoint is bound the same way, and a crash and restart forget nothing.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{SERVER_CONFIG, Server, client, copy_dir, create_key};
use crate::telemetry::{sample, scrape};

const ACCESS: &str = "roles:
  app:
    pipelines: [hr]
    domains: [hr]
    scopes: [query]
    key_budget: { daily_tokens: 300 }
  team:
    pipelines: [hr]
    domains: [hr]
    scopes: [query]
    role_budget: { monthly_tokens: 300 }
  admin: { pipelines: [\"*\"], domains: [\"*\"], scopes: [\"*\"] }
";

async fn ask(s: &Server, key: &str) -> (StatusCode, Option<u64>, Value) {
    let r = client()
        .post(s.url("/v1/pipelines/hr/query"))
        .header("x-api-key", key)
        .json(&json!({ "query": "How many vacation days do employees get?" }))
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (r.status(), retry, r.json().await.unwrap())
}

/// Ask until refused; the answers before that, and the refusal.
async fn spend_all(s: &Server, key: &str) -> (usize, Option<u64>, Value) {
    for answered in 0..20 {
        let (status, retry, body) = ask(s, key).await;
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            return (answered, retry, body);
        }
        assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0, "{body}");
    }
    panic!("never refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_refuse_a_key_or_role_that_spent_them() {
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    std::fs::write(config.path().join("access.yaml"), ACCESS).unwrap();
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let key = |role: &str| create_key(dir, data.path(), &["--role", role]);
    let (a1, a2, t1, t2, admin) = (key("app"), key("app"), key("team"), key("team"), key("admin"));
    let s = Server::start_with(dir, data, &["--ingest"]);

    // A key's daily budget: some answers, then 429 until midnight UTC.
    let (answered, retry, body) = spend_all(&s, &a1).await;
    assert!(answered >= 1, "the first answers fit: {body}");
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("tokens (key_budget.daily_tokens of role `app`); it resets at")
            && message.contains("T00:00:00"),
        "{message}"
    );
    let retry = retry.unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    // The refusal reached neither a model nor the store: its tokens are not counted.
    let (again, _, _) = spend_all(&s, &a1).await;
    assert_eq!(again, 0);
    // Another key of the role has its own budget.
    assert_eq!(ask(&s, &a2).await.0, StatusCode::OK);

    // A role's budget is shared: what one key spent, the other cannot.
    let (first, _, _) = spend_all(&s, &t1).await;
    assert!(first >= 1);
    let (second, _, body) = spend_all(&s, &t2).await;
    assert_eq!(second, 0, "t1 spent the role's budget");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("role `team` spent"),
        "{body}"
    );

    // The OpenAI endpoint is bound by the same budgets.
    let r = client()
        .post(s.url("/v1/chat/completions"))
        .bearer_auth(&a1)
        .json(&json!({ "model": "hr", "messages": [{ "role": "user", "content": "Vacation days?" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    let text = scrape(&s).await;
    let refused = |role, budget| {
        sample(
            &text,
            "ragline_budget_exceeded_total",
            &[("role", role), ("budget", budget)],
        )
        .unwrap_or(0.0)
    };
    assert!(refused("app", "key_daily_tokens") >= 3.0, "{text}");
    assert!(refused("team", "role_monthly_tokens") >= 1.0, "{text}");

    // The query log has each answer's key and role, so a crash and restart forget nothing.
    let r = client()
        .get(s.url("/v1/analytics"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "flushes the log");
    // ... and the report says what each role spent.
    let r = client()
        .get(s.url("/v1/analytics?by=role"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    let groups = report["groups"].as_array().unwrap();
    let queries = |role: &str| {
        groups
            .iter()
            .find(|g| g["key"] == role)
            .map(|g| g["queries"].as_u64().unwrap())
    };
    assert_eq!(queries("app"), Some(answered as u64 + 1), "{report:#}");
    assert_eq!(queries("team"), Some(first as u64), "{report:#}");
    let s = s.restart();
    assert_eq!(ask(&s, &a1).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ask(&s, &t2).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ask(&s, &a2).await.0, StatusCode::OK);
}
