//! [`QuantizedVectors`]: an in-memory copy of an index's vectors, one signed byte per
//! dimension, scanned with SIMD dot products (simsimd). Below a few hundred thousand
//! vectors a full scan of this copy is faster than walking arroy's trees and, unlike
//! them, never misses a neighbour by more than the quantization error; the store
//! rescores the best rows exactly afterwards (see `vectors::search`).

use roaring::RoaringBitmap;
use simsimd::SpatialSimilarity as _;

use super::ChunkId;

/// Vectors quantized per vector: `v / ‖v‖ ≈ code · scale`, with `code` in `-127..=127`.
/// The cosine of two vectors is then about `dot(code_a, code_b) · scale_a · scale_b`.
pub struct QuantizedVectors {
    dims: usize,
    /// Ascending, so a candidate bitmap can be merged with them in one pass.
    ids: Vec<ChunkId>,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

impl QuantizedVectors {
    /// An empty table for vectors of `dims` dimensions.
    pub fn new(dims: usize) -> QuantizedVectors {
        QuantizedVectors {
            dims,
            ids: Vec::new(),
            codes: Vec::new(),
            scales: Vec::new(),
        }
    }

    /// Appends `vector` for `id`. Ids must come in ascending order and `vector` must
    /// have `dims` values; anything else is skipped (and reported as `false`).
    pub fn push(&mut self, id: ChunkId, vector: &[f32]) -> bool {
        if vector.len() != self.dims || self.ids.last().is_some_and(|&last| last >= id) {
            return false;
        }
        self.ids.push(id);
        self.scales.push(quantize(vector, &mut self.codes));
        true
    }

    /// How many vectors the table holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Bytes held by the vectors (codes and scales).
    pub fn size_bytes(&self) -> usize {
        self.codes.len() + self.scales.len() * size_of::<f32>()
    }

    /// The `limit` ids with the highest approximate cosine to `query`, best first,
    /// among `allowed` when given. A query of the wrong length finds nothing.
    pub fn top(&self, query: &[f32], allowed: Option<&RoaringBitmap>, limit: usize) -> Vec<(ChunkId, f32)> {
        if query.len() != self.dims || limit == 0 {
            return Vec::new();
        }
        let mut codes = Vec::with_capacity(self.dims);
        let query_scale = quantize(query, &mut codes);
        let score = |row: usize| {
            let code = &self.codes[row * self.dims..(row + 1) * self.dims];
            // `None` only for slices of unequal length, which `push` rules out.
            let dot = i8::dot(code, &codes).unwrap_or(0.0) as f32;
            (row, dot * self.scales[row] * query_scale)
        };
        let mut scored: Vec<(usize, f32)> = match allowed {
            None => (0..self.ids.len()).map(score).collect(),
            Some(allowed) => self.rows_in(allowed).map(score).collect(),
        };
        let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit - 1, by_score);
            scored.truncate(limit);
        }
        scored.sort_unstable_by(by_score);
        scored.into_iter().map(|(row, s)| (self.ids[row], s)).collect()
    }

    /// The rows whose id is in `allowed`: both are sorted, so one merge pass.
    fn rows_in<'a>(&'a self, allowed: &'a RoaringBitmap) -> impl Iterator<Item = usize> + 'a {
        let mut row = 0;
        allowed.iter().filter_map(move |id| {
            while self.ids.get(row).is_some_and(|&other| other < id) {
                row += 1;
            }
            (self.ids.get(row) == Some(&id)).then_some(row)
        })
    }
}

/// Appends the codes of `v / ‖v‖` to `codes` and returns their scale (0 for a zero vector).
fn quantize(v: &[f32], codes: &mut Vec<i8>) -> f32 {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if norm <= f32::EPSILON || max <= f32::EPSILON || !norm.is_finite() {
        codes.extend(std::iter::repeat_n(0, v.len()));
        return 0.0;
    }
    let scale = max / norm / 127.0;
    // `x / ‖v‖ / scale` lies in [-127, 127] by construction; the cast saturates anyway.
    codes.extend(v.iter().map(|x| (x / norm / scale).round() as i8));
    scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    /// Deterministic pseudo-random vectors in [-1, 1).
    fn vectors(n: usize, dims: usize) -> Vec<Vec<f32>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                (0..dims)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % 2000) as f32 / 1000.0 - 1.0
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn approximate_cosine_is_close_and_ranks_like_the_exact_one() {
        let data = vectors(500, 384);
        let mut table = QuantizedVectors::new(384);
        for (i, v) in data.iter().enumerate() {
            assert!(table.push(i as ChunkId * 2, v));
        }
        let query = &vectors(501, 384)[500];
        let top = table.top(query, None, 500);
        assert_eq!(top.len(), 500);
        for &(id, approx) in &top {
            let exact = cosine(query, &data[id as usize / 2]);
            assert!((approx - exact).abs() < 0.01, "id {id}: {approx} vs {exact}");
        }
        // The best exact neighbour is among the first few approximate ones.
        let best = (0..data.len())
            .max_by(|&a, &b| cosine(query, &data[a]).total_cmp(&cosine(query, &data[b])))
            .unwrap();
        assert!(top[..3].iter().any(|&(id, _)| id as usize == best * 2));
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn allowed_bitmap_restricts_and_limit_cuts() {
        let data = vectors(100, 8);
        let mut table = QuantizedVectors::new(8);
        for (i, v) in data.iter().enumerate() {
            table.push(i as ChunkId + 10, v);
        }
        let allowed: RoaringBitmap = [3, 10, 11, 57, 109, 110, 500].into_iter().collect();
        let mut ids: Vec<ChunkId> = table.top(&data[0], Some(&allowed), 10).iter().map(|h| h.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, [10, 11, 57, 109]);
        assert_eq!(table.top(&data[0], None, 3).len(), 3);
        assert_eq!(table.top(&data[0], None, 3)[0].0, 10, "a vector is its own nearest");
        assert!(table.top(&data[0], None, 0).is_empty());
        assert!(table.top(&[1.0; 7], None, 3).is_empty(), "wrong dimension");
    }

    #[test]
    fn push_rejects_unordered_ids_and_wrong_dims_and_zero_vectors_score_zero() {
        let mut table = QuantizedVectors::new(3);
        assert!(table.push(5, &[0.0, 0.0, 0.0]));
        assert!(!table.push(5, &[1.0, 0.0, 0.0]));
        assert!(!table.push(6, &[1.0, 0.0]));
        assert!(table.push(7, &[1.0, 2.0, 2.0]));
        assert_eq!(table.len(), 2);
        let top = table.top(&[1.0, 2.0, 2.0], None, 2);
        assert_eq!(top[0].0, 7);
        assert!((top[0].1 - 1.0).abs() < 0.01);
        assert_eq!(top[1], (5, 0.0));
    }
}
