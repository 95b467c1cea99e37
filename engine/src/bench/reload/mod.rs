//! The reload benchmark (`ragline bench-reload`). It runs the real server with
//! `--watch` on a temporary config directory (see [`fixture`]) and
//! measures over HTTP:
//!
//! 1. save → served: the time from writing a prompt file to the first query answered
//!    with the new text (its hash), over N edits, half written in place and half
//!    written to a temporary file and renamed over the old one, as editors do;
//! 2. failures under load: clients query without pause while the config is reloaded
//!    N times (good and broken edits of the prompt, the pipeline and the script);
//!    every non-200 answer, transport error and answer from a text that never
//!    compiled is counted.

pub mod fixture;
mod load;
mod served;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::server::{ServerError, ServerProcess};
use super::stats::percentile;

/// Target: p95 of save → served.
pub const TARGET_P95_MS: f64 = 300.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The `ragline` binary to serve with.
    pub exe: PathBuf,
    /// Prompt edits timed save → served.
    pub edits: usize,
    /// Reloads under load.
    pub reloads: usize,
    /// Concurrent query clients during the reloads.
    pub clients: usize,
    /// The server's `--watch-debounce-ms`.
    pub debounce_ms: u64,
    /// Longest wait for one edit to be served or one reload to finish.
    pub deadline: Duration,
}

/// Save → served over the edits.
#[derive(Debug, Clone, Serialize)]
pub struct SaveToServed {
    pub edits: usize,
    pub served: usize,
    /// Edits not served within the deadline.
    pub timed_out: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub target_p95_ms: f64,
    pub meets_target: bool,
    pub samples_ms: Vec<f64>,
}

/// Queries during reloads.
#[derive(Debug, Clone, Serialize)]
pub struct UnderLoad {
    pub reloads: usize,
    /// Of which broken edits (a YAML syntax error, an unknown prompt variable, a script syntax error).
    pub broken_edits: usize,
    /// As the server counts them (`reload.succeeded`, `reload.failed`).
    pub server_succeeded: u64,
    pub server_failed: u64,
    pub clients: usize,
    pub seconds: f64,
    pub requests: u64,
    pub ok: u64,
    /// Answers with another status than 200.
    pub non_200: u64,
    pub status_5xx: u64,
    pub transport_errors: u64,
    /// Answers naming a prompt text that never compiled: must be 0.
    pub unknown_prompt_versions: u64,
    pub queries_per_s: f64,
    pub query_p50_ms: f64,
    pub query_p95_ms: f64,
    pub query_max_ms: f64,
    /// Zero failed requests and zero unknown versions.
    pub meets_target: bool,
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadBench {
    pub debounce_ms: u64,
    pub save_to_served: SaveToServed,
    pub under_load: UnderLoad,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("{what} did not happen within {secs} s (server log: {log})")]
    Timeout { what: String, secs: u64, log: PathBuf },
}

fn start(opts: &BenchOptions, dir: &Path, log: &Path) -> Result<ServerProcess, BenchError> {
    let debounce = opts.debounce_ms.to_string();
    let extra = ["--ingest", "--watch", "--watch-debounce-ms", &debounce];
    Ok(ServerProcess::start(&opts.exe, dir, &dir.join("data"), &extra, log)?)
}

/// Run the benchmark.
///
/// # Errors
/// [`BenchError`] when the server does not start or an edit is never picked up.
pub async fn run(opts: &BenchOptions) -> Result<ReloadBench, BenchError> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("config");
    fixture::write(&dir)?;
    let log = tmp.path().join("server.log");
    let server = start(opts, &dir, &log)?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let cx = Cx {
        client,
        base: server.base.clone(),
        dir,
        log: log.clone(),
        deadline: opts.deadline,
    };
    let save_to_served = served::save_to_served(&cx, opts.edits).await?;
    let under_load = load::under_load(&cx, opts).await?;
    drop(server);
    // Keep the log when something went wrong.
    if !(save_to_served.meets_target && under_load.meets_target) {
        let kept = std::env::temp_dir().join("ragline-bench-reload-server.log");
        if std::fs::copy(&log, &kept).is_ok() {
            tracing::warn!(log = %kept.display(), "a target was missed; the server log is kept");
        }
    }
    Ok(ReloadBench {
        debounce_ms: opts.debounce_ms,
        save_to_served,
        under_load,
    })
}

#[derive(Clone)]
struct Cx {
    client: reqwest::Client,
    base: String,
    dir: PathBuf,
    log: PathBuf,
    deadline: Duration,
}

impl Cx {
    async fn query(&self, session: &str, question: &str) -> Result<(u16, Value), reqwest::Error> {
        let r = self
            .client
            .post(format!("{}/v1/pipelines/{}/query", self.base, fixture::PIPELINE))
            .json(&json!({ "query": question, "session_id": session, "cache": false }))
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    async fn reload_status(&self) -> Result<Value, reqwest::Error> {
        let list: Value = self
            .client
            .get(format!("{}/v1/pipelines", self.base))
            .send()
            .await?
            .json()
            .await?;
        Ok(list["reload"].clone())
    }

    fn timeout(&self, what: String) -> BenchError {
        BenchError::Timeout {
            what,
            secs: self.deadline.as_secs(),
            log: self.log.clone(),
        }
    }

    /// Write `text` to `rel`: in place, or through a temporary file renamed over it.
    fn save(&self, rel: &str, text: &str, rename: bool) -> std::io::Result<()> {
        let path = self.dir.join(rel);
        if rename {
            let tmp = path.with_extension("tmp~");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &path)
        } else {
            std::fs::write(&path, text)
        }
    }
}

fn hash_of(body: &Value) -> Option<&str> {
    body["route"]["prompt_version"]["hash"].as_str()
}

fn field(status: &Value, key: &str) -> u64 {
    status[key].as_u64().unwrap_or(0)
}

/// Reloads the server has tried.
fn count(status: &Value) -> u64 {
    field(status, "succeeded") + field(status, "failed")
}

/// Two decimals are plenty for milliseconds.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
