//! `ragline analytics` (the report of the query log) and `ragline drift` (status and
//! baseline snapshots).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Cli;
use crate::analytics::report::GroupBy;
use crate::analytics::service;
use crate::http::wire::{AnalyticsReport, DriftStatus};
use crate::pipeline::{Engine, Pipeline, now_ms};
use crate::vocab::time::TimeRange;

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// Only this pipeline's queries (default: every pipeline's).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Start: an RFC 3339 time, a date (2026-12-01) or an age (7d); default 7 days ago.
    #[arg(long)]
    pub since: Option<String>,
    /// End (exclusive), same forms; default now.
    #[arg(long)]
    pub until: Option<String>,
    /// Group by `domain`, `model`, `prompt_version`, `day`, `pipeline`, `role` or `key`
    /// (the API key id).
    #[arg(long, default_value = "domain")]
    pub by: String,
    /// Print the report as JSON (as `GET /v1/analytics` returns it).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(subcommand)]
    pub command: DriftCommand,
}

#[derive(Debug, Subcommand)]
pub enum DriftCommand {
    /// Assess drift now (every pipeline, or one).
    Status {
        pipeline: Option<String>,
        /// Print JSON (as `GET /v1/analytics/drift` returns it).
        #[arg(long)]
        json: bool,
    },
    /// Save the pipeline's recent window as the baseline later windows are compared with.
    Baseline { pipeline: String },
}

pub fn analytics(cli: &Cli, args: &AnalyticsArgs) -> anyhow::Result<ExitCode> {
    let by = GroupBy::parse(&args.by)
        .with_context(|| format!("unknown --by `{}`: use one of {}", args.by, GroupBy::NAMES.join(", ")))?;
    let range = TimeRange::parse(args.since.as_deref(), args.until.as_deref(), now_ms())?;
    let engine = cli.engine()?;
    let report = service::report(&engine.resources, args.pipeline.as_deref(), range, by)?;
    let wire = AnalyticsReport::from(&report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&wire)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} to {}, by {}{}",
        wire.since,
        wire.until,
        wire.by,
        wire.pipeline
            .as_deref()
            .map(|p| format!(", pipeline {p}"))
            .unwrap_or_default()
    );
    println!(
        "{:<28} {:>7} {:>9} {:>9} {:>10} {:>9} {:>10} {:>12} {:>6} {:>7} {:>7}",
        wire.by, "queries", "p50 ms", "p95 ms", "in tok", "out tok", "cost $", "$/query", "blocks", "up %", "nDCG@10"
    );
    for g in wire.groups.iter().chain([&wire.total]) {
        let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |r| format!("{:.0}", r * 100.0));
        let ndcg = g.eval_ndcg_at_10.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        println!(
            "{:<28} {:>7} {:>9.1} {:>9.1} {:>10} {:>9} {:>10.4} {:>12.6} {:>6} {:>7} {:>7}",
            g.key,
            g.queries,
            g.p50_latency_ms,
            g.p95_latency_ms,
            g.input_tokens,
            g.output_tokens,
            g.cost_usd,
            g.cost_per_query_usd,
            g.guardrail_blocks,
            pct(g.thumbs_up_rate),
            ndcg
        );
    }
    for e in &wire.evals {
        println!(
            "latest eval of {}: nDCG@10 {:.3}, recall@10 {:.3} on {} ({}, {})",
            e.pipeline, e.ndcg_at_10, e.recall_at_10, e.dataset, e.mode, e.at
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn drift(cli: &Cli, args: &DriftArgs) -> anyhow::Result<ExitCode> {
    let engine = cli.engine()?;
    match &args.command {
        DriftCommand::Status { pipeline, json } => {
            let pipelines = chosen(&engine, pipeline.as_deref())?;
            let statuses = pipelines
                .iter()
                .map(|p| service::drift(p).map(|r| DriftStatus::from(&r)))
                .collect::<Result<Vec<_>, _>>()?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "pipelines": statuses }))?
                );
                return Ok(ExitCode::SUCCESS);
            }
            for s in &statuses {
                println!(
                    "{}: {} ({} recent, {} baseline from {})",
                    s.pipeline, s.verdict, s.recent_queries, s.baseline_queries, s.baseline_kind
                );
                for signal in &s.signals {
                    let mark = if signal.drifted { "DRIFT" } else { "ok" };
                    println!(
                        "  {:<20} {:>10.4}  threshold {:>10.4}  {mark}",
                        signal.name, signal.score, signal.threshold
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DriftCommand::Baseline { pipeline } => {
            let p = chosen(&engine, Some(pipeline))?.remove(0);
            let n = service::take_baseline(&p)?;
            println!("saved the {n} latest queries of {pipeline} as its drift baseline");
            if n < p.spec.drift.min_queries {
                eprintln!(
                    "warning: fewer than drift.min_queries ({}): no verdict until more are logged and a new baseline is taken",
                    p.spec.drift.min_queries
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn chosen(engine: &Engine, name: Option<&str>) -> anyhow::Result<Vec<std::sync::Arc<Pipeline>>> {
    let snapshot = engine.snapshot();
    match name {
        Some(n) => Ok(vec![
            snapshot
                .pipelines
                .get(n)
                .cloned()
                .with_context(|| format!("no pipeline named `{n}`"))?,
        ]),
        None => Ok(snapshot.pipelines.values().cloned().collect()),
    }
}
