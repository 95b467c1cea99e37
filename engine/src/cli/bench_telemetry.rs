//! `ragline bench-telemetry <pipeline>`: what metrics, traces and the query log add to
//! a query's latency, measured against a server with all of them off, side by side
//! (see `bench::telemetry`). Writes JSON and a Markdown summary to `docs/bench/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum as _};

use super::Cli;
use super::bench::{Recorded, meta, write_recorded};
use crate::bench::telemetry::{self, Parts, TelemetryBench, TelemetryOptions};
use crate::http::otlp_sink;

#[derive(Debug, Args)]
pub struct BenchTelemetryArgs {
    /// Pipeline name; its sources are ingested into a temporary index.
    pub pipeline: String,
    /// Measured queries per server.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub requests: usize,
    /// Unmeasured queries per server first, in every round.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub warmup: usize,
    /// Fresh pairs of server processes the queries are spread over (two processes
    /// differ by tens of microseconds on their own).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub rounds: usize,
    /// Make every question new (its number appended), so each query embeds it with the
    /// pipeline's model; by default ten questions repeat and their vectors come from
    /// the embedding cache, the cheapest query there is.
    #[arg(long)]
    pub unique: bool,
    /// Turn on only these parts on the measured server (default all), to see what
    /// each costs: `metrics`, `traces`, `query-log`.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "PART,...")]
    pub only: Vec<Part>,
    /// JSON output (default: `<config-dir>/docs/bench/telemetry.json`; the Markdown goes beside it as `.md`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Metrics,
    Traces,
    QueryLog,
}

impl BenchTelemetryArgs {
    fn parts(&self) -> Parts {
        if self.only.is_empty() {
            return Parts::ALL;
        }
        Parts {
            metrics: self.only.contains(&Part::Metrics),
            traces: self.only.contains(&Part::Traces),
            query_log: self.only.contains(&Part::QueryLog),
        }
    }
}

type Report<'a> = Recorded<'a, TelemetryBench>;

pub fn run(cli: &Cli, args: &BenchTelemetryArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let sink = otlp_sink::start().await.context("cannot start the OTLP sink")?;
        let opts = TelemetryOptions {
            exe: std::env::current_exe().context("cannot find the ragline binary")?,
            config_dir: cli.config_dir.clone(),
            pipeline: args.pipeline.clone(),
            parts: args.parts(),
            requests: args.requests.max(1),
            warmup: args.warmup,
            rounds: args.rounds.max(1),
            unique: args.unique,
            otlp_endpoint: sink.endpoint.clone(),
            exports_received: sink.exports.clone(),
        };
        anyhow::Ok(telemetry::run(&opts).await?)
    })?;
    let report = Report {
        meta: meta(cli),
        command: command(args),
        result: &result,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| cli.config_dir.join("docs/bench/telemetry.json"));
    write_recorded(&out, &report, &markdown(&report))?;
    Ok(if result.meets_target {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The command line that reproduces this run.
fn command(args: &BenchTelemetryArgs) -> String {
    let release = if cfg!(debug_assertions) { "" } else { " --release" };
    let mut command = format!(
        "cargo run{release} --locked -- bench-telemetry {} --requests {} --warmup {} --rounds {}",
        args.pipeline, args.requests, args.warmup, args.rounds
    );
    if !args.only.is_empty() {
        let names: Vec<_> = args
            .only
            .iter()
            .filter_map(|p| p.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        command += &format!(" --only {}", names.join(","));
    }
    if args.unique {
        command += " --unique";
    }
    if let Some(out) = &args.out {
        command += &format!(" --out {}", out.display());
    }
    command
}

/// What the "on" server records, in words.
fn describe(parts: Parts) -> String {
    let mut on = Vec::new();
    if parts.metrics {
        on.push("metrics recorded (`/metrics`)");
    }
    if parts.traces {
        on.push("a span per stage exported over OTLP/HTTP to a local sink that accepts every batch");
    }
    if parts.query_log {
        on.push("the query log");
    }
    on.join(", ")
}

fn markdown(r: &Report<'_>) -> String {
    let b = r.result;
    let mut out = String::new();
    let dirty = r.dirty_note();
    let _ = write!(
        out,
        "# Telemetry overhead\n\n\
         {date}, commit {commit}{dirty}, {threads} threads, **{profile} build**, pipeline `{pipeline}`.\n\n\
         Reproduce (from the repository root; `--out` defaults to `docs/bench/telemetry.json`, the Markdown goes beside it):\n\n\
         ```sh\n{command}\n```\n\n\
         Two real `ragline serve` processes answer on copies of one index, built from the pipeline's sources.\n\
         **On**: {on}. **Off**: `telemetry.metrics: false`, no OTLP endpoint,\n\
         `analytics.enabled: false`. One client asks both the same {n} hybrid queries over HTTP on 127.0.0.1,\n\
         one at a time, taking turns which server goes first; the times are the client's, request to last byte.\n\
         The queries are spread over {rounds} rounds, each with a fresh pair of processes (started in turns), since\n\
         two processes differ by tens of microseconds on their own; p50 on − off of each round: {per_round}.\n\
         {questions}\n\n\
         | | p50 ms | p90 ms | p99 ms | mean ms |\n|---|---:|---:|---:|---:|\n\
         | on | {on50:.3} | {on90:.3} | {on99:.3} | {onm:.3} |\n\
         | off | {off50:.3} | {off90:.3} | {off99:.3} | {offm:.3} |\n\n\
         | | measured | target | |\n|---|---:|---:|---|\n\
         | p50 on / off | {ratio} | ≤ {tr:.2} | |\n\
         | p50 on − off | {added:.0} µs (95% bootstrap interval {lo:.0} to {hi:.0}) | ≤ {ta:.0} µs | |\n\
         | median of paired differences | {paired:.0} µs | | |\n\
         | targets | | | {verdict} |\n\n\
         Checked after the run: the sink received {exports} OTLP exports, the \"on\" server's `/metrics`\n\
         counted {counted:.0} query requests and its query log holds {logged} answers; the \"off\" server\n\
         answers 503 on `/metrics` and `/v1/analytics`.\n",
        date = r.meta.date,
        commit = r.meta.commit,
        threads = r.meta.threads,
        profile = r.meta.profile,
        pipeline = b.pipeline,
        on = describe(b.parts),
        questions = if b.unique {
            "Every question is new (its number appended), so each query embeds it with the pipeline's model."
        } else {
            "Ten questions repeat, so their vectors come from the embedding cache: the cheapest query there is,\n\
             where telemetry weighs most."
        },
        command = r.command,
        n = b.requests,
        rounds = b.round_added_us.len(),
        per_round = b
            .round_added_us
            .iter()
            .map(|us| format!("{us:.0} µs"))
            .collect::<Vec<_>>()
            .join(", "),
        on50 = b.on.latency.p50_ms,
        on90 = b.on.p90_ms,
        on99 = b.on.latency.p99_ms,
        onm = b.on.latency.mean_ms,
        off50 = b.off.latency.p50_ms,
        off90 = b.off.p90_ms,
        off99 = b.off.latency.p99_ms,
        offm = b.off.latency.mean_ms,
        ratio = b.p50_ratio.map_or_else(|| "-".to_owned(), |x| format!("{x:.3}")),
        tr = b.target_p50_ratio,
        added = b.p50_added_us,
        lo = b.p50_added_us_ci95.0,
        hi = b.p50_added_us_ci95.1,
        ta = b.target_added_us,
        paired = b.median_paired_added_us,
        verdict = if b.meets_target { "met" } else { "**not met**" },
        exports = b.otlp_exports,
        counted = b.metrics_counted,
        logged = b.logged_queries,
    );
    out
}
