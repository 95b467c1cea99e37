//! `limits:` of `ragline.yaml` on a real server: too many files in an upload (413
//! `too_many_files`), a question over the length (400, on both query endpoints), a body
//! over the size (413), each refused with its limit in the message.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::{SERVER_CONFIG, Server, client, copy_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits_come_from_ragline_yaml() {
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    std::fs::write(
        config.path().join("ragline.yaml"),
        "limits:\n  max_body_bytes: 4096\n  max_upload_files: 2\n  max_query_chars: 50\n",
    )
    .unwrap();
    let s = Server::start(config.path().to_str().unwrap(), &[]);

    let files = |n: usize| {
        (0..n).fold(Form::new(), |form, i| {
            form.part(
                "file",
                Part::bytes(format!("# Note {i}\n\nShort.\n").into_bytes()).file_name(format!("n{i}.md")),
            )
        })
    };
    let upload = |form: Form| {
        client()
            .post(s.url("/v1/pipelines/hr/documents"))
            .multipart(form)
            .send()
    };
    let r = upload(files(3)).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_files", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("more than 2 files"),
        "{body}"
    );
    assert_eq!(upload(files(2)).await.unwrap().status(), StatusCode::OK);

    let long = "How many vacation days do employees get in their first year?";
    assert!(long.chars().count() > 50);
    let r = client()
        .post(s.url("/v1/pipelines/hr/query"))
        .json(&json!({ "query": long }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("the limit is 50"),
        "{body}"
    );
    let r = client()
        .post(s.url("/v1/chat/completions"))
        .json(&json!({ "model": "hr", "messages": [{ "role": "user", "content": long }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = client()
        .post(s.url("/v1/pipelines/hr/query"))
        .json(&json!({ "query": "Vacation days?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let big = Part::bytes(vec![b'a'; 8192]).file_name("big.txt");
    let r = upload(Form::new().part("file", big)).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
