//! Latency summaries from timed samples, and ratios between two figures.

use std::time::Duration;

use serde::Serialize;

/// The distribution of one timed operation, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Number of samples.
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Summarise `samples` (any order). Percentiles use the nearest-rank method on the
    /// sorted samples; an empty set gives zeros.
    pub fn from_samples(samples: &[Duration]) -> Latency {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let mean_ms = if ms.is_empty() {
            0.0
        } else {
            ms.iter().sum::<f64>() / ms.len() as f64
        };
        Latency {
            n: ms.len(),
            p50_ms: percentile(&ms, 50.0),
            p99_ms: percentile(&ms, 99.0),
            mean_ms,
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// The `p`th percentile (0 < p ≤ 100) of ascending `sorted` by nearest rank: the
/// smallest sample with at least `p`% of the samples at or below it. Empty gives 0.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `a / b`, or `None` when `b` is not a positive number (so JSON shows `null`, not `inf`).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite()).then_some(a / b)
}

/// `count / seconds`, or 0 for a zero-length interval.
pub fn per_second(count: usize, seconds: f64) -> f64 {
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_known_arrays() {
        let one_to_ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&one_to_ten, 50.0), 5.0);
        assert_eq!(percentile(&one_to_ten, 99.0), 10.0);
        assert_eq!(percentile(&one_to_ten, 100.0), 10.0);
        assert_eq!(percentile(&one_to_ten, 10.0), 1.0);

        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50.0), 50.0);
        assert_eq!(percentile(&hundred, 99.0), 99.0);

        let thousand: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(percentile(&thousand, 99.0), 990.0);

        assert_eq!(percentile(&[7.0], 50.0), 7.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn latency_sorts_unordered_samples() {
        let samples: Vec<Duration> = [5, 1, 4, 2, 3].iter().map(|&ms| Duration::from_millis(ms)).collect();
        let l = Latency::from_samples(&samples);
        assert_eq!(l.n, 5);
        assert!((l.p50_ms - 3.0).abs() < 1e-9);
        assert!((l.p99_ms - 5.0).abs() < 1e-9);
        assert!((l.mean_ms - 3.0).abs() < 1e-9);
        assert!((l.max_ms - 5.0).abs() < 1e-9);
        assert_eq!(Latency::from_samples(&[]).n, 0);
    }

    #[test]
    fn ratios_and_rates_avoid_division_by_zero() {
        assert_eq!(ratio(3.0, 1.5), Some(2.0));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(per_second(10, 2.0), 5.0);
        assert_eq!(per_second(10, 0.0), 0.0);
    }
}
