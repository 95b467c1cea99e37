//! Measuring a series: latency percentiles, recall@K and the system load.

use std::time::{Duration, Instant};

use crate::{Dataset, Distribution, K, Record, Truth, WARMUP_QUERIES};

pub(crate) struct LatencyStats {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) mean: f64,
}

impl LatencyStats {
    /// Nearest-rank percentiles, in milliseconds.
    pub(crate) fn of(latencies: &mut [Duration]) -> LatencyStats {
        latencies.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let rank = |p: f64| ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        let total: Duration = latencies.iter().sum();
        LatencyStats {
            p50: ms(latencies[rank(0.50)]),
            p99: ms(latencies[rank(0.99)]),
            mean: ms(total) / latencies.len() as f64,
        }
    }
}

/// What a series is called and where it belongs.
pub(crate) struct Series<'a> {
    pub(crate) key: (usize, Distribution),
    pub(crate) backend: &'a str,
    pub(crate) setting: String,
    pub(crate) param: Option<usize>,
    pub(crate) filtered: bool,
}

/// Runs every query through `search` (after a warm-up) and records recall@K and latency.
pub(crate) fn measure(
    data: &Dataset,
    truth: &Truth,
    series: Series<'_>,
    mut search: impl FnMut(&[f32]) -> anyhow::Result<Vec<u32>>,
) -> anyhow::Result<Record> {
    let expected = if series.filtered { &truth.filtered } else { &truth.all };
    for q in 0..WARMUP_QUERIES.min(data.query_count()) {
        search(data.query(q))?;
    }
    let mut latencies = Vec::with_capacity(data.query_count());
    let mut hits = 0usize;
    let mut outside_filter = 0usize;
    for (q, expected) in expected.iter().enumerate() {
        let started = Instant::now();
        let found = search(data.query(q))?;
        latencies.push(started.elapsed());
        hits += found.iter().take(K).filter(|id| expected.contains(id)).count();
        if series.filtered {
            outside_filter += found.iter().filter(|&&id| !data.filter.contains(id)).count();
        }
    }
    if outside_filter > 0 {
        eprintln!(
            "   WARNING: {} returned {outside_filter} ids outside the filter",
            series.backend
        );
    }
    let stats = LatencyStats::of(&mut latencies);
    let record = Record {
        size: series.key.0,
        distribution: series.key.1,
        backend: series.backend.to_owned(),
        setting: series.setting,
        param: series.param,
        filtered: series.filtered,
        candidates: if series.filtered {
            data.filter.len()
        } else {
            data.len() as u64
        },
        recall_at_10: hits as f64 / (expected.len() * K) as f64,
        p50_ms: stats.p50,
        p99_ms: stats.p99,
        mean_ms: stats.mean,
        speedup_p50_vs_exact_scan: None,
    };
    eprintln!(
        "   {:<6} {:<28} {:<8} recall {:.3}  p50 {:>8.3} ms  p99 {:>8.3} ms",
        record.backend,
        record.setting,
        if record.filtered { "filtered" } else { "all" },
        record.recall_at_10,
        record.p50_ms,
        record.p99_ms
    );
    Ok(record)
}

pub(crate) fn load_avg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
