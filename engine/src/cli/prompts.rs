//! `ragline prompts report <pipeline>`: what each prompt version served, from the
//! statistics the server writes to `<data-dir>/prompt-stats.json`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::Cli;
use crate::pipeline::{PromptInfo, VersionUsage};
use crate::prompts::PromptVersion;
use crate::prompts::stats::{self, STATS_FILE, VersionStats};

#[derive(Debug, Args)]
pub struct PromptsArgs {
    #[command(subcommand)]
    pub command: PromptsCommand,
}

#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// Per prompt version: answers served (and their share), tokens, cost and latency.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// Print the rows as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One row of the report: one version's exact text.
#[derive(Debug, Serialize)]
struct Row {
    prompt: PromptVersion,
    /// Whether the pipeline answers with it now (unknown when the config does not load).
    live: Option<bool>,
    weight: Option<u32>,
    target_share: Option<f64>,
    usage: VersionUsage,
}

pub fn run(cli: &Cli, args: &PromptsArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        PromptsCommand::Report(a) => report(cli, a),
    }
}

fn report(cli: &Cli, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let file = cli.data_dir().join(STATS_FILE);
    let saved = stats::read(&file)?;
    let counted: Vec<VersionStats> = saved
        .pipelines
        .get(&args.pipeline)
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    // The current config says which versions are live; the stats stand on their own.
    let listing: Option<Vec<PromptInfo>> = match cli.engine() {
        Ok(engine) => engine
            .snapshot()
            .pipelines
            .get(&args.pipeline)
            .map(|p| p.prompt_listing(&counted)),
        Err(e) => {
            eprintln!("note: the config does not load, so live versions are not shown: {e:#}");
            None
        }
    };
    if listing.is_none() && counted.is_empty() {
        anyhow::bail!("no pipeline named `{}` and no statistics for it", args.pipeline);
    }
    let rows = rows(listing.as_deref(), &counted);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).context("cannot print JSON")?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "pipeline `{}`: answers per prompt version, from {}\n",
        args.pipeline,
        file.display()
    );
    print_table(&rows);
    if counted.is_empty() {
        println!("\nno answers counted yet (the server writes the file every few seconds and on shutdown)");
    }
    Ok(ExitCode::SUCCESS)
}

/// The listing's versions (live or not) in order, then counted texts it no longer has.
fn rows(listing: Option<&[PromptInfo]>, counted: &[VersionStats]) -> Vec<Row> {
    let mut out = Vec::new();
    for info in listing.unwrap_or_default() {
        for v in &info.versions {
            out.push(Row {
                prompt: PromptVersion {
                    name: info.name.clone(),
                    version: v.version.clone(),
                    hash: v.hash.clone(),
                },
                live: Some(v.live),
                weight: v.weight,
                target_share: v.target_share,
                usage: v.usage.clone(),
            });
        }
    }
    let mut stale: Vec<&VersionStats> = counted
        .iter()
        .filter(|s| !out.iter().any(|r| r.prompt == s.prompt))
        .collect();
    stale.sort_by(|a, b| (&a.prompt, a.first_at).cmp(&(&b.prompt, b.first_at)));
    for s in stale {
        let total = counted
            .iter()
            .filter(|c| c.prompt.name == s.prompt.name)
            .map(|c| c.requests)
            .sum();
        out.push(Row {
            prompt: s.prompt.clone(),
            live: listing.map(|_| false),
            weight: None,
            target_share: None,
            usage: VersionUsage::of(s, total),
        });
    }
    out
}

fn print_table(rows: &[Row]) {
    let header = [
        "prompt", "version", "hash", "live", "weight", "target", "requests", "share", "in tok", "out tok", "cost $",
        "mean ms", "p95 ms",
    ];
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let u = &r.usage;
            vec![
                r.prompt.name.clone(),
                r.prompt.version.clone().unwrap_or_else(|| "-".to_owned()),
                r.prompt.hash.clone(),
                match r.live {
                    Some(true) => "yes".to_owned(),
                    Some(false) => "no".to_owned(),
                    None => "?".to_owned(),
                },
                r.weight.map_or_else(|| "-".to_owned(), |w| w.to_string()),
                r.target_share.map_or_else(|| "-".to_owned(), pct),
                u.requests.to_string(),
                pct(u.share),
                u.input_tokens.to_string(),
                u.output_tokens.to_string(),
                format!("{:.4}", u.cost_usd),
                format!("{:.1}", u.mean_latency_ms),
                format!("{:.1}", u.p95_latency_ms),
            ]
        })
        .collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| cells.iter().map(|c| c[i].len()).chain([h.len()]).max().unwrap_or(0))
        .collect();
    let line = |cols: Vec<&str>| {
        let text: Vec<String> = cols
            .iter()
            .zip(&widths)
            .enumerate()
            // Text columns left-aligned, numbers right-aligned.
            .map(|(i, (c, w))| if i < 4 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    for c in &cells {
        line(c.iter().map(String::as_str).collect());
    }
}
