//! `ragline eval <pipeline> --dataset DIR`: retrieval quality of a pipeline on a
//! BEIR-layout dataset, indexed into a temporary index.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::Cli;
use crate::eval::{self, Dataset, EvalIndex, EvalReport};
use crate::pipeline::{Engine, now_ms};
use crate::stages::retrieve::SearchMode;
use crate::store::analytics::EvalRecord;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Pipeline whose chunking, embedder and retrieve settings are evaluated.
    pub pipeline: String,
    /// BEIR-layout dataset directory: `corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Searches to run: hybrid, keyword or vector.
    #[arg(long, default_value = "hybrid")]
    pub mode: SearchMode,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Chunks retrieved per query (default: 100 × the corpus's chunks per document, rounded up, at most 1000).
    #[arg(long)]
    pub depth: Option<usize>,
    /// Threads running queries (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(cli: &Cli, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let engine = cli.engine()?;
    let spec = engine
        .snapshot()
        .pipelines
        .get(&args.pipeline)
        .with_context(|| format!("no pipeline named `{}`", args.pipeline))?
        .spec
        .clone();
    let dataset = Dataset::load(&args.dataset)?;
    let index = EvalIndex::create(spec, cli.model_dir()?, cli.data_dir().join("embed-cache"))?;

    let bar = progress(dataset.corpus.len(), "docs", &format!("{} index", args.pipeline));
    bar.set_message("loading embedder");
    let indexed = index.index_corpus(&dataset, args.mode, &mut |_| bar.inc(1))?;
    bar.finish_and_clear();
    for (source, message) in indexed.failed.iter().take(5) {
        eprintln!("warning: document `{source}` not indexed: {message}");
    }
    let depth = args
        .depth
        .unwrap_or_else(|| eval::default_depth(indexed.documents, indexed.chunks));
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
    let bar = progress(
        dataset.queries.len(),
        "queries",
        &format!("{} {}", args.pipeline, args.mode),
    );
    let searched = index.search_queries(&dataset, args.mode, depth, threads, &|| bar.inc(1))?;
    bar.finish_and_clear();

    let name = args.dataset.display().to_string();
    let report = eval::report(&name, &index.pipeline, args.mode, &dataset, &indexed, &searched, depth);
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(out) = &args.out {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(out, format!("{json}\n")).with_context(|| format!("cannot write {}", out.display()))?;
    }
    keep_latest(&engine, &report);
    if args.json {
        println!("{json}");
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Keep the scores as the pipeline's latest evaluation, which `ragline analytics`
/// reports beside the live figures.
fn keep_latest(engine: &Engine, report: &EvalReport) {
    let Some(log) = engine.resources.query_log() else {
        return;
    };
    let dataset = Path::new(&report.dataset)
        .file_name()
        .map_or_else(|| report.dataset.clone(), |n| n.to_string_lossy().into_owned());
    let record = EvalRecord {
        pipeline: report.pipeline.clone(),
        at_ms: now_ms(),
        dataset,
        mode: report.mode.clone(),
        ndcg_at_10: report.ndcg_at_10,
        recall_at_10: report.recall_at_10,
        mrr_at_10: report.mrr_at_10,
    };
    if let Err(e) = log.put_eval(&record) {
        eprintln!("warning: the evaluation is not kept for `ragline analytics`: {e}");
    }
}

fn progress(len: usize, unit: &str, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed}} {{wide_msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_owned());
    bar
}

fn print_table(r: &EvalReport) {
    println!(
        "{} on {}, mode {}: {} queries, {} documents ({} chunks, {} not indexed), {} chunks per query",
        r.pipeline, r.dataset, r.mode, r.queries, r.corpus_docs, r.chunks, r.failed_docs, r.depth
    );
    println!("  nDCG@10     {:.4}", r.ndcg_at_10);
    println!("  recall@10   {:.4}", r.recall_at_10);
    println!("  recall@100  {:.4}", r.recall_at_100);
    println!("  MRR@10      {:.4}", r.mrr_at_10);
    let t = &r.timings;
    println!(
        "  index {:.1} s, search {:.1} s, per query p50 {:.1} ms, p99 {:.1} ms",
        t.index_secs, t.search_secs, t.per_query_ms_p50, t.per_query_ms_p99
    );
    if r.mode == "hybrid" {
        println!("  fusion {}", r.fusion);
    }
}
