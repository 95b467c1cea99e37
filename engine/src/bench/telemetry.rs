//! The telemetry overhead benchmark (`ragline bench-telemetry`): two real `ragline
//! serve` processes on copies of one index, side by side in one run. One has every
//! kind of telemetry on (metrics, a span per stage exported over OTLP/HTTP, the query
//! log); the other has all of it off (`telemetry.metrics: false`, no OTLP endpoint,
//! `analytics.enabled: false`). A single client asks both the same questions in turn,
//! alternating which goes first, so noise hits them alike, and compares their
//! latencies: p50 against p50, and the median of the paired differences.
//!
//! Afterwards it checks that the telemetry really ran: the spans arrived at the sink,
//! `/metrics` counted every request and the query log every answer; and that the other
//! server recorded nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::server::{ServerError, ServerProcess};
use super::stats::{Latency, percentile, ratio};

/// Targets: what telemetry may add to the p50 of a hybrid query.
pub const TARGET_P50_RATIO: f64 = 1.03;
pub const TARGET_ADDED_US: f64 = 100.0;

/// Questions asked in turn (HR, like the demo's `hr` pipeline; any pipeline answers them).
pub const QUESTIONS: &[&str] = &[
    "How many vacation days do employees get?",
    "Can unused vacation days carry over to next year?",
    "How much parental leave is paid?",
    "What is the policy on working remotely?",
    "How often are performance reviews held?",
    "Which health benefits does the company offer?",
    "How do I report harassment at work?",
    "How many sick days are paid?",
    "What expenses can be reimbursed for travel?",
    "When is the salary paid each month?",
];

/// Which kinds of telemetry the "on" server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Parts {
    pub metrics: bool,
    pub traces: bool,
    pub query_log: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        metrics: true,
        traces: true,
        query_log: true,
    };
    pub const NONE: Parts = Parts {
        metrics: false,
        traces: false,
        query_log: false,
    };
}

/// The `ragline.yaml` that turns on `parts` (traces to `endpoint`).
fn server_yaml(parts: Parts, endpoint: Option<&str>) -> String {
    let mut yaml = format!("telemetry:\n  metrics: {}\n", parts.metrics);
    if let Some(endpoint) = endpoint {
        yaml.push_str(&format!("  otlp_endpoint: {endpoint}\n"));
    }
    yaml.push_str(&format!("analytics:\n  enabled: {}\n", parts.query_log));
    yaml
}

/// What to run.
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// The `ragline` binary to serve with.
    pub exe: PathBuf,
    /// The config directory whose pipeline is measured.
    pub config_dir: PathBuf,
    pub pipeline: String,
    /// What the "on" server records.
    pub parts: Parts,
    /// Measured queries per server, over all rounds.
    pub requests: usize,
    /// Fresh pairs of server processes the queries are spread over: two processes
    /// differ by tens of microseconds on their own, so one pair can mislead.
    pub rounds: usize,
    /// Unmeasured queries per server first.
    pub warmup: usize,
    /// Append the query's number to its question, so that every query embeds a new
    /// text instead of finding its vector in the embedding cache.
    pub unique: bool,
    /// The OTLP/HTTP endpoint the "on" server exports to.
    pub otlp_endpoint: String,
    /// Export requests the endpoint has received so far.
    pub exports_received: Arc<AtomicU64>,
}

/// One server's latencies.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    #[serde(flatten)]
    pub latency: Latency,
    pub p90_ms: f64,
}

/// The result.
#[derive(Debug, Clone, Serialize)]
pub struct TelemetryBench {
    pub pipeline: String,
    /// What the "on" server recorded.
    pub parts: Parts,
    /// Whether every question was new (see [`TelemetryOptions::unique`]).
    pub unique: bool,
    pub requests: usize,
    pub on: Side,
    pub off: Side,
    /// p50 with telemetry over p50 without.
    pub p50_ratio: Option<f64>,
    /// p50 with telemetry minus p50 without, in microseconds.
    pub p50_added_us: f64,
    /// The median of (with − without) over the paired queries, in microseconds.
    pub median_paired_added_us: f64,
    /// `p50_added_us` of each round's pair of processes, in the order they ran.
    pub round_added_us: Vec<f64>,
    /// 95% bootstrap interval of `p50_added_us` (1,000 resamples of the pairs).
    pub p50_added_us_ci95: (f64, f64),
    /// OTLP export requests the sink received from the "on" server.
    pub otlp_exports: u64,
    /// Query requests the "on" server's `/metrics` counted.
    pub metrics_counted: f64,
    /// Answers the "on" server's query log holds.
    pub logged_queries: u64,
    pub target_p50_ratio: f64,
    pub target_added_us: f64,
    pub meets_target: bool,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryBenchError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("ingest of `{pipeline}` failed (its log: {log})")]
    Ingest { pipeline: String, log: PathBuf },
    #[error("the {side} server answered {status}: {body}")]
    Status {
        side: &'static str,
        status: u16,
        body: String,
    },
    #[error("telemetry did not run as configured: {0}")]
    NotObserved(String),
}

/// Run the benchmark.
///
/// # Errors
/// [`TelemetryBenchError`] when the index cannot be built, a server does not start or
/// answers an error, or the telemetry was not observed as configured.
pub async fn run(opts: &TelemetryOptions) -> Result<TelemetryBench, TelemetryBenchError> {
    let tmp = tempfile::tempdir()?;
    let (on_dir, off_dir) = (tmp.path().join("on"), tmp.path().join("off"));
    // Logs outside the temporary directory, so they outlive a failed run.
    let log = |name: &str| std::env::temp_dir().join(format!("ragline-bench-telemetry-{name}.log"));
    let ingest_log = log("ingest");
    ingest(opts, &on_dir.join("data"), &ingest_log)?;
    copy_dir(&on_dir.join("data"), &off_dir.join("data"))?;
    let on_endpoint = opts.parts.traces.then_some(opts.otlp_endpoint.as_str());
    config_dir(
        &opts.config_dir,
        &on_dir.join("config"),
        &server_yaml(opts.parts, on_endpoint),
    )?;
    config_dir(
        &opts.config_dir,
        &off_dir.join("config"),
        &server_yaml(Parts::NONE, None),
    )?;
    let (on_log, off_log) = (log("on"), log("off"));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let rounds = opts.rounds.clamp(1, opts.requests.max(1));
    let (mut pairs, mut round_added, mut observed) = (Vec::with_capacity(opts.requests), Vec::new(), (0, 0.0, 0));
    for round in 0..rounds {
        // Which process starts first alternates too.
        let start = |side: &str| {
            let (dir, log) = if side == "on" {
                (&on_dir, &on_log)
            } else {
                (&off_dir, &off_log)
            };
            ServerProcess::start(&opts.exe, &dir.join("config"), &dir.join("data"), &[], log)
        };
        let (on, off) = if round % 2 == 0 {
            let on = start("on")?;
            (on, start("off")?)
        } else {
            let off = start("off")?;
            (start("on")?, off)
        };
        let share = opts.requests / rounds + usize::from(round < opts.requests % rounds);
        let first = pairs.len();
        let warmup_from = opts.requests + round * opts.warmup;
        let asked = Box::pin(measure(
            opts,
            &client,
            (&on.base, &off.base),
            warmup_from,
            share,
            &mut pairs,
        ));
        asked.await?;
        round_added.push(p50_added_us(&pairs[first..]));
        let logged = pairs.len() + (round + 1) * opts.warmup;
        observed = observe(&client, opts, &on.base, &off.base, share + opts.warmup, logged).await?;
    }
    Ok(summarise(opts, &pairs, round_added, observed))
}

/// The warm-up (questions numbered from `warmup_from`, past every measured one, so a
/// unique question is new to both servers), then `share` paired queries against the
/// `(on, off)` servers, numbered on from those already in `pairs`.
async fn measure(
    opts: &TelemetryOptions,
    client: &reqwest::Client,
    (on, off): (&str, &str),
    warmup_from: usize,
    share: usize,
    pairs: &mut Vec<(Duration, Duration)>,
) -> Result<(), TelemetryBenchError> {
    let ask = |base: String, side: &'static str, i: usize| {
        let client = client.clone();
        let url = format!("{base}/v1/pipelines/{}/query", opts.pipeline);
        let question = QUESTIONS[i % QUESTIONS.len()];
        let question = if opts.unique {
            format!("{question} (#{i})")
        } else {
            question.to_owned()
        };
        let body = json!({ "query": question, "session_id": "bench", "cache": false });
        async move {
            let started = Instant::now();
            let r = client.post(url).json(&body).send().await?;
            let status = r.status().as_u16();
            let text = r.text().await?;
            let took = started.elapsed();
            if status != 200 {
                return Err(TelemetryBenchError::Status {
                    side,
                    status,
                    body: text,
                });
            }
            Ok(took)
        }
    };
    for n in warmup_from..warmup_from + opts.warmup {
        ask(on.to_owned(), "on", n).await?;
        ask(off.to_owned(), "off", n).await?;
    }
    let first = pairs.len();
    for i in first..first + share {
        let (t_on, t_off) = if i % 2 == 0 {
            let t_on = ask(on.to_owned(), "on", i).await?;
            (t_on, ask(off.to_owned(), "off", i).await?)
        } else {
            let t_off = ask(off.to_owned(), "off", i).await?;
            (ask(on.to_owned(), "on", i).await?, t_off)
        };
        pairs.push((t_on, t_off));
    }
    Ok(())
}

/// What the "on" server recorded: (OTLP exports, requests counted in `/metrics`,
/// logged queries), after checking that it recorded every part it has on, that it
/// recorded none it has off, and that the "off" server recorded nothing.
/// `asked` is the queries this pair of processes answered (what `/metrics` counts),
/// `logged` those of every round so far (the query log keeps them all).
async fn observe(
    client: &reqwest::Client,
    opts: &TelemetryOptions,
    on: &str,
    off: &str,
    asked: usize,
    logged: usize,
) -> Result<(u64, f64, u64), TelemetryBenchError> {
    let not = |what: String| TelemetryBenchError::NotObserved(what);
    let (total, all_rounds) = (asked as f64, logged as f64);
    let parts = opts.parts;
    let analytics = |base: &str| {
        client
            .get(format!("{base}/v1/analytics?pipeline={}&since=1d", opts.pipeline))
            .send()
    };
    for (side, base, expect) in [("on", on, parts), ("off", off, Parts::NONE)] {
        let status = client.get(format!("{base}/metrics")).send().await?.status();
        if (status == 200) != expect.metrics {
            return Err(not(format!("the {side} server answers {status} on /metrics")));
        }
        let status = analytics(base).await?.status();
        if (status == 200) != expect.query_log {
            return Err(not(format!("the {side} server answers {status} on /v1/analytics")));
        }
    }
    let counted = if parts.metrics {
        let text = client.get(format!("{on}/metrics")).send().await?.text().await?;
        query_count(&text, &opts.pipeline)
    } else {
        0.0
    };
    if parts.metrics && counted < total {
        return Err(not(format!("/metrics counted {counted} of {total} queries")));
    }
    // The query log writes behind and the exporter batches: give both a few seconds.
    let started = Instant::now();
    loop {
        let logged = if parts.query_log {
            let report: Value = analytics(on).await?.json().await?;
            report["total"]["queries"].as_u64().unwrap_or(0)
        } else {
            0
        };
        let exports = opts.exports_received.load(Ordering::Relaxed);
        let done = (!parts.query_log || logged as f64 >= all_rounds) && (!parts.traces || exports > 0);
        if done {
            return Ok((exports, counted, logged));
        }
        if started.elapsed() > Duration::from_secs(15) {
            return Err(not(format!(
                "after 15 s the query log holds {logged} of {total} queries and the OTLP sink got {exports} exports"
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The `_count` of the query endpoint's request histogram for `pipeline`.
fn query_count(metrics: &str, pipeline: &str) -> f64 {
    let pipeline = format!("pipeline=\"{pipeline}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("ragline_http_request_duration_seconds_count{"))
        .filter(|l| l.contains(&pipeline) && l.contains("endpoint=\"/v1/pipelines/{name}/query\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// p50 with telemetry minus p50 without over `pairs`, in microseconds.
fn p50_added_us(pairs: &[(Duration, Duration)]) -> f64 {
    let us = |d: &Duration| d.as_secs_f64() * 1e6;
    let (mut a, mut b): (Vec<f64>, Vec<f64>) = pairs.iter().map(|(x, y)| (us(x), us(y))).unzip();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    percentile(&a, 50.0) - percentile(&b, 50.0)
}

fn summarise(
    opts: &TelemetryOptions,
    pairs: &[(Duration, Duration)],
    round_added_us: Vec<f64>,
    observed: (u64, f64, u64),
) -> TelemetryBench {
    let side = |pick: fn(&(Duration, Duration)) -> Duration| {
        let samples: Vec<Duration> = pairs.iter().map(pick).collect();
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Side {
            latency: Latency::from_samples(&samples),
            p90_ms: percentile(&ms, 90.0),
        }
    };
    let (on, off) = (side(|p| p.0), side(|p| p.1));
    let us = |d: &Duration| d.as_secs_f64() * 1e6;
    let p50_added_us = p50_added_us(pairs);
    let mut resampled: Vec<f64> = (0..1000)
        .map(|_| {
            let sample: Vec<(Duration, Duration)> = (0..pairs.len())
                .map(|_| pairs[rand::random_range(0..pairs.len())])
                .collect();
            self::p50_added_us(&sample)
        })
        .collect();
    resampled.sort_by(f64::total_cmp);
    let mut diffs: Vec<f64> = pairs.iter().map(|(a, b)| us(a) - us(b)).collect();
    diffs.sort_by(f64::total_cmp);
    let p50_ratio = ratio(on.latency.p50_ms, off.latency.p50_ms);
    let meets_target = p50_ratio.is_some_and(|r| r <= TARGET_P50_RATIO) && p50_added_us <= TARGET_ADDED_US;
    let (otlp_exports, metrics_counted, logged_queries) = observed;
    TelemetryBench {
        pipeline: opts.pipeline.clone(),
        parts: opts.parts,
        unique: opts.unique,
        requests: pairs.len(),
        on,
        off,
        p50_ratio,
        p50_added_us,
        median_paired_added_us: percentile(&diffs, 50.0),
        round_added_us,
        p50_added_us_ci95: (percentile(&resampled, 2.5), percentile(&resampled, 97.5)),
        otlp_exports,
        metrics_counted,
        logged_queries,
        target_p50_ratio: TARGET_P50_RATIO,
        target_added_us: TARGET_ADDED_US,
        meets_target,
    }
}

/// Ingest the pipeline's sources into `data`.
fn ingest(opts: &TelemetryOptions, data: &Path, log: &Path) -> Result<(), TelemetryBenchError> {
    if super::server::ingest(&opts.exe, &opts.config_dir, data, &opts.pipeline, log)? {
        Ok(())
    } else {
        Err(TelemetryBenchError::Ingest {
            pipeline: opts.pipeline.clone(),
            log: log.to_path_buf(),
        })
    }
}

/// A config directory with its own `ragline.yaml` and everything else of `source`
/// linked (pipelines, prompts, scripts, prices, and what their paths name).
fn config_dir(source: &Path, dir: &Path, server_yaml: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(source)? {
        let name = entry?.file_name();
        if name != "ragline.yaml" {
            std::os::unix::fs::symlink(std::path::absolute(source.join(&name))?, dir.join(name))?;
        }
    }
    std::fs::write(dir.join("ragline.yaml"), server_yaml)
}

/// Copy the tree `from` to `to` (an index that no process has open).
pub(super) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_count_is_read_from_the_request_histogram() {
        let text = "\
ragline_http_request_duration_seconds_count{pipeline=\"hr\",endpoint=\"/v1/pipelines/{name}/query\",status=\"200\"} 7
ragline_http_request_duration_seconds_count{pipeline=\"hr\",endpoint=\"/v1/pipelines/{name}/query\",status=\"503\"} 1
ragline_http_request_duration_seconds_count{pipeline=\"hr\",endpoint=\"/v1/pipelines\",status=\"200\"} 3
ragline_http_request_duration_seconds_count{pipeline=\"legal\",endpoint=\"/v1/pipelines/{name}/query\",status=\"200\"} 5
";
        assert_eq!(query_count(text, "hr"), 8.0);
        assert_eq!(query_count(text, "marketing"), 0.0);
    }

    #[test]
    fn copies_keep_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/data.mdb"), b"lmdb").unwrap();
        copy_dir(&dir.path().join("a"), &dir.path().join("c")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("c/b/data.mdb")).unwrap(), b"lmdb");
    }
}
