//! Writing, reading, replacing and deleting documents.

use super::*;
use crate::store::StoreError;

#[test]
fn write_then_read_documents_and_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    assert_eq!(index.embedder().unwrap(), None);
    assert_eq!(index.vector_search(&[1.0, 0.0], &Filter::default(), 5).unwrap(), vec![]);

    let upserts = vec![
        doc(
            "b",
            "Beta",
            metadata("hr"),
            vec![("first b", vec![1.0, 0.0]), ("second b", vec![0.0, 1.0])],
        ),
        doc("a", "Alpha", metadata("it"), vec![("only a", vec![1.0, 1.0])]),
    ];
    index.write(&embedder(2), upserts, &[]).unwrap();

    assert_eq!(index.embedder().unwrap(), Some(embedder(2)));
    let b = index.document("b").unwrap().unwrap();
    assert_eq!((b.title.as_str(), b.chunk_count), ("Beta", 2));
    assert_eq!(index.document("missing").unwrap(), None);
    assert_eq!(index.document("").unwrap(), None);
    let sources: Vec<_> = index
        .documents(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|d| d.source)
        .collect();
    assert_eq!(sources, ["docs/a.md", "docs/b.md"]);
    assert_eq!(
        index.stats().unwrap(),
        crate::store::IndexStats {
            documents: 2,
            chunks: 3
        }
    );

    // Chunk ids are handed out in order: b's chunks are 0 and 1, a's is 2.
    let chunks = index.chunks(&[2, 99, 1, 0]).unwrap();
    let got: Vec<_> = chunks
        .iter()
        .map(|c| (c.id, c.doc_id.as_str(), c.ordinal, c.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [(2, "a", 0, "only a"), (1, "b", 1, "second b"), (0, "b", 0, "first b")]
    );
}

#[test]
fn replacing_a_document_removes_its_old_chunks_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let old = vec![
        ("alpha apples", vec![1.0, 0.0, 0.0]),
        ("alpha again", vec![0.9, 0.1, 0.0]),
    ];
    index
        .write(&embedder(3), vec![doc("x", "X", metadata("hr"), old)], &[])
        .unwrap();
    let new = vec![("beta bananas", vec![0.0, 0.0, 1.0])];
    index
        .write(&embedder(3), vec![doc("x", "X", metadata("it"), new)], &[])
        .unwrap();

    assert_eq!(index.document("x").unwrap().unwrap().chunk_count, 1);
    assert_eq!(index.stats().unwrap().chunks, 1);
    assert!(index.chunks(&[0, 1]).unwrap().is_empty(), "old chunks are gone");
    // The new chunk got a fresh id: ids are never reused.
    assert_eq!(index.chunks(&[2]).unwrap()[0].text, "beta bananas");
    assert!(
        index
            .keyword_search("alpha apples", &Filter::default(), 10)
            .unwrap()
            .is_empty()
    );
    let hits = index.keyword_search("banana", &Filter::default(), 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [2]);
    let hits = index.vector_search(&[1.0, 0.0, 0.0], &Filter::default(), 10).unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [2]);
    // The old metadata no longer matches anything.
    let hr = filter(&[("domain", &["hr"])]);
    assert!(index.vector_search(&[1.0, 0.0, 0.0], &hr, 10).unwrap().is_empty());
    assert!(index.keyword_search("beta", &hr, 10).unwrap().is_empty());
    assert!(index.documents(&hr).unwrap().is_empty());
}

#[test]
fn delete_removes_everything_and_reports_absence() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    assert!(!index.delete("x").unwrap(), "nothing stored yet");
    let docs = vec![
        doc("x", "X", metadata("hr"), vec![("gamma text", vec![1.0, 0.0])]),
        doc("y", "Y", metadata("it"), vec![("delta text", vec![0.0, 1.0])]),
    ];
    index.write(&embedder(2), docs, &[]).unwrap();

    assert!(index.delete("x").unwrap());
    assert!(!index.delete("x").unwrap());
    assert_eq!(index.document("x").unwrap(), None);
    assert_eq!(
        index.stats().unwrap(),
        crate::store::IndexStats {
            documents: 1,
            chunks: 1
        }
    );
    assert!(
        index
            .keyword_search("gamma", &Filter::default(), 10)
            .unwrap()
            .is_empty()
    );
    let hr = filter(&[("domain", &["hr"])]);
    assert!(index.vector_search(&[1.0, 0.0], &hr, 10).unwrap().is_empty());
    assert_eq!(
        index.vector_search(&[1.0, 0.0], &Filter::default(), 10).unwrap().len(),
        1
    );

    // Deleting through `write`, together with an upsert.
    let z = doc("z", "Z", metadata("hr"), vec![("epsilon", vec![1.0, 0.0])]);
    index
        .write(&embedder(2), vec![z], &["y".to_owned(), "never-there".to_owned()])
        .unwrap();
    let ids: Vec<_> = index
        .documents(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["z"]);
    assert!(
        index
            .keyword_search("delta", &Filter::default(), 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn documents_filter_is_and_across_fields_or_within() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let meta = |domain: &str, department: Option<&str>, tags: &[&str]| Metadata {
        domain: domain.to_owned(),
        department: department.map(str::to_owned),
        doc_type: Some("policy".to_owned()),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    };
    let docs = vec![
        doc(
            "1",
            "One",
            meta("hr", Some("people"), &["leave", "pay"]),
            vec![("one", vec![1.0])],
        ),
        doc("2", "Two", meta("it", Some("ops"), &["pay"]), vec![("two", vec![1.0])]),
        doc("3", "Three", meta("legal", None, &[]), vec![]),
    ];
    index.write(&embedder(1), docs, &[]).unwrap();
    let ids = |f: &Filter| -> Vec<String> { index.documents(f).unwrap().into_iter().map(|d| d.id).collect() };

    assert_eq!(ids(&Filter::default()), ["1", "2", "3"]);
    assert_eq!(ids(&filter(&[("domain", &["hr", "legal"])])), ["1", "3"]);
    assert_eq!(ids(&filter(&[("tags", &["pay"])])), ["1", "2"]);
    assert_eq!(ids(&filter(&[("tags", &["pay"]), ("department", &["ops"])])), ["2"]);
    assert_eq!(
        ids(&filter(&[("doc_type", &["policy"]), ("department", &["none"])])),
        Vec::<String>::new()
    );
    assert_eq!(ids(&filter(&[("domain", &[])])), Vec::<String>::new());
}

#[test]
fn embedder_mismatch_and_bad_input_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index
        .write(
            &embedder(2),
            vec![doc("a", "A", metadata("hr"), vec![("alpha", vec![1.0, 0.0])])],
            &[],
        )
        .unwrap();
    let before = index.stats().unwrap();

    let other_id = EmbedderInfo {
        id: "other".to_owned(),
        dims: 2,
    };
    let replace_a = || doc("a", "A2", metadata("hr"), vec![("a2", vec![0.0, 1.0])]);
    let err = index
        .write(&other_id, vec![replace_a()], &["a".to_owned()])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::EmbedderMismatch { ref stored, requested_dims: 2, .. } if stored == "test-embedder")
    );
    let err = index.write(&embedder(3), vec![], &["a".to_owned()]).unwrap_err();
    assert!(matches!(
        err,
        StoreError::EmbedderMismatch {
            stored_dims: 2,
            requested_dims: 3,
            ..
        }
    ));

    let short_vector = doc("b", "B", metadata("hr"), vec![("b", vec![1.0])]);
    let err = index
        .write(&embedder(2), vec![replace_a(), short_vector], &[])
        .unwrap_err();
    assert!(matches!(err, StoreError::Dimension { expected: 2, got: 1 }));
    let err = index
        .write(&embedder(2), vec![doc("", "Empty", metadata("hr"), vec![])], &[])
        .unwrap_err();
    assert!(matches!(err, StoreError::KeyLength { .. }));
    let long_tag = Metadata {
        tags: vec!["t".repeat(600)],
        ..metadata("hr")
    };
    let err = index
        .write(&embedder(2), vec![doc("c", "C", long_tag, vec![])], &[])
        .unwrap_err();
    assert!(matches!(err, StoreError::KeyLength { .. }));

    assert_eq!(index.stats().unwrap(), before);
    assert_eq!(index.document("a").unwrap().unwrap().title, "A");
    assert_eq!(index.embedder().unwrap(), Some(embedder(2)));
    assert_eq!(index.keyword_search("alpha", &Filter::default(), 5).unwrap().len(), 1);
}

#[test]
fn unknown_filter_fields_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index
        .write(
            &embedder(1),
            vec![doc("a", "A", metadata("hr"), vec![("a", vec![1.0])])],
            &[],
        )
        .unwrap();
    let bad = filter(&[("domain", &["hr"]), ("author", &["me"])]);
    let is_unknown =
        |r: Result<usize, StoreError>| matches!(r, Err(StoreError::UnknownFilterField { field }) if field == "author");
    assert!(is_unknown(index.documents(&bad).map(|d| d.len())));
    assert!(is_unknown(index.keyword_search("a", &bad, 5).map(|h| h.len())));
    assert!(is_unknown(index.vector_search(&[1.0], &bad, 5).map(|h| h.len())));
    let err = index.vector_search(&[1.0, 2.0], &Filter::default(), 5).unwrap_err();
    assert!(matches!(err, StoreError::Dimension { expected: 1, got: 2 }));
}

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = open(dir.path());
        let docs = vec![doc(
            "a",
            "Handbook",
            metadata("hr"),
            vec![("vacation policy", vec![0.6, 0.8])],
        )];
        index.write(&embedder(2), docs, &[]).unwrap();
    }
    let index = open(dir.path());
    assert_eq!(index.embedder().unwrap(), Some(embedder(2)));
    assert_eq!(index.document("a").unwrap().unwrap().title, "Handbook");
    assert_eq!(
        index.keyword_search("vacations", &Filter::default(), 5).unwrap().len(),
        1
    );
    let hits = index
        .vector_search(&[0.6, 0.8], &filter(&[("domain", &["hr"])]), 5)
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert!((hits[0].1 - 1.0).abs() < 1e-5);
    // The chunk id counter survived too.
    index
        .write(
            &embedder(2),
            vec![doc("b", "B", metadata("hr"), vec![("b", vec![1.0, 0.0])])],
            &[],
        )
        .unwrap();
    assert_eq!(index.chunks(&[1]).unwrap()[0].doc_id, "b");
}

#[test]
fn set_origin_changes_only_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index
        .write(
            &embedder(2),
            vec![doc("a", "Alpha", metadata("hr"), vec![("text", vec![1.0, 0.0])])],
            &[],
        )
        .unwrap();
    let before = index.chunks(&[0]).unwrap();
    assert!(index.set_origin("a", Some("etag1@fp")).unwrap());
    assert!(!index.set_origin("missing", Some("x")).unwrap());
    let a = index.document("a").unwrap().unwrap();
    assert_eq!(a.origin.as_deref(), Some("etag1@fp"));
    assert_eq!(a.chunk_count, 1);
    assert_eq!(index.chunks(&[0]).unwrap(), before);
    assert_eq!(index.keyword_search("text", &Filter::default(), 5).unwrap().len(), 1);
}
