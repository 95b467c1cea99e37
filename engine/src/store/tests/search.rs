//! Keyword and vector search: filters inside the search, hostile text, recall.

use super::*;
use crate::store::ChunkId;
use crate::store::vectors::EXACT_SCAN_MAX;

fn ids(hits: &[(ChunkId, f32)]) -> Vec<ChunkId> {
    let mut ids: Vec<_> = hits.iter().map(|h| h.0).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn filters_fill_limit_from_allowed_chunks_only() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let vectors = random_vectors(103, 8, 1);
    let a_chunks: Vec<_> = vectors[..100]
        .iter()
        .map(|v| ("travel policy for staff", v.clone()))
        .collect();
    let b_chunks: Vec<_> = vectors[100..]
        .iter()
        .map(|v| ("travel policy for contractors", v.clone()))
        .collect();
    let docs = vec![
        doc("a", "Policy A", metadata("a"), a_chunks),
        doc("b", "Policy B", metadata("b"), b_chunks),
    ];
    index.write(&embedder(8), docs, &[]).unwrap();
    let only_b = filter(&[("domain", &["b"])]);

    let query = random_vectors(1, 8, 2).remove(0);
    assert_eq!(ids(&index.vector_search(&query, &only_b, 10).unwrap()), [100, 101, 102]);
    assert_eq!(
        ids(&index.keyword_search("travel policy", &only_b, 10).unwrap()),
        [100, 101, 102]
    );

    let only_a = filter(&[("domain", &["a"])]);
    let hits = index.vector_search(&query, &only_a, 5).unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h.0 < 100));
    assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "sorted by similarity");
    let hits = index.keyword_search("policy", &only_a, 5).unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h.0 < 100));

    let none = filter(&[("domain", &["c"])]);
    assert!(index.vector_search(&query, &none, 10).unwrap().is_empty());
    assert!(index.keyword_search("policy", &none, 10).unwrap().is_empty());
    assert!(index.vector_search(&query, &Filter::default(), 0).unwrap().is_empty());
    assert!(
        index
            .keyword_search("policy", &Filter::default(), 0)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        index
            .vector_search(&query, &Filter::default(), usize::MAX)
            .unwrap()
            .len(),
        103
    );
    assert_eq!(
        index
            .keyword_search("policy", &Filter::default(), usize::MAX)
            .unwrap()
            .len(),
        103
    );
}

#[test]
fn multi_value_filters_in_both_searches() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let meta = |domain: &str, tags: &[&str]| Metadata {
        domain: domain.to_owned(),
        department: None,
        doc_type: None,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    };
    let docs = vec![
        doc("a", "A", meta("a", &["x", "y"]), vec![("shared words", vec![1.0, 0.0])]), // chunk 0
        doc("b", "B", meta("b", &["y"]), vec![("shared words", vec![0.0, 1.0])]),      // chunk 1
        doc("c", "C", meta("c", &["x"]), vec![("shared words", vec![1.0, 1.0])]),      // chunk 2
    ];
    index.write(&embedder(2), docs, &[]).unwrap();
    let cases: [(Filter, &[ChunkId]); 5] = [
        (filter(&[("domain", &["a", "c"])]), &[0, 2]),
        (filter(&[("tags", &["x"])]), &[0, 2]),
        (filter(&[("tags", &["x", "y"])]), &[0, 1, 2]),
        (filter(&[("domain", &["a", "b"]), ("tags", &["x"])]), &[0]),
        (filter(&[("domain", &["b"]), ("tags", &["x"])]), &[]),
    ];
    for (f, expected) in cases {
        assert_eq!(
            ids(&index.vector_search(&[1.0, 0.5], &f, 10).unwrap()),
            expected,
            "vector {f:?}"
        );
        assert_eq!(
            ids(&index.keyword_search("shared", &f, 10).unwrap()),
            expected,
            "keyword {f:?}"
        );
    }
}

#[test]
fn keyword_search_never_fails_on_user_text() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    assert!(
        index
            .keyword_search("anything", &Filter::default(), 5)
            .unwrap()
            .is_empty(),
        "empty index"
    );
    let docs = vec![doc(
        "a",
        "Guide",
        metadata("hr"),
        vec![("an unbalanced field guide: b x", vec![1.0])],
    )];
    index.write(&embedder(1), docs, &[]).unwrap();

    for hostile in [
        "\"unbalanced",
        "a AND (b",
        "field:x",
        "title:guide",
        "(((",
        "-x +y ~2 ^3",
        "[a TO b}",
        "\\",
        "🙂 ünïcödé",
    ] {
        assert!(
            index.keyword_search(hostile, &Filter::default(), 5).is_ok(),
            "{hostile}"
        );
    }
    assert_eq!(
        index
            .keyword_search("\"unbalanced", &Filter::default(), 5)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(index.keyword_search("field:x", &Filter::default(), 5).unwrap().len(), 1);
    for empty in ["", "   ", "*", "?!", ":"] {
        assert!(
            index.keyword_search(empty, &Filter::default(), 5).unwrap().is_empty(),
            "{empty:?}"
        );
    }
    let huge = "word ".repeat(10_000);
    assert!(index.keyword_search(&huge, &Filter::default(), 5).unwrap().is_empty());
}

#[test]
fn keyword_search_reads_neighbouring_chunks_and_rebuilds_when_that_changes() {
    let dir = tempfile::tempdir().unwrap();
    let options = IndexOptions {
        map_size_bytes: 1 << 30,
        ..IndexOptions::default()
    };
    assert_eq!(options.context_chunks, 1);
    let index = Index::open(dir.path(), &options).unwrap();
    let chunks = |texts: &[&'static str]| texts.iter().map(|t| (*t, vec![1.0])).collect();
    let docs = vec![
        doc(
            "split",
            "Policy",
            metadata("hr"),
            chunks(&[
                "the parental leave policy covers",
                "adoption and surrogacy in full",
                "closing words",
            ]),
        ), // chunks 0, 1, 2
        doc("other", "Agencies", metadata("hr"), chunks(&["adoption agency list"])), // chunk 3
    ];
    index.write(&embedder(1), docs, &[]).unwrap();
    let ids = |index: &Index| -> Vec<ChunkId> {
        let hits = index
            .keyword_search("parental adoption", &Filter::default(), 10)
            .unwrap();
        hits.iter().map(|h| h.0).collect()
    };
    // Chunks 0 and 1 each hold one word, and their windows both: they beat chunk 3, which
    // holds one. Chunk 2 matches through its neighbour only, so it comes after chunk 1.
    let found = ids(&index);
    assert_eq!(found.len(), 4, "{found:?}");
    let mut first_two = found[..2].to_vec();
    first_two.sort_unstable();
    assert_eq!(first_two, [0, 1], "{found:?}");
    let rank = |id| found.iter().position(|&f| f == id).unwrap();
    assert!(rank(1) < rank(2), "{found:?}");

    // Without neighbours (the BM25 index is rebuilt on open), chunk 2 holds neither word.
    drop(index);
    let index = Index::open(
        dir.path(),
        &IndexOptions {
            context_chunks: 0,
            ..options
        },
    )
    .unwrap();
    let mut found = ids(&index);
    found.sort_unstable();
    assert_eq!(found, [0, 1, 3]);
}

#[test]
fn keyword_search_stems_and_boosts_titles() {
    let dir = tempfile::tempdir().unwrap();
    let options = IndexOptions {
        map_size_bytes: 1 << 30,
        title_boost: 3.0,
        ..IndexOptions::default()
    };
    let index = Index::open(dir.path(), &options).unwrap();
    let docs = vec![
        doc(
            "body",
            "Misc",
            metadata("hr"),
            vec![("notes about holidays and other things", vec![1.0])],
        ), // chunk 0
        doc(
            "title",
            "Holidays",
            metadata("hr"),
            vec![("notes about other things and more", vec![1.0])],
        ), // chunk 1
    ];
    index.write(&embedder(1), docs, &[]).unwrap();
    let hits = index.keyword_search("holiday", &Filter::default(), 5).unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 0]);
    assert!(hits.iter().all(|h| h.1 > 0.0));

    // With the boost below 1 the body match wins instead.
    drop(index);
    let options = IndexOptions {
        title_boost: 0.1,
        ..options
    };
    let index = Index::open(dir.path(), &options).unwrap();
    let hits = index.keyword_search("holidays", &Filter::default(), 5).unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn nearest_neighbour_is_found_on_memory_exact_and_arroy_paths() {
    // The default keeps these 3,000 vectors in memory; 0 sends every search to LMDB and arroy.
    for vector_memory_bytes in [IndexOptions::default().vector_memory_bytes, 0] {
        nearest_neighbour_is_found(&IndexOptions {
            map_size_bytes: 1 << 30,
            vector_memory_bytes,
            ..IndexOptions::default()
        });
    }
}

fn nearest_neighbour_is_found(options: &IndexOptions) {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::open(dir.path(), options).unwrap();
    let dims = 384;
    let vectors = random_vectors(3_000, dims, 7);
    let chunks = |range: std::ops::Range<usize>| -> Vec<(&str, Vec<f32>)> {
        vectors[range].iter().map(|v| ("text", v.clone())).collect()
    };
    // Without the memory copy, domain a (chunks 0..2500) takes the arroy path even when
    // filtered, and domain b (2500..3000) the exact LMDB scan.
    let docs = vec![
        doc("a", "A", metadata("a"), chunks(0..2_500)),
        doc("b", "B", metadata("b"), chunks(2_500..3_000)),
    ];
    index.write(&embedder(dims), docs, &[]).unwrap();
    const { assert!(2_500 > EXACT_SCAN_MAX && 500 <= EXACT_SCAN_MAX) };

    let cases = [
        (Filter::default(), [17_usize, 2_600, 2_999]),
        (filter(&[("domain", &["a"])]), [0, 1_234, 2_499]),
        (filter(&[("domain", &["b"])]), [2_500, 2_777, 2_999]),
    ];
    for (f, targets) in cases {
        for target in targets {
            let hits = index.vector_search(&vectors[target], &f, 10).unwrap();
            assert_eq!(hits.len(), 10, "{f:?}");
            assert_eq!(hits[0].0 as usize, target, "{f:?}");
            assert!((hits[0].1 - 1.0).abs() < 1e-4, "similarity {}", hits[0].1);
            assert!(hits[1].1 < 0.5, "random vectors are far apart");
        }
    }
    // Replacing the small domain with an opposite vector flips the similarity sign.
    let opposite: Vec<f32> = vectors[2_500].iter().map(|x| -x).collect();
    index
        .write(
            &embedder(dims),
            vec![doc("b", "B", metadata("b"), vec![("text", opposite)])],
            &[],
        )
        .unwrap();
    let hits = index
        .vector_search(&vectors[2_500], &filter(&[("domain", &["b"])]), 10)
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert!((hits[0].1 + 1.0).abs() < 1e-4);
}
