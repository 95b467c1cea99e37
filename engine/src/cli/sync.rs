//! `ragline sync <pipeline> [s3://bucket/prefix]`: mirror a document store into the
//! pipeline's index (adds, changes, deletes), printing each change and a summary.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::Cli;
use crate::http::wire::SyncReport;
use crate::providers::docstore::{DocStore, S3Location, StoreSpec};
use crate::sync::{ObjectReport, ObjectStatus, SyncOptions, scopes_for, sync};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// What to mirror, e.g. `s3://acme-docs/documents/hr/` (default: the pipeline's
    /// `ingest.store`, restricted to the domains its filter allows). Region and endpoint
    /// come from the pipeline's S3 store when it has one, else from the standard AWS chain.
    pub url: Option<String>,
    /// Ingest at most this many new or changed objects; the rest are left for the next run.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the report as JSON instead of lines and a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let engine = cli.engine()?;
    let snapshot = engine.snapshot();
    let pipeline = snapshot
        .pipelines
        .get(&args.pipeline)
        .with_context(|| format!("no pipeline named `{}`", args.pipeline))?;
    let (store, scopes) = match &args.url {
        Some(url) => {
            let mut location = S3Location::parse_url(url).map_err(anyhow::Error::msg)?;
            if let StoreSpec::S3(own) = &pipeline.spec.ingest.store {
                location.aws.clone_from(&own.aws);
            }
            let spec = StoreSpec::S3(location);
            (
                Arc::new(DocStore::new(&spec, cli.data_dir().as_path(), "")),
                vec![String::new()],
            )
        }
        None => (pipeline.docstore(), scopes_for(pipeline)),
    };
    pipeline.embedder().context("cannot load the embedder")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let json = args.json;
    let options = SyncOptions { limit: args.limit };
    let report = runtime.block_on(sync(pipeline, &store, &scopes, &options, &mut |object| {
        if !json {
            print_object(object);
        }
    }))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&SyncReport::from(&report))?);
    } else {
        println!(
            "{}: {}: {}; {} chunks, {:.1}s",
            args.pipeline,
            report.store,
            report.summary(),
            report.chunks,
            report.seconds
        );
    }
    Ok(if report.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One line per change, as soon as it is committed.
fn print_object(o: &ObjectReport) {
    let status = match o.status {
        ObjectStatus::Added => "added",
        ObjectStatus::Updated => "updated",
        ObjectStatus::Deleted => "deleted",
        ObjectStatus::Failed => "failed",
        ObjectStatus::Unchanged => return,
    };
    match &o.message {
        Some(message) => println!("  {status:<8} {}: {message}", o.source),
        None => println!("  {status:<8} {}", o.source),
    }
}
