//! `ragline serve`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::Cli;
use super::ingest::{ingest_pipeline, print_summary};
use crate::analytics::service;
use crate::config::server::Server;
use crate::http::{self, HttpSettings};
use crate::pipeline::Engine;
use crate::prompts::stats::STATS_FILE;
use crate::reload;
use crate::telemetry::logs;
use crate::telemetry::record;
use crate::telemetry::{Exporting, Metrics};

/// How often the server writes prompt statistics to the data dir (when they changed).
const STATS_FLUSH: Duration = Duration::from_secs(2);
/// How often the query log is pruned to its retention.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Ingest every pipeline's sources before serving (unchanged files are skipped).
    #[arg(long)]
    pub ingest: bool,
    /// Largest request body, uploads included, in bytes (default: `limits.max_body_bytes`
    /// of `ragline.yaml`, else 64 MiB).
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Serve `/metrics` on this address, apart from the API (default:
    /// `telemetry.metrics_addr` of `ragline.yaml`, else with the API).
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Reload pipelines, prompts and scripts when their files change (a change that does
    /// not compile is refused and the running config keeps serving), and index files
    /// added to or changed in the pipelines' `dir` sources (removing deleted ones).
    #[arg(long)]
    pub watch: bool,
    /// Refuse to start without an `access.yaml` (so the server never runs open).
    #[arg(long)]
    pub require_auth: bool,
    /// With `--watch`: how long files must be quiet before a reload, in milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS", requires = "watch")]
    pub watch_debounce_ms: u64,
}

pub fn run(cli: &Cli, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let server = match Server::load(&cli.config_dir) {
        Ok(s) => s,
        Err(e) => {
            logs::init(cli.log_format.into(), None);
            anyhow::bail!("invalid server configuration:\n{e}");
        }
    };
    let exporting = match &server.otlp {
        Some(settings) => {
            let (exporting, tracer) = Exporting::start(settings)?;
            logs::init(cli.log_format.into(), Some(tracer));
            tracing::info!(
                endpoint = settings.traces_url.as_deref().unwrap_or("(from OTEL_EXPORTER_OTLP_*)"),
                "exporting traces over OTLP/HTTP"
            );
            Some(exporting)
        }
        None => {
            logs::init(cli.log_format.into(), None);
            None
        }
    };
    let served = serve(cli, args, &server);
    if let Some(exporting) = exporting {
        exporting.shutdown();
    }
    served
}

fn serve(cli: &Cli, args: &ServeArgs, server: &Server) -> anyhow::Result<ExitCode> {
    // First, so the ingest below is counted too.
    let metrics = if server.metrics {
        Some(Metrics::install()?)
    } else {
        None
    };
    for (period, budget) in [("day", server.daily_budget_usd), ("month", server.monthly_budget_usd)] {
        if let Some(usd) = budget {
            record::budget(period, usd);
        }
    }
    let engine = Arc::new(cli.engine()?);
    match &engine.snapshot().access {
        Some(access) => {
            tracing::info!(file = %access.file.display(), roles = access.roles.len(), "requests need an API key")
        }
        None if args.require_auth => anyhow::bail!(
            "--require-auth: no {} in {}; declare the roles and create keys with `ragline keys create`",
            crate::config::access::ACCESS_FILE,
            cli.config_dir.display()
        ),
        None => tracing::warn!(
            "no {} in the config directory: the server is open, anyone who reaches it can call every endpoint",
            crate::config::access::ACCESS_FILE
        ),
    }
    engine.resources.configure_query_log(server.query_log);
    if engine.snapshot().access.is_some() {
        restore_spend(&engine.resources);
    }
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
    let stats_file = cli.data_dir().join(STATS_FILE);
    engine
        .resources
        .stats
        .restore(&stats_file)
        .context("cannot read the prompt statistics")?;
    let _watcher = if args.watch {
        let debounce = Duration::from_millis(args.watch_debounce_ms);
        let watcher = reload::watch(engine.clone(), debounce)?;
        let sources = reload::watch_sources(engine.clone(), debounce)?;
        engine.set_watching(true);
        Some((watcher, sources))
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.spawn(flush_stats(engine.clone(), stats_file.clone()));
    if server.query_log.is_some() {
        runtime.spawn(watch_analytics(
            engine.clone(),
            server.retention_days,
            server.drift_every,
        ));
    }
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
        let metrics_addr = args.metrics_addr.or(server.metrics_addr);
        let settings = HttpSettings {
            max_body_bytes: args
                .max_body_bytes
                .or(server.max_body_bytes)
                .unwrap_or(HttpSettings::default().max_body_bytes),
            max_upload_files: server.max_upload_files,
            max_query_chars: server.max_query_chars,
            rate: server.rate,
            cors: server.cors.clone(),
            metrics_apart: metrics_addr.is_some(),
        };
        let state = http::AppState::new(engine.clone(), settings, metrics);
        if let Some(addr) = metrics_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
            println!("ragline metrics on http://{}/metrics", listener.local_addr()?);
            let metrics = http::metrics_router(state.clone());
            tokio::spawn(async move {
                if let Err(e) = http::serve(listener, metrics).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            });
        }
        http::serve(listener, http::router(state))
            .await
            .context("server failed")
    })?;
    save_stats(&engine, &stats_file);
    Ok(ExitCode::SUCCESS)
}

/// What keys and roles spent this month, from the query log, for their budgets.
fn restore_spend(resources: &crate::pipeline::Resources) {
    let Some(log) = resources.query_log() else {
        tracing::warn!("no query log: key and role budgets count only what this process answers");
        return;
    };
    let now = crate::pipeline::now_ms();
    match log.usage(crate::pipeline::spend::month_start_ms(now)) {
        Ok(usage) => resources.spend.load(&usage, now),
        Err(e) => tracing::warn!(error = %e, "cannot read the query log: budgets count from zero"),
    }
}

/// Assess every pipeline's drift every `drift_every` (which updates its metrics), and
/// prune the query log to `retention_days` at start and hourly.
async fn watch_analytics(engine: Arc<Engine>, retention_days: u32, drift_every: Duration) {
    let mut drift = tokio::time::interval(drift_every);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        let engine = engine.clone();
        tokio::select! {
            _ = drift.tick() => {
                let _ = tokio::task::spawn_blocking(move || {
                    for p in engine.snapshot().pipelines.values() {
                        if let Err(e) = service::drift(p) {
                            tracing::debug!(pipeline = %p.spec.name, error = %e, "drift not assessed");
                        }
                    }
                })
                .await;
            }
            _ = prune.tick() => {
                let _ = tokio::task::spawn_blocking(move || match service::prune(&engine.resources, retention_days) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(queries = n, retention_days, "pruned the query log"),
                    Err(e) => tracing::warn!(error = %e, "cannot prune the query log"),
                })
                .await;
            }
        }
    }
}

/// Write the prompt statistics every [`STATS_FLUSH`] while they change.
async fn flush_stats(engine: Arc<Engine>, file: std::path::PathBuf) {
    let mut tick = tokio::time::interval(STATS_FLUSH);
    loop {
        tick.tick().await;
        let (engine, file) = (engine.clone(), file.clone());
        let _ = tokio::task::spawn_blocking(move || save_stats(&engine, &file)).await;
    }
}

fn save_stats(engine: &Engine, file: &Path) {
    if let Err(e) = engine.resources.stats.save(file) {
        tracing::warn!(error = %e, "cannot write the prompt statistics");
    }
}
