//! The README's main path on the real model: the demo config, served with
//! `--ingest` on the local MiniLM embedder, answers the HR question from the HR documents.

use serde_json::{Value, json};

use crate::support::{Server, client};

#[tokio::test]
async fn demo_serves_hr_answer_with_sources_on_the_local_model() {
    let s = Server::start("..", &["--ingest"]);
    let c = client();
    let r = c
        .post(s.url("/v1/pipelines/hr/query"))
        .json(&json!({"query": "How many vacation days do employees get?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let answer = body["answer"].as_str().unwrap();
    assert!(answer.contains("25 days"), "{body:#}");
    let sources = body["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    assert!(sources.iter().all(|s| s["domain"] == "hr"));
    assert!(
        sources[0]["source"].as_str().unwrap().starts_with("data/documents/hr/"),
        "{body:#}"
    );
    assert!(
        sources[0]["vector_score"].as_f64().unwrap() > 0.3,
        "MiniLM should find the leave policy: {body:#}"
    );

    // The demo HR prompt is an A/B split of v1 and v2; without a session each request is drawn.
    let version = body["route"]["prompt_version"]["version"].as_str().unwrap();
    assert!(["v1", "v2"].contains(&version), "{body:#}");
    assert_eq!(body["route"]["assignment"], "random", "{body:#}");
    // The demo route script: a short HR question goes to the Lite model...
    assert_eq!(body["route"]["model"], "lite", "{body:#}");
    assert!(
        body["route"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("simple HR question"),
        "{body:#}"
    );
    // ...and a long multi-clause legal question to the Pro model with the detailed prompt.
    let body: Value = c
        .post(s.url("/v1/pipelines/legal/query"))
        .json(
            &json!({"query": "If a customer terminates the master services agreement for convenience after a \
            personal data breach, which indemnification obligations survive termination, and does the \
            limitation of liability still apply under the governing law?"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["route"]["model"], "pro", "{body:#}");
    assert_eq!(body["route"]["prompt"], "legal/detailed", "{body:#}");
    assert!(
        body["route"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("complex legal question"),
        "{body:#}"
    );
    assert!(
        body["answer"].as_str().unwrap().matches('[').count() >= 3,
        "pro quotes more: {body:#}"
    );

    // Every demo document was tagged with a doc_type by scripts/tag.rhai.
    for pipeline in ["legal", "hr", "marketing", "engineering"] {
        let docs: Value = c
            .get(s.url(&format!("/v1/pipelines/{pipeline}/documents")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let docs = docs["documents"].as_array().unwrap();
        assert!(docs.len() >= 5, "{pipeline}: {docs:?}");
        assert!(
            docs.iter()
                .all(|d| d["doc_type"].is_string() && d["domain"] == pipeline),
            "{docs:?}"
        );
    }
    let hr: Value = c
        .get(s.url("/v1/pipelines/hr/documents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let leave = hr["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "data/documents/hr/leave-policy.md")
        .unwrap();
    assert_eq!(leave["doc_type"], "policy");
    assert!(leave["tags"].as_array().unwrap().contains(&json!("leave")), "{leave}");

    // Each demo pipeline answers from its own domain.
    for (pipeline, question, expected) in [
        (
            "legal",
            "How quickly must a customer be told about a personal data breach?",
            "48 hours",
        ),
        ("engineering", "How quickly must a SEV1 be acknowledged?", "5 minutes"),
        ("marketing", "What is the hex code of Northwind Navy?", "#0B2545"),
    ] {
        let body: Value = c
            .post(s.url(&format!("/v1/pipelines/{pipeline}/query")))
            .json(&json!({"query": question}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text: String = body["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap())
            .collect();
        assert!(text.contains(expected), "{pipeline}: {body:#}");
        assert!(
            body["sources"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["domain"] == pipeline)
        );
    }
}
