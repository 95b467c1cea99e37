//! Command-line verbs. Each lives in its own file and returns an exit code.

mod analytics;
mod bench;
mod bench_cache;
mod bench_reload;
mod bench_soak;
mod bench_telemetry;
mod check;
mod eval;
mod ingest;
mod keys;
mod prompts;
mod query;
mod rules;
mod serve;
mod sync;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::pipeline::{Engine, Resources};
use crate::providers::embed::model_files;
use crate::telemetry::logs::{self, LogFormat};

/// ragline: RAG pipelines declared in YAML, served over HTTP.
#[derive(Debug, Parser)]
#[command(name = "ragline", version, about)]
pub struct Cli {
    /// Config directory holding `pipelines/`, `prompts/` and `scripts/`.
    #[arg(long, global = true, default_value = ".")]
    pub config_dir: PathBuf,
    /// Where indexes are kept (default: `<config-dir>/.ragline`).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Model cache (default: `~/.cache/ragline/models`).
    #[arg(long, global = true)]
    pub model_dir: Option<PathBuf>,
    /// Log lines on stderr as text, or as one JSON object per line (for CloudWatch and
    /// log shippers). `RUST_LOG` filters them.
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve every pipeline over HTTP.
    Serve(serve::ServeArgs),
    /// Ingest the pipeline's sources, or the given files and directories.
    Ingest(ingest::IngestArgs),
    /// Mirror the pipeline's document store (or an s3:// URL) into its index: adds, changes, deletes.
    Sync(sync::SyncArgs),
    /// Ask one question and print the answer with its sources.
    Query(query::QueryArgs),
    /// Show the route (model, prompt, reason) a question would take, without answering it.
    Route(rules::RouteArgs),
    /// Show the metadata a pipeline's tag rule gives a file, without ingesting it.
    Tag(rules::TagArgs),
    /// Check pipeline files (default: all of `pipelines/`); exit 1 on any error.
    Validate(validate::ValidateArgs),
    /// Print the JSON Schema of a pipeline file (or of `pricing.yaml` with `--pricing`,
    /// of `ragline.yaml` with `--server`).
    Schema(SchemaArgs),
    /// Fetch, verify and cache the local embedding model.
    FetchModel,
    /// Measure retrieval (nDCG@10, recall@10/100, MRR@10) on a BEIR dataset, in a temporary index.
    Eval(eval::EvalArgs),
    /// Measure ingest throughput, embedding cost and retrieve latency on a BEIR-layout dataset.
    Bench(bench::BenchArgs),
    /// Prompt versions: `ragline prompts report <pipeline>` prints what each version served.
    Prompts(prompts::PromptsArgs),
    /// Measure hot reload: save → served latency, and failed requests during reloads under load.
    BenchReload(bench_reload::BenchReloadArgs),
    /// Measure what metrics, traces and the query log add to query latency, against a
    /// server with them off, side by side.
    BenchTelemetry(bench_telemetry::BenchTelemetryArgs),
    /// False hits and paraphrase hits of the answer cache on labelled question pairs,
    /// beside plain cosine-threshold caches, and what a miss costs.
    BenchCache(bench_cache::BenchCacheArgs),
    /// Minutes of mixed load (wrk queries, uploads, reloads) on one server: errors, RSS
    /// and open descriptors.
    BenchSoak(bench_soak::BenchSoakArgs),
    /// Report the query log: queries, latency, tokens, cost, blocks and feedback by
    /// domain, model, prompt version or day.
    Analytics(analytics::AnalyticsArgs),
    /// Drift of the recent questions from a baseline: `status`, or `baseline` to save one.
    Drift(analytics::DriftArgs),
    /// API keys for the roles of `access.yaml`: `create`, `list`, `revoke`.
    Keys(keys::KeysArgs),
    /// Check that each index's documents, chunks, vectors and BM25 entries agree; exit
    /// 1 if they do not.
    Check(check::CheckArgs),
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    // `serve` sets up its logs itself, with trace export when it is configured.
    if !matches!(cli.command, Command::Serve(_)) {
        logs::init(cli.log_format.into(), None);
    }
    // Parsers catch panics inside third-party code (pdf-extract) and report the file as
    // corrupt; log panics as one line instead of the default multi-line dump.
    std::panic::set_hook(Box::new(
        |info| tracing::warn!(target: "ragline::panic", "panic: {info}"),
    ));
    let result = match &cli.command {
        Command::Serve(args) => serve::run(&cli, args),
        Command::Ingest(args) => ingest::run(&cli, args),
        Command::Sync(args) => sync::run(&cli, args),
        Command::Query(args) => query::run(&cli, args),
        Command::Route(args) => rules::route(&cli, args),
        Command::Tag(args) => rules::tag(&cli, args),
        Command::Validate(args) => Ok(validate::run(&cli, args)),
        Command::Schema(args) => schema(args),
        Command::FetchModel => fetch_model(&cli),
        Command::Eval(args) => eval::run(&cli, args),
        Command::Bench(args) => bench::run(&cli, args),
        Command::Prompts(args) => prompts::run(&cli, args),
        Command::BenchReload(args) => bench_reload::run(&cli, args),
        Command::BenchTelemetry(args) => bench_telemetry::run(&cli, args),
        Command::BenchCache(args) => bench_cache::run(&cli, args),
        Command::BenchSoak(args) => bench_soak::run(&cli, args),
        Command::Analytics(args) => analytics::analytics(&cli, args),
        Command::Keys(args) => keys::run(&cli, args),
        Command::Check(args) => check::run(&cli, args),
        Command::Drift(args) => analytics::drift(&cli, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Cli {
    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| self.config_dir.join(".ragline"))
    }

    fn model_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.model_dir {
            Some(d) => Ok(d.clone()),
            None => model_files::default_cache_dir()
                .ok_or_else(|| anyhow::anyhow!("cannot find a home directory for the model cache; pass --model-dir")),
        }
    }

    /// Load every pipeline; config errors are printed one per line.
    fn engine(&self) -> anyhow::Result<Engine> {
        let resources = Resources::new(self.data_dir(), self.model_dir()?);
        Engine::load(self.config_dir.clone(), resources).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))
    }
}

/// `ragline schema` options.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Print the schema of the price table (`pricing.yaml`) instead of a pipeline file's.
    #[arg(long, conflicts_with = "server")]
    pub pricing: bool,
    /// Print the schema of the server's settings (`ragline.yaml`) instead of a pipeline file's.
    #[arg(long, conflicts_with = "access")]
    pub server: bool,
    /// Print the schema of the roles file (`access.yaml`) instead of a pipeline file's.
    #[arg(long, conflicts_with = "pricing")]
    pub access: bool,
}

fn schema(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let schema = if args.pricing {
        crate::vocab::pricing::schema()
    } else if args.server {
        crate::config::server::schema()
    } else if args.access {
        crate::config::access::schema()
    } else {
        crate::config::schema()
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(ExitCode::SUCCESS)
}

fn fetch_model(cli: &Cli) -> anyhow::Result<ExitCode> {
    let files = model_files::ensure_minilm(&cli.model_dir()?)?;
    println!("model ready: {}", files.dir.display());
    Ok(ExitCode::SUCCESS)
}
