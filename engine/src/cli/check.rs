//! `ragline check [PIPELINE...]`: whether each index's parts agree (documents, chunks,
//! vectors and BM25 entries, and their generations), for after a crash.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::Cli;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Pipelines whose indexes to check (default: every pipeline's).
    pub pipelines: Vec<String>,
    /// One JSON object per index instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Print each index's counts and any disagreement; exit 1 if there is one.
pub fn run(cli: &Cli, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let engine = cli.engine()?;
    let snapshot = engine.snapshot();
    if let Some(unknown) = args.pipelines.iter().find(|p| !snapshot.pipelines.contains_key(*p)) {
        let known: Vec<&str> = snapshot.pipelines.keys().map(String::as_str).collect();
        anyhow::bail!("no pipeline named `{unknown}` (pipelines: {})", known.join(", "));
    }
    let mut seen = BTreeSet::new();
    let mut consistent = true;
    for p in snapshot.pipelines.values() {
        let name = &p.spec.name;
        if !(args.pipelines.is_empty() || args.pipelines.contains(name)) || !seen.insert(p.spec.index.clone()) {
            continue;
        }
        let index = p
            .index()
            .with_context(|| format!("pipeline {name}: cannot open index"))?;
        let check = index
            .check()
            .with_context(|| format!("index {}: cannot read", p.spec.index))?;
        let problems = check.problems();
        consistent &= problems.is_empty();
        if args.json {
            let line = serde_json::json!({ "index": p.spec.index, "check": check, "problems": problems });
            println!("{line}");
            continue;
        }
        println!(
            "index {}: {} documents, {} chunks, {} vectors, {} BM25 entries, generation {}: {}",
            p.spec.index,
            check.documents,
            check.chunks,
            check.vectors,
            check.bm25_chunks,
            check.generation,
            if problems.is_empty() {
                "consistent"
            } else {
                "INCONSISTENT"
            }
        );
        for problem in &problems {
            println!("  {problem}");
        }
    }
    Ok(if consistent {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
