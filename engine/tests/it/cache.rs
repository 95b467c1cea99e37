//! The answer cache on the demo config and the real MiniLM model: exact and semantic
//! hits, the checks that turn away a question asking something else, scopes that never
//! mix, streaming, opting out, clearing, and invalidation by a reload, an ingest and
//! the TTL. Each test serves its own copy of the demo config.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Server, client, copy_dir};
use crate::telemetry::{sample, scrape};

pub const LEAVE: &str = "How many vacation days do employees get?";

/// The demo config (pipelines, prompts, scripts, documents, prices) in a temporary
/// directory, with `edit` applied to `pipelines/hr.yaml`.
pub fn demo_copy(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["pipelines", "prompts", "scripts", "data/documents"] {
        copy_dir(&Path::new("..").join(sub), &dir.path().join(sub));
    }
    std::fs::copy("../pricing.yaml", dir.path().join("pricing.yaml")).unwrap();
    let hr = dir.path().join("pipelines/hr.yaml");
    std::fs::write(&hr, edit(std::fs::read_to_string(&hr).unwrap())).unwrap();
    dir
}

pub async fn ask(s: &Server, pipeline: &str, body: Value) -> Value {
    let r = client()
        .post(s.url(&format!("/v1/pipelines/{pipeline}/query")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Ask `question` of the hr pipeline as user `u1` (so the A/B split keeps one prompt
/// version); the answer's cache status.
pub async fn status(s: &Server, question: &str) -> (String, Value) {
    let body = ask(s, "hr", json!({"query": question, "user": "u1"})).await;
    (body["cache"]["status"].as_str().unwrap().to_owned(), body)
}

/// Wait until the answer to `question` is stored (stores run after the response).
pub async fn stored(s: &Server, question: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = ask(s, "hr", json!({"query": question, "user": "u1"})).await;
        if body["cache"]["status"] == "exact" {
            return;
        }
        assert!(Instant::now() < deadline, "never stored: {body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Upload one more hr document (an ingest: the index generation moves).
pub async fn upload_parking(s: &Server) {
    let form = reqwest::multipart::Form::new().text("domain", "hr").part(
        "file",
        reqwest::multipart::Part::bytes(b"# Parking\n\nStaff parking is free on level 2.\n".to_vec())
            .file_name("parking.md"),
    );
    let r = client()
        .post(s.url("/v1/pipelines/hr/documents"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn serves_the_same_question_again_and_never_a_different_one() {
    let dir = demo_copy(|y| y);
    let s = Server::start(dir.path().to_str().unwrap(), &["--ingest"]);
    let info: Value = client()
        .get(s.url("/v1/pipelines/hr"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["cache"]["backend"], "embedded", "{info:#}");
    assert_eq!(info["cache"]["ttl_s"], 86_400);
    let (first, fresh) = status(&s, LEAVE).await;
    assert_eq!(first, "miss", "{fresh:#}");
    stored(&s, LEAVE).await;

    // The exact level: the same question, normalized.
    let (st, hit) = status(&s, "how many VACATION days do employees get").await;
    assert_eq!(st, "exact", "{hit:#}");
    assert_eq!(hit["cache"]["similarity"], 1.0);
    assert!(hit["cache"]["age_s"].as_f64().unwrap() >= 0.0, "{hit:#}");
    assert_eq!(hit["answer"], fresh["answer"]);
    assert_eq!(hit["sources"], fresh["sources"], "sources come back with the answer");
    assert_ne!(hit["id"], fresh["id"], "every answer has its own id");

    // The semantic level: a paraphrase hits; a negation, another number or another
    // topic close in embedding space do not.
    let (st, para) = status(&s, "How many days of vacation does an employee receive?").await;
    assert_eq!(st, "semantic", "{para:#}");
    let sim = para["cache"]["similarity"].as_f64().unwrap();
    assert!((0.8..1.0).contains(&sim), "{para:#}");
    for other in [
        "Which employees do not get vacation days?",
        "How many vacation days do employees get after 10 years?",
        "How many sick days do employees get?",
    ] {
        let (st, body) = status(&s, other).await;
        assert_eq!(st, "miss", "{other}: {body:#}");
    }

    // Scopes never mix: another role, another prompt version (another user of the
    // A/B split may draw it), another pipeline.
    let body = ask(&s, "hr", json!({"query": LEAVE, "user": "u1", "role": "manager"})).await;
    assert_eq!(body["cache"]["status"], "miss", "{body:#}");
    let body = ask(&s, "legal", json!({"query": LEAVE, "user": "u1"})).await;
    assert_eq!(body["cache"]["status"], "miss", "{body:#}");

    // Opting out: neither served nor stored.
    let body = ask(&s, "hr", json!({"query": LEAVE, "user": "u1", "cache": false})).await;
    assert_eq!(body["cache"]["status"], "bypass", "{body:#}");

    // A streamed request is served from the cache too, sources in the route event.
    let text = client()
        .post(s.url("/v1/pipelines/hr/query"))
        .json(&json!({"query": LEAVE, "user": "u1", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let done = text
        .split("event: done\ndata: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    let done: Value = serde_json::from_str(done).unwrap();
    assert_eq!(done["cache"]["status"], "exact", "{text}");
    assert_eq!(done["answer"], fresh["answer"]);

    // The metrics count what happened.
    let m = scrape(&s).await;
    let count = |status| {
        sample(
            &m,
            "ragline_cache_lookups_total",
            &[("pipeline", "hr"), ("status", status)],
        )
    };
    assert!(count("exact").unwrap() >= 3.0, "{m}");
    assert!(count("semantic").unwrap() >= 1.0);
    assert!(count("bypass").unwrap() >= 1.0);
    assert!(
        sample(
            &m,
            "ragline_cache_rejected_total",
            &[("pipeline", "hr"), ("check", "negation")]
        )
        .is_some()
    );
    let hits = sample(
        &m,
        "ragline_cache_nearest_similarity_count",
        &[("pipeline", "hr"), ("outcome", "hit")],
    );
    assert!(hits.unwrap() >= 4.0, "{m}");

    // Clearing removes every entry of the pipeline, and only its entries.
    let r = client().delete(s.url("/v1/pipelines/hr/cache")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cleared: Value = r.json().await.unwrap();
    assert!(cleared["removed"].as_u64().unwrap() >= 3, "{cleared:#}");
    let (st, _) = status(&s, LEAVE).await;
    assert_eq!(st, "miss");
    let r = client().delete(s.url("/v1/pipelines/nope/cache")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_reload_an_ingest_and_the_ttl_each_retire_old_entries() {
    let dir = demo_copy(|y| y.replace("  ttl: 24h", "  ttl: 3s"));
    let s = Server::start(
        dir.path().to_str().unwrap(),
        &["--ingest", "--watch", "--watch-debounce-ms", "50"],
    );
    status(&s, LEAVE).await;
    stored(&s, LEAVE).await;

    // A pipeline edit (a new top_k default would change answers; here only the
    // description) moves to a new epoch.
    let hr = dir.path().join("pipelines/hr.yaml");
    let text = std::fs::read_to_string(&hr).unwrap();
    std::fs::write(&hr, text.replace("HR policy assistant", "HR policy helper")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body: Value = client()
            .get(s.url("/v1/pipelines/hr"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["description"].as_str().unwrap().contains("helper") {
            break;
        }
        assert!(Instant::now() < deadline, "the edit never loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (st, body) = status(&s, LEAVE).await;
    assert_eq!(st, "miss", "a reload retires the old entries: {body:#}");
    stored(&s, LEAVE).await;

    // An ingest moves the index generation.
    upload_parking(&s).await;
    let (st, body) = status(&s, LEAVE).await;
    assert_eq!(st, "miss", "an ingest retires the old entries: {body:#}");
    stored(&s, LEAVE).await;

    // The TTL: after 3 s the entry is not served.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let (st, body) = status(&s, LEAVE).await;
    assert_eq!(st, "miss", "expired: {body:#}");
}
