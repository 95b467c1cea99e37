//! `ragline route` and `ragline tag`: try a pipeline's rhai rules without a server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::Cli;
use crate::pipeline::ingest::DryRunError;
use crate::pipeline::{Pipeline, Query};

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// The question.
    pub question: String,
    /// Domains the request names (repeatable).
    #[arg(long)]
    pub domain: Vec<String>,
    /// The caller's role.
    #[arg(long)]
    pub role: Option<String>,
    /// The caller's session, which keeps A/B prompt splits sticky.
    #[arg(long)]
    pub session: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// The document to tag.
    pub file: PathBuf,
}

fn pipeline(cli: &Cli, name: &str) -> anyhow::Result<Arc<Pipeline>> {
    let engine = cli.engine()?;
    let snapshot = engine.snapshot();
    snapshot
        .pipelines
        .get(name)
        .cloned()
        .with_context(|| format!("no pipeline named `{name}`"))
}

/// Print the route a question would take and what the script saw.
pub fn route(cli: &Cli, args: &RouteArgs) -> anyhow::Result<ExitCode> {
    let pipeline = pipeline(cli, &args.pipeline)?;
    let request = Query {
        domains: (!args.domain.is_empty()).then(|| args.domain.clone()),
        role: args.role.clone(),
        session_id: args.session.clone(),
        ..Query::new(args.question.clone())
    };
    let (input, decision) = pipeline.dry_run_route(&request)?;
    println!("model:  {}", decision.model);
    println!("prompt: {} ({})", decision.prompt.id, decision.assignment.as_str());
    println!("reason: {}", decision.reason);
    println!("input:  {}", serde_json::to_string_pretty(&input)?);
    Ok(ExitCode::SUCCESS)
}

/// Parse a file and print the metadata the pipeline's tag rule gives it.
pub fn tag(cli: &Cli, args: &TagArgs) -> anyhow::Result<ExitCode> {
    let pipeline = pipeline(cli, &args.pipeline)?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = args.file.display().to_string();
    match pipeline.dry_run_tag(&source, &name, &bytes) {
        Ok(m) => {
            println!("{}", serde_json::to_string_pretty(&m)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(DryRunError::Parse(e)) => Err(anyhow::anyhow!("{source}: {e}")),
        Err(DryRunError::Tag(e)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
