//! The real server on 127.0.0.1:0: every endpoint and its error statuses.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::{SERVER_CONFIG, Server, client, fixture_doc};

async fn query(s: &Server, pipeline: &str, body: Value) -> (StatusCode, Value) {
    let r = client()
        .post(s.url(&format!("/v1/pipelines/{pipeline}/query")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn upload(s: &Server, pipeline: &str, form: Form) -> (StatusCode, Value) {
    let r = client()
        .post(s.url(&format!("/v1/pipelines/{pipeline}/documents")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

fn file(name: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes).file_name(name.to_owned())
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn health_readiness_listing_and_openapi() {
    let s = Server::start(SERVER_CONFIG, &[]);
    let c = client();
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));

    let r = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["pipelines"], 5);

    let list: Value = c
        .get(s.url("/v1/pipelines"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docs", "hr", "legal", "looping", "strict"]);
    let hr = &list["pipelines"][1];
    assert_eq!(hr["endpoints"]["query"], "/v1/pipelines/hr/query");
    assert_eq!(hr["default_route"]["prompt"], "shared/answer");
    assert_eq!(
        hr["default_route"]["prompt_version"]["hash"].as_str().unwrap().len(),
        12
    );
    assert_eq!(hr["default_route"]["prompt_version"]["version"], Value::Null);
    assert_eq!(hr["prompts"][0]["name"], "shared/answer");
    assert_eq!(hr["prompts"][0]["versions"][0]["live"], true);
    assert_eq!(list["reload"]["state"], "ok");
    assert_eq!(list["reload"]["watching"], false);
    assert_eq!(hr["filter"]["domain"], json!(["hr"]));

    let one: Value = c
        .get(s.url("/v1/pipelines/legal"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["index"], "corp");
    let r = c.get(s.url("/v1/pipelines/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_error(&r.json().await.unwrap(), "pipeline_not_found");

    let r = c.get(s.url("/no/such/route")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_error(&r.json().await.unwrap(), "not_found");

    let api: Value = c
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(api["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/healthz",
        "/readyz",
        "/v1/pipelines",
        "/v1/pipelines/{name}",
        "/v1/pipelines/{name}/query",
        "/v1/pipelines/{name}/documents",
        "/v1/pipelines/{name}/documents/{id}",
    ] {
        assert!(api["paths"][path].is_object(), "openapi lacks {path}");
    }
    for schema in [
        "QueryResponse",
        "PromptVersion",
        "Assignment",
        "PromptInfo",
        "ReloadStatus",
    ] {
        assert!(
            api["components"]["schemas"][schema].is_object(),
            "openapi lacks {schema}"
        );
    }
}

#[tokio::test]
async fn upload_query_list_delete() {
    let s = Server::start(SERVER_CONFIG, &[]);

    // Empty index: an honest non-answer, no sources.
    let (status, body) = query(&s, "hr", json!({"query": "How many vacation days do employees get?"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sources"], json!([]));

    let leave = std::fs::read("tests/fixtures/server/docs/hr/leave.md").unwrap();
    let (status, body) = upload(&s, "hr", Form::new().part("file", file("leave.md", leave.clone()))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["status"], "ingested");
    assert!(body["files"][0]["chunks"].as_u64().unwrap() >= 1);
    let doc_id = body["files"][0]["document_id"].as_str().unwrap().to_owned();

    // Same bytes again: nothing new.
    let (status, body) = upload(&s, "hr", Form::new().part("file", file("leave.md", leave))).await;
    assert_eq!(status, 200);
    assert_eq!(body["files"][0]["status"], "unchanged");
    assert_eq!(body["files"][0]["document_id"], doc_id.as_str());

    // A legal document goes into the same shared index under its own domain.
    let nda = std::fs::read("tests/fixtures/server/docs/legal/nda.md").unwrap();
    let (status, _) = upload(&s, "legal", Form::new().part("f", file("nda.md", nda))).await;
    assert_eq!(status, 200);

    let (status, body) = query(&s, "hr", json!({"query": "How many vacation days do employees get?"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["answer"].as_str().unwrap().contains("25 days of paid vacation"),
        "{body}"
    );
    assert!(body["answer"].as_str().unwrap().contains("[1]"));
    let first = &body["sources"][0];
    assert_eq!(first["n"], 1);
    assert_eq!(first["document_id"], doc_id.as_str());
    assert_eq!(first["domain"], "hr");
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert!(first["keyword_score"].as_f64().unwrap() > 0.0);
    assert!(first["vector_score"].is_number());
    assert_eq!(body["route"]["model"], "quotes");
    assert_eq!(body["route"]["provider"], "extractive");
    assert!(body["usage"]["embedding_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["usage"]["cost_usd"], 0.0);
    // The hr pipeline never sees legal documents, even in the shared index.
    assert!(body["sources"].as_array().unwrap().iter().all(|s| s["domain"] == "hr"));
    let (_, body) = query(&s, "hr", json!({"query": "non-disclosure agreement contractor"})).await;
    assert!(
        body["sources"].as_array().unwrap().iter().all(|s| s["domain"] == "hr"),
        "{body}"
    );

    // Listing is per pipeline.
    let c = client();
    let hr_docs: Value = c
        .get(s.url("/v1/pipelines/hr/documents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hr_docs["documents"].as_array().unwrap().len(), 1);
    assert_eq!(hr_docs["documents"][0]["title"], "Leave policy");
    let legal_docs: Value = c
        .get(s.url("/v1/pipelines/legal/documents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(legal_docs["documents"].as_array().unwrap().len(), 1);

    // A pipeline cannot delete what it cannot see.
    let r = c
        .delete(s.url(&format!("/v1/pipelines/legal/documents/{doc_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .delete(s.url(&format!("/v1/pipelines/hr/documents/{doc_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .delete(s.url(&format!("/v1/pipelines/hr/documents/{doc_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_error(&r.json().await.unwrap(), "document_not_found");
    let (_, body) = query(&s, "hr", json!({"query": "How many vacation days do employees get?"})).await;
    assert_eq!(body["sources"], json!([]), "deleted chunks must not come back");
}

#[tokio::test]
async fn query_errors() {
    let s = Server::start(SERVER_CONFIG, &[]);
    let c = client();
    let (status, body) = query(&s, "hr", json!({"query": "   "})).await;
    assert_eq!(status, 400);
    assert_error(&body, "bad_request");
    let (status, body) = query(&s, "hr", json!({"query": "x".repeat(5000)})).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("5000 characters"));
    let (status, body) = query(&s, "hr", json!({"query": "contracts", "domain": "legal"})).await;
    assert_eq!(status, 403);
    assert_error(&body, "forbidden");
    let (status, body) = query(&s, "hr", json!({"query": "x", "filters": {"colour": ["red"]}})).await;
    assert_eq!(status, 400);
    assert_error(&body, "unknown_filter");
    let (status, body) = query(&s, "hr", json!({"query": "x", "top_k": 0})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = query(&s, "hr", json!({"question": "wrong key"})).await;
    assert_eq!(status, 422);
    assert_error(&body, "invalid_request");
    let (status, body) = query(&s, "nope", json!({"query": "x"})).await;
    assert_eq!(status, 404);
    assert_error(&body, "pipeline_not_found");

    let r = c
        .post(s.url("/v1/pipelines/hr/query"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_error(&r.json().await.unwrap(), "bad_request");
    let r = c
        .post(s.url("/v1/pipelines/hr/query"))
        .body(r#"{"query":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_error(&r.json().await.unwrap(), "unsupported_media_type");
}

#[tokio::test]
async fn upload_errors_are_per_file_and_keep_the_index_intact() {
    let s = Server::start(SERVER_CONFIG, &["--max-body-bytes", "200000"]);
    let leave = std::fs::read("tests/fixtures/server/docs/hr/leave.md").unwrap();
    let (status, _) = upload(&s, "hr", Form::new().part("file", file("leave.md", leave))).await;
    assert_eq!(status, 200);

    let (status, body) = upload(
        &s,
        "hr",
        Form::new().part("file", file("photo.png", vec![0x89, b'P', b'N', b'G'])),
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert_error(&body, "unsupported_type");

    let encrypted = std::fs::read(fixture_doc("pdf/pypdf-encrypted-openpassword.pdf")).unwrap();
    let (status, body) = upload(
        &s,
        "hr",
        Form::new().part("file", file("secret.pdf", encrypted.clone())),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_error(&body, "unreadable");
    assert_eq!(body["error"]["details"]["files"][0]["code"], "encrypted");

    // Mixed batch: the good file lands, the bad one is reported, status 200.
    let remote = std::fs::read("tests/fixtures/server/docs/hr/remote.txt").unwrap();
    let form = Form::new()
        .part("a", file("secret.pdf", encrypted))
        .part("b", file("remote.txt", remote));
    let (status, body) = upload(&s, "hr", form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["status"], "failed");
    assert_eq!(body["files"][0]["code"], "encrypted");
    assert_eq!(body["files"][1]["status"], "ingested");

    // Larger than the body limit: 413, and nothing already indexed is lost.
    let (status, body) = upload(&s, "hr", Form::new().part("file", file("big.txt", vec![b'a'; 300_000]))).await;
    assert_eq!(status, 413, "{body}");
    assert_error(&body, "too_large");

    // Metadata outside the pipeline's filter is refused.
    let form = Form::new()
        .text("domain", "legal")
        .part("file", file("x.txt", b"some legal text here".to_vec()));
    let (status, body) = upload(&s, "hr", form).await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = upload(&s, "hr", Form::new().text("domain", "hr")).await;
    assert_eq!(status, 400, "{body}");

    let (_, body) = query(&s, "hr", json!({"query": "How many vacation days do employees get?"})).await;
    assert!(body["answer"].as_str().unwrap().contains("25 days"), "{body}");
    let docs: Value = client()
        .get(s.url("/v1/pipelines/hr/documents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(docs["documents"].as_array().unwrap().len(), 2);
}
