//! `ragline serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::Cli;
use super::ingest::{ingest_pipeline, print_summary};
use crate::http::{self, HttpLimits};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Ingest every pipeline's sources before serving (unchanged files are skipped).
    #[arg(long)]
    pub ingest: bool,
    /// Largest request body, uploads included, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
}

pub fn run(cli: &Cli, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(cli.engine()?);
    let snapshot = engine.snapshot();
    for pipeline in snapshot.pipelines.values() {
        // Open indexes and load models now, so the first request does not pay for it.
        pipeline
            .index()
            .with_context(|| format!("pipeline {}: cannot open index", pipeline.spec.name))?;
        pipeline
            .embedder()
            .with_context(|| format!("pipeline {}: cannot load embedder", pipeline.spec.name))?;
        if args.ingest {
            let report = ingest_pipeline(cli, pipeline, &[], true)?;
            print_summary(&pipeline.spec.name, &report);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        println!(
            "ragline listening on http://{addr} ({} pipelines)",
            snapshot.pipelines.len()
        );
        drop(snapshot);
        let router = http::router(
            engine,
            HttpLimits {
                max_body_bytes: args.max_body_bytes,
            },
        );
        http::serve(listener, router).await.context("server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}
