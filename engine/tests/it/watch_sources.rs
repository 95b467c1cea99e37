//! `serve --watch` keeps the index in step with the pipelines' `dir` sources: files
//! added, changed and deleted (also whole directories) are indexed or removed.
//! Polls with a generous deadline and asserts on the listed documents.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, client};

fn config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["pipelines", "prompts", "docs"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(
        d.join("prompts/answer.md"),
        "{{ context }}\n\nQuestion: {{ question }}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("pipelines/watched.yaml"),
        r#"name: watched
index: watched
ingest:
  sources: [{ dir: ../docs }]
  metadata: { domain: hr }
  embed: { hash: { dims: 64 } }
route:
  default: { model: quotes, prompt: answer }
generate:
  models:
    quotes: { extractive: {} }
"#,
    )
    .unwrap();
    dir
}

/// The indexed documents as (source, content hash), sorted.
async fn documents(s: &Server) -> Vec<(String, String)> {
    let body: Value = client()
        .get(s.url("/v1/pipelines/watched/documents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut docs: Vec<(String, String)> = body["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["source"].as_str().unwrap().to_owned(),
                d["content_hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    docs.sort();
    docs
}

/// Wait until the indexed documents satisfy `ok`; fail after 60 s with what they were.
async fn until(s: &Server, what: &str, ok: impl Fn(&[(String, String)]) -> bool) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let docs = documents(s).await;
        if ok(&docs) {
            return docs;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {docs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sources(docs: &[(String, String)]) -> Vec<&str> {
    docs.iter().map(|(s, _)| s.as_str()).collect()
}

#[tokio::test]
async fn added_changed_and_deleted_files_follow_the_directory() {
    let config = config();
    let docs = config.path().join("docs");
    let s = Server::start(config.path().to_str().unwrap(), &["--watch"]);
    assert!(documents(&s).await.is_empty());

    std::fs::write(docs.join("leave.md"), "# Leave\n\nEmployees get 25 vacation days.\n").unwrap();
    std::fs::write(docs.join("notes.xyz"), "not a document type").unwrap();
    let before = until(&s, "leave.md indexed", |d| sources(d) == ["docs/leave.md"]).await;

    std::fs::write(docs.join("leave.md"), "# Leave\n\nEmployees get 30 vacation days.\n").unwrap();
    until(&s, "leave.md re-indexed", |d| d.len() == 1 && d[0].1 != before[0].1).await;

    std::fs::create_dir(docs.join("policies")).unwrap();
    std::fs::write(docs.join("policies/remote.txt"), "Remote work three days a week.\n").unwrap();
    until(&s, "a new directory's file", |d| {
        sources(d) == ["docs/leave.md", "docs/policies/remote.txt"]
    })
    .await;

    std::fs::remove_file(docs.join("leave.md")).unwrap();
    until(&s, "leave.md removed", |d| sources(d) == ["docs/policies/remote.txt"]).await;

    std::fs::remove_dir_all(docs.join("policies")).unwrap();
    until(&s, "the directory's documents removed", <[_]>::is_empty).await;
}
