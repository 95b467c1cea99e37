//! LMDB is the source of truth: the BM25 index is rebuilt when it fell behind.

use super::*;

fn handbook() -> NewDocument {
    doc(
        "a",
        "Handbook",
        metadata("hr"),
        vec![("parental leave rules", vec![1.0, 0.0])],
    )
}

#[test]
fn missing_bm25_dir_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = open(dir.path());
        index.write(&embedder(2), vec![handbook()], &[]).unwrap();
    }
    std::fs::remove_dir_all(dir.path().join("bm25")).unwrap();
    let index = open(dir.path());
    let hits = index
        .keyword_search("leave", &filter(&[("domain", &["hr"])]), 5)
        .unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0]);
}

#[test]
fn lmdb_commit_without_bm25_commit_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = open(dir.path());
        index.write(&embedder(2), vec![handbook()], &[]).unwrap();
        // "Crash" after the LMDB commit of a replacement and an addition.
        let replaced = doc("a", "Handbook", metadata("hr"), vec![("sick days", vec![0.0, 1.0])]);
        let added = doc(
            "b",
            "Expenses",
            metadata("finance"),
            vec![("travel receipts", vec![1.0, 1.0])],
        );
        index.write_lmdb_only(&embedder(2), vec![replaced, added]).unwrap();
        assert!(
            index
                .keyword_search("receipts", &Filter::default(), 5)
                .unwrap()
                .is_empty(),
            "BM25 is behind"
        );
    }
    let index = open(dir.path());
    assert!(
        index
            .keyword_search("parental leave", &Filter::default(), 5)
            .unwrap()
            .is_empty()
    );
    let ids = |q: &str| -> Vec<u32> {
        index
            .keyword_search(q, &Filter::default(), 5)
            .unwrap()
            .into_iter()
            .map(|h| h.0)
            .collect()
    };
    assert_eq!(ids("sick"), [1]);
    assert_eq!(ids("receipts"), [2]);
    let finance = filter(&[("domain", &["finance"])]);
    assert_eq!(index.keyword_search("travel", &finance, 5).unwrap().len(), 1);
}

#[test]
fn next_write_catches_up_a_stale_bm25_index() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.write_lmdb_only(&embedder(2), vec![handbook()]).unwrap();
    let other = doc(
        "b",
        "Expenses",
        metadata("finance"),
        vec![("travel receipts", vec![1.0, 1.0])],
    );
    index.write(&embedder(2), vec![other], &[]).unwrap();
    assert_eq!(index.keyword_search("leave", &Filter::default(), 5).unwrap().len(), 1);
    assert_eq!(
        index.keyword_search("receipts", &Filter::default(), 5).unwrap().len(),
        1
    );
}
