//! `ragline ingest <pipeline> [PATH...]`, with a progress bar and a summary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::Cli;
use crate::pipeline::Pipeline;
use crate::pipeline::ingest::{FileOutcome, IngestReport};
use crate::stages::ingest::sources::collect_inputs;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// Files or directories (default: the pipeline's `ingest.sources`).
    pub paths: Vec<PathBuf>,
    /// Print the report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let engine = cli.engine()?;
    let snapshot = engine.snapshot();
    let pipeline = snapshot
        .pipelines
        .get(&args.pipeline)
        .with_context(|| format!("no pipeline named `{}`", args.pipeline))?;
    let report = ingest_pipeline(cli, pipeline, &args.paths, !args.json)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&args.pipeline, &report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Ingest `paths` (or the pipeline's sources) into `pipeline`, with a progress bar when `progress`.
pub fn ingest_pipeline(
    cli: &Cli,
    pipeline: &Arc<Pipeline>,
    paths: &[PathBuf],
    progress: bool,
) -> anyhow::Result<IngestReport> {
    let inputs = if paths.is_empty() {
        pipeline.source_inputs(&cli.config_dir)
    } else {
        collect_inputs(paths, &cli.config_dir)
    }
    .context("cannot list input files")?;
    let bar = if progress {
        ProgressBar::new(inputs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} files {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(pipeline.spec.name.clone());
    bar.set_message("loading embedder");
    pipeline.embedder().context("cannot load the embedder")?;
    let report = pipeline.ingest(inputs, &mut |file| {
        bar.inc(1);
        bar.set_message(file.source.clone());
    })?;
    bar.finish_and_clear();
    Ok(report)
}

pub fn print_summary(pipeline: &str, report: &IngestReport) {
    let (ingested, unchanged, failed) = report.counts();
    for f in &report.files {
        if let FileOutcome::Failed { message, .. } = &f.outcome {
            println!("  failed  {}: {message}", f.source);
        }
    }
    println!(
        "{pipeline}: {} files: {ingested} ingested, {unchanged} unchanged, {failed} failed; {} chunks, {} embedding tokens, {:.1}s",
        report.files.len(),
        report.chunks,
        report.embedding_tokens,
        report.seconds
    );
}
