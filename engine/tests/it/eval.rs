//! `ragline eval` on the tiny BEIR fixture with the hash-embedder `docs` pipeline.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::SERVER_CONFIG;

const TINY: &str = "tests/fixtures/beir/tiny";

/// Run `ragline eval docs` with a fresh data dir; returns (exit code, stdout, stderr).
fn eval(dataset: &Path, extra: &[&str]) -> (i32, String, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ragline"))
        .args(["--config-dir", SERVER_CONFIG, "--data-dir"])
        .arg(data.path())
        .args(["eval", "docs", "--dataset"])
        .arg(dataset)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn metric(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing: {report}"))
}

fn eval_json(mode: &str) -> Value {
    let (code, out, err) = eval(Path::new(TINY), &["--mode", mode, "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    // Query 5 has no judgments, so only 1 to 4 count.
    assert_eq!(report["queries"], 4, "{report}");
    assert_eq!(report["corpus_docs"], 10, "{report}");
    assert_eq!(report["failed_docs"], 0, "{report}");
    assert_eq!(report["mode"], mode);
    assert_eq!(report["pipeline"], "docs");
    assert!(report["chunks"].as_u64().unwrap() >= 10, "{report}");
    for key in ["ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10"] {
        let v = metric(&report, key);
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(metric(&report, "recall_at_100") >= metric(&report, "recall_at_10"));
    let timings = &report["timings"];
    for key in ["index_secs", "search_secs", "per_query_ms_p50", "per_query_ms_p99"] {
        assert!(timings[key].as_f64().is_some_and(|v| v >= 0.0), "{key}: {report}");
    }
    assert!(metric(timings, "per_query_ms_p99") >= metric(timings, "per_query_ms_p50"));
    assert!(report["fusion"].as_str().unwrap().contains("Rrf"), "{report}");
    report
}

#[test]
fn keyword_mode_ranks_the_lexically_obvious_document_first() {
    let report = eval_json("keyword");
    // Every query shares its words with its grade-2 document, so BM25 puts it first.
    assert_eq!(metric(&report, "mrr_at_10"), 1.0, "{report}");
    // Query 1's grade-1 document (chlorophyll) shares no word with the query, so at
    // best it is missed: recall@10 ≤ 7/8 averaged, nDCG below 1 but high.
    let ndcg = metric(&report, "ndcg_at_10");
    assert!(ndcg > 0.8 && ndcg < 1.0, "{report}");
}

#[test]
fn vector_and_hybrid_modes_find_the_relevant_documents() {
    for mode in ["vector", "hybrid"] {
        let report = eval_json(mode);
        // The hash embedder matches words too: the grade-2 documents rank high.
        assert!(metric(&report, "mrr_at_10") >= 0.75, "{report}");
        assert!(metric(&report, "ndcg_at_10") > 0.6, "{report}");
    }
}

#[test]
fn out_writes_the_same_json_and_the_table_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested/report.json");
    let (code, out, err) = eval(Path::new(TINY), &["--mode", "keyword", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nDCG@10"), "{out}");
    assert!(out.contains("4 queries, 10 documents"), "{out}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["mode"], "keyword");
    assert_eq!(written["mrr_at_10"], 1.0);
}

#[test]
fn dataset_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path();
    std::fs::create_dir(copy.join("qrels")).unwrap();
    for file in ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"] {
        std::fs::copy(Path::new(TINY).join(file), copy.join(file)).unwrap();
    }
    let qrels = copy.join("qrels/test.tsv");
    let mut text = std::fs::read_to_string(&qrels).unwrap();
    text.push_str("2\t999\t1\n");
    std::fs::write(&qrels, text).unwrap();
    let (code, _, err) = eval(copy, &["--json"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("test.tsv:10: corpus-id `999` is not in corpus.jsonl"),
        "{err}"
    );

    std::fs::write(
        copy.join("queries.jsonl"),
        "{\"_id\": \"1\", \"text\": \"ok\"}\n{\"_id\": 2\n",
    )
    .unwrap();
    let (code, _, err) = eval(copy, &["--json"]);
    assert_eq!(code, 1);
    assert!(err.contains("queries.jsonl:2: bad record"), "{err}");

    std::fs::remove_file(copy.join("corpus.jsonl")).unwrap();
    let (code, _, err) = eval(copy, &["--json"]);
    assert_eq!(code, 1);
    assert!(err.contains("corpus.jsonl") && err.contains("cannot read"), "{err}");
}
