//! `ragline bench-reload`: how fast a saved file is served and whether any request
//! fails while the config reloads under load (see `bench::reload`). Writes JSON and a
//! Markdown summary to `docs/bench/` and prints the summary.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::Cli;
use super::bench::{Recorded, meta, write_recorded};
use crate::bench::reload::{self as bench, BenchOptions, ReloadBench};

#[derive(Debug, Args)]
pub struct BenchReloadArgs {
    /// Prompt edits timed from save to the first answer with the new text.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub edits: usize,
    /// Reloads under query load (every tenth has three broken edits in it).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub reloads: usize,
    /// Concurrent query clients during the reloads.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub clients: usize,
    /// The server's `--watch-debounce-ms`.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub debounce_ms: u64,
    /// JSON output (default: `<config-dir>/docs/bench/reload.json`; the Markdown goes beside it as `.md`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

type Report<'a> = Recorded<'a, ReloadBench>;

pub fn run(cli: &Cli, args: &BenchReloadArgs) -> anyhow::Result<ExitCode> {
    let opts = BenchOptions {
        exe: std::env::current_exe().context("cannot find the ragline binary")?,
        edits: args.edits.max(1),
        reloads: args.reloads.max(1),
        clients: args.clients.max(1),
        debounce_ms: args.debounce_ms,
        deadline: Duration::from_secs(20),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(bench::run(&opts))?;
    let report = Report {
        meta: meta(cli),
        command: format!(
            "cargo run --locked -- bench-reload --edits {} --reloads {} --clients {} --debounce-ms {}",
            opts.edits, opts.reloads, opts.clients, opts.debounce_ms
        ),
        result: &result,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| cli.config_dir.join("docs/bench/reload.json"));
    write_recorded(&out, &report, &markdown(&report))?;
    let met = result.save_to_served.meets_target && result.under_load.meets_target;
    Ok(if met { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

fn markdown(r: &Report<'_>) -> String {
    let s = &r.result.save_to_served;
    let l = &r.result.under_load;
    let mut out = String::new();
    let dirty = r.dirty_note();
    let _ = write!(
        out,
        "# Reload benchmark\n\n\
         {date}, commit {commit}{dirty}, {threads} threads, **{profile} build**, watcher debounce {debounce} ms.\n\n\
         Reproduce (from the repository root; `--out` defaults to `docs/bench/reload.json`, the Markdown goes beside it):\n\n\
         ```sh\n{command}\n```\n\n\
         The command starts the real `ragline serve --watch --ingest` binary on a temporary config directory\n\
         (one pipeline on the `hash` embedder, a route script, a versioned prompt with front matter, two documents)\n\
         and talks to it over HTTP on 127.0.0.1.\n\n",
        date = r.meta.date,
        commit = r.meta.commit,
        threads = r.meta.threads,
        profile = r.meta.profile,
        debounce = r.result.debounce_ms,
        command = r.command,
    );
    let _ = write!(
        out,
        "## Save → served\n\n\
         Each edit rewrites the live prompt version (half in place, half through a temporary file renamed over it,\n\
         as editors save), then queries without pause until an answer names the new content hash.\n\
         The time runs from just before the write to that answer; it includes the debounce.\n\n\
         | edits | served | timed out | p50 ms | p95 ms | max ms | mean ms | target p95 | |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---|\n\
         | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | ≤ {:.0} ms | {} |\n\n",
        s.edits,
        s.served,
        s.timed_out,
        s.p50_ms,
        s.p95_ms,
        s.max_ms,
        s.mean_ms,
        s.target_p95_ms,
        verdict(s.meets_target),
    );
    let debounce = r.result.debounce_ms;
    let _ = write!(
        out,
        "Most of this is the debounce: the watcher emits a change once it is {debounce} ms old, checking every\n\
         {tick} ms, so a save waits {debounce}–{end} ms before the reload starts. Compiling the config and swapping\n\
         the snapshot take a few milliseconds, and one query a few more. `--watch-debounce-ms` trades this\n\
         latency against how many saves in a burst are merged into one reload.\n\n",
        tick = debounce / 4,
        end = debounce + debounce / 4,
    );
    let _ = write!(
        out,
        "## Requests during reloads\n\n\
         {clients} clients query without pause while the config reloads {reloads} times: good edits of the prompt,\n\
         the pipeline file and the route script, and {broken} broken ones (a YAML syntax error, a prompt using an\n\
         unknown variable, a script syntax error), each followed by a fix. Each edit waits until the server has\n\
         tried the reload. A request fails when it gets another status than 200 or no answer; an answer naming a\n\
         prompt text that never compiled would count too.\n\n\
         | reloads | refused (server) | succeeded (server) | requests | failed | 5xx | transport errors | unknown versions | queries/s | query p50 ms | query p95 ms | target | |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n\
         | {reloads} | {failed} | {succeeded} | {requests} | {non_ok} | {s5} | {transport} | {unknown} | {qps:.0} | {p50:.1} | {p95:.1} | 0 failed | {v} |\n",
        clients = l.clients,
        reloads = l.reloads,
        broken = l.broken_edits,
        failed = l.server_failed,
        succeeded = l.server_succeeded,
        requests = l.requests,
        non_ok = l.non_200 + l.transport_errors,
        s5 = l.status_5xx,
        transport = l.transport_errors,
        unknown = l.unknown_prompt_versions,
        qps = l.queries_per_s,
        p50 = l.query_p50_ms,
        p95 = l.query_p95_ms,
        v = verdict(l.meets_target),
    );
    out
}
