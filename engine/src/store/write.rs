//! The LMDB half of a write: one transaction that removes replaced and deleted
//! documents everywhere (chunks, facets, vectors), inserts the new ones, rebuilds
//! the arroy trees and bumps the generation.

use std::collections::HashSet;

use heed::RwTxn;
use roaring::RoaringBitmap;

use super::facets::{self, FacetDelta};
use super::lmdb::{Databases, Env, encode_bitmap};
use super::vectors::VectorWriter;
use super::{ChunkId, ChunkRecord, DocumentRecord, EmbedderInfo, NewDocument, StoreError};

/// What a committed LMDB write changed, for the BM25 side.
pub(super) struct Applied {
    /// The generation the write committed.
    pub generation: u64,
    /// Chunks that no longer exist.
    pub removed: Vec<ChunkId>,
    /// Inserted documents with their new chunks.
    pub added: Vec<(DocumentRecord, Vec<ChunkRecord>)>,
}

/// Whether `id` can be an LMDB key at all; a key that cannot was never stored.
pub(super) fn key_fits(id: &str, dbs: &Databases) -> bool {
    !id.is_empty() && id.len() <= dbs.max_key
}

/// Checks a batch before anything is written.
///
/// Errors: `Dimension` for a vector of the wrong size, `KeyLength` for an empty or
/// over-long document id or metadata value.
pub(super) fn validate(embedder: &EmbedderInfo, upserts: &[NewDocument], dbs: &Databases) -> Result<(), StoreError> {
    for doc in upserts {
        if !key_fits(&doc.record.id, dbs) {
            return Err(StoreError::KeyLength {
                what: "document id".to_owned(),
                len: doc.record.id.len(),
                max: dbs.max_key,
            });
        }
        facets::check_key_sizes(&doc.record.metadata, dbs.max_key)?;
        if let Some(chunk) = doc.chunks.iter().find(|c| c.vector.len() != embedder.dims) {
            return Err(StoreError::Dimension {
                expected: embedder.dims,
                got: chunk.vector.len(),
            });
        }
    }
    Ok(())
}

/// Applies a validated batch in one LMDB write transaction: `deletes` first, then
/// `upserts` (a later duplicate id wins). Returns `None`, writing nothing, when the
/// batch changes nothing.
///
/// Errors: `EmbedderMismatch` when the index was built by another embedder,
/// `ChunkIdsExhausted`, `Lmdb`/`Vector`/`Corrupt` on storage failure. Nothing is
/// written on error.
pub(super) fn apply(
    env: &Env,
    dbs: &Databases,
    embedder: &EmbedderInfo,
    upserts: Vec<NewDocument>,
    deletes: &[String],
) -> Result<Option<Applied>, StoreError> {
    let mut wtxn = env.write_txn()?;
    match dbs.embedder(&wtxn)? {
        Some(stored) if stored != *embedder => {
            return Err(StoreError::EmbedderMismatch {
                stored: stored.id,
                stored_dims: stored.dims,
                requested: embedder.id.clone(),
                requested_dims: embedder.dims,
            });
        }
        Some(_) => {}
        // Nothing was ever stored, so there is nothing to delete either.
        None if upserts.is_empty() => return Ok(None),
        None => dbs.put_embedder(&mut wtxn, embedder)?,
    }

    let vectors = VectorWriter::new(dbs.vectors, embedder.dims);
    let mut delta = FacetDelta::default();
    let mut removed = Vec::new();
    let mut changed = false;
    for id in deletes {
        changed |= remove_document(&mut wtxn, dbs, &vectors, &mut delta, id, &mut removed)?;
    }

    let mut next = dbs.next_chunk_id(&wtxn)?;
    let mut added = Vec::new();
    for NewDocument { mut record, chunks } in last_per_id(upserts) {
        remove_document(&mut wtxn, dbs, &vectors, &mut delta, &record.id, &mut removed)?;
        let mut ids = RoaringBitmap::new();
        let mut records = Vec::with_capacity(chunks.len());
        for (ordinal, chunk) in (0u32..).zip(chunks) {
            let id = ChunkId::try_from(next).map_err(|_| StoreError::ChunkIdsExhausted)?;
            next += 1;
            vectors.add(&mut wtxn, id, &chunk.vector)?;
            let chunk = ChunkRecord {
                id,
                doc_id: record.id.clone(),
                ordinal,
                text: chunk.text,
                page: chunk.page,
                section: chunk.section,
            };
            dbs.chunks.put(&mut wtxn, &id, &chunk)?;
            ids.insert(id);
            records.push(chunk);
        }
        record.chunk_count = u32::try_from(records.len()).map_err(|_| StoreError::ChunkIdsExhausted)?;
        dbs.documents.put(&mut wtxn, &record.id, &record)?;
        dbs.doc_chunks.put(&mut wtxn, &record.id, &encode_bitmap(&ids)?)?;
        delta.add(&record.metadata, &ids);
        added.push((record, records));
    }
    if !changed && added.is_empty() {
        wtxn.abort();
        return Ok(None);
    }

    delta.apply(&mut wtxn, dbs)?;
    dbs.put_next_chunk_id(&mut wtxn, next)?;
    let generation = dbs.generation(&wtxn)? + 1;
    dbs.put_generation(&mut wtxn, generation)?;
    if !removed.is_empty() || added.iter().any(|(_, chunks)| !chunks.is_empty()) {
        vectors.build(&mut wtxn, generation)?;
    }
    wtxn.commit()?;
    Ok(Some(Applied {
        generation,
        removed,
        added,
    }))
}

/// Keeps the last document of each id, in order.
fn last_per_id(upserts: Vec<NewDocument>) -> Vec<NewDocument> {
    let mut seen = HashSet::new();
    let mut unique: Vec<NewDocument> = upserts
        .into_iter()
        .rev()
        .filter(|doc| seen.insert(doc.record.id.clone()))
        .collect();
    unique.reverse();
    unique
}

/// Removes document `id` with its chunks, vectors and facet entries; appends the
/// removed chunk ids. Returns whether the document existed.
fn remove_document(
    wtxn: &mut RwTxn,
    dbs: &Databases,
    vectors: &VectorWriter,
    delta: &mut FacetDelta,
    id: &str,
    removed: &mut Vec<ChunkId>,
) -> Result<bool, StoreError> {
    if !key_fits(id, dbs) {
        return Ok(false);
    }
    let Some(record) = dbs.documents.get(wtxn, id)? else {
        return Ok(false);
    };
    let chunk_ids = dbs.doc_chunk_ids(wtxn, id)?;
    for chunk in &chunk_ids {
        dbs.chunks.delete(wtxn, &chunk)?;
        vectors.delete(wtxn, chunk)?;
        removed.push(chunk);
    }
    delta.remove(&record.metadata, &chunk_ids);
    dbs.documents.delete(wtxn, id)?;
    dbs.doc_chunks.delete(wtxn, id)?;
    Ok(true)
}
