//! API keys at the door of a real server: 401 without a key, with an unknown, revoked
//! or expired one; 403 outside the role's pipelines or scopes, on the pipeline
//! endpoints and the OpenAI one alike; `access.yaml` hot-reloads; `--require-auth`
//! refuses to start open.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{SERVER_CONFIG, Server, cli_split, client, copy_dir, create_key};

const ACCESS: &str = "roles:\n  hr-reader: { pipelines: [hr], domains: [hr], scopes: [query] }\n  admin: { pipelines: [\"*\"], domains: [\"*\"], scopes: [\"*\"] }\n";

async fn ask(s: &Server, pipeline: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut r = client()
        .post(s.url(&format!("/v1/pipelines/{pipeline}/query")))
        .json(&json!({ "query": "How many vacation days?" }));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_open_only_what_their_role_grants() {
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    std::fs::write(config.path().join("access.yaml"), ACCESS).unwrap();
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let hr = create_key(dir, data.path(), &["--role", "hr-reader", "--name", "hr app"]);
    let admin = create_key(dir, data.path(), &["--role", "admin"]);
    let brief = create_key(dir, data.path(), &["--role", "admin", "--expires", "1s"]);
    let s = Server::start_with(dir, data, &["--ingest", "--watch"]);

    // The probes stay open and say how the server runs.
    let r = client().get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["auth"], "keys");

    // No key, an unknown key, an expired key.
    let (status, body) = ask(&s, "hr", &[]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated"),
        "{body}"
    );
    let r = client()
        .post(s.url("/v1/pipelines/hr/query"))
        .json(&json!({"query": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (status, body) = ask(&s, "hr", &[("authorization", "Bearer rgl_0000")]).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "invalid_key"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = ask(&s, "hr", &[("x-api-key", &brief)]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "key_expired"),
        "{body}"
    );

    // The role's pipeline, by either header; not another pipeline, nor another scope.
    let bearer = format!("Bearer {hr}");
    assert_eq!(ask(&s, "hr", &[("authorization", &bearer)]).await.0, StatusCode::OK);
    assert_eq!(ask(&s, "hr", &[("x-api-key", &hr)]).await.0, StatusCode::OK);
    let (status, body) = ask(&s, "legal", &[("x-api-key", &hr)]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "pipeline_forbidden"),
        "{body}"
    );
    let r = client()
        .get(s.url("/v1/analytics"))
        .header("x-api-key", &hr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client()
        .post(s.url("/v1/pipelines/hr/sync"))
        .header("x-api-key", &hr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(ask(&s, "legal", &[("x-api-key", &admin)]).await.0, StatusCode::OK);

    // Listings show only the role's pipelines.
    let names = |path: &'static str, key: String, field: &'static str| {
        let url = s.url(path);
        async move {
            let body: Value = client()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let list = body[field].as_array().unwrap().clone();
            let key = if field == "data" { "id" } else { "name" };
            list.iter()
                .map(|p| p[key].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("/v1/pipelines", hr.clone(), "pipelines").await, ["hr"]);
    assert_eq!(names("/v1/models", hr.clone(), "data").await, ["hr"]);
    assert!(names("/v1/models", admin.clone(), "data").await.len() > 1);
    let r = client()
        .get(s.url("/v1/models/legal"))
        .header("x-api-key", &hr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The OpenAI endpoint: the key is the client's api_key, the pipeline its model.
    let chat = |model: &str, key: &str| {
        client()
            .post(s.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({ "model": model, "messages": [{ "role": "user", "content": "Vacation days?" }] }))
            .send()
    };
    assert_eq!(chat("hr", &hr).await.unwrap().status(), StatusCode::OK);
    let r = chat("legal", &hr).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "pipeline_forbidden", "{body}");

    // access.yaml reloads: granting legal opens it without a restart.
    std::fs::write(
        config.path().join("access.yaml"),
        ACCESS.replace(
            "pipelines: [hr], domains: [hr]",
            "pipelines: [hr, legal], domains: [hr, legal]",
        ),
    )
    .unwrap();
    let started = Instant::now();
    while ask(&s, "legal", &[("x-api-key", &hr)]).await.0 != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "access.yaml was not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A key revoked while the server runs stops working at once.
    let (code_, out, err) = cli_split(dir, s.data_dir(), &["keys", "revoke", "hr app"]);
    assert_eq!(code_, 0, "{out}{err}");
    let (status, body) = ask(&s, "hr", &[("x-api-key", &hr)]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_key"),
        "{body}"
    );
}

#[test]
fn require_auth_refuses_to_start_open() {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ragline"))
        .args(["--config-dir", SERVER_CONFIG, "--data-dir"])
        .arg(data.path())
        .args(["serve", "--addr", "127.0.0.1:0", "--require-auth"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--require-auth: no access.yaml"), "{err}");
}

/// The domains of an answer's sources.
fn domains(answer: &Value) -> Vec<String> {
    answer["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_domains_filter_inside_retrieval() {
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    // A pipeline over the shared index with no domain filter of its own.
    let hr = std::fs::read_to_string(config.path().join("pipelines/hr.yaml")).unwrap();
    // Its tag rule files whatever mentions a secret under legal.
    let all = hr
        .replace("name: hr", "name: all")
        .replace("  filter:\n    domain: [hr]\n", "")
        .replace("  embed:\n", "  tag:\n    script: ../scripts/secret.rhai\n  embed:\n");
    assert!(!all.contains("filter:") && all.contains("secret.rhai"), "{all}");
    std::fs::write(
        config.path().join("scripts/secret.rhai"),
        "fn tag(doc) { if contains_any(doc.text_head, [\"secret\"]) { #{ domain: \"legal\" } } else { #{} } }\n",
    )
    .unwrap();
    std::fs::write(config.path().join("pipelines/all.yaml"), all).unwrap();
    std::fs::write(
        config.path().join("access.yaml"),
        "roles:\n  hr-everywhere: { pipelines: [\"*\"], domains: [hr], scopes: [query] }\n  hr-writer: { pipelines: [\"*\"], domains: [hr], scopes: [query, upload, delete] }\n  admin: { pipelines: [\"*\"], domains: [\"*\"], scopes: [\"*\"] }\n",
    )
    .unwrap();
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let hr_key = create_key(dir, data.path(), &["--role", "hr-everywhere"]);
    let admin = create_key(dir, data.path(), &["--role", "admin"]);
    let writer = create_key(dir, data.path(), &["--role", "hr-writer"]);
    let s = Server::start_with(dir, data, &["--ingest"]);
    let nda = |key: &str, body: Value| {
        client()
            .post(s.url("/v1/pipelines/all/query"))
            .header("x-api-key", key)
            .json(&body)
            .send()
    };
    let question =
        json!({ "query": "Who signs the non-disclosure agreement before confidential information?", "top_k": 10 });

    // The admin finds the legal NDA; the HR key, on the same pipeline, only HR documents.
    let r = nda(&admin, question.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert!(domains(&answer).contains(&"legal".to_owned()), "{answer:#}");
    let r = nda(&hr_key, question.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    let found = domains(&answer);
    assert!(!found.is_empty() && found.iter().all(|d| d == "hr"), "{answer:#}");
    assert!(
        !answer["answer"].as_str().unwrap().contains("non-disclosure"),
        "{answer:#}"
    );

    // Asking for a domain outside the grant, or a pipeline with none of its domains: 403.
    let r = nda(&hr_key, json!({ "query": "NDA?", "domain": "legal" }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "domain_forbidden");
    let (status, body) = ask(&s, "legal", &[("x-api-key", &hr_key)]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "domain_forbidden"),
        "{body}"
    );

    // Documents: listed, uploaded and deleted within the key's domains only.
    let listed = |key: String| {
        let url = s.url("/v1/pipelines/all/documents");
        async move {
            let r = client().get(url).header("x-api-key", key).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()["documents"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let everything = listed(admin.clone()).await;
    let legal_doc = everything.iter().find(|d| d["domain"] == "legal").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = listed(writer.clone()).await;
    assert!(!mine.is_empty() && mine.iter().all(|d| d["domain"] == "hr"), "{mine:?}");
    let upload = |domain: &str, text: &str| {
        let name = if text.contains("secret") { "plan.md" } else { "note.md" };
        let form = reqwest::multipart::Form::new().text("domain", domain.to_owned()).part(
            "file",
            reqwest::multipart::Part::bytes(format!("# Note\n\n{text}\n").into_bytes()).file_name(name),
        );
        client()
            .post(s.url("/v1/pipelines/all/documents"))
            .header("x-api-key", &writer)
            .multipart(form)
            .send()
    };
    let r = upload("legal", "A short note.").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "domain_forbidden");
    assert_eq!(upload("hr", "A short note.").await.unwrap().status(), StatusCode::OK);
    // Declared hr, but the tag rule files it under legal: refused after tagging, and not
    // left in the store for a sync to index.
    let r = upload("hr", "A secret plan.").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden", "{body:#}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(r#"["legal"] is not allowed here (allowed: hr)"#),
        "{message}"
    );
    let stored = s.data_dir().join("documents/all/hr");
    assert!(stored.join("note.md").exists(), "the accepted upload is stored");
    assert!(
        !stored.join("plan.md").exists(),
        "the refused upload is removed from the store"
    );
    assert!(
        listed(admin.clone())
            .await
            .iter()
            .all(|d| d["domain"] != "legal" || d["id"] == legal_doc.as_str()),
        "nothing new under legal"
    );
    let delete = |key: &str| {
        client()
            .delete(s.url(&format!("/v1/pipelines/all/documents/{legal_doc}")))
            .header("x-api-key", key)
            .send()
    };
    assert_eq!(delete(&writer).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert!(
        listed(admin.clone())
            .await
            .iter()
            .any(|d| d["id"] == legal_doc.as_str()),
        "still there"
    );

    // The OpenAI endpoint filters the same way.
    let r = client()
        .post(s.url("/v1/chat/completions"))
        .bearer_auth(&hr_key)
        .json(&json!({ "model": "all", "messages": [{ "role": "user", "content": question["query"] }], "ragline": { "top_k": 10 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let found = domains(&body["ragline"]);
    assert!(!found.is_empty() && found.iter().all(|d| d == "hr"), "{body:#}");
}
