//! The HTTP edge of a real server: rate limits per client IP, per key and per key of a
//! role (429 with `Retry-After`, the probes never limited), security headers, CORS only
//! for the configured origins, and `/metrics` on its own address.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{SERVER_CONFIG, Server, client, copy_dir, create_key};
use crate::telemetry::{sample, scrape};

fn config_with(ragline_yaml: &str, access_yaml: Option<&str>) -> tempfile::TempDir {
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    std::fs::write(config.path().join("ragline.yaml"), ragline_yaml).unwrap();
    if let Some(access) = access_yaml {
        std::fs::write(config.path().join("access.yaml"), access).unwrap();
    }
    config
}

async fn list(s: &Server, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = client().get(s.url("/v1/pipelines"));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

/// The statuses of `n` requests in a row.
async fn statuses(s: &Server, n: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(list(s, headers).await.status().as_u16());
    }
    out
}

/// `r` is a 429 `rate_limited` whose message names `whom`, with a `Retry-After` of 1 to
/// 60 s.
async fn refused_for_rate(r: reqwest::Response, whom: &str) {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(whom), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_ip_gets_its_own_rate() {
    // One request a minute sustained, three at once: the fourth in a row is refused.
    let config = config_with(
        "limits:\n  rate:\n    per_ip: { per_minute: 1, burst: 3 }\n    trust_forwarded: true\n",
        None,
    );
    let s = Server::start(config.path().to_str().unwrap(), &[]);
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    assert_eq!(statuses(&s, 3, &from("10.0.0.1")).await, [200, 200, 200]);
    let r = list(&s, &from("10.0.0.1")).await;
    refused_for_rate(r, "client IP (limits.rate.per_ip: 1/min, burst 3)").await;
    // Another client is not affected, and the probes are never limited.
    assert_eq!(statuses(&s, 3, &from("10.0.0.2")).await, [200, 200, 200]);
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        for _ in 0..5 {
            let r = client()
                .get(s.url(path))
                .header("x-forwarded-for", "10.0.0.1")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
        }
    }
    // A refused request did no work: it is counted as refused, nothing else.
    let text = scrape(&s).await;
    assert_eq!(
        sample(&text, "ragline_rate_limited_total", &[("limit", "per_ip")]),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_gets_its_own_rate() {
    let access = "roles:\n  reader: { pipelines: [\"*\"], domains: [\"*\"], scopes: [query] }\n";
    let config = config_with(
        "limits:\n  rate:\n    per_key: { per_minute: 1, burst: 2 }\n",
        Some(access),
    );
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let key = |name: &str| create_key(dir, data.path(), &["--role", "reader", "--name", name]);
    let (a, b) = (key("a"), key("b"));
    let s = Server::start_with(dir, data, &[]);
    assert_eq!(statuses(&s, 3, &[("x-api-key", &a)]).await, [200, 200, 429]);
    let bearer = format!("Bearer {a}");
    let r = list(&s, &[("authorization", &bearer)]).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the same key, sent as a bearer"
    );
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("this API key"),
        "{body}"
    );
    // Another key of the same role, from the same IP, has its own bucket.
    assert_eq!(statuses(&s, 2, &[("x-api-key", &b)]).await, [200, 200]);
    // Requests without a key count by IP; they are refused by the key check, not the rate.
    assert_eq!(statuses(&s, 2, &[]).await, [401, 401]);
    assert_eq!(statuses(&s, 1, &[]).await, [429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_can_rate_each_of_its_keys() {
    let access = "roles:\n  \
        reader:\n    pipelines: [\"*\"]\n    domains: [\"*\"]\n    scopes: [query]\n    key_rate: { per_minute: 1, burst: 2 }\n  \
        batch: { pipelines: [\"*\"], domains: [\"*\"], scopes: [query] }\n";
    let config = config_with("", Some(access));
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let key = |role: &str, name: &str| create_key(dir, data.path(), &["--role", role, "--name", name]);
    let (a, b, c) = (key("reader", "a"), key("reader", "b"), key("batch", "c"));
    let s = Server::start_with(dir, data, &[]);
    assert_eq!(statuses(&s, 2, &[("x-api-key", &a)]).await, [200, 200]);
    let r = list(&s, &[("x-api-key", &a)]).await;
    refused_for_rate(r, "this API key (access.yaml roles.reader.key_rate: 1/min, burst 2)").await;
    // Each key of the role has its own bucket; a role without a key_rate has none.
    assert_eq!(statuses(&s, 2, &[("x-api-key", &b)]).await, [200, 200]);
    assert_eq!(statuses(&s, 6, &[("x-api-key", &c)]).await, [200; 6]);
    let text = scrape(&s).await;
    assert_eq!(
        sample(&text, "ragline_rate_limited_total", &[("limit", "key_rate")]),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_security_headers_and_cors_for_listed_origins_only() {
    let ui = "https://ui.example.com";
    let config = config_with(&format!("http:\n  cors_origins: [\"{ui}\"]\n"), None);
    let s = Server::start(config.path().to_str().unwrap(), &[]);
    for path in ["/healthz", "/v1/pipelines", "/no/such/route"] {
        let r = client().get(s.url(path)).send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, s.url("/v1/pipelines/hr/query"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, x-api-key")
            .send()
    };
    let r = preflight(ui).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.headers()["access-control-allow-origin"], ui);
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("x-api-key") && allowed.contains("content-type"),
        "{allowed}"
    );
    let r = preflight("https://evil.example.com").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // A real request from the UI's origin can read the answer.
    let r = client()
        .post(s.url("/v1/pipelines/hr/query"))
        .header("origin", ui)
        .json(&json!({ "query": "How many vacation days?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], ui);

    // Without cors_origins there are no CORS headers at all.
    let plain = config_with("", None);
    let s = Server::start(plain.path().to_str().unwrap(), &[]);
    let r = client()
        .get(s.url("/v1/pipelines"))
        .header("origin", ui)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(r.headers()["x-frame-options"], "DENY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_listen_apart_from_the_api() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config_with(&format!("telemetry:\n  metrics_addr: 127.0.0.1:{port}\n"), None);
    let s = Server::start(config.path().to_str().unwrap(), &[]);
    let r = client()
        .post(s.url("/v1/pipelines/hr/query"))
        .json(&json!({ "query": "How many vacation days?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not on the API's address");
    let text = client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("ragline_http_requests_total") || text.contains("ragline_http_request_duration_seconds"),
        "{text}"
    );
    let r = client()
        .get(format!("http://127.0.0.1:{port}/v1/pipelines"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only /metrics there");
}
