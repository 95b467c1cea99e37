//! rhai rules end to end: a failing route script falls back or fails as configured,
//! and a tag script's bad metadata is refused with the document and field named.

use serde_json::{Value, json};

use crate::support::{SERVER_CONFIG, Server, cli, client};

#[tokio::test]
async fn a_looping_route_script_falls_back_or_fails_as_configured() {
    let s = Server::start(SERVER_CONFIG, &[]);
    let c = client();
    let started = std::time::Instant::now();
    let r = c
        .post(s.url("/v1/pipelines/looping/query"))
        .json(&json!({"query": "vacation days"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["route"]["model"], "quotes");
    let reason = body["route"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("default route (script failed:"), "{reason}");
    assert!(reason.contains("loop.rhai"), "{reason}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the worker must not hang"
    );

    let r = c
        .post(s.url("/v1/pipelines/strict/query"))
        .json(&json!({"query": "vacation days"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "script_error");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("loop.rhai"),
        "{body}"
    );

    // The server is still fine afterwards.
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn tag_script_metadata_is_validated_per_document() {
    let data = tempfile::tempdir().unwrap();
    let (code, out) = cli(SERVER_CONFIG, data.path(), &["ingest", "looping", "--json"]);
    assert_eq!(code, 0, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let files = report["files"].as_array().unwrap();
    let leave = files.iter().find(|f| f["source"] == "docs/hr/leave.md").unwrap();
    assert_eq!(leave["status"], "ingested", "{leave}");
    let remote = files.iter().find(|f| f["source"] == "docs/hr/remote.txt").unwrap();
    assert_eq!(remote["status"], "failed");
    assert_eq!(remote["code"], "forbidden_metadata");
    assert_eq!(
        remote["message"],
        r#"docs/hr/remote.txt: field `domain`: ["finance"] is not allowed here (allowed: hr)"#
    );
}

#[test]
fn tag_and_route_dry_runs() {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ragline"))
        .args(["--config-dir", SERVER_CONFIG, "--data-dir"])
        .arg(data.path())
        .args(["tag", "looping", "tests/fixtures/server/docs/hr/remote.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("remote.txt: field `domain`"), "{stderr}");

    let (code, out) = cli(
        SERVER_CONFIG,
        data.path(),
        &["tag", "looping", "tests/fixtures/server/docs/hr/leave.md"],
    );
    assert_eq!(code, 0, "{out}");
    let m: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["doc_type"], "policy");
    assert_eq!(m["domain"], "hr");

    let (code, out) = cli(
        SERVER_CONFIG,
        data.path(),
        &["route", "looping", "How many vacation days?"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("model:  quotes\nprompt: shared/answer#"), "{out}");
    assert!(out.contains("reason: default route (script failed:"), "{out}");
    assert!(out.contains("\"complexity\""), "the input shows the features: {out}");
    let (code, _) = cli(
        SERVER_CONFIG,
        data.path(),
        &["route", "strict", "How many vacation days?"],
    );
    assert_eq!(code, 1);
}
