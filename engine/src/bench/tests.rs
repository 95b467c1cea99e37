//! The whole benchmark on a tiny dataset with the `hash` embedder (no model needed).

use std::path::Path;

use super::*;
use crate::config;

fn tiny_dataset(dir: &Path) {
    let docs: String = (0..12)
        .map(|i| {
            let text = format!("Document {i} is about topic{} and shares words with others. ", i % 3).repeat(5);
            format!(
                "{}\n",
                serde_json::json!({"_id": i.to_string(), "title": format!("Title {i}"), "text": text})
            )
        })
        .collect();
    std::fs::write(dir.join("corpus.jsonl"), docs).unwrap();
    let queries = "{\"_id\":\"a\",\"text\":\"topic1 words\"}\n{\"_id\":\"b\",\"text\":\"document about topic2\"}\n";
    std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
}

#[test]
fn measures_everything_on_a_tiny_dataset_with_the_hash_embedder() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/server");
    let spec = config::load(&fixtures.join("pipelines/docs.yaml"), &fixtures).unwrap();
    let work = tempfile::tempdir().unwrap();
    let dataset = work.path().join("tiny");
    std::fs::create_dir(&dataset).unwrap();
    tiny_dataset(&dataset);
    let opts = BenchOptions {
        dataset: dataset.clone(),
        queries: None,
        cold_docs: Some(5),
        rounds: 2,
        model_dir: work.path().join("models"),
        cache_dir: work.path().join("embed-cache"),
    };
    let meta = BenchMeta {
        date: "2000-01-01".into(),
        commit: "unknown".into(),
        dirty: None,
        threads: 1,
        profile: "debug",
    };
    let report = run(&spec, &opts, meta).unwrap();

    assert_eq!(
        (report.dataset.as_str(), report.corpus_docs, report.queries),
        ("tiny", 12, 2)
    );
    assert_eq!((report.ingest.hash.docs, report.ingest.warm.docs), (12, 12));
    assert_eq!(report.ingest.cold.docs, 5);
    assert!(!report.ingest.cold_full_corpus);
    assert!(report.ingest.warm.chunks >= 12 && report.ingest.warm.docs_per_s > 0.0);
    assert_eq!(report.embed.query_latency.n, 2);
    assert_eq!(report.embed.batch_passages.texts, 12);
    let r = &report.retrieve;
    assert_eq!(r.unfiltered.hybrid.n, 4, "2 queries x 2 rounds");
    assert_eq!(r.filtered.vector.n, 4);
    assert_eq!(r.filter.get("domain"), Some(&vec!["docs".to_owned()]));

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["meta"]["commit"], "unknown");
    assert!(json["retrieve"]["unfiltered"]["hybrid"]["p99_ms"].is_number());
    let table = table::Table(&report).to_string();
    assert!(table.contains("the first 5 documents only"), "{table}");
    assert_eq!(report.ingest.hash_sample.docs, 5);
    assert!(table.contains("hybrid"), "{table}");
}
