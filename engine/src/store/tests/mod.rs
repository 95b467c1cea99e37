//! Tests of [`Index`](super::Index) through its public API, on temporary directories.

mod crash;
mod crud;
mod search;

use std::collections::BTreeMap;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};

use super::{DocumentRecord, EmbedderInfo, Index, IndexOptions, NewChunk, NewDocument};
use crate::vocab::{Filter, Metadata};

/// Test indexes reserve less address space than the default.
fn open(dir: &Path) -> Index {
    Index::open(
        dir,
        &IndexOptions {
            map_size_bytes: 1 << 30,
            ..IndexOptions::default()
        },
    )
    .unwrap()
}

fn embedder(dims: usize) -> EmbedderInfo {
    EmbedderInfo {
        id: "test-embedder".to_owned(),
        dims,
    }
}

fn metadata(domain: &str) -> Metadata {
    Metadata {
        domain: domain.to_owned(),
        ..Metadata::default()
    }
}

/// A document `id` whose chunks are `(text, vector)`.
fn doc(id: &str, title: &str, metadata: Metadata, chunks: Vec<(&str, Vec<f32>)>) -> NewDocument {
    NewDocument {
        record: DocumentRecord {
            id: id.to_owned(),
            title: title.to_owned(),
            source: format!("docs/{id}.md"),
            format: "markdown".to_owned(),
            content_hash: "00".to_owned(),
            metadata,
            bytes: 10,
            chunk_count: 0,
            ingested_at: 1_700_000_000,
            settings: String::new(),
            origin: None,
        },
        chunks: chunks
            .into_iter()
            .map(|(text, vector)| NewChunk {
                text: text.to_owned(),
                page: None,
                section: None,
                vector,
            })
            .collect(),
    }
}

fn filter(fields: &[(&str, &[&str])]) -> Filter {
    Filter {
        fields: fields
            .iter()
            .map(|(f, vs)| ((*f).to_owned(), vs.iter().map(|v| (*v).to_owned()).collect()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// `n` random vectors of `dims` dimensions, reproducible from `seed`.
fn random_vectors(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..dims).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect()
}

#[test]
fn index_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Index>();
}
