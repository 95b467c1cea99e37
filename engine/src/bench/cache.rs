//! `ragline bench-cache`: how often the answer cache serves a question it should, and
//! how often one it should not, on the labelled pairs of `data/cache/pairs.jsonl`.
//!
//! Every pair runs from an empty cache through the real query path: the cached
//! question is asked (a miss, stored), then the new one, and its `cache.status` is the
//! outcome. Each variant of the checks runs the same way: as configured, with one
//! check off at a time, and with every check off (the similarity threshold alone).
//! Beside them, plain cosine-threshold caches at 0.8, 0.9 and 0.95 (what GPTCache and
//! semantic-router do), from the cosine similarity of the two questions embedded by
//! the same model in the same run. Two latencies: what the cache step adds to a query
//! that misses (queries with the cache on and bypassed, interleaved), and a lookup's
//! scan of one slot by its size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::stats::Latency;
use crate::config::{self, PipelineSpec};
use crate::pipeline::{Pipeline, Query, Resources};
use crate::stages::Run as _;
use crate::stages::cache::entry::{self, Cached};
use crate::stages::cache::{Backend, CacheStage, Lookup, RedisBackend, Status};
use crate::store::{Index, IndexOptions};

/// The groups whose pairs must hit; every other group must miss.
pub const MUST_HIT: &str = "paraphrase";
/// Cosine thresholds of the plain caches compared.
pub const PLAIN: [f32; 3] = [0.8, 0.9, 0.95];
/// Thresholds ragline's checks are also reported at. The pairs run at the lowest; with
/// one entry in the cache, a pair served there is served at a higher threshold exactly
/// when its cosine similarity reaches it.
pub const SWEEP: [f32; 6] = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8];
/// Slot sizes the scan is timed at.
pub const SLOT_SIZES: [usize; 3] = [100, 1_000, 10_000];
/// Targets of issue 14.
pub const MAX_FALSE_HITS: f64 = 0.005;
pub const MIN_PARAPHRASE_HITS: f64 = 0.6;
pub const MAX_MISS_MS: f64 = 1.0;

/// What to run.
pub struct CacheBenchOptions {
    pub config_dir: PathBuf,
    pub model_dir: PathBuf,
    /// The real embedding cache, so repeated runs embed nothing twice.
    pub embed_cache_dir: PathBuf,
    pub pairs: PathBuf,
    /// Only pairs of this split (`tune`, `test`); default all.
    pub split: Option<String>,
    /// A Redis server to time the scan on as well (its keys are cleared after).
    pub redis: Option<String>,
}

/// One labelled pair, as stored.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pair {
    pub id: String,
    pub group: String,
    pub split: String,
    pub pipeline: String,
    pub cached: String,
    pub asked: String,
}

/// One pair's outcome under every variant.
#[derive(Debug, Clone, Serialize)]
pub struct PairOutcome {
    pub id: String,
    pub group: String,
    pub split: String,
    pub pipeline: String,
    /// Cosine similarity of the two questions.
    pub cosine: f32,
    /// Whether the two went to the same model and prompt version (else their scopes differ).
    pub same_route: bool,
    /// `exact`, `semantic` or `miss` for each variant of the checks.
    pub status: BTreeMap<String, String>,
}

/// Hit rates of one cache.
#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    pub cache: String,
    /// Share of paraphrase pairs served.
    pub paraphrase_hits: f64,
    /// Share of all must-miss pairs served.
    pub false_hits: f64,
    /// Share served in each must-miss group.
    pub false_hits_by_group: BTreeMap<String, f64>,
    /// Paraphrases and must-miss pairs served in each split (`tune`, `test`, `holdout`).
    pub by_split: BTreeMap<String, SplitRates>,
}

/// Hit rates of one cache on one split.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SplitRates {
    pub paraphrase_hits: f64,
    pub false_hits: f64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct CacheBench {
    pub pairs: usize,
    pub split: Option<String>,
    /// Pairs per group.
    pub groups: BTreeMap<String, usize>,
    /// The configured threshold of each pipeline's cache.
    pub thresholds: BTreeMap<String, f32>,
    /// ragline's variants first, then the plain caches.
    pub rates: Vec<Rates>,
    /// Paraphrases whose two questions were routed differently (never served: the scopes differ).
    pub paraphrases_routed_apart: usize,
    /// Queries that missed with the cache on, and the same queries bypassing it, interleaved.
    pub miss: Latency,
    pub bypass: Latency,
    /// `miss.p50_ms - bypass.p50_ms`.
    pub miss_added_p50_ms: f64,
    /// One lookup's time (a miss) by entries in the slot, per backend.
    pub scan: BTreeMap<String, Vec<(usize, Latency)>>,
    /// The pairs the configured cache got wrong (a paraphrase not served, a must-miss
    /// served), with every variant's status; the rest are left out to keep the file small.
    pub wrong: Vec<PairOutcome>,
    pub meets_target: bool,
}

/// The variants of the checks run, by name, from a pipeline's configured stage.
fn variants(base: &CacheStage) -> Vec<(&'static str, CacheStage)> {
    let off = |f: fn(&mut CacheStage)| {
        let mut s = base.clone();
        f(&mut s);
        s
    };
    vec![
        ("ragline", base.clone()),
        ("without polarity", off(|s| s.checks.polarity = false)),
        ("without numbers", off(|s| s.checks.numbers = false)),
        ("without entities", off(|s| s.checks.entities = false)),
        ("without sources", off(|s| s.min_source_overlap = 0.0)),
        ("without coverage", off(|s| s.min_coverage = 0.0)),
        (
            "threshold only",
            off(|s| {
                s.checks.polarity = false;
                s.checks.numbers = false;
                s.checks.entities = false;
                s.sources = 0;
            }),
        ),
    ]
}

/// Read the pairs file.
///
/// # Errors
/// When it cannot be read or a line is not a pair.
pub fn load_pairs(path: &Path) -> anyhow::Result<Vec<Pair>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1)))
        .collect()
}

/// Run the benchmark (async: the queries run through [`Pipeline::query`]).
///
/// # Errors
/// When the config, the pairs or the index cannot be loaded, or a query fails.
pub async fn run(opts: &CacheBenchOptions) -> anyhow::Result<CacheBench> {
    let mut pairs = load_pairs(&opts.pairs)?;
    if let Some(split) = &opts.split {
        pairs.retain(|p| &p.split == split);
    }
    let data = tempfile::tempdir()?;
    let resources = Arc::new(Resources::with_cache_dir(
        data.path().to_owned(),
        opts.model_dir.clone(),
        opts.embed_cache_dir.clone(),
    ));
    let specs: BTreeMap<String, PipelineSpec> = config::load_dir(&opts.config_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut thresholds = BTreeMap::new();
    for p in &pairs {
        let spec = specs
            .get(&p.pipeline)
            .ok_or_else(|| anyhow::anyhow!("pair {}: no pipeline `{}`", p.id, p.pipeline))?;
        let stage = spec
            .cache
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("pipeline `{}` has no cache: section", p.pipeline))?;
        thresholds.insert(p.pipeline.clone(), stage.similarity);
    }
    for name in thresholds.keys() {
        let pipeline = Pipeline::new(specs[name].clone(), resources.clone());
        let base = opts.config_dir.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let inputs = pipeline.source_inputs(&base)?;
            pipeline.ingest(inputs, &mut |_| {})?;
            Ok(())
        })
        .await??;
    }
    // Every variant of every pipeline, built once.
    let mut built: BTreeMap<(String, &'static str), Arc<Pipeline>> = BTreeMap::new();
    for name in thresholds.keys() {
        let spec = &specs[name];
        for (variant, mut stage) in variants(spec.cache.as_ref().unwrap_or(&CacheStage::default())) {
            stage.similarity = SWEEP[0];
            let mut spec = spec.clone();
            spec.cache = Some(stage);
            built.insert(
                (name.clone(), variant),
                Arc::new(Pipeline::new(spec, resources.clone())),
            );
        }
    }
    let mut outcomes = Vec::with_capacity(pairs.len());
    for (i, pair) in pairs.iter().enumerate() {
        if i % 50 == 0 {
            eprintln!("pairs {i}/{}", pairs.len());
        }
        let mut status = BTreeMap::new();
        let mut same_route = true;
        for (variant, _) in variants(&CacheStage::default()) {
            let pipeline = &built[&(pair.pipeline.clone(), variant)];
            let (st, same) = Box::pin(run_pair(pipeline, pair)).await?;
            same_route &= same;
            status.insert(variant.to_owned(), st.as_str().to_owned());
        }
        let pipeline = &built[&(pair.pipeline.clone(), "ragline")];
        let cosine = cosine_of(pipeline, &pair.cached, &pair.asked).await?;
        outcomes.push(PairOutcome {
            id: pair.id.clone(),
            group: pair.group.clone(),
            split: pair.split.clone(),
            pipeline: pair.pipeline.clone(),
            cosine,
            same_route,
            status,
        });
    }
    let (miss, bypass) = Box::pin(miss_latency(&built, &pairs)).await?;
    let redis = opts.redis.clone();
    let scan = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let dir = tempfile::tempdir()?;
        let index = Index::open(dir.path(), &IndexOptions::default())?;
        let mut scan = BTreeMap::from([("embedded".to_owned(), scan_latency(&index, false)?)]);
        if let Some(url) = redis {
            // Each replica's copy of a slot is current until a write; one is timed with
            // the copy current, one with a write before every lookup (a reload each time).
            for (name, write) in [("redis", false), ("redis, written between lookups", true)] {
                let backend = RedisBackend::new(&url, Duration::from_secs(10))?;
                let timed = scan_latency(&backend, write);
                backend.clear(&SCAN_SLOT[..8].try_into()?)?;
                scan.insert(name.to_owned(), timed?);
            }
        }
        Ok(scan)
    })
    .await??;
    Ok(summarize(
        pairs.len(),
        opts.split.clone(),
        thresholds,
        outcomes,
        miss,
        bypass,
        scan,
    ))
}

/// One pair from an empty cache: the status the new question met, and whether both
/// were routed alike.
async fn run_pair(pipeline: &Arc<Pipeline>, pair: &Pair) -> anyhow::Result<(Status, bool)> {
    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || p.clear_cache()).await??;
    let ask = |text: &str| Query {
        user: Some("bench".to_owned()),
        ..Query::new(text)
    };
    let first = Box::pin(pipeline.query(ask(&pair.cached))).await?;
    let index = pipeline.index()?;
    let group = entry::group(&pipeline.spec.name);
    let deadline = Instant::now() + Duration::from_secs(10);
    while index.answers().count(&group)? == 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "pair {}: the first answer was never stored",
            pair.id
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let second = Box::pin(pipeline.query(ask(&pair.asked))).await?;
    // A miss is stored after the response: wait for it, so it cannot land in the next
    // pair's empty cache (an answer that may not be stored gives up after a second).
    if second.cache.status == Status::Miss {
        let deadline = Instant::now() + Duration::from_secs(1);
        while index.answers().count(&group)? < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let same = first.route.model == second.route.model && first.route.prompt_version == second.route.prompt_version;
    Ok((second.cache.status, same))
}

async fn cosine_of(pipeline: &Arc<Pipeline>, a: &str, b: &str) -> anyhow::Result<f32> {
    let (p, a, b) = (pipeline.clone(), a.to_owned(), b.to_owned());
    tokio::task::spawn_blocking(move || -> anyhow::Result<f32> {
        let e = p.embedder()?.embed(&[&a, &b])?;
        let (x, y) = (entry::unit(&e.vectors[0]), entry::unit(&e.vectors[1]));
        Ok(x.iter().zip(&y).map(|(x, y)| x * y).sum())
    })
    .await?
}

/// The must-miss questions asked twice each, once with the cache (after filling it with
/// every cached question of the pipeline) and once bypassing it, the order alternating.
/// Only queries that missed count.
async fn miss_latency(
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

fn bench_query(text: &str, skip_cache: bool) -> Query {
    Query {
        user: Some("bench".to_owned()),
        skip_cache,
        ..Query::new(text)
    }
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

fn summarize(
    n: usize,
    split: Option<String>,
    thresholds: BTreeMap<String, f32>,
    outcomes: Vec<PairOutcome>,
    miss: Latency,
    bypass: Latency,
    scan: BTreeMap<String, Vec<(usize, Latency)>>,
) -> CacheBench {
    let mut groups = BTreeMap::new();
    for o in &outcomes {
        *groups.entry(o.group.clone()).or_insert(0) += 1;
    }
    let splits: std::collections::BTreeSet<String> = outcomes.iter().map(|o| o.split.clone()).collect();
    let rate = |name: String, hit: &dyn Fn(&PairOutcome) -> bool| {
        let share = |of: &dyn Fn(&PairOutcome) -> bool| {
            let all: Vec<&PairOutcome> = outcomes.iter().filter(|o| of(o)).collect();
            let hits = all.iter().filter(|o| hit(o)).count();
            if all.is_empty() {
                0.0
            } else {
                hits as f64 / all.len() as f64
            }
        };
        let by_group = groups
            .keys()
            .filter(|g| *g != MUST_HIT)
            .map(|g| (g.clone(), share(&|o| &o.group == g)))
            .collect();
        let by_split = splits
            .iter()
            .map(|s| {
                let rates = SplitRates {
                    paraphrase_hits: share(&|o| o.group == MUST_HIT && &o.split == s),
                    false_hits: share(&|o| o.group != MUST_HIT && &o.split == s),
                };
                (s.clone(), rates)
            })
            .collect();
        Rates {
            cache: name,
            paraphrase_hits: share(&|o| o.group == MUST_HIT),
            false_hits: share(&|o| o.group != MUST_HIT),
            false_hits_by_group: by_group,
            by_split,
        }
    };
    let served = |o: &PairOutcome, variant: &str, t: f32| {
        o.status[variant] == "exact" || (o.status[variant] == "semantic" && o.cosine >= t)
    };
    let mut rates = Vec::new();
    for (variant, _) in variants(&CacheStage::default()) {
        rates.push(rate(variant.to_owned(), &|o| {
            served(o, variant, thresholds[&o.pipeline])
        }));
    }
    for t in SWEEP {
        rates.push(rate(format!("ragline at {t}"), &|o| served(o, "ragline", t)));
    }
    for t in PLAIN {
        rates.push(rate(format!("plain cosine ≥ {t}"), &|o| o.cosine >= t));
    }
    let paraphrases_routed_apart = outcomes.iter().filter(|o| o.group == MUST_HIT && !o.same_route).count();
    let miss_added_p50_ms = miss.p50_ms - bypass.p50_ms;
    let ours = &rates[0];
    let meets_target = ours.false_hits <= MAX_FALSE_HITS
        && ours.paraphrase_hits >= MIN_PARAPHRASE_HITS
        && miss_added_p50_ms <= MAX_MISS_MS;
    let wrong = outcomes
        .into_iter()
        .filter(|o| served(o, "ragline", thresholds[&o.pipeline]) != (o.group == MUST_HIT))
        .collect();
    CacheBench {
        pairs: n,
        split,
        groups,
        thresholds,
        rates,
        paraphrases_routed_apart,
        miss,
        bypass,
        miss_added_p50_ms,
        scan,
        wrong,
        meets_target,
    }
}
