//! The index: one LMDB environment (heed) holding documents, chunks and the arroy
//! vector index, plus a tantivy BM25 index beside it. The only module that knows
//! heed, arroy and tantivy.
//!
//! LMDB is the source of truth. Each write is one LMDB transaction; the BM25 index
//! is committed after it, tagged with the same generation number, and rebuilt from
//! LMDB on open when a crash left the two apart.

use serde::{Deserialize, Serialize};

pub mod analytics;
mod answers;
mod bm25;
mod embed_cache;
mod facets;
mod index;
pub mod keys;
mod lmdb;
mod quantized;
#[cfg(test)]
mod tests;
mod vectors;
mod write;

pub use answers::{AnswerStore, Collected, QuestionKey, Slot, created_ms};
pub use embed_cache::{CacheKey, EmbeddingCache, cache_key};
pub use index::{Index, IndexOptions};
pub use quantized::QuantizedVectors;

use crate::vocab::Metadata;

/// Chunk ids are `u32` because arroy item ids are.
pub type ChunkId = u32;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// LMDB failed (I/O, map full, ...).
    #[error("LMDB: {0}")]
    Lmdb(#[from] heed::Error),
    /// The arroy vector index failed.
    #[error("vector index: {0}")]
    Vector(#[from] arroy::Error),
    /// The tantivy BM25 index failed.
    #[error("BM25 index: {0}")]
    Bm25(#[from] tantivy::TantivyError),
    /// A BM25 query could not be built (not produced for user text, which never fails).
    #[error("BM25 query: {0}")]
    Bm25Query(#[from] tantivy::query::QueryParserError),
    /// A file-system operation on the index directory failed.
    #[error("I/O on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The index was built by another embedder or dimension than the one asked to use it.
    #[error(
        "index was built with embedder {stored} ({stored_dims} dims), not {requested} ({requested_dims} dims); re-ingest into a new index"
    )]
    EmbedderMismatch {
        stored: String,
        stored_dims: usize,
        requested: String,
        requested_dims: usize,
    },
    /// A vector (to store or to search with) has the wrong number of dimensions.
    #[error("vector has {got} dimensions, the index expects {expected}")]
    Dimension { expected: usize, got: usize },
    /// Stored data could not be decoded.
    #[error("index is corrupt: {0}")]
    Corrupt(String),
    /// A filter names a field other than `domain`, `department`, `doc_type`, `tags`.
    #[error("unknown filter field `{field}`; expected one of domain, department, doc_type, tags")]
    UnknownFilterField { field: String },
    /// A document id is empty, or it or a metadata value is too long to be an LMDB key.
    #[error("{what} is {len} bytes long; index keys must be 1 to {max} bytes")]
    KeyLength { what: String, len: usize, max: usize },
    /// All 2^32 chunk ids have been handed out (they are never reused); re-ingest into a new index.
    #[error("the index has used up its 2^32 chunk ids; re-ingest into a new index")]
    ChunkIdsExhausted,
}

/// How the BM25 index analyzes text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Stemming {
    /// Lowercase, drop English stop words, Snowball English stemmer.
    #[default]
    English,
    /// Lowercase only: for other languages, codes and identifiers.
    None,
}

/// Which embedder built an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedderInfo {
    pub id: String,
    pub dims: usize,
}

/// A stored document (without its chunks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRecord {
    /// Stable id derived from the source, so re-ingesting a path replaces its document.
    pub id: String,
    pub title: String,
    /// Where it came from: a path, `upload:<name>`, or an object URL.
    pub source: String,
    /// `txt`, `markdown`, `html`, `pdf`, `docx`.
    pub format: String,
    /// Hex sha256 of the original bytes.
    pub content_hash: String,
    pub metadata: Metadata,
    pub bytes: u64,
    pub chunk_count: u32,
    /// Unix seconds.
    pub ingested_at: u64,
    /// Fingerprint of the ingest settings (and upload metadata) the document was stored
    /// under; re-ingesting with other settings redoes it.
    #[serde(default)]
    pub settings: String,
    /// The stored original this document was built from, when it came from a document
    /// store: `<object version>@<ingest settings fingerprint>` (an S3 ETag, or a local
    /// file's size and mtime). `ragline sync` skips an object whose listing gives the
    /// same tag, without downloading it. `None` for files, uploads without a store, text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// A stored chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    pub id: ChunkId,
    pub doc_id: String,
    /// Position of the chunk within its document, from 0.
    pub ordinal: u32,
    pub text: String,
    pub page: Option<u32>,
    pub section: Option<String>,
}

/// A chunk to store, with its embedding.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub text: String,
    pub page: Option<u32>,
    pub section: Option<String>,
    pub vector: Vec<f32>,
}

/// A document to insert, replacing any document with the same id.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// `chunk_count` is set by the store.
    pub record: DocumentRecord,
    pub chunks: Vec<NewChunk>,
}

/// Counts for health and listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    pub documents: u64,
    pub chunks: u64,
}

/// What each part of an index holds ([`Index::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IndexCheck {
    pub documents: u64,
    /// Chunk records in LMDB.
    pub chunks: u64,
    /// The chunks the documents say they have.
    pub listed_chunks: u64,
    pub vectors: u64,
    /// Chunks in the BM25 index.
    pub bm25_chunks: u64,
    /// The LMDB write generation, and the one the BM25 index was committed at.
    pub generation: u64,
    pub bm25_generation: Option<u64>,
}

impl IndexCheck {
    /// What disagrees; empty when the index is consistent.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.listed_chunks != self.chunks {
            out.push(format!(
                "the documents list {} chunks, LMDB holds {}",
                self.listed_chunks, self.chunks
            ));
        }
        if self.vectors != self.chunks {
            out.push(format!("{} vectors for {} chunks", self.vectors, self.chunks));
        }
        if self.bm25_chunks != self.chunks {
            out.push(format!("BM25 holds {} chunks, LMDB {}", self.bm25_chunks, self.chunks));
        }
        if self.bm25_generation != Some(self.generation) {
            out.push(format!(
                "BM25 is at generation {:?}, LMDB at {}",
                self.bm25_generation, self.generation
            ));
        }
        out
    }
}
