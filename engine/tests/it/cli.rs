//! The CLI against real files: idempotent ingest, every sample document, query.

use crate::support::{SERVER_CONFIG, cli, fixture_doc};

#[test]
fn ingesting_the_same_directory_twice_adds_nothing() {
    let data = tempfile::tempdir().unwrap();
    let (code, out) = cli(SERVER_CONFIG, data.path(), &["ingest", "hr"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hr: 2 files: 2 ingested, 0 unchanged, 0 failed"), "{out}");
    let (code, out) = cli(SERVER_CONFIG, data.path(), &["ingest", "hr"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("hr: 2 files: 0 ingested, 2 unchanged, 0 failed; 0 chunks"),
        "{out}"
    );

    // A changed file replaces its document; it does not add a second one.
    let docs = tempfile::tempdir().unwrap();
    let file = docs.path().join("policy.md");
    std::fs::write(&file, "# Policy\n\nEmployees get 20 days of vacation.").unwrap();
    let path = file.to_str().unwrap();
    let (_, out) = cli(SERVER_CONFIG, data.path(), &["ingest", "hr", path]);
    assert!(out.contains("1 ingested"), "{out}");
    std::fs::write(&file, "# Policy\n\nEmployees get 30 days of vacation.").unwrap();
    let (_, out) = cli(SERVER_CONFIG, data.path(), &["ingest", "hr", path]);
    assert!(out.contains("1 ingested"), "{out}");
    let (_, out) = cli(
        SERVER_CONFIG,
        data.path(),
        &["query", "hr", "How many days of vacation?", "--json"],
    );
    let body: serde_json::Value = serde_json::from_str(&out).unwrap();
    let texts: Vec<&str> = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert!(texts.iter().any(|t| t.contains("30 days")), "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("20 days")),
        "old version still indexed: {texts:?}"
    );
}

#[test]
fn query_cli_prints_answer_sources_and_route() {
    let data = tempfile::tempdir().unwrap();
    cli(SERVER_CONFIG, data.path(), &["ingest", "hr"]);
    let (code, out) = cli(
        SERVER_CONFIG,
        data.path(),
        &["query", "hr", "How many vacation days do employees get?"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("25 days of paid vacation"), "{out}");
    assert!(out.contains("[1] Leave policy (docs/hr/leave.md)"), "{out}");
    assert!(
        out.contains("route: quotes via extractive · prompt shared/answer#"),
        "{out}"
    );
    // Local embedder and extractive answers: tokens counted, nothing priced.
    let usage = out.lines().find(|l| l.starts_with("usage: ")).unwrap_or_default();
    assert!(usage.contains(" embedding, ") && usage.contains("· $0.000000"), "{out}");
    let (code, _) = cli(SERVER_CONFIG, data.path(), &["query", "nope", "x"]);
    assert_eq!(code, 1);

    // The pipeline counts CLI answers in the prompt statistics, as it counts served ones.
    let (code, _) = cli(
        SERVER_CONFIG,
        data.path(),
        &["query", "hr", "Can unused days carry over?", "--json"],
    );
    assert_eq!(code, 0);
    let (code, out) = cli(SERVER_CONFIG, data.path(), &["prompts", "report", "hr", "--json"]);
    assert_eq!(code, 0, "{out}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let requests: u64 = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["usage"]["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 2, "{rows}");
}

/// Every sample document (tests/fixtures/docs) yields text or a precise error; none crashes the batch.
#[test]
fn every_sample_document_yields_text_or_a_precise_error() {
    let data = tempfile::tempdir().unwrap();
    let docs = fixture_doc("");
    let (code, out) = cli(
        SERVER_CONFIG,
        data.path(),
        &["ingest", "docs", docs.to_str().unwrap(), "--json"],
    );
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 36, "35 documents and SOURCES.md");
    let outcome = |name: &str| {
        let f = files
            .iter()
            .find(|f| f["source"].as_str().unwrap().ends_with(name))
            .unwrap();
        match f["status"].as_str().unwrap() {
            "failed" => f["code"].as_str().unwrap().to_owned(),
            s => s.to_owned(),
        }
    };
    for (name, expected) in [
        ("pdfminer-aes-256-password-foo.pdf", "encrypted"),
        ("pypdf-encrypted-openpassword.pdf", "encrypted"),
        ("pypdf-imagemagick-images-no-text.pdf", "no_text"),
        ("python-docx-having-images.docx", "empty"),
        ("pypdf-GeoTopo-komprimiert-117p.pdf", "ingested"),
        ("pdfminer-jo-japanese.pdf", "ingested"),
        ("docx2python-strict.docx", "ingested"),
        ("mammoth-text-box.docx", "ingested"),
        ("golang-gc-guide.html", "ingested"),
        ("golang-faq.md", "ingested"),
    ] {
        assert_eq!(outcome(name), expected, "{name}");
    }
    for f in files {
        let status = f["status"].as_str().unwrap();
        assert!(status == "ingested" || status == "failed", "{f}");
        if status == "failed" {
            let msg = f["message"].as_str().unwrap();
            assert!(!msg.is_empty() && !msg.contains("panicked"), "{f}");
        }
    }

    // The long PDF's chunks keep their page numbers.
    let (_, out) = cli(
        SERVER_CONFIG,
        data.path(),
        &[
            "query",
            "docs",
            "Differenzierbare Mannigfaltigkeiten der Klasse",
            "--json",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&out).unwrap();
    let notes = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"].as_str().unwrap().ends_with("117p.pdf"));
    assert!(
        notes.is_some_and(|s| (1..=117).contains(&s["page"].as_u64().unwrap())),
        "{body}"
    );
}
