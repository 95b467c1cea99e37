//! Crash safety: `ragline ingest` of a large batch is killed with SIGKILL at random
//! points, 20 times, each time over new versions of the files. After every kill the
//! index opens, `ragline check` finds LMDB (documents, chunks, vectors) and the BM25
//! index in agreement, and a query answers. A final ingest then finishes with exactly
//! one document per file and no stale chunks.

use std::process::{Command, Stdio};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::support::{cli, cli_split};

const FILES: usize = 400;
const KILLS: usize = 20;

const PIPELINE: &str = "name: bulk
description: \"a large batch for the crash test\"
index: bulk
ingest:
  sources:
    - dir: ../docs
  chunk:
    kind: text
    max_tokens: 20
    overlap_tokens: 0
  metadata:
    domain: ops
  embed:
    hash: {}
route:
  default:
    model: quotes
    prompt: answer
generate:
  models:
    quotes:
      extractive: {}
";

/// Version `v` of every file: a few paragraphs, so each has several chunks.
fn write_files(docs: &std::path::Path, v: usize) {
    for i in 0..FILES {
        let text = format!(
            "Runbook {i}, revision {v}.\n\nService {i} restarts after a failed health check; the on-call engineer \
             checks the dashboard, the logs and the last deploy before paging anyone.\n\nRevision {v} adds: rotate the \
             credentials of service {i} every {} days, and record each rotation in the change log.\n\nEscalate to the \
             incident commander when service {i} stays down for more than {} minutes.\n",
            30 + v,
            5 + i % 7
        );
        std::fs::write(docs.join(format!("runbook-{i:03}.txt")), text).unwrap();
    }
}

fn check(config: &str, data: &std::path::Path) -> Value {
    let (code, out, err) = cli_split(config, data, &["check", "bulk", "--json"]);
    assert_eq!(code, 0, "inconsistent after a crash:\n{out}\n{err}");
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn killing_an_ingest_never_corrupts_the_index() {
    let root = tempfile::tempdir().unwrap();
    let (pipelines, docs, prompts) = (
        root.path().join("pipelines"),
        root.path().join("docs"),
        root.path().join("prompts"),
    );
    for d in [&pipelines, &docs, &prompts] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(pipelines.join("bulk.yaml"), PIPELINE).unwrap();
    std::fs::write(
        prompts.join("answer.md"),
        "Answer from the sources only.\n\n{{ context }}\n\nQuestion: {{ question }}\n",
    )
    .unwrap();
    let config = root.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();

    // Two whole ingests: the second, of changed files, shows how long one takes.
    write_files(&docs, 0);
    let (code, out) = cli(config, data.path(), &["ingest", "bulk", "--json"]);
    assert_eq!(code, 0, "{out}");
    write_files(&docs, 1);
    let started = Instant::now();
    let (code, out) = cli(config, data.path(), &["ingest", "bulk", "--json"]);
    assert_eq!(code, 0, "{out}");
    let full = started.elapsed();
    let first = check(config, data.path());
    assert_eq!(first["check"]["documents"], FILES as u64, "{first}");

    let mut rng = StdRng::seed_from_u64(20261203);
    let mut killed_mid_write = 0;
    for v in 2..KILLS + 2 {
        write_files(&docs, v);
        let at = full.mul_f64(rng.random_range(0.05..0.95));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ragline"))
            .args(["--config-dir", config, "--data-dir"])
            .arg(data.path())
            .args(["ingest", "bulk", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        // SIGKILL: no destructor, no flush, no chance to finish the write.
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_write += 1;
        }
        let after = check(config, data.path());
        assert!(
            after["check"]["documents"].as_u64().unwrap() <= FILES as u64,
            "kill {v} at {at:?}: {after}"
        );
        let (code, out) = cli(
            config,
            data.path(),
            &["query", "bulk", "How often are the credentials rotated?", "--json"],
        );
        assert_eq!(code, 0, "kill {v}: the index does not answer: {out}");
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert!(!answer["sources"].as_array().unwrap().is_empty(), "kill {v}: {answer}");
    }
    assert!(
        killed_mid_write >= KILLS / 2,
        "most kills land mid-ingest: {killed_mid_write} of {KILLS}"
    );

    // Re-ingest finishes: one document per file, each with only its latest chunks.
    let (code, out) = cli(config, data.path(), &["ingest", "bulk", "--json"]);
    assert_eq!(code, 0, "{out}");
    let done = check(config, data.path());
    let c = &done["check"];
    assert_eq!(c["documents"], FILES as u64, "{done}");
    let (code, out) = cli(
        config,
        data.path(),
        &["query", "bulk", "revision 1", "--json", "--top-k", "50"],
    );
    assert_eq!(code, 0, "{out}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    let stale = answer["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["text"].as_str().unwrap().contains("revision 1."))
        .count();
    assert_eq!(stale, 0, "no chunk of an old version is left: {answer}");
}
