//! `k8s/monitoring/` against the real thing: Debian's Prometheus scrapes a real ragline
//! (Bedrock through the real SDK against the fake) every second and loads the alerting
//! rules; every expression of the dashboards and the rules is then evaluated through
//! Prometheus's HTTP query API. Each must parse, and each must return data, except the
//! few whose metrics this traffic cannot produce (listed, with the reason). promtool
//! checks the rules and runs their unit tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::bedrock;
use crate::debian;
use crate::fake_bedrock::FakeBedrock;
use crate::support::{Server, client};

/// Dashboard variables as Grafana would fill them, for a query API that knows none.
const GRAFANA_VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__range", "1h"),
    ("$pipeline", ".*"),
    ("$domain", ".*"),
    ("$model", ".*"),
];

/// Expressions allowed to come back empty: the traffic below cannot produce them.
const NO_DATA_EXPECTED: &[(&str, &str)] = &[
    ("ragline_cache_lookups_total", "no pipeline has a cache stage yet"),
    ("stage=\"cache\"", "no pipeline has a cache stage yet"),
    ("ragline_otel_spans_dropped_total", "no OTLP exporter is configured"),
];

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s/monitoring")
}

/// Every `expr` in the dashboards, with Grafana's variables filled in.
fn dashboard_expressions() -> Vec<(String, String)> {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("expr", Value::String(expr)) => found.push(expr.clone()),
                        _ => walk(v, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    let dir = monitoring().join("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut found = Vec::new();
        walk(&dashboard, &mut found);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!found.is_empty(), "{name} has no expressions");
        for expr in found {
            let filled = GRAFANA_VARIABLES
                .iter()
                .fold(expr, |e, (var, value)| e.replace(var, value));
            assert!(!filled.contains('$'), "{name}: unknown variable in {filled}");
            all.push((name.clone(), filled));
        }
    }
    all
}

/// A Prometheus process on a free loopback port, killed on drop.
struct Prometheus {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let binary = debian::program("prometheus", "prometheus");
        let dir = tempfile::tempdir().unwrap();
        let rules = monitoring().join("rules/ragline-alerts.yaml");
        let config = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\n\
             rule_files: [\"{}\"]\n\
             scrape_configs:\n  - job_name: ragline\n    static_configs: [{{ targets: [\"{target}\"] }}]\n",
            rules.display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The API's answer to an instant query (success or error).
    async fn query(&self, expr: &str) -> Value {
        let r = client()
            .get(reqwest::Url::parse_with_params(&format!("{}/api/v1/query", self.url), [("query", expr)]).unwrap())
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// The result vector of a query that must succeed.
    async fn data(&self, expr: &str) -> Vec<Value> {
        let answer = self.query(expr).await;
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
        answer["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Waits (up to a minute) until `expr` returns a sample with a value `ok` accepts.
    async fn wait_for(&self, expr: &str, ok: impl Fn(f64) -> bool) {
        let started = Instant::now();
        loop {
            let ready = client().get(format!("{}/-/ready", self.url)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                let found = self.data(expr).await;
                if found.iter().any(|s| ok(value(s))) {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Prometheus never saw {expr}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sample's value (`[time, "value"]`).
fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

/// The Bedrock config, with guardrails and a small drift window on `nova`, budgets and
/// drift assessed every second; its documents ingested, and the server (watching, so an
/// edit reloads).
async fn start() -> (FakeBedrock, tempfile::TempDir, Server) {
    let fake = FakeBedrock::start().await;
    let config = bedrock::config(&fake.url, 256);
    let d = config.path();
    let nova = d.join("pipelines/nova.yaml");
    let mut yaml = std::fs::read_to_string(&nova).unwrap();
    yaml.push_str(
        "guardrails:\n  pii: { action: mask }\n  denied_topics:\n    - name: medical advice\n      keywords: [diagnosis]\n\
         drift: { window: 20, min_queries: 10 }\n",
    );
    std::fs::write(&nova, yaml).unwrap();
    std::fs::write(
        d.join("ragline.yaml"),
        "analytics: { drift_every_s: 1 }\nbudgets: { daily_usd: 5, monthly_usd: 100 }\n",
    )
    .unwrap();
    let server = bedrock::serve(&config, &["--watch"]).await;
    (fake, config, server)
}

/// Questions answered, blocked, masked, retried, fallen back and failed, with feedback,
/// and an upload.
async fn traffic(s: &Server, round: usize, questions: usize) {
    let post = |path: &str, body: Value| client().post(s.url(path)).json(&body).send();
    for i in 0..questions {
        let domain = ["hr", "legal"][i % 2];
        let body = json!({ "query": format!("How many vacation days, question {i}?"), "domain": domain });
        let r = post("/v1/pipelines/nova/query", body).await.unwrap();
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.unwrap();
        let rating = if i % 3 == 0 { "down" } else { "up" };
        let feedback = json!({ "id": answer["id"], "rating": rating });
        assert_eq!(
            post("/v1/pipelines/nova/feedback", feedback).await.unwrap().status(),
            200
        );
    }
    let blocked = json!({ "query": "Which diagnosis qualifies for sick leave?" });
    assert_eq!(post("/v1/pipelines/nova/query", blocked).await.unwrap().status(), 200);
    let masked = json!({ "query": "Is 123-45-6789 my SSN on file?" });
    assert_eq!(post("/v1/pipelines/nova/query", masked).await.unwrap().status(), 200);
    let any = json!({ "query": "Remote work?" });
    assert_eq!(
        post("/v1/pipelines/flaky/query", any.clone()).await.unwrap().status(),
        200
    );
    assert_eq!(
        post("/v1/pipelines/throttled/query", any.clone())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(post("/v1/pipelines/overloaded/query", any).await.unwrap().status(), 503);
    let text = format!("# Parental leave\n\nParents get {round} more weeks of paid leave.\n");
    let file = Part::bytes(text.into_bytes()).file_name(format!("parental-{round}.md"));
    let r = client()
        .post(s.url("/v1/pipelines/nova/documents"))
        .multipart(Form::new().part("file", file))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_ragline_and_every_dashboard_and_rule_expression_evaluates() {
    let (_fake, config, s) = start().await;
    // Every series exists before Prometheus first sees it, and the traffic that follows
    // is spread over several scrapes, so that increase() and rate() see it happen.
    traffic(&s, 0, 2).await;
    let prometheus = Prometheus::start(s.base.trim_start_matches("http://"));
    let count = "sum(ragline_query_cost_usd_count{pipeline=\"nova\"})";
    prometheus.wait_for(count, |v| v >= 2.0).await;
    traffic(&s, 1, 15).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // A prompt edit reloads the pipelines.
    let prompt = config.path().join("prompts/answer.md");
    let text = std::fs::read_to_string(&prompt).unwrap();
    std::fs::write(&prompt, format!("{text}\nBe brief.\n")).unwrap();
    traffic(&s, 2, 15).await;
    prometheus.wait_for(count, |v| v >= 32.0).await;
    prometheus
        .wait_for("ragline_drift_score{pipeline=\"nova\"}", |_| true)
        .await;
    prometheus
        .wait_for("sum(ragline_config_reloads_total)", |v| v >= 1.0)
        .await;
    // A few more scrapes, so that every rate window holds two samples after the traffic.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Every dashboard expression parses, and returns data unless listed above.
    let mut empty = BTreeSet::new();
    let expressions = dashboard_expressions();
    assert!(
        expressions.len() >= 60,
        "only {} dashboard expressions",
        expressions.len()
    );
    for (dashboard, expr) in &expressions {
        let answer = prometheus.query(expr).await;
        assert_eq!(answer["status"], "success", "{dashboard}: {expr}\n{answer}");
        if answer["data"]["result"].as_array().is_none_or(Vec::is_empty) {
            empty.insert(expr.clone());
        }
    }
    let unexplained: Vec<_> = empty
        .iter()
        .filter(|e| !NO_DATA_EXPECTED.iter().any(|(needle, _)| e.contains(needle)))
        .collect();
    assert!(unexplained.is_empty(), "no data for:\n{unexplained:#?}");

    // The core figures are real numbers, not just present.
    let positive = [
        "sum(increase(ragline_query_cost_usd_sum{model=\"main\"}[1h]))",
        "sum by (gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{gen_ai_operation_name=\"chat\"}[1m]))",
        "histogram_quantile(0.95, sum by (le) (rate(ragline_stage_duration_seconds_bucket{stage=\"retrieve.vector\"}[1m])))",
        "sum(rate(ragline_route_decisions_total{pipeline=\"nova\", model=\"main\"}[1m]))",
        "sum(increase(ragline_guardrail_interventions_total{action=\"blocked\"}[1h]))",
        "sum(increase(ragline_feedback_total{rating=\"up\"}[1h]))",
    ];
    for expr in positive {
        let found = prometheus.data(expr).await;
        assert!(!found.is_empty(), "{expr}");
        for sample in &found {
            let v = value(sample);
            assert!(v.is_finite() && v > 0.0, "{expr} = {v}");
        }
    }
    let share = prometheus
        .data("sum(increase(ragline_feedback_total{rating=\"up\"}[1h])) / sum(increase(ragline_feedback_total[1h]))")
        .await;
    let up = value(&share[0]);
    assert!((0.5..0.8).contains(&up), "thumbs-up share {up} (two in three were up)");

    // Prometheus loaded every alerting rule, evaluates it without error, and every
    // rule expression also answers through the query API.
    let started = Instant::now();
    let rules = loop {
        let r: Value = client()
            .get(format!("{}/api/v1/rules", prometheus.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rules: Vec<Value> = r["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().clone())
            .collect();
        if !rules.is_empty() && rules.iter().all(|r| r["health"] != "unknown") {
            break rules;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "rules never evaluated: {r}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(rules.len() >= 9, "{rules:#?}");
    for rule in &rules {
        assert_eq!(rule["health"], "ok", "{rule:#}");
        prometheus.data(rule["query"].as_str().unwrap()).await;
    }
}

fn promtool(args: &[&str]) {
    let out = Command::new(debian::program("promtool", "prometheus"))
        .args(args)
        .current_dir(monitoring().join("rules"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_checks_the_alerting_rules_and_runs_their_unit_tests() {
    promtool(&["check", "rules", "ragline-alerts.yaml"]);
    promtool(&["test", "rules", "ragline-alerts.test.yaml"]);
}
