//! The two-sample statistics drift is judged by, each with a threshold from the same
//! label permutations: under "both windows come from one distribution" every
//! relabelling is as likely as the real one, so the `1 - alpha` quantile of a statistic
//! over random relabellings is a threshold that the real statistic exceeds with
//! probability about `alpha` when nothing drifted.
//!
//! - embeddings: the unbiased MMD² with a Gaussian kernel (bandwidth by the median
//!   heuristic), and the distance between the window centroids;
//! - the domain mix: the population stability index (PSI) of the top sources' domains;
//! - coverage: the share of queries whose nearest chunk is below the threshold.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Permutations per test: enough for a 0.01 quantile, fast for windows of hundreds.
pub const PERMUTATIONS: usize = 200;
/// PSI below this is never called drift, however small the windows' noise: the usual
/// "no significant change" line.
pub const PSI_FLOOR: f64 = 0.1;
/// Smoothing of empty PSI bins.
const PSI_EPSILON: f64 = 1e-4;

/// One query as the statistics see it.
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    pub vector: &'a [f32],
    /// The domain of its best source (`None`: nothing found).
    pub domain: Option<&'a str>,
    /// Out of coverage: its nearest chunk was below the coverage threshold.
    pub uncovered: bool,
}

/// A statistic's value on the real windows and its permutation threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tested {
    pub score: f64,
    pub threshold: f64,
}

impl Tested {
    pub fn drifted(&self) -> bool {
        self.score > self.threshold
    }
}

/// The four signals of a baseline and a recent window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signals {
    pub embedding_mmd: Tested,
    pub embedding_centroid: Tested,
    pub domain_psi: Tested,
    /// The recent window's share out of coverage; its threshold is the baseline's share
    /// plus the permutation quantile of the difference.
    pub out_of_coverage: Tested,
}

/// Compare `recent` with `baseline` at false-alarm level `alpha`, with permutations
/// drawn from `seed` (so a report can be reproduced).
pub fn compare(baseline: &[Sample<'_>], recent: &[Sample<'_>], alpha: f64, seed: u64) -> Signals {
    let pooled: Vec<&Sample<'_>> = baseline.iter().chain(recent).collect();
    let n = baseline.len();
    let kernel = Kernel::new(&pooled);
    let domains = domain_ids(&pooled);
    let observed: Vec<usize> = (0..pooled.len()).collect();
    let stats = |order: &[usize]| -> [f64; 4] {
        let (b, r) = order.split_at(n);
        [
            kernel.mmd2(b, r),
            centroid_distance(&pooled, b, r),
            psi(&domains, b, r),
            share(&pooled, r) - share(&pooled, b),
        ]
    };
    let real = stats(&observed);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order = observed;
    let mut permuted: [Vec<f64>; 4] = Default::default();
    for _ in 0..PERMUTATIONS {
        order.shuffle(&mut rng);
        for (all, v) in permuted.iter_mut().zip(stats(&order)) {
            all.push(v);
        }
    }
    let [mmd, centroid, psi_null, coverage] = permuted.map(|mut v| quantile(&mut v, 1.0 - alpha));
    let baseline_share = share(&pooled, &(0..n).collect::<Vec<_>>());
    Signals {
        embedding_mmd: Tested {
            score: real[0],
            threshold: mmd,
        },
        embedding_centroid: Tested {
            score: real[1],
            threshold: centroid,
        },
        domain_psi: Tested {
            score: real[2],
            threshold: psi_null.max(PSI_FLOOR),
        },
        out_of_coverage: Tested {
            score: baseline_share + real[3],
            threshold: baseline_share + coverage,
        },
    }
}

/// The Gaussian kernel matrix of the pooled vectors.
struct Kernel {
    n: usize,
    k: Vec<f64>,
}

impl Kernel {
    fn new(samples: &[&Sample<'_>]) -> Kernel {
        let n = samples.len();
        let mut d2 = vec![0.0f64; n * n];
        for i in 0..n {
            for j in (i + 1)..n {
                let d = squared_distance(samples[i].vector, samples[j].vector);
                d2[i * n + j] = d;
                d2[j * n + i] = d;
            }
        }
        // Median heuristic: the kernel's width is the median pairwise distance.
        let mut upper: Vec<f64> = (0..n)
            .flat_map(|i| ((i + 1)..n).map(move |j| (i, j)))
            .map(|(i, j)| d2[i * n + j])
            .collect();
        let median = if upper.is_empty() {
            1.0
        } else {
            quantile(&mut upper, 0.5)
        };
        let width = if median > 0.0 { median } else { 1.0 };
        let k = d2.iter().map(|d| (-d / (2.0 * width)).exp()).collect();
        Kernel { n, k }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.k[i * self.n + j]
    }

    /// The unbiased MMD² between the samples at `x` and at `y`.
    fn mmd2(&self, x: &[usize], y: &[usize]) -> f64 {
        let within = |s: &[usize]| {
            let m = s.len() as f64;
            if m < 2.0 {
                return 0.0;
            }
            let mut sum = 0.0;
            for (a, &i) in s.iter().enumerate() {
                for &j in &s[a + 1..] {
                    sum += self.at(i, j);
                }
            }
            2.0 * sum / (m * (m - 1.0))
        };
        let mut across = 0.0;
        for &i in x {
            for &j in y {
                across += self.at(i, j);
            }
        }
        let across = if x.is_empty() || y.is_empty() {
            0.0
        } else {
            across / (x.len() * y.len()) as f64
        };
        within(x) + within(y) - 2.0 * across
    }
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
}

/// The Euclidean distance between the means of the samples at `x` and at `y`.
fn centroid_distance(samples: &[&Sample<'_>], x: &[usize], y: &[usize]) -> f64 {
    let dims = samples.first().map_or(0, |s| s.vector.len());
    let mean = |ids: &[usize]| {
        let mut m = vec![0.0f64; dims];
        for &i in ids {
            for (acc, v) in m.iter_mut().zip(samples[i].vector) {
                *acc += f64::from(*v);
            }
        }
        let n = ids.len().max(1) as f64;
        m.iter_mut().for_each(|v| *v /= n);
        m
    };
    let (a, b) = (mean(x), mean(y));
    a.iter().zip(&b).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt()
}

/// Each sample's domain as a small integer (`None` is a domain of its own).
fn domain_ids(samples: &[&Sample<'_>]) -> (Vec<usize>, usize) {
    let mut names: Vec<Option<&str>> = Vec::new();
    let ids = samples
        .iter()
        .map(|s| match names.iter().position(|n| *n == s.domain) {
            Some(i) => i,
            None => {
                names.push(s.domain);
                names.len() - 1
            }
        })
        .collect();
    (ids, names.len())
}

/// PSI of the domain mix at `y` against the mix at `x`.
fn psi((ids, bins): &(Vec<usize>, usize), x: &[usize], y: &[usize]) -> f64 {
    let shares = |s: &[usize]| {
        let mut counts = vec![0.0f64; *bins];
        for &i in s {
            counts[ids[i]] += 1.0;
        }
        let n = s.len().max(1) as f64;
        counts.into_iter().map(move |c| (c / n).max(PSI_EPSILON))
    };
    shares(x).zip(shares(y)).map(|(b, r)| (r - b) * (r / b).ln()).sum()
}

/// The share of the samples at `ids` out of coverage.
fn share(samples: &[&Sample<'_>], ids: &[usize]) -> f64 {
    if ids.is_empty() {
        return 0.0;
    }
    ids.iter().filter(|&&i| samples[i].uncovered).count() as f64 / ids.len() as f64
}

/// The `q` quantile of `values` (nearest rank); sorts them.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt as _;

    /// Unit vectors around `center` with noise `spread`.
    fn cloud(rng: &mut StdRng, center: &[f32], spread: f32, n: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| {
                let mut v: Vec<f32> = center
                    .iter()
                    .map(|c| c + spread * (rng.random::<f32>() - 0.5))
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect()
    }

    fn samples<'a>(vs: &'a [Vec<f32>], domain: &'a str, uncovered_every: usize) -> Vec<Sample<'a>> {
        vs.iter()
            .enumerate()
            .map(|(i, v)| Sample {
                vector: v,
                domain: Some(domain),
                uncovered: uncovered_every > 0 && i % uncovered_every == 0,
            })
            .collect()
    }

    #[test]
    fn windows_from_one_distribution_rarely_drift_and_a_shift_always_does() {
        let mut rng = StdRng::seed_from_u64(7);
        let a: Vec<f32> = (0..16).map(|i| if i < 8 { 1.0 } else { 0.2 }).collect();
        let b: Vec<f32> = (0..16).map(|i| if i < 8 { 0.2 } else { 1.0 }).collect();
        let mut false_alarms = 0;
        let trials = 40;
        for t in 0..trials {
            let base = cloud(&mut rng, &a, 1.0, 60);
            let same = cloud(&mut rng, &a, 1.0, 60);
            let s = compare(&samples(&base, "hr", 5), &samples(&same, "hr", 5), 0.01, t);
            let any = [s.embedding_mmd, s.embedding_centroid, s.domain_psi, s.out_of_coverage]
                .iter()
                .any(Tested::drifted);
            false_alarms += usize::from(any);
        }
        // Four tests at 0.01: about 4% expected; allow noise, never most.
        assert!(false_alarms <= 6, "{false_alarms} of {trials} false alarms");

        let base = cloud(&mut rng, &a, 1.0, 60);
        let moved = cloud(&mut rng, &b, 1.0, 60);
        let s = compare(&samples(&base, "hr", 5), &samples(&moved, "legal", 2), 0.01, 1);
        assert!(s.embedding_mmd.drifted(), "{s:?}");
        assert!(s.embedding_centroid.drifted(), "{s:?}");
        assert!(s.domain_psi.drifted(), "{s:?}");
        assert!(s.out_of_coverage.drifted(), "{s:?}");
        assert!((s.out_of_coverage.score - 0.5).abs() < 1e-9);
    }

    #[test]
    fn psi_of_a_known_mix() {
        let v = vec![0.0f32; 2];
        let mk = |d: &'static str| Sample {
            vector: &v,
            domain: Some(d),
            uncovered: false,
        };
        let pooled: Vec<Sample<'_>> = ["hr", "hr", "hr", "legal", "hr", "legal", "legal", "legal"]
            .map(mk)
            .to_vec();
        let refs: Vec<&Sample<'_>> = pooled.iter().collect();
        let ids = domain_ids(&refs);
        // Baseline 75/25, recent 25/75: 2 × 0.5 × ln 3.
        let value = psi(&ids, &[0, 1, 2, 3], &[4, 5, 6, 7]);
        assert!((value - 3f64.ln()).abs() < 1e-9, "{value}");
    }
}
