//! `ragline query <pipeline> "<question>"`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::Cli;
use crate::http::wire::QueryResponse;
use crate::pipeline::{Answer, Query};
use crate::prompts::stats::STATS_FILE;

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Pipeline name.
    pub pipeline: String,
    /// The question.
    pub question: String,
    /// Restrict to a domain (repeatable).
    #[arg(long)]
    pub domain: Vec<String>,
    /// Number of sources.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Print the whole response as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &QueryArgs) -> anyhow::Result<ExitCode> {
    let engine = cli.engine()?;
    let snapshot = engine.snapshot();
    let pipeline = snapshot
        .pipelines
        .get(&args.pipeline)
        .with_context(|| format!("no pipeline named `{}`", args.pipeline))?
        .clone();
    let query = Query {
        domains: (!args.domain.is_empty()).then(|| args.domain.clone()),
        top_k: args.top_k,
        ..Query::new(args.question.clone())
    };
    // The answer counts in the prompt statistics, as one served by the server would; a
    // statistics file that cannot be read or written costs the count, not the answer.
    let stats = &engine.resources.stats;
    let stats_file = cli.data_dir().join(STATS_FILE);
    if let Err(e) = stats.restore(&stats_file) {
        tracing::warn!(error = %e, "cannot read the prompt statistics; this answer is not counted");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let response = runtime.block_on(pipeline.query(query))?;
    print(&response, args.json)?;
    if let Err(e) = stats.save(&stats_file) {
        tracing::warn!(error = %e, "cannot write the prompt statistics; this answer is not counted");
    }
    Ok(ExitCode::SUCCESS)
}

/// The answer, as JSON or as text with its sources, route and usage.
fn print(response: &Answer, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&QueryResponse::from(response))?);
        return Ok(());
    }
    println!("{}\n", response.text);
    for s in &response.sources {
        let page = s.page.map(|p| format!(", p. {p}")).unwrap_or_default();
        let kw = s.keyword_score.map_or("-".to_owned(), |v| format!("{v:.2}"));
        let vec = s.vector_score.map_or("-".to_owned(), |v| format!("{v:.3}"));
        println!(
            "[{}] {} ({}{page})  score {:.4}  bm25 {kw}  cosine {vec}",
            s.n, s.title, s.source, s.score
        );
    }
    println!(
        "\nroute: {} via {} · prompt {} · {:.0} ms",
        response.route.model, response.route.provider, response.route.prompt_version, response.latency_ms
    );
    let u = &response.usage;
    println!(
        "usage: {} embedding, {} input, {} output tokens · ${:.6} (prices {})",
        u.embedding_tokens, u.input_tokens, u.output_tokens, u.cost_usd, u.pricing_version
    );
    Ok(())
}
