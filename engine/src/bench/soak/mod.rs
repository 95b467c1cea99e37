//! `ragline bench-soak`: minutes of mixed load on one real server (`--watch`), to show
//! that nothing fails and nothing leaks. `wrk` (Debian) sends queries on a fixed number
//! of connections; beside it, uploads rewrite a small rotating set of documents and the
//! pipeline file is edited back and forth so the server reloads. Every few seconds the
//! server's RSS and open file descriptors are read from `/proc`.
//!
//! Growth is judged on medians of a minute's samples, right after the warm-up against
//! the end, so a single sample taken mid-upload does not decide it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

mod procfs;

use self::procfs::{descriptors, sample};
use super::server::{ServerError, ServerProcess, ingest};
use super::stats::percentile;
use super::telemetry::copy_dir;

/// RSS may grow at most this much after the warm-up.
pub const TARGET_RSS_GROWTH_PCT: f64 = 5.0;
const UPLOAD_EVERY: Duration = Duration::from_secs(3);
const RELOAD_EVERY: Duration = Duration::from_secs(15);
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// The window whose median is compared, after the warm-up and at the end.
const WINDOW: Duration = Duration::from_secs(60);
/// Documents the uploads rotate through.
const UPLOAD_NAMES: usize = 5;

/// Questions wrk rotates through.
const QUESTIONS: &[&str] = &[
    "How many vacation days do employees get?",
    "Can I work remotely from another country?",
    "How is parental leave paid?",
    "What happens in a performance review?",
    "Who approves overtime?",
    "What is the sick leave policy?",
    "How do I report harassment?",
    "What benefits do part-time employees get?",
];

#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub exe: PathBuf,
    pub config_dir: PathBuf,
    pub pipeline: String,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
    /// Keep the query log, with at most this many queries; `None`: no query log.
    pub query_log: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub at_s: f64,
    pub rss_kib: u64,
    /// The anonymous part of RSS (the heap), and the file-backed part (mapped LMDB
    /// and tantivy pages, which the kernel can drop).
    pub rss_anon_kib: u64,
    pub rss_file_kib: u64,
    pub fds: u64,
}

/// What wrk reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WrkSummary {
    pub requests: u64,
    pub non_2xx: u64,
    pub socket_errors: u64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SoakBench {
    pub pipeline: String,
    pub seconds: f64,
    pub warmup_s: f64,
    pub connections: usize,
    pub wrk: WrkSummary,
    pub uploads: u64,
    pub upload_errors: u64,
    pub reloads: u64,
    pub reload_errors: u64,
    pub rss_after_warmup_kib: f64,
    pub rss_end_kib: f64,
    pub rss_growth_pct: f64,
    pub anon_after_warmup_kib: f64,
    pub anon_end_kib: f64,
    pub anon_growth_pct: f64,
    /// The query log's size on disk at the end (0 when it is off).
    pub query_log_bytes: u64,
    /// Its `analytics.max_queries`; `None`: it was off.
    pub query_log: Option<u64>,
    pub fds_after_warmup: f64,
    pub fds_end: f64,
    /// What the open descriptors were at the first sample after the warm-up, and at
    /// the end, by kind (see `procfs::descriptors`).
    pub descriptors_after_warmup: BTreeMap<String, u32>,
    pub descriptors_end: BTreeMap<String, u32>,
    pub errors: u64,
    pub target_rss_growth_pct: f64,
    pub meets_target: bool,
    pub samples: Vec<Sample>,
}

#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("ingest of `{pipeline}` failed (its log: {log})")]
    Ingest { pipeline: String, log: PathBuf },
    #[error("wrk failed (is Debian's `wrk` installed?): {0}")]
    Wrk(String),
    #[error("no pipeline file {0}")]
    NoPipeline(PathBuf),
    #[error("a worker stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl SoakBench {
    /// The descriptors open at the end and not after the warm-up (`+1 socket`), and
    /// the other way round (`-1 pipe`).
    pub fn descriptor_changes(&self) -> Vec<String> {
        let (warm, end) = (&self.descriptors_after_warmup, &self.descriptors_end);
        let mut kinds: Vec<&String> = warm.keys().chain(end.keys()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
            .into_iter()
            .filter_map(|kind| {
                let n = |m: &BTreeMap<String, u32>| i64::from(m.get(kind).copied().unwrap_or(0));
                let change = n(end) - n(warm);
                (change != 0).then(|| format!("{change:+} {kind}"))
            })
            .collect()
    }
}

/// Run the soak.
///
/// # Errors
/// [`SoakError`] when the server, the ingest or wrk cannot run.
pub async fn run(opts: &SoakOptions) -> Result<SoakBench, SoakError> {
    let work = tempfile::tempdir()?;
    let config = work.path().join("config");
    let pipeline_file = prepare_config(&opts.config_dir, &config, &opts.pipeline, opts.query_log)?;
    let data = work.path().join("data");
    let log = |name: &str| work.path().join(format!("{name}.log"));
    if !ingest(&opts.exe, &config, &data, &opts.pipeline, &log("ingest"))? {
        return Err(SoakError::Ingest {
            pipeline: opts.pipeline.clone(),
            log: log("ingest"),
        });
    }
    let server = ServerProcess::start(&opts.exe, &config, &data, &["--watch"], &log("server"))?;
    let script = work.path().join("query.lua");
    std::fs::write(&script, wrk_script(&opts.pipeline))?;
    let wrk = {
        let (base, connections, seconds) = (server.base.clone(), opts.connections, opts.duration.as_secs().max(1));
        tokio::task::spawn_blocking(move || run_wrk(&base, &script, connections, seconds))
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let original = std::fs::read_to_string(&pipeline_file)?;
    let started = Instant::now();
    let mut side = SideLoad::default();
    let (mut next_upload, mut next_reload, mut next_sample) = (Duration::ZERO, RELOAD_EVERY, Duration::ZERO);
    while !wrk.is_finished() {
        let now = started.elapsed();
        if now >= next_sample {
            side.samples.push(sample(server.pid(), now));
            let open = descriptors(server.pid(), work.path());
            if now >= opts.warmup && side.descriptors_after_warmup.is_empty() {
                side.descriptors_after_warmup = open.clone();
            }
            // The last sample while wrk still runs (its connections close at the end).
            side.descriptors_last = open;
            next_sample += SAMPLE_EVERY;
        }
        if now >= next_upload {
            side.upload(&client, &server.base, &opts.pipeline).await;
            next_upload += UPLOAD_EVERY;
        }
        if now >= next_reload {
            side.reload(&client, &server.base, &opts.pipeline, &pipeline_file, &original)
                .await;
            next_reload += RELOAD_EVERY;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    side.samples.push(sample(server.pid(), started.elapsed()));
    let wrk = wrk.await?.map_err(SoakError::Wrk)?;
    std::fs::write(&pipeline_file, &original)?;
    let log_bytes = dir_bytes(&data.join("analytics"));
    Ok(summarise(opts, started.elapsed(), wrk, side, log_bytes))
}

/// Copy of `source` with `pipelines/` copied (its file is edited) and everything else
/// linked; a `ragline.yaml` of defaults but the query log's, so no rate limit of the
/// real one applies.
fn prepare_config(source: &Path, dir: &Path, pipeline: &str, query_log: Option<u64>) -> Result<PathBuf, SoakError> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(source)? {
        let name = entry?.file_name();
        let from = std::path::absolute(source.join(&name))?;
        match name.to_str() {
            Some("pipelines") => copy_dir(&from, &dir.join(&name))?,
            Some("ragline.yaml" | "access.yaml" | "target" | ".git") => {}
            _ => std::os::unix::fs::symlink(from, dir.join(name))?,
        }
    }
    let yaml = match query_log {
        Some(max) => format!("analytics:\n  max_queries: {max}\n"),
        None => "analytics:\n  enabled: false\n".to_owned(),
    };
    std::fs::write(dir.join("ragline.yaml"), yaml)?;
    let file = dir.join("pipelines").join(format!("{pipeline}.yaml"));
    if file.exists() {
        Ok(file)
    } else {
        Err(SoakError::NoPipeline(file))
    }
}

fn wrk_script(pipeline: &str) -> String {
    let bodies: Vec<String> = QUESTIONS
        .iter()
        .map(|q| format!("'{}'", serde_json::json!({ "query": q, "cache": false })))
        .collect();
    format!(
        "local bodies = {{{}}}\nlocal i = 0\nwrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         request = function()\n  i = i + 1\n  return wrk.format(nil, \"/v1/pipelines/{pipeline}/query\", nil, bodies[(i % #bodies) + 1])\nend\n",
        bodies.join(", ")
    )
}

fn run_wrk(base: &str, script: &Path, connections: usize, seconds: u64) -> Result<WrkSummary, String> {
    let out = std::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(script)
        .arg(base)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(parse_wrk(&text))
}

/// The figures of wrk's report.
fn parse_wrk(text: &str) -> WrkSummary {
    let mut s = WrkSummary::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", ..] => s.requests = n.parse().unwrap_or(0),
            ["Requests/sec:", n] => s.requests_per_s = n.parse().unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => s.non_2xx = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                s.socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            ["50%", t] => s.p50_ms = millis(t),
            ["99%", t] => s.p99_ms = millis(t),
            _ => {}
        }
    }
    s
}

/// `812.00us`, `1.23ms` or `2.01s` in milliseconds.
fn millis(t: &str) -> f64 {
    let (number, scale) = if let Some(n) = t.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (t, 1.0)
    };
    number.parse::<f64>().map_or(0.0, |n| n * scale)
}

/// The uploads and reloads beside wrk, and the samples.
#[derive(Default)]
struct SideLoad {
    uploads: u64,
    upload_errors: u64,
    reloads: u64,
    reload_errors: u64,
    samples: Vec<Sample>,
    descriptors_after_warmup: BTreeMap<String, u32>,
    descriptors_last: BTreeMap<String, u32>,
}

impl SideLoad {
    async fn upload(&mut self, client: &reqwest::Client, base: &str, pipeline: &str) {
        let n = self.uploads as usize;
        let text = format!(
            "# Soak note {}\n\nRevision {n}: the on-call rota changes every {} days.\n",
            n % UPLOAD_NAMES,
            7 + n % 3
        );
        let form = reqwest::multipart::Form::new().text("doc_type", "policy").part(
            "file",
            reqwest::multipart::Part::bytes(text.into_bytes()).file_name(format!("soak-{}.md", n % UPLOAD_NAMES)),
        );
        self.uploads += 1;
        let sent = client
            .post(format!("{base}/v1/pipelines/{pipeline}/documents"))
            .multipart(form)
            .send()
            .await;
        if !sent.is_ok_and(|r| r.status().is_success()) {
            self.upload_errors += 1;
        }
    }

    /// Edit the pipeline's description and wait until the server serves it.
    async fn reload(&mut self, client: &reqwest::Client, base: &str, pipeline: &str, file: &Path, original: &str) {
        self.reloads += 1;
        let marker = format!("soak reload {}", self.reloads);
        let edited = original.replacen("description: \"", &format!("description: \"{marker}: "), 1);
        if edited == original || std::fs::write(file, edited).is_err() {
            self.reload_errors += 1;
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let shown = client.get(format!("{base}/v1/pipelines/{pipeline}")).send().await;
            if let Ok(r) = shown
                && let Ok(body) = r.text().await
                && body.contains(&marker)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.reload_errors += 1;
    }
}

/// Median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(&values, 50.0)
}

/// The bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

fn growth(from: f64, to: f64) -> f64 {
    if from > 0.0 {
        (to - from) / from * 100.0
    } else {
        f64::NAN
    }
}

fn summarise(
    opts: &SoakOptions,
    elapsed: Duration,
    wrk: WrkSummary,
    side: SideLoad,
    query_log_bytes: u64,
) -> SoakBench {
    let warm = opts.warmup.as_secs_f64();
    let end = elapsed.as_secs_f64();
    let window = WINDOW.as_secs_f64();
    let pick = |lo: f64, hi: f64, f: fn(&Sample) -> f64| {
        median(
            side.samples
                .iter()
                .filter(|s| s.at_s >= lo && s.at_s <= hi)
                .map(f)
                .collect(),
        )
    };
    let rss = |s: &Sample| s.rss_kib as f64;
    let anon = |s: &Sample| s.rss_anon_kib as f64;
    let (anon_warm, anon_end) = (pick(warm, warm + window, anon), pick(end - window, end, anon));
    let fds = |s: &Sample| s.fds as f64;
    let (rss_warm, rss_end) = (pick(warm, warm + window, rss), pick(end - window, end, rss));
    let (fds_warm, fds_end) = (pick(warm, warm + window, fds), pick(end - window, end, fds));
    let rss_growth = growth(rss_warm, rss_end);
    let errors = wrk.non_2xx + wrk.socket_errors + side.upload_errors + side.reload_errors;
    SoakBench {
        pipeline: opts.pipeline.clone(),
        seconds: end,
        warmup_s: warm,
        connections: opts.connections,
        meets_target: errors == 0 && rss_growth < TARGET_RSS_GROWTH_PCT && fds_end <= fds_warm && wrk.requests > 0,
        wrk,
        uploads: side.uploads,
        upload_errors: side.upload_errors,
        reloads: side.reloads,
        reload_errors: side.reload_errors,
        rss_after_warmup_kib: rss_warm,
        rss_end_kib: rss_end,
        rss_growth_pct: rss_growth,
        anon_after_warmup_kib: anon_warm,
        anon_end_kib: anon_end,
        anon_growth_pct: growth(anon_warm, anon_end),
        query_log_bytes,
        query_log: opts.query_log,
        fds_after_warmup: fds_warm,
        fds_end,
        errors,
        target_rss_growth_pct: TARGET_RSS_GROWTH_PCT,
        descriptors_after_warmup: side.descriptors_after_warmup,
        descriptors_end: side.descriptors_last,
        samples: side.samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_read() {
        let text = "Running 10s test @ http://127.0.0.1:8080\n  2 threads and 4 connections\n  Latency Distribution\n     50%  812.00us\n     75%    1.10ms\n     90%    1.50ms\n     99%    3.20ms\n  12345 requests in 10.00s, 9.99MB read\n  Socket errors: connect 0, read 1, write 0, timeout 2\n  Non-2xx or 3xx responses: 4\nRequests/sec:   1234.50\nTransfer/sec:      1.00MB\n";
        let s = parse_wrk(text);
        assert_eq!((s.requests, s.non_2xx, s.socket_errors), (12345, 4, 3));
        assert!((s.p50_ms - 0.812).abs() < 1e-9 && (s.p99_ms - 3.2).abs() < 1e-9);
        assert!((s.requests_per_s - 1234.5).abs() < 1e-9);
        assert!((millis("2.5s") - 2500.0).abs() < 1e-9);
    }

    #[test]
    fn the_lua_script_posts_the_questions() {
        let lua = wrk_script("hr");
        assert!(
            lua.contains("/v1/pipelines/hr/query") && lua.contains("vacation days"),
            "{lua}"
        );
    }
}
