//! `ragline bench <pipeline> --dataset DIR`: ingest throughput, embedding cost and
//! retrieve latency, written as JSON and printed as a table (see `docs/bench/README.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;

use super::Cli;
use crate::bench::table::Table;
use crate::bench::{self, BenchMeta, BenchOptions};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Pipeline name; its ingest, embed and retrieve settings are measured.
    pub pipeline: String,
    /// BEIR-layout dataset directory (`corpus.jsonl`, `queries.jsonl`).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Use only the first N queries (default: all).
    #[arg(long, value_name = "N")]
    pub queries: Option<usize>,
    /// JSON output (default: `<config-dir>/docs/bench/bench-<dataset>.json`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Measure cold-cache ingest on the whole corpus (slow: every chunk goes through the model).
    #[arg(long)]
    pub cold: bool,
    /// Documents for the cold-cache ingest when `--cold` is not given.
    #[arg(long, value_name = "N", default_value_t = 300, conflicts_with = "cold")]
    pub cold_docs: usize,
    /// Measured passes over the queries for retrieve latency (after one warm-up pass).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rounds: usize,
}

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let engine = cli.engine()?;
    let snapshot = engine.snapshot();
    let pipeline = snapshot
        .pipelines
        .get(&args.pipeline)
        .with_context(|| format!("no pipeline named `{}`", args.pipeline))?;
    let opts = BenchOptions {
        dataset: args.dataset.clone(),
        queries: args.queries,
        cold_docs: (!args.cold).then_some(args.cold_docs),
        rounds: args.rounds.max(1),
        model_dir: cli.model_dir()?,
        // Where `Resources::new` keeps the cache for this data dir.
        cache_dir: cli.data_dir().join("embed-cache"),
    };
    let report = bench::run(&pipeline.spec, &opts, meta(cli))?;
    let out = args.out.clone().unwrap_or_else(|| {
        cli.config_dir
            .join("docs/bench")
            .join(format!("bench-{}.json", bench::dataset_name(&args.dataset)))
    });
    write_json(&out, &report)?;
    print!("{}", Table(&report));
    println!("\nwritten to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// When, where and how a benchmark ran: the date, the commit of the config directory
/// and whether it had changes, the threads, the build profile.
pub(super) fn meta(cli: &Cli) -> BenchMeta {
    BenchMeta {
        date: utc_date(SystemTime::now()),
        commit: git(&cli.config_dir, &["rev-parse", "--short", "HEAD"])
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned()),
        // `--no-optional-locks`: never refresh the index, which could race a concurrent commit.
        dirty: git(
            &cli.config_dir,
            &["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
        )
        .map(|s| !s.trim().is_empty()),
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        profile: if cfg!(debug_assertions) { "debug" } else { "release" },
    }
}

/// A benchmark's JSON file: when and how it ran, and its results.
#[derive(serde::Serialize)]
pub(super) struct Recorded<'a, T> {
    #[serde(flatten)]
    pub meta: BenchMeta,
    /// The command line that reproduces it.
    pub command: String,
    #[serde(flatten)]
    pub result: &'a T,
}

impl<T> Recorded<'_, T> {
    /// `" (with uncommitted changes)"` when the tree had them, for the Markdown.
    pub fn dirty_note(&self) -> &'static str {
        if self.meta.dirty == Some(true) {
            " (with uncommitted changes)"
        } else {
            ""
        }
    }
}

/// Write `recorded` as JSON to `out` and `markdown` beside it (`.md`), and print the
/// Markdown.
pub(super) fn write_recorded(out: &Path, recorded: &impl serde::Serialize, markdown: &str) -> anyhow::Result<()> {
    write_json(out, recorded)?;
    let md = out.with_extension("md");
    std::fs::write(&md, markdown).with_context(|| format!("cannot write {}", md.display()))?;
    print!("{markdown}");
    println!("\nwritten to {} and {}", out.display(), md.display());
    Ok(())
}

/// Write `value` as pretty JSON to `out`, creating its directory.
pub(super) fn write_json(out: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(out, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))
}

/// The output of `git <args>` run in `dir`, or `None` when git is missing or fails.
pub(super) fn git(dir: &Path, args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
}

/// `YYYY-MM-DD` (UTC) of `t`.
pub(super) fn utc_date(t: SystemTime) -> String {
    let days = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01,
/// counting in 400-year eras that start on 1 March (so leap days fall at the end).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = (shifted_month + if shifted_month < 10 { 3 } else { -9 }) as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn civil_dates_of_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_722), (2023, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(utc_date(t), "2023-11-14");
    }
}
