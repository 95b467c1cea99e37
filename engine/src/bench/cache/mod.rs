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

mod latency;

use super::stats::Latency;
use crate::config::{self, PipelineSpec};
use crate::pipeline::{Pipeline, Query, Resources};
use crate::stages::cache::entry;
use crate::stages::cache::{CacheStage, Status};

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
    let (miss, bypass) = Box::pin(latency::miss(&built, &pairs)).await?;
    let redis = opts.redis.clone();
    let scan = tokio::task::spawn_blocking(move || latency::scans(redis.as_deref())).await??;
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
    let first = Box::pin(pipeline.query(bench_query(&pair.cached, false))).await?;
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
    let second = Box::pin(pipeline.query(bench_query(&pair.asked, false))).await?;
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

/// A query as the bench asks it: as one user (so the A/B split keeps one prompt
/// version), bypassing the cache when `skip_cache`.
pub(super) fn bench_query(text: &str, skip_cache: bool) -> Query {
    Query {
        user: Some("bench".to_owned()),
        skip_cache,
        ..Query::new(text)
    }
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
