//! `ragline bench-cache`: false hits and paraphrase hits of the answer cache on the
//! labelled pairs, beside plain cosine-threshold caches, and what a miss costs (see
//! `bench::cache`). Writes JSON and a Markdown summary to `docs/bench/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Cli;
use super::bench::{Recorded, meta, write_recorded};
use crate::bench::cache::{self, CacheBench, CacheBenchOptions, MAX_FALSE_HITS, MAX_MISS_MS, MIN_PARAPHRASE_HITS};

#[derive(Debug, Args)]
pub struct BenchCacheArgs {
    /// The labelled pairs (default: `<config-dir>/data/cache/pairs.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<PathBuf>,
    /// Only the pairs of this split (`tune` or `test`).
    #[arg(long)]
    pub split: Option<String>,
    /// A Redis server (`redis://host:port`) to time the scan on beside the embedded
    /// backend; the benchmark's keys are removed after.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// JSON output (default: `<config-dir>/docs/bench/cache.json`; the Markdown goes beside it as `.md`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(cli: &Cli, args: &BenchCacheArgs) -> anyhow::Result<ExitCode> {
    let opts = CacheBenchOptions {
        config_dir: cli.config_dir.clone(),
        model_dir: cli.model_dir()?,
        embed_cache_dir: cli.data_dir().join("embed-cache"),
        pairs: args
            .pairs
            .clone()
            .unwrap_or_else(|| cli.config_dir.join("data/cache/pairs.jsonl")),
        split: args.split.clone(),
        redis: args.redis.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(cache::run(&opts))?;
    let report = Recorded {
        meta: meta(cli),
        command: command(args),
        result: &result,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| cli.config_dir.join("docs/bench/cache.json"));
    write_recorded(&out, &report, &markdown(&report))?;
    Ok(if result.meets_target {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn command(args: &BenchCacheArgs) -> String {
    let release = if cfg!(debug_assertions) { "" } else { " --release" };
    let mut command = format!("cargo run{release} --locked -- bench-cache");
    if let Some(p) = &args.pairs {
        command += &format!(" --pairs {}", p.display());
    }
    if let Some(s) = &args.split {
        command += &format!(" --split {s}");
    }
    if let Some(r) = &args.redis {
        command += &format!(" --redis {r}");
    }
    if let Some(out) = &args.out {
        command += &format!(" --out {}", out.display());
    }
    command
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn markdown(r: &Recorded<'_, CacheBench>) -> String {
    let b = r.result;
    let mut out = String::new();
    let groups: Vec<&String> = b.groups.keys().filter(|g| *g != cache::MUST_HIT).collect();
    let _ = writeln!(
        out,
        "# Answer cache: false hits and paraphrase hits\n\n{} (commit {}{}, {} build, {} threads).\n\n\
         Reproduce: `{}`\n\n\
         {} labelled pairs (`data/cache/pairs.jsonl`{}): {}. Each pair runs from an empty cache \
         through the real query path on the demo pipelines and the MiniLM model: the cached question \
         is asked and stored, then the new one. The plain caches serve whenever the cosine similarity \
         of the two questions (same model, same run) reaches their threshold. Thresholds of ragline's \
         caches: {}; each variant of the checks is reported at them, and the full checks at the \
         other thresholds of `ragline at t` (a pair served at a lower threshold is served at a higher \
         one exactly when its similarity reaches it).\n",
        r.meta.date,
        r.meta.commit,
        r.dirty_note(),
        r.meta.profile,
        r.meta.threads,
        r.command,
        b.pairs,
        b.split.as_ref().map(|s| format!(", split `{s}`")).unwrap_or_default(),
        b.groups
            .iter()
            .map(|(g, n)| format!("{g} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        b.thresholds
            .iter()
            .map(|(p, t)| format!("{p} {t}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let _ = writeln!(
        out,
        "| cache | paraphrases served | false hits (all must-miss) | {} |",
        groups.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(out, "|---|---:|---:|{}", "---:|".repeat(groups.len()));
    for rate in &b.rates {
        let by: Vec<String> = groups.iter().map(|g| pct(rate.false_hits_by_group[*g])).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            rate.cache,
            pct(rate.paraphrase_hits),
            pct(rate.false_hits),
            by.join(" | ")
        );
    }
    let _ = writeln!(
        out,
        "\nBy split (`tune`: the checks were designed on it; `test`: looked at while fixing false hits; \
         `holdout`: written blind to the checks and to every result; `docs/cache.md` says what its first run \
         showed and what changed after it):\n\n\
         | cache | split | paraphrases served | false hits |\n|---|---|---:|---:|"
    );
    for rate in b
        .rates
        .iter()
        .filter(|r| r.cache == "ragline" || r.cache.starts_with("plain"))
    {
        for (split, s) in &rate.by_split {
            let _ = writeln!(
                out,
                "| {} | {split} | {} | {} |",
                rate.cache,
                pct(s.paraphrase_hits),
                pct(s.false_hits)
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} paraphrase pairs were routed to another model or prompt version than their cached \
         question, so their scopes differ and no variant serves them.\n\n\
         **Targets:** false hits ≤ {}, paraphrases served ≥ {}, a miss adds ≤ {MAX_MISS_MS} ms p50. \
         Met: **{}**.\n\n\
         ## What a miss costs\n\n\
         Must-miss questions asked with the cache on (a filled cache, the lookup missed) and bypassing it \
         (`\"cache\": false`), interleaved, {} queries each: p50 {:.3} ms against {:.3} ms, so the cache step \
         adds **{:.3} ms** p50 (both embed the question; retrieval needs it anyway).\n\n\
         One lookup that misses, by entries in the slot (384 dimensions, 2 KB answers):\n\n\
         | backend | entries | p50 ms | p99 ms |\n|---|---:|---:|---:|",
        b.paraphrases_routed_apart,
        pct(MAX_FALSE_HITS),
        pct(MIN_PARAPHRASE_HITS),
        if b.meets_target { "yes" } else { "no" },
        b.miss.n,
        b.miss.p50_ms,
        b.bypass.p50_ms,
        b.miss_added_p50_ms,
    );
    for (backend, sizes) in &b.scan {
        for (size, l) in sizes {
            let _ = writeln!(out, "| {backend} | {size} | {:.3} | {:.3} |", l.p50_ms, l.p99_ms);
        }
    }
    out
}
