//! The vector-store facade over arroy: cosine distance, one arroy index (0) per
//! LMDB environment, item ids = chunk ids. Indexes small enough to hold in memory
//! (quantized, see `IndexOptions::vector_memory_bytes`) are searched by scanning that copy;
//! larger ones through arroy's trees (ADR 0002).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use arroy::distances::Cosine;
use arroy::{Reader, Writer};
use heed::{RoTxn, RwTxn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use roaring::RoaringBitmap;

use super::quantized::QuantizedVectors;
use super::{ChunkId, StoreError};

/// The arroy index inside the database; one embedder per index, so one arroy index.
const ARROY_INDEX: u16 = 0;
/// Candidate sets up to this size are scanned exactly instead of walking the trees.
pub(super) const EXACT_SCAN_MAX: u64 = 2_000;
/// `search_k = limit * n_trees * search_k_factor(items)`: arroy's default
/// (`limit * n_trees`) gives poor recall on high-dimensional embeddings.
///
/// Measured on MiniLM vectors (docs/bench/ann.md): factor 8 gives recall@10 0.969 at
/// 100k, but only 0.898 at 1M, where n_trees stops growing; 15 gives 0.934 and 30 gives
/// 0.972 there. So the factor is 8 up to 100k items and grows as `(items / 100k)^0.58`
/// above it, which reaches 30 at 1M, capped at 64.
fn search_k_factor(items: u64) -> usize {
    const BASE: f64 = 8.0;
    const BASE_ITEMS: f64 = 100_000.0;
    let scale = (items as f64 / BASE_ITEMS).max(1.0).powf(0.58);
    (BASE * scale).round().clamp(BASE, 64.0) as usize
}

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

/// Default of `IndexOptions::vector_memory_bytes`: ~170k MiniLM vectors at one byte per dimension.
pub const DEFAULT_VECTOR_MEMORY_BYTES: usize = 64 << 20;
/// The memory scan keeps `limit * RESCORE_FACTOR + RESCORE_EXTRA` rows by approximate
/// score, then ranks them by their exact cosine.
const RESCORE_FACTOR: usize = 2;
const RESCORE_EXTRA: usize = 8;

/// The quantized in-memory copy of an index's vectors, reloaded from LMDB the first
/// time it is needed after a write (its LMDB generation tells).
pub(super) struct MemoryCopy {
    /// Indexes whose copy would be larger (one byte per dimension) are searched with arroy.
    max_bytes: usize,
    slot: Mutex<Option<(u64, Arc<QuantizedVectors>)>>,
}

impl MemoryCopy {
    pub fn new(max_bytes: usize) -> MemoryCopy {
        MemoryCopy {
            max_bytes,
            slot: Mutex::new(None),
        }
    }

    /// Whether an index of `items` vectors of `dims` dimensions is scanned in memory.
    fn fits(&self, items: u64, dims: usize) -> bool {
        usize::try_from(items).is_ok_and(|items| items.saturating_mul(dims) <= self.max_bytes)
    }

    /// The copy at `generation`, loading it through `reader` when the held one is older.
    /// Concurrent searches wait for one load rather than each loading.
    fn get(
        &self,
        rtxn: &RoTxn,
        reader: &Reader<'_, Cosine>,
        generation: u64,
    ) -> Result<Arc<QuantizedVectors>, StoreError> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((held, copy)) = slot.as_ref()
            && *held == generation
        {
            return Ok(copy.clone());
        }
        let started = Instant::now();
        let mut copy = QuantizedVectors::new(reader.dimensions());
        for id in reader.item_ids() {
            if let Some(vector) = reader.item_vector(rtxn, id)? {
                copy.push(id, &vector);
            }
        }
        tracing::debug!(vectors = copy.len(), bytes = copy.size_bytes(), elapsed = ?started.elapsed(), "vectors loaded into memory");
        let copy = Arc::new(copy);
        *slot = Some((generation, copy.clone()));
        Ok(copy)
    }
}

/// The `limit` chunks nearest to `query` by cosine similarity (higher is better),
/// among `candidates` when given (the whole index otherwise). `generation` is the
/// LMDB generation `rtxn` reads, which keys `memory`.
///
/// Errors: `Dimension` when `query` does not match the index, `Vector` on LMDB failure.
/// How many vectors the index holds.
///
/// Errors: `Vector` when arroy cannot read its metadata.
pub(super) fn count(rtxn: &RoTxn, db: arroy::Database<'static, Cosine>) -> Result<u64, StoreError> {
    match Reader::<Cosine>::open(rtxn, ARROY_INDEX, db) {
        Ok(reader) => Ok(reader.n_items()),
        Err(arroy::Error::MissingMetadata(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn search(
    rtxn: &RoTxn,
    db: arroy::Database<'static, Cosine>,
    (memory, generation): (&MemoryCopy, u64),
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
    if memory.fits(reader.n_items(), reader.dimensions()) {
        let copy = memory.get(rtxn, &reader, generation)?;
        let shortlist = copy.top(
            query,
            candidates,
            limit.saturating_mul(RESCORE_FACTOR).saturating_add(RESCORE_EXTRA),
        );
        return exact(rtxn, &reader, query, shortlist.into_iter().map(|(id, _)| id), limit);
    }
    if allowed_count <= EXACT_SCAN_MAX {
        let allowed = match candidates {
            Some(candidates) => candidates & reader.item_ids(),
            None => reader.item_ids().clone(),
        };
        return exact(rtxn, &reader, query, allowed.iter(), limit);
    }
    let search_k = limit
        .saturating_mul(reader.n_trees().max(1))
        .saturating_mul(search_k_factor(reader.n_items()));
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

/// The best `limit` of `ids` by exact cosine.
fn exact(
    rtxn: &RoTxn,
    reader: &Reader<'_, Cosine>,
    query: &[f32],
    ids: impl Iterator<Item = ChunkId>,
    limit: usize,
) -> Result<Vec<(ChunkId, f32)>, StoreError> {
    let query_norm = norm(query);
    let mut scored = Vec::with_capacity(ids.size_hint().0);
    for id in ids {
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
    fn search_k_factor_is_8_up_to_100k_and_30_at_1m() {
        assert_eq!(search_k_factor(0), 8);
        assert_eq!(search_k_factor(100_000), 8);
        assert_eq!(search_k_factor(300_000), 15);
        assert_eq!(search_k_factor(1_000_000), 30);
        assert_eq!(search_k_factor(u64::MAX), 64);
    }

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
