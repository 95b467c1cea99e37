//! `ragline bench-soak <pipeline>`: minutes of queries (wrk), uploads and reloads on one
//! real server; errors, RSS and open descriptors (see `bench::soak`). Writes JSON and a
//! Markdown summary to `docs/bench/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::Cli;
use super::bench::{Recorded, meta, write_recorded};
use crate::bench::soak::{self, SoakBench, SoakOptions};

#[derive(Debug, Args)]
pub struct BenchSoakArgs {
    /// Pipeline name; its sources are ingested into a temporary index.
    pub pipeline: String,
    /// How long the load runs, in seconds.
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// Seconds at the start not judged for growth.
    #[arg(long, default_value_t = 120)]
    pub warmup: u64,
    /// wrk's connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Run with the query log off, to see what it adds.
    #[arg(long, conflicts_with = "max_queries")]
    pub no_query_log: bool,
    /// The query log's `analytics.max_queries` (small enough that the log is full
    /// before the warm-up ends at these rates, so the run shows it stays bounded).
    #[arg(long, default_value_t = 200_000)]
    pub max_queries: u64,
    /// JSON output (default: `<config-dir>/docs/bench/soak.json`; the Markdown goes beside it as `.md`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

type Report<'a> = Recorded<'a, SoakBench>;

pub fn run(cli: &Cli, args: &BenchSoakArgs) -> anyhow::Result<ExitCode> {
    let opts = SoakOptions {
        exe: std::env::current_exe().context("cannot find the ragline binary")?,
        config_dir: cli.config_dir.clone(),
        pipeline: args.pipeline.clone(),
        duration: Duration::from_secs(args.seconds.max(1)),
        warmup: Duration::from_secs(args.warmup),
        connections: args.connections.max(1),
        query_log: (!args.no_query_log).then_some(args.max_queries),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(soak::run(&opts))?;
    let release = if cfg!(debug_assertions) { "" } else { " --release" };
    let mut command = format!(
        "cargo run{release} --locked -- bench-soak {} --seconds {} --warmup {} --connections {}",
        args.pipeline, args.seconds, args.warmup, args.connections
    );
    if args.no_query_log {
        command += " --no-query-log";
    } else {
        command += &format!(" --max-queries {}", args.max_queries);
    }
    if let Some(out) = &args.out {
        command += &format!(" --out {}", out.display());
    }
    let report = Report {
        meta: meta(cli),
        command,
        result: &result,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| cli.config_dir.join("docs/bench/soak.json"));
    write_recorded(&out, &report, &markdown(&report))?;
    Ok(if result.meets_target {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn markdown(r: &Report<'_>) -> String {
    let b = r.result;
    let mut out = String::new();
    let _ = write!(
        out,
        "# Soak\n\n\
         {date}, commit {commit}{dirty}, {threads} threads, **{profile} build**, pipeline `{pipeline}`.\n\n\
         Reproduce (from the repository root; needs Debian's `wrk`):\n\n```sh\n{command}\n```\n\n\
         One `ragline serve --watch` on loopback for {seconds:.0} s. `wrk` sends hybrid queries on {conns} connections\n\
         (eight questions in turn); beside it an upload every 3 s rewrites one of five small documents, and every\n\
         15 s the pipeline file is edited and the server's reload awaited. RSS and open descriptors are read from\n\
         `/proc` every 5 s; growth compares the median of the minute after the {warm:.0} s warm-up with the median\n\
         of the last minute.\n\n\
         | | |\n|---|---:|\n\
         | queries | {requests} ({rps:.0}/s, p50 {p50:.2} ms, p99 {p99:.2} ms) |\n\
         | non-2xx responses, socket errors | {non2xx}, {sockets} |\n\
         | uploads (failed) | {uploads} ({upload_errors}) |\n\
         | reloads (not served within 10 s) | {reloads} ({reload_errors}) |\n\
         | RSS after warm-up → end | {rss0:.1} → {rss1:.1} MiB ({growth:+.2}%; target < {target:.0}%) |\n\
         | of which anonymous (heap) | {anon0:.1} → {anon1:.1} MiB ({anon_growth:+.2}%) |\n\
         | query log on disk at the end | {log} |\n\
         | open descriptors after warm-up → end | {fd0:.0} → {fd1:.0} |\n\
         | descriptors open at the end and not after the warm-up, or the reverse | {fd_changes} |\n\
         | errors | {errors} |\n\
         | targets | {verdict} |\n",
        date = r.meta.date,
        commit = r.meta.commit,
        dirty = r.dirty_note(),
        threads = r.meta.threads,
        profile = r.meta.profile,
        pipeline = b.pipeline,
        command = r.command,
        seconds = b.seconds,
        conns = b.connections,
        warm = b.warmup_s,
        requests = b.wrk.requests,
        rps = b.wrk.requests_per_s,
        p50 = b.wrk.p50_ms,
        p99 = b.wrk.p99_ms,
        non2xx = b.wrk.non_2xx,
        sockets = b.wrk.socket_errors,
        uploads = b.uploads,
        upload_errors = b.upload_errors,
        reloads = b.reloads,
        reload_errors = b.reload_errors,
        rss0 = b.rss_after_warmup_kib / 1024.0,
        rss1 = b.rss_end_kib / 1024.0,
        growth = b.rss_growth_pct,
        anon0 = b.anon_after_warmup_kib / 1024.0,
        anon1 = b.anon_end_kib / 1024.0,
        anon_growth = b.anon_growth_pct,
        log = match b.query_log {
            Some(max) => format!("{:.1} MiB (`max_queries: {max}`)", b.query_log_bytes as f64 / 1048576.0),
            None => "off".to_owned(),
        },
        target = b.target_rss_growth_pct,
        fd0 = b.fds_after_warmup,
        fd1 = b.fds_end,
        fd_changes = match b.descriptor_changes() {
            c if c.is_empty() => "none".to_owned(),
            c => c.join(", "),
        },
        errors = b.errors,
        verdict = if b.meets_target { "met" } else { "**not met**" },
    );
    out
}
