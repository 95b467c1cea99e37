//! Exact search: the in-memory ground truth and the store's exact scan over LMDB.

use std::time::Instant;

use roaring::RoaringBitmap;

use crate::measure::LatencyStats;
use crate::{Dataset, Distribution, K, Record, Truth};

/// Dot product with eight independent accumulators, so the compiler vectorizes it.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (x, y) in a8.iter().zip(b8) {
        for (acc, (x, y)) in acc.iter_mut().zip(x.iter().zip(y)) {
            *acc += x * y;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// The K best `(score, id)` seen so far, best first.
struct TopK(Vec<(f32, u32)>);

impl TopK {
    fn new() -> TopK {
        TopK(Vec::with_capacity(K + 1))
    }

    fn push(&mut self, score: f32, id: u32) {
        if self.0.len() == K && self.0[K - 1].0 >= score {
            return;
        }
        let at = self.0.partition_point(|&(s, _)| s >= score);
        self.0.insert(at, (score, id));
        self.0.truncate(K);
    }

    fn ids(&self) -> Vec<u32> {
        self.0.iter().map(|&(_, id)| id).collect()
    }
}

/// Exact top-K of every query over the in-memory vectors (the ground truth),
/// timed per query as the `exact / in-memory` series.
pub(crate) fn ground_truth(data: &Dataset, size: usize, distribution: Distribution) -> (Truth, Vec<Record>) {
    let scan = |query: &[f32], ids: &mut dyn Iterator<Item = u32>| {
        let mut top = TopK::new();
        for id in ids {
            top.push(dot(query, data.vector(id as usize)), id);
        }
        top.ids()
    };
    let mut truth = Truth {
        all: Vec::new(),
        filtered: Vec::new(),
    };
    let mut records = Vec::new();
    for filtered in [false, true] {
        let mut latencies = Vec::with_capacity(data.query_count());
        let mut tops = Vec::with_capacity(data.query_count());
        for q in 0..data.query_count() {
            let started = Instant::now();
            let top = if filtered {
                scan(data.query(q), &mut data.filter.iter())
            } else {
                scan(data.query(q), &mut (0..data.len() as u32))
            };
            latencies.push(started.elapsed());
            tops.push(top);
        }
        let stats = LatencyStats::of(&mut latencies);
        records.push(Record {
            size,
            distribution,
            backend: "exact".to_owned(),
            setting: "in-memory scan".to_owned(),
            param: None,
            filtered,
            candidates: if filtered { data.filter.len() } else { data.len() as u64 },
            recall_at_10: 1.0,
            p50_ms: stats.p50,
            p99_ms: stats.p99,
            mean_ms: stats.mean,
            speedup_p50_vs_exact_scan: None,
        });
        if filtered {
            truth.filtered = tops;
        } else {
            truth.all = tops;
        }
    }
    (truth, records)
}

/// The store's exact path: every allowed vector read back from LMDB, cosine
/// against the query, all scores sorted.
pub(crate) fn store_exact_scan(
    query: &[f32],
    allowed: &RoaringBitmap,
    item_vector: impl Fn(u32) -> anyhow::Result<Option<Vec<f32>>>,
) -> anyhow::Result<Vec<u32>> {
    let query_norm = dot(query, query).sqrt();
    let mut scored = Vec::with_capacity(allowed.len() as usize);
    for id in allowed {
        if let Some(vector) = item_vector(id)? {
            let norms = query_norm * dot(&vector, &vector).sqrt();
            let score = if norms > f32::EPSILON {
                dot(query, &vector) / norms
            } else {
                0.0
            };
            scored.push((id, score));
        }
    }
    scored.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(scored.into_iter().take(K).map(|(id, _)| id).collect())
}
