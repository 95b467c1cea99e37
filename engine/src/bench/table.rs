//! The human-readable summary of a [`BenchReport`]: `Table(&report).to_string()`.

use std::fmt;

use super::BenchReport;
use super::retrieve::{Searches, TARGET_P50_MS, TARGET_P99_MS};
use super::stats::Latency;
use super::throughput::IngestRun;

/// Displays a report as aligned tables with the ratios under each.
pub struct Table<'a>(pub &'a BenchReport);

fn x(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"))
}

fn ingest_row(f: &mut fmt::Formatter<'_>, label: &str, r: &IngestRun) -> fmt::Result {
    writeln!(
        f,
        "  {label:<34} {:>6} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>11.0}",
        r.docs, r.chunks, r.seconds, r.docs_per_s, r.chunks_per_s, r.model_tokens_per_s
    )
}

fn latency_cells(l: &Latency) -> String {
    format!("{:>8.3} {:>8.3}", l.p50_ms, l.p99_ms)
}

fn search_row(f: &mut fmt::Formatter<'_>, name: &str, a: &Latency, b: &Latency, r: Option<f64>) -> fmt::Result {
    writeln!(
        f,
        "  {name:<8} {}   {}   {:>8}",
        latency_cells(a),
        latency_cells(b),
        x(r)
    )
}

fn verdict(s: &Searches) -> &'static str {
    if s.meets_target { "met" } else { "NOT met" }
}

impl fmt::Display for Table<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let m = &r.meta;
        writeln!(
            f,
            "ragline bench: pipeline `{}` on {} ({} documents, {} queries)",
            r.pipeline, r.dataset, r.corpus_docs, r.queries
        )?;
        writeln!(
            f,
            "{}, commit {}{}, {} threads, {} build\n",
            m.date,
            m.commit,
            if m.dirty == Some(true) {
                " (with uncommitted changes)"
            } else {
                ""
            },
            m.threads,
            m.profile
        )?;

        let i = &r.ingest;
        writeln!(f, "Ingest throughput (chunk + embed + write, model load excluded)")?;
        writeln!(
            f,
            "  {:<34} {:>6} {:>7} {:>9} {:>9} {:>9} {:>11}",
            "embedder, cache", "docs", "chunks", "seconds", "docs/s", "chunks/s", "model tok/s"
        )?;
        for (run, shown) in [
            (&i.hash, true),
            (&i.warm, true),
            (&i.hash_sample, !i.cold_full_corpus),
            (&i.cold, true),
        ] {
            if shown {
                ingest_row(f, &format!("{}, cache {}", run.embedder, run.cache), run)?;
            }
        }
        if !i.cold_full_corpus {
            writeln!(
                f,
                "  the last two rows: the first {} documents only (pass --cold for the whole corpus)",
                i.cold.docs + i.cold.failed_docs
            )?;
        }
        if i.warm.cache == "warm" && i.warm.model_tokens > 0 {
            writeln!(
                f,
                "  the warm run was not fully cached: the model read {} tokens",
                i.warm.model_tokens
            )?;
        }
        writeln!(
            f,
            "  docs/s ratio, same documents: hash/warm {}, hash/cold {}\n",
            x(i.hash_over_warm_docs_per_s),
            x(i.hash_over_cold_docs_per_s)
        )?;

        let e = &r.embed;
        writeln!(f, "Embedding, cache bypassed")?;
        writeln!(
            f,
            "  {:<34} {:>8} {:>8} {:>8}",
            "one query per call", "p50 ms", "p99 ms", "mean ms"
        )?;
        for (name, l) in [
            (e.embedder.as_str(), &e.query_latency),
            ("hash baseline", &e.hash_query_latency),
        ] {
            writeln!(f, "  {name:<34} {} {:>8.3}", latency_cells(l), l.mean_ms)?;
        }
        writeln!(f, "  p50 ratio over the hash baseline: {}", x(e.latency_over_hash_p50))?;
        writeln!(
            f,
            "  {:<34} {:>8} {:>8} {:>8}",
            "one batch call", "texts", "tokens", "tok/s"
        )?;
        for (name, b) in [
            ("queries", &e.batch_queries),
            ("passages (title + abstract)", &e.batch_passages),
        ] {
            writeln!(f, "  {name:<34} {:>8} {:>8} {:>8.0}", b.texts, b.tokens, b.tokens_per_s)?;
        }
        writeln!(
            f,
            "  vs numpy/OpenBLAS reference ({:.0}-{:.0} tok/s): passages {}, cold ingest (chunks, end to end) {}\n",
            e.reference_tokens_per_s.0,
            e.reference_tokens_per_s.1,
            x(e.passages_over_reference),
            x(e.cold_ingest_over_reference)
        )?;

        let t = &r.retrieve;
        let filter: Vec<String> = t.filter.iter().map(|(k, v)| format!("{k}={}", v.join("|"))).collect();
        writeln!(
            f,
            "Retrieve latency excluding embedding (candidates {}, top_k {}, {} rounds x {} queries)",
            t.candidates, t.top_k, t.rounds, r.queries
        )?;
        writeln!(
            f,
            "  {:<8} {:>8} {:>8}   {:>8} {:>8}   {:>8}",
            "search", "p50 ms", "p99 ms", "filt p50", "filt p99", "filt/none"
        )?;
        let (u, fl, q) = (&t.unfiltered, &t.filtered, &t.filtered_over_unfiltered_p50);
        search_row(f, "keyword", &u.keyword, &fl.keyword, q.keyword)?;
        search_row(f, "vector", &u.vector, &fl.vector, q.vector)?;
        search_row(f, "hybrid", &u.hybrid, &fl.hybrid, q.hybrid)?;
        writeln!(f, "  filter: {} (matches every document)", filter.join(", "))?;
        writeln!(
            f,
            "  p50 ratios, unfiltered: vector/keyword {}, hybrid/keyword {}",
            x(u.vector_over_keyword_p50),
            x(u.hybrid_over_keyword_p50)
        )?;
        writeln!(
            f,
            "  target hybrid p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms: unfiltered {}, filtered {}",
            verdict(u),
            verdict(fl)
        )
    }
}
