//! The vector-store facade over arroy: cosine distance, one arroy index (0) per
//! LMDB environment, item ids = chunk ids.

use std::num::NonZeroUsize;

use arroy::distances::Cosine;
use arroy::{Reader, Writer};
use heed::{RoTxn, RwTxn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use roaring::RoaringBitmap;

use super::{ChunkId, StoreError};

/// The arroy index inside the database; one embedder per index, so one arroy index.
const ARROY_INDEX: u16 = 0;
/// Candidate sets up to this size are scanned exactly instead of walking the trees.
pub(super) const EXACT_SCAN_MAX: u64 = 2_000;
/// `search_k = limit * n_trees * SEARCH_K_FACTOR`: arroy's default (`limit * n_trees`)
/// gives poor recall on high-dimensional embeddings.
const SEARCH_K_FACTOR: usize = 8;

/// Writes to the vector index within one LMDB write transaction.
pub(super) struct VectorWriter {
    writer: Writer<Cosine>,
}

impl VectorWriter {
    /// A writer for vectors of `dims` dimensions.
    pub fn new(db: arroy::Database<'static, Cosine>, dims: usize) -> VectorWriter {
        VectorWriter {
            writer: Writer::new(db, ARROY_INDEX, dims),
        }
    }

    /// Adds (or replaces) the vector of chunk `id`.
    ///
    /// Errors: `Vector` on LMDB failure or a vector of the wrong dimension.
    pub fn add(&self, wtxn: &mut RwTxn, id: ChunkId, vector: &[f32]) -> Result<(), StoreError> {
        Ok(self.writer.add_item(wtxn, id, vector)?)
    }

    /// Removes the vector of chunk `id`, if present.
    ///
    /// Errors: `Vector` on LMDB failure.
    pub fn delete(&self, wtxn: &mut RwTxn, id: ChunkId) -> Result<(), StoreError> {
        self.writer.del_item(wtxn, id)?;
        Ok(())
    }

    /// Rebuilds the trees after adds and deletes (incrementally); readers cannot
    /// open the index until this ran. `seed` makes the build reproducible.
    ///
    /// Errors: `Vector` on LMDB failure.
    pub fn build(&self, wtxn: &mut RwTxn, seed: u64) -> Result<(), StoreError> {
        let mut rng = StdRng::seed_from_u64(seed);
        Ok(self.writer.builder(&mut rng).build(wtxn)?)
    }
}

/// The `limit` chunks nearest to `query` by cosine similarity (higher is better),
/// among `candidates` when given (the whole index otherwise).
///
/// Errors: `Dimension` when `query` does not match the index, `Vector` on LMDB failure.
pub(super) fn search(
    rtxn: &RoTxn,
    db: arroy::Database<'static, Cosine>,
    query: &[f32],
    candidates: Option<&RoaringBitmap>,
    limit: usize,
) -> Result<Vec<(ChunkId, f32)>, StoreError> {
    let reader = match Reader::<Cosine>::open(rtxn, ARROY_INDEX, db) {
        Ok(reader) => reader,
        // Never built: nothing was ever stored.
        Err(arroy::Error::MissingMetadata(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    if query.len() != reader.dimensions() {
        return Err(StoreError::Dimension {
            expected: reader.dimensions(),
            got: query.len(),
        });
    }
    let allowed_count = match candidates {
        Some(candidates) => candidates.intersection_len(reader.item_ids()),
        None => reader.n_items(),
    };
    if limit == 0 || allowed_count == 0 {
        return Ok(Vec::new());
    }
    if allowed_count <= EXACT_SCAN_MAX {
        let allowed = match candidates {
            Some(candidates) => candidates & reader.item_ids(),
            None => reader.item_ids().clone(),
        };
        return exact(rtxn, &reader, query, &allowed, limit);
    }
    let search_k = limit
        .saturating_mul(reader.n_trees().max(1))
        .saturating_mul(SEARCH_K_FACTOR);
    let mut nns = reader.nns(limit);
    if let Some(search_k) = NonZeroUsize::new(search_k) {
        nns.search_k(search_k);
    }
    if let Some(candidates) = candidates {
        nns.candidates(candidates);
    }
    let found = nns.by_vector(rtxn, query)?;
    Ok(found
        .into_iter()
        .map(|(id, distance)| (id, similarity(distance)))
        .collect())
}

/// arroy's cosine distance is `(1 - cos) / 2`, in `[0, 1]`; this turns it back into `cos`.
fn similarity(distance: f32) -> f32 {
    1.0 - 2.0 * distance
}

/// Exact cosine over every allowed vector.
fn exact(
    rtxn: &RoTxn,
    reader: &Reader<'_, Cosine>,
    query: &[f32],
    allowed: &RoaringBitmap,
    limit: usize,
) -> Result<Vec<(ChunkId, f32)>, StoreError> {
    let query_norm = norm(query);
    let mut scored = Vec::with_capacity(usize::try_from(allowed.len()).unwrap_or(0));
    for id in allowed {
        if let Some(vector) = reader.item_vector(rtxn, id)? {
            scored.push((id, cosine(query, query_norm, &vector)));
        }
    }
    scored.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(limit);
    Ok(scored)
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// Cosine similarity; 0 when either vector is zero.
fn cosine(query: &[f32], query_norm: f32, v: &[f32]) -> f32 {
    let denominator = query_norm * norm(v);
    if denominator <= f32::EPSILON {
        return 0.0;
    }
    let dot: f32 = query.iter().zip(v).map(|(a, b)| a * b).sum();
    (dot / denominator).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_inverts_arroy_cosine_distance() {
        assert!((similarity(0.0) - 1.0).abs() < 1e-6);
        assert!(similarity(0.5).abs() < 1e-6);
        assert!((similarity(1.0) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_handles_zero_and_parallel_vectors() {
        let q = [1.0, 2.0, 2.0];
        assert!((cosine(&q, norm(&q), &[2.0, 4.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&q, norm(&q), &[-1.0, -2.0, -2.0]) + 1.0).abs() < 1e-6);
        assert!(cosine(&q, norm(&q), &[0.0, 0.0, 0.0]).abs() < f32::EPSILON);
    }
}
