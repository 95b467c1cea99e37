//! Retrieve latency excluding embedding: keyword search, vector search with a
//! precomputed query vector, and both plus fusion (what `RetrieveStage::search` does
//! after embedding), each unfiltered and with a filter. The three searches and the
//! two filters are interleaved per query, so machine noise hits them alike.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::stats::{Latency, ratio};
use crate::pipeline::Pipeline;
use crate::store::StoreError;
use crate::vocab::Filter;

/// Target from the issue: hybrid search p50 at most this, in milliseconds.
pub const TARGET_P50_MS: f64 = 1.0;
/// Target from the issue: hybrid search p99 at most this, in milliseconds.
pub const TARGET_P99_MS: f64 = 5.0;

/// Latency of each search on one filter setting.
#[derive(Debug, Clone, Serialize)]
pub struct Searches {
    pub keyword: Latency,
    pub vector: Latency,
    pub hybrid: Latency,
    /// p50 ratios against keyword search.
    pub vector_over_keyword_p50: Option<f64>,
    pub hybrid_over_keyword_p50: Option<f64>,
    /// Whether hybrid meets p50 ≤ 1 ms and p99 ≤ 5 ms.
    pub meets_target: bool,
}

impl Searches {
    fn new(samples: &Samples) -> Searches {
        let keyword = Latency::from_samples(&samples.keyword);
        let vector = Latency::from_samples(&samples.vector);
        let hybrid = Latency::from_samples(&samples.hybrid);
        Searches {
            vector_over_keyword_p50: ratio(vector.p50_ms, keyword.p50_ms),
            hybrid_over_keyword_p50: ratio(hybrid.p50_ms, keyword.p50_ms),
            meets_target: hybrid.p50_ms <= TARGET_P50_MS && hybrid.p99_ms <= TARGET_P99_MS,
            keyword,
            vector,
            hybrid,
        }
    }
}

/// Retrieve latency, unfiltered and filtered.
#[derive(Debug, Clone, Serialize)]
pub struct RetrieveBench {
    /// Hits asked of each search (the pipeline's `candidates`) and kept after fusion (`top_k`).
    pub candidates: usize,
    pub top_k: usize,
    /// Measured passes over the queries (after one warm-up pass).
    pub rounds: usize,
    pub target_p50_ms: f64,
    pub target_p99_ms: f64,
    pub unfiltered: Searches,
    /// The filter used for the filtered case (it matches every document).
    pub filter: std::collections::BTreeMap<String, Vec<String>>,
    pub filtered: Searches,
    /// Filtered p50 over unfiltered p50, per search.
    pub filtered_over_unfiltered_p50: FilterRatios,
}

/// Filtered over unfiltered p50, per search.
#[derive(Debug, Clone, Serialize)]
pub struct FilterRatios {
    pub keyword: Option<f64>,
    pub vector: Option<f64>,
    pub hybrid: Option<f64>,
}

#[derive(Default)]
struct Samples {
    keyword: Vec<Duration>,
    vector: Vec<Duration>,
    hybrid: Vec<Duration>,
}

/// Time the searches for each `(query, vector)` over `rounds` passes after one
/// warm-up pass, on `pipeline`'s index, unfiltered and with `filter`.
///
/// # Errors
/// [`StoreError`] when the index cannot be opened or a search fails.
pub fn measure(
    pipeline: &Pipeline,
    queries: &[(&str, &[f32])],
    filter: &Filter,
    rounds: usize,
) -> Result<RetrieveBench, StoreError> {
    let index = pipeline.index()?;
    let stage = &pipeline.spec.retrieve;
    let candidates = stage.candidates.max(stage.top_k);
    let unfiltered = Filter::default();
    let mut samples = [Samples::default(), Samples::default()];
    for round in 0..=rounds {
        for &(query, vector) in queries {
            for (f, s) in [&unfiltered, filter].into_iter().zip(samples.iter_mut()) {
                let t = Instant::now();
                index.keyword_search(query, f, candidates)?;
                let keyword = t.elapsed();

                let t = Instant::now();
                index.vector_search(vector, f, candidates)?;
                let vector_time = t.elapsed();

                let t = Instant::now();
                let kw = index.keyword_search(query, f, candidates)?;
                let vec = index.vector_search(vector, f, candidates)?;
                let mut fused = stage.fusion.fuse(&kw, &vec);
                fused.truncate(stage.top_k);
                let hybrid = t.elapsed();

                if round > 0 {
                    s.keyword.push(keyword);
                    s.vector.push(vector_time);
                    s.hybrid.push(hybrid);
                }
            }
        }
    }
    let [plain, filtered] = samples;
    let plain = Searches::new(&plain);
    let filtered = Searches::new(&filtered);
    Ok(RetrieveBench {
        candidates,
        top_k: stage.top_k,
        rounds,
        target_p50_ms: TARGET_P50_MS,
        target_p99_ms: TARGET_P99_MS,
        filtered_over_unfiltered_p50: FilterRatios {
            keyword: ratio(filtered.keyword.p50_ms, plain.keyword.p50_ms),
            vector: ratio(filtered.vector.p50_ms, plain.vector.p50_ms),
            hybrid: ratio(filtered.hybrid.p50_ms, plain.hybrid.p50_ms),
        },
        unfiltered: plain,
        filter: filter.fields.clone(),
        filtered,
    })
}
