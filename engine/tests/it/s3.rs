//! Documents and S3 against a real S3 server (moto, from `pytools`) on loopback:
//! upload → bucket → index, `ragline sync` with adds, changes and deletes, idempotent
//! re-runs, interrupted syncs that resume without duplicates, and S3 unavailable.
//! Assertions are on content (objects in the bucket, documents in the index, the
//! sync report), never on timing.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::pytools;
use crate::support::client;

const BUCKET: &str = "ragline-docs";
const PIPELINE: &str = "handbook";

/// Static test credentials, and nothing that could send the SDK off the machine.
const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIDRAGLINES3TEST"),
    ("AWS_SECRET_ACCESS_KEY", "ragline-s3-test-secret"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent/ragline-test"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/ragline-test"),
    ("AWS_PROFILE", "default"),
];

const LEAVE: &str =
    "# Leave policy\n\n## Vacation\n\nFull-time employees receive 25 days of paid vacation per calendar year.\n";

/// A moto S3 server on a free loopback port, stopped on drop.
struct Moto {
    endpoint: String,
    child: Child,
}

impl Moto {
    fn start() -> Moto {
        let port = free_port();
        let child = Command::new(pytools::tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut moto = Moto { endpoint, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            assert!(moto.child.try_wait().unwrap().is_none(), "moto_server exited");
            assert!(Instant::now() < deadline, "moto_server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    async fn client(&self) -> Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new(AWS_ENV[0].1, AWS_ENV[1].1, None, None, "test"))
            .build();
        let client = Client::from_conf(config);
        client.create_bucket().bucket(BUCKET).send().await.unwrap();
        client
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A config directory with one pipeline whose store is `endpoint`'s bucket, prefix
/// `corp/`, holding only `hr` documents; files over 20,000 bytes are refused.
fn config(endpoint: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("pipelines")).unwrap();
    std::fs::create_dir_all(d.join("prompts")).unwrap();
    std::fs::write(
        d.join("prompts/answer.md"),
        "Answer from the sources and cite them like [1].\n\n{{ context }}\n\nQuestion: {{ question }}\n",
    )
    .unwrap();
    std::fs::write(
        d.join(format!("pipelines/{PIPELINE}.yaml")),
        format!(
            r#"name: {PIPELINE}
index: corp
ingest:
  chunk: {{ kind: markdown, max_tokens: 80, overlap_tokens: 10 }}
  metadata: {{ domain: hr }}
  embed: {{ hash: {{}} }}
  max_file_bytes: 20000
  store:
    s3:
      bucket: {BUCKET}
      prefix: corp/
      aws: {{ region: us-east-1, endpoint_url: "{endpoint}" }}
retrieve:
  top_k: 4
  filter: {{ domain: [hr] }}
route:
  default: {{ model: quotes, prompt: answer }}
generate:
  models:
    quotes: {{ extractive: {{ max_sentences: 2 }} }}
"#
        ),
    )
    .unwrap();
    dir
}

fn ragline(config: &Path, data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ragline"))
        .envs(AWS_ENV.iter().copied())
        .arg("--config-dir")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

/// `ragline sync --json`: (exit code, report, stderr).
fn sync(config: &Path, data: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["sync", PIPELINE, "--json"];
    args.extend_from_slice(extra);
    let out = ragline(config, data, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn counts(report: &Value) -> [u64; 5] {
    ["added", "updated", "deleted", "unchanged", "failed"].map(|k| report[k].as_u64().unwrap_or(u64::MAX))
}

/// A `ragline serve` on 127.0.0.1:0 over `data` (which outlives it), killed on drop.
struct Serve {
    base: String,
    child: Child,
}

impl Serve {
    fn start(config: &Path, data: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ragline"))
            .envs(AWS_ENV.iter().copied())
            .arg("--config-dir")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("server exited before listening").unwrap();
            if let Some(rest) = line.strip_prefix("ragline listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Serve { base, child }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn upload(&self, name: &str, bytes: &[u8]) -> (u16, Value) {
        let form = Form::new().part("file", Part::bytes(bytes.to_vec()).file_name(name.to_owned()));
        let r = client()
            .post(self.url(&format!("/v1/pipelines/{PIPELINE}/documents")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// One field of every listed document.
    async fn documents(&self, field: &str) -> Vec<String> {
        let body: Value = client()
            .get(self.url(&format!("/v1/pipelines/{PIPELINE}/documents")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d[field].as_str().unwrap().to_owned())
            .collect()
    }

    async fn sources(&self) -> Vec<String> {
        self.documents("source").await
    }

    async fn ids(&self) -> Vec<String> {
        self.documents("id").await
    }

    async fn delete(&self, id: &str) -> u16 {
        client()
            .delete(self.url(&format!("/v1/pipelines/{PIPELINE}/documents/{id}")))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn answer(&self, question: &str) -> Value {
        client()
            .post(self.url(&format!("/v1/pipelines/{PIPELINE}/query")))
            .json(&json!({ "query": question }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn put(s3: &Client, key: &str, body: &str) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
}

async fn keys(s3: &Client) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// The documents of the index, through a server started for the purpose.
async fn indexed(config: &Path, data: &Path) -> Vec<String> {
    let mut sources = Serve::start(config, data).sources().await;
    sources.sort();
    sources
}

#[tokio::test]
async fn upload_lands_in_the_bucket_and_a_later_sync_finds_it_unchanged() {
    let moto = Moto::start();
    let s3 = moto.client().await;
    let config = config(&moto.endpoint);
    let data = tempfile::tempdir().unwrap();
    {
        let server = Serve::start(config.path(), data.path());
        let (status, body) = server.upload("leave.md", LEAVE.as_bytes()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["store"], format!("s3://{BUCKET}/corp/"));
        let file = &body["files"][0];
        assert_eq!(file["status"], "ingested", "{body}");
        assert_eq!(file["stored_key"], "hr/leave.md");
        assert_eq!(file["source"], format!("s3://{BUCKET}/corp/hr/leave.md"));

        // The object is in the bucket, with its content hash in the metadata.
        let object = s3
            .get_object()
            .bucket(BUCKET)
            .key("corp/hr/leave.md")
            .send()
            .await
            .unwrap();
        let sha = object.metadata().and_then(|m| m.get("sha256")).cloned();
        assert_eq!(sha, Some(hex::encode(Sha256::digest(LEAVE.as_bytes()))));
        assert_eq!(
            object.body.collect().await.unwrap().into_bytes().as_ref(),
            LEAVE.as_bytes()
        );

        // And searchable.
        let answer = server.answer("How many days of paid vacation?").await;
        assert!(answer["answer"].as_str().unwrap().contains("25 days"), "{answer}");
        assert_eq!(answer["sources"][0]["document_id"], file["document_id"]);

        // The same bytes again: stored again, nothing re-indexed.
        let (status, body) = server.upload("leave.md", LEAVE.as_bytes()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["files"][0]["status"], "unchanged", "{body}");

        // Refused before storing: a type no parser reads.
        let (status, body) = server.upload("photo.png", b"\x89PNG").await;
        assert_eq!(status, 415, "{body}");
        assert_eq!(keys(&s3).await, ["corp/hr/leave.md"]);
    }
    // The upload went through the store, so a sync of the store has nothing to do.
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [0, 0, 0, 1, 0], "{report}");

    // Deleting the document deletes its object too, so no sync brings it back.
    {
        let server = Serve::start(config.path(), data.path());
        let id = server.ids().await.remove(0);
        assert_eq!(server.delete(&id).await, 204);
        assert!(keys(&s3).await.is_empty());
        assert!(server.sources().await.is_empty());
    }
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [0, 0, 0, 0, 0], "{report}");
}

#[tokio::test]
async fn sync_mirrors_adds_changes_and_deletes_and_is_idempotent() {
    let moto = Moto::start();
    let s3 = moto.client().await;
    let config = config(&moto.endpoint);
    let data = tempfile::tempdir().unwrap();
    put(&s3, "corp/hr/leave.md", LEAVE).await;
    put(
        &s3,
        "corp/hr/remote.txt",
        "Remote work policy\n\nEmployees may work remotely up to three days per week.\n",
    )
    .await;
    put(
        &s3,
        "corp/hr/expenses.md",
        "# Expenses\n\nTravel expenses are reimbursed within 30 days.\n",
    )
    .await;
    put(&s3, "corp/hr/too-big.txt", &"lots of words ".repeat(2000)).await;
    put(&s3, "corp/hr/photo.png", "not a document").await;
    s3.put_object()
        .bucket(BUCKET)
        .key("corp/hr/tampered.md")
        .metadata("sha256", "0".repeat(64))
        .body(ByteStream::from_static(b"# Tampered\n\nThe recorded hash is wrong.\n"))
        .send()
        .await
        .unwrap();
    // Outside the pipeline's scope: other domains, other prefixes.
    put(&s3, "corp/legal/nda.md", "# NDA\n\nConfidential.\n").await;
    put(&s3, "elsewhere/hr/x.md", "# X\n\nNot ours.\n").await;

    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 1, "a failed object fails the run: {stderr}");
    assert_eq!(counts(&report), [3, 0, 0, 0, 3], "{report}");
    let failed = |key: &str| {
        let o = report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["source"] == format!("s3://{BUCKET}/corp/hr/{key}"))
            .unwrap();
        assert_eq!(o["status"], "failed", "{o}");
        (
            o["code"].as_str().unwrap().to_owned(),
            o["message"].as_str().unwrap().to_owned(),
        )
    };
    let (code, message) = failed("too-big.txt");
    assert_eq!(code, "too_large");
    assert_eq!(message, "too large: 28000 bytes exceeds the limit of 20000 bytes");
    let (code, message) = failed("photo.png");
    assert_eq!(code, "unsupported_type");
    assert!(message.starts_with("unsupported file type: .png"), "{message}");
    let (code, message) = failed("tampered.md");
    assert_eq!(code, "corrupt");
    assert!(
        message.contains("does not match the object's sha256 metadata"),
        "{message}"
    );
    assert_eq!(report["scopes"], json!(["hr/"]));

    // Idempotent: the second run downloads nothing and changes nothing.
    for key in ["too-big.txt", "photo.png", "tampered.md"] {
        s3.delete_object()
            .bucket(BUCKET)
            .key(format!("corp/hr/{key}"))
            .send()
            .await
            .unwrap();
    }
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [0, 0, 0, 3, 0], "{report}");

    // Change one, delete one, add one.
    put(
        &s3,
        "corp/hr/remote.txt",
        "Remote work policy\n\nRemote work is allowed five days per week from anywhere.\n",
    )
    .await;
    s3.delete_object()
        .bucket(BUCKET)
        .key("corp/hr/expenses.md")
        .send()
        .await
        .unwrap();
    put(
        &s3,
        "corp/hr/onboarding.md",
        "# Onboarding\n\nEvery new hire gets a buddy for the first month.\n",
    )
    .await;
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [1, 1, 1, 1, 0], "{report}");
    let status_of = |source: &str| {
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["source"] == format!("s3://{BUCKET}/corp/hr/{source}"))
            .map(|o| o["status"].clone())
    };
    assert_eq!(status_of("onboarding.md"), Some(json!("added")));
    assert_eq!(status_of("remote.txt"), Some(json!("updated")));
    assert_eq!(status_of("expenses.md"), Some(json!("deleted")));

    let server = Serve::start(config.path(), data.path());
    let mut sources = server.sources().await;
    sources.sort();
    assert_eq!(
        sources,
        ["leave.md", "onboarding.md", "remote.txt"].map(|k| format!("s3://{BUCKET}/corp/hr/{k}"))
    );
    let answer = server.answer("How many days per week can I work remotely?").await;
    assert!(answer["answer"].as_str().unwrap().contains("five days"), "{answer}");
    let answer = server.answer("travel expenses reimbursed").await;
    assert!(
        answer["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["text"].as_str().unwrap_or("").contains("Travel")),
        "deleted document still searchable: {answer}"
    );
    drop(server);

    // An explicit URL mirrors exactly that prefix, whatever the pipeline's store says.
    let (code, report, stderr) = sync(config.path(), data.path(), &[&format!("s3://{BUCKET}/corp/hr/")]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [0, 0, 0, 3, 0], "{report}");
}

#[tokio::test]
async fn an_interrupted_sync_resumes_without_duplicates() {
    let moto = Moto::start();
    let s3 = moto.client().await;
    let config = config(&moto.endpoint);
    let data = tempfile::tempdir().unwrap();
    for i in 0..10 {
        put(
            &s3,
            &format!("corp/hr/policy-{i:02}.md"),
            &format!("# Policy {i}\n\nRule number {i} applies.\n"),
        )
        .await;
    }
    // Stopped after 4 objects: they are committed; the rest wait.
    let (code, report, stderr) = sync(config.path(), data.path(), &["--limit", "4"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [4, 0, 0, 0, 0], "{report}");
    assert_eq!(report["remaining"], 6);
    // The next run picks up where it stopped.
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [6, 0, 0, 4, 0], "{report}");
    assert_eq!(indexed(config.path(), data.path()).await.len(), 10);

    // Killed part-way (SIGKILL after its first commit): the rerun adds only what is
    // missing, never a second copy.
    for i in 10..100 {
        put(
            &s3,
            &format!("corp/hr/policy-{i:02}.md"),
            &format!("# Policy {i}\n\nRule number {i} applies.\n"),
        )
        .await;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_ragline"))
        .envs(AWS_ENV.iter().copied())
        .arg("--config-dir")
        .arg(config.path())
        .arg("--data-dir")
        .arg(data.path())
        .args(["sync", PIPELINE])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.trim_start().starts_with("added"), "{first}");
    child.kill().unwrap();
    child.wait().unwrap();

    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    let [added, updated, deleted, unchanged, failed] = counts(&report);
    assert_eq!((updated, deleted, failed), (0, 0, 0), "{report}");
    assert_eq!(added + unchanged, 100, "{report}");
    assert!(
        unchanged >= 10 + 32,
        "the killed run committed its first batch: {report}"
    );
    let sources = indexed(config.path(), data.path()).await;
    assert_eq!(sources.len(), 100);
    let unique: std::collections::BTreeSet<&String> = sources.iter().collect();
    assert_eq!(unique.len(), 100);
    let (_, report, _) = sync(config.path(), data.path(), &[]);
    assert_eq!(counts(&report), [0, 0, 0, 100, 0], "{report}");
}

#[tokio::test]
async fn s3_unavailable_is_a_clear_error_and_the_index_is_unchanged() {
    let mut moto = Moto::start();
    let s3 = moto.client().await;
    let config = config(&moto.endpoint);
    let data = tempfile::tempdir().unwrap();
    put(&s3, "corp/hr/leave.md", LEAVE).await;
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [1, 0, 0, 0, 0], "{report}");
    moto.stop();

    // Sync: the listing fails, nothing is deleted.
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(report, Value::Null);
    assert!(
        stderr.contains(&format!("document store s3://{BUCKET}/corp/ is unavailable")),
        "{stderr}"
    );
    assert!(stderr.contains("the index was not changed"), "{stderr}");

    // Upload: 503, nothing indexed.
    let server = Serve::start(config.path(), data.path());
    let (status, body) = server
        .upload("remote.txt", b"Remote work is allowed three days per week.")
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was indexed"),
        "{body}"
    );
    // Delete: 503, the document stays (its object could not be deleted).
    let id = server.ids().await.remove(0);
    assert_eq!(server.delete(&id).await, 503);
    assert_eq!(server.sources().await, [format!("s3://{BUCKET}/corp/hr/leave.md")]);
    let answer = server.answer("How many days of paid vacation?").await;
    assert!(answer["answer"].as_str().unwrap().contains("25 days"), "{answer}");
}

#[tokio::test]
async fn the_default_store_is_a_directory_that_sync_mirrors_too() {
    let config = config("http://127.0.0.1:9");
    // No `store:`: uploads go to <data-dir>/documents/<pipeline>.
    let file = config.path().join(format!("pipelines/{PIPELINE}.yaml"));
    let yaml = std::fs::read_to_string(&file).unwrap();
    let start = yaml.find("  store:").unwrap();
    let end = yaml.find("retrieve:").unwrap();
    std::fs::write(&file, format!("{}{}", &yaml[..start], &yaml[end..])).unwrap();
    let data = tempfile::tempdir().unwrap();
    let stored: PathBuf = data.path().join(format!("documents/{PIPELINE}/hr/leave.md"));
    {
        let server = Serve::start(config.path(), data.path());
        let (status, body) = server.upload("leave.md", LEAVE.as_bytes()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["files"][0]["source"], format!("upload/{PIPELINE}/hr/leave.md"));
        assert_eq!(std::fs::read_to_string(&stored).unwrap(), LEAVE);
    }
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [0, 0, 0, 1, 0], "{report}");
    std::fs::remove_file(&stored).unwrap();
    let (code, report, stderr) = sync(config.path(), data.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(counts(&report), [0, 0, 1, 0, 0], "{report}");
}

impl Serve {
    async fn sync(&self) -> (u16, Value) {
        let r = client()
            .post(self.url(&format!("/v1/pipelines/{PIPELINE}/sync")))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

/// The endpoint the `data-sync` workflow calls: the running server mirrors the bucket
/// into the index it serves, as `ragline sync` does, and says so when S3 is down.
#[tokio::test]
async fn the_sync_endpoint_updates_the_served_index() {
    let mut moto = Moto::start();
    let s3 = moto.client().await;
    let config = config(&moto.endpoint);
    let data = tempfile::tempdir().unwrap();
    let server = Serve::start(config.path(), data.path());
    put(&s3, "corp/hr/leave.md", LEAVE).await;
    put(&s3, "corp/hr/remote.txt", "Remote work is allowed three days per week.").await;

    let (status, report) = server.sync().await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(counts(&report), [2, 0, 0, 0, 0], "{report}");
    let answer = server.answer("How many days of paid vacation?").await;
    assert!(answer["answer"].as_str().unwrap().contains("25 days"), "{answer}");

    s3.delete_object()
        .bucket(BUCKET)
        .key("corp/hr/remote.txt")
        .send()
        .await
        .unwrap();
    let (status, report) = server.sync().await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(counts(&report), [0, 0, 1, 1, 0], "{report}");
    assert_eq!(server.sources().await, [format!("s3://{BUCKET}/corp/hr/leave.md")]);

    moto.stop();
    let (status, body) = server.sync().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the index was not changed"),
        "{body}"
    );
    assert_eq!(server.sources().await, [format!("s3://{BUCKET}/corp/hr/leave.md")]);
}
