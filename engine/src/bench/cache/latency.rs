//! What the cache costs in time: a miss against a bypass through the real query path,
//! and one lookup's scan by the entries in its slot, per backend.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{MUST_HIT, Pair, SLOT_SIZES, bench_query};
use crate::bench::stats::Latency;
use crate::pipeline::Pipeline;
use crate::stages::Run as _;
use crate::stages::cache::entry::{self, Cached};
use crate::stages::cache::{Backend, CacheStage, Lookup, RedisBackend, Status};
use crate::store::{Index, IndexOptions};

/// The must-miss questions asked twice each, once with the cache (after filling it with
/// every cached question of the pipeline) and once bypassing it, the order alternating.
/// Only queries that missed count.
pub(super) async fn miss(
    built: &BTreeMap<(String, &'static str), Arc<Pipeline>>,
    pairs: &[Pair],
) -> anyhow::Result<(Latency, Latency)> {
    let (mut miss, mut bypass) = (Vec::new(), Vec::new());
    for ((name, variant), pipeline) in built {
        if *variant != "ragline" {
            continue;
        }
        let mine: Vec<&Pair> = pairs.iter().filter(|p| &p.pipeline == name).collect();
        let p = pipeline.clone();
        tokio::task::spawn_blocking(move || p.clear_cache()).await??;
        for pair in &mine {
            Box::pin(pipeline.query(bench_query(&pair.cached, false))).await?;
        }
        for (i, pair) in mine.iter().filter(|p| p.group != MUST_HIT).enumerate() {
            let mut timed = Vec::new();
            for skip in if i % 2 == 0 { [true, false] } else { [false, true] } {
                let started = Instant::now();
                let answer = Box::pin(pipeline.query(bench_query(&pair.asked, skip))).await?;
                timed.push((skip, started.elapsed(), answer.cache.status));
            }
            if timed.iter().any(|(skip, _, st)| !skip && *st == Status::Miss) {
                for (skip, took, _) in timed {
                    if skip { bypass.push(took) } else { miss.push(took) }
                }
            }
        }
    }
    Ok((Latency::from_samples(&miss), Latency::from_samples(&bypass)))
}

/// The slot the scan is timed on.
const SCAN_SLOT: [u8; 32] = [7; 32];

/// A lookup that misses, on a slot of each size in [`SLOT_SIZES`] (384 dimensions,
/// answers of about 2 KB, as MiniLM and the demo give); with `write`, one entry is
/// stored again (untimed) before each lookup.
fn scan_latency(backend: &dyn Backend, write: bool) -> anyhow::Result<Vec<(usize, Latency)>> {
    let stage = CacheStage::default();
    let slot = SCAN_SLOT;
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut vector = || -> Vec<f32> {
        let v: Vec<f32> = (0..384)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        entry::unit(&v)
    };
    let cached = Cached {
        question: "How many vacation days do employees get?".to_owned(),
        text: "x".repeat(2000),
        sources: Vec::new(),
        saved_usd: 0.0,
    };
    let now = crate::pipeline::now_ms();
    let mut out = Vec::new();
    let mut stored = 0;
    for size in SLOT_SIZES {
        while stored < size {
            let value = entry::encode(now, &vector(), &cached)?;
            let mut key = [0; 16];
            key[..8].copy_from_slice(&(stored as u64).to_le_bytes());
            backend.put(&slot, &key, &value, stage.ttl_ms)?;
            stored += 1;
        }
        let mut samples = Vec::new();
        for _ in 0..200 {
            if write {
                backend.put(&slot, &[0; 16], &entry::encode(now, &vector(), &cached)?, stage.ttl_ms)?;
            }
            let probe = vector();
            let started = Instant::now();
            let found = stage.run(Lookup {
                backend,
                slot,
                question: "Something nobody asked?",
                vector: Some(&probe),
                fresh: &[],
                now_ms: now,
            })?;
            samples.push(started.elapsed());
            anyhow::ensure!(found.hit.is_none(), "random vectors should not hit");
        }
        out.push((size, Latency::from_samples(&samples)));
    }
    Ok(out)
}

/// One lookup's time by slot size on the embedded backend and, given `redis`, on Redis
/// (blocking).
pub(super) fn scans(redis: Option<&str>) -> anyhow::Result<BTreeMap<String, Vec<(usize, Latency)>>> {
    let dir = tempfile::tempdir()?;
    let index = Index::open(dir.path(), &IndexOptions::default())?;
    let mut scan = BTreeMap::from([("embedded".to_owned(), scan_latency(&index, false)?)]);
    if let Some(url) = redis {
        // Each replica's copy of a slot is current until a write; one is timed with
        // the copy current, one with a write before every lookup (a reload each time).
        for (name, write) in [("redis", false), ("redis, written between lookups", true)] {
            let backend = RedisBackend::new(url, Duration::from_secs(10))?;
            let timed = scan_latency(&backend, write);
            backend.clear(&SCAN_SLOT[..8].try_into()?)?;
            scan.insert(name.to_owned(), timed?);
        }
    }
    Ok(scan)
}
