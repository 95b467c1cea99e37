//! Vector-index benchmark: arroy and hannoy against an exact scan.
//!
//! For each size and distribution it generates unit vectors, computes the exact
//! top-10 of every query (in memory), then builds each backend in its own
//! temporary LMDB environment and measures build time, on-disk size, recall@10
//! and per-query latency, unfiltered and with a candidate bitmap of about 10%
//! of the items. The store's own exact scan (every vector read back from LMDB,
//! as `store::vectors` does below its threshold) runs on the arroy environment
//! and is the reference for the speed-up ratios.
//!
//! ```text
//! cargo bench --bench ann -- --sizes 10000,100000 --out ../docs/bench/ann.json
//! ```
//!
//! Results print as a table and, with `--out`, are written as JSON (`--append`
//! keeps the records of other sizes and distributions already in the file).

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use heed::{CommitOrAbort, EnvOpenOptions, WithoutTls};
use ragline::store::QuantizedVectors;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

/// Neighbours asked for and compared (recall@K).
const K: usize = 10;
/// Queries run untimed before each measured series (page cache, branch predictors).
const WARMUP_QUERIES: usize = 10;

/// Benchmark arguments; `cargo bench` appends `--bench`, which is accepted and ignored.
#[derive(Parser, Debug)]
#[command(about = "ANN benchmark: arroy and hannoy against an exact scan")]
struct Args {
    /// Index sizes (number of vectors).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,
    /// Vector distributions.
    #[arg(long, value_delimiter = ',', value_enum, default_value = "uniform,clustered")]
    distributions: Vec<Distribution>,
    /// Backends to run (`exact` is the store's exact scan over LMDB; it needs the arroy environment).
    #[arg(long, value_delimiter = ',', value_enum, default_value = "exact,arroy,hannoy")]
    backends: Vec<Backend>,
    /// Measured queries per setting.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Vector dimension (all-MiniLM-L6-v2 has 384).
    #[arg(long, default_value_t = 384)]
    dims: usize,
    /// Number of clusters of the `clustered` distribution.
    #[arg(long, default_value_t = 1000)]
    clusters: usize,
    /// Norm of the Gaussian offset from a cluster centre, relative to the unit centre.
    #[arg(long, default_value_t = 0.75)]
    cluster_spread: f32,
    /// Share of the items in the candidate bitmap of the filtered searches.
    #[arg(long, default_value_t = 0.1)]
    filter_fraction: f64,
    /// arroy `search_k = 10 * n_trees * factor`; 0 means arroy's default (`10 * n_trees`).
    #[arg(long, value_delimiter = ',', default_value = "0,5,15,50")]
    arroy_factors: Vec<usize>,
    /// arroy trees; 0 lets arroy choose (as the store does).
    #[arg(long, default_value_t = 0)]
    arroy_trees: usize,
    /// hannoy `ef_search` values.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256,512")]
    hannoy_ef: Vec<usize>,
    /// hannoy links per node `M` (8, 16, 24 or 32; layer 0 gets `2 * M`).
    #[arg(long, default_value_t = 16)]
    hannoy_m: usize,
    /// hannoy `ef_construction`.
    #[arg(long, default_value_t = 100)]
    hannoy_ef_construction: usize,
    /// Seed of the data, queries, filter and index builds.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// SciFact corpus (JSON lines) for the `minilm` distribution.
    #[arg(long, default_value = "../../shared/data/scifact/corpus.jsonl")]
    minilm_corpus: PathBuf,
    /// Abstracts embedded as bases of the `minilm` distribution (more are embedded as queries).
    #[arg(long, default_value_t = 1000)]
    minilm_docs: usize,
    /// Relative norm of the noise added to a MiniLM base vector to make up the size.
    #[arg(long, default_value_t = 0.3)]
    minilm_noise: f32,
    /// Characters of each abstract (title, newline, text) that are embedded; embedding
    /// costs about linear time in the length, and these 2 cores embed ~2 full abstracts a second.
    #[arg(long, default_value_t = 200)]
    minilm_chars: usize,
    /// Directory of the cached MiniLM vectors (raw little-endian f32, one file per
    /// abstract count and length).
    #[arg(long, default_value = "../target")]
    minilm_cache_dir: PathBuf,
    /// Directory of the temporary LMDB environments (the system temp dir by default).
    #[arg(long)]
    tmp_dir: Option<PathBuf>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the records of `--out` whose size and distribution this run does not measure.
    #[arg(long)]
    append: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Distribution {
    /// Uniform random unit vectors: no structure, the hardest case for any index.
    Uniform,
    /// Gaussian clusters around uniform random centres, projected on the sphere.
    Clustered,
    /// Real all-MiniLM-L6-v2 vectors of SciFact abstracts, extended by perturbation.
    Minilm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    Exact,
    Arroy,
    Hannoy,
}

/// One measured series: a backend at one setting, filtered or not.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    size: usize,
    distribution: Distribution,
    /// `exact`, `arroy` or `hannoy`.
    backend: String,
    /// Human-readable setting, e.g. `search_k=10*n_trees*15` or `ef=128`.
    setting: String,
    /// The swept number (search_k factor, ef_search), when there is one.
    param: Option<usize>,
    filtered: bool,
    /// Items the search may return (the whole index, or the filter's size).
    candidates: u64,
    recall_at_10: f64,
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
    /// p50 of the store's exact LMDB scan of the same run divided by this p50.
    speedup_p50_vs_exact_scan: Option<f64>,
}

/// One index build.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Build {
    size: usize,
    distribution: Distribution,
    backend: String,
    /// Build parameters, e.g. `n_trees=123` or `M=16 M0=32 ef_construction=100`.
    params: String,
    /// Writing the vectors (`add_item`) before the build.
    add_secs: f64,
    /// The index build itself, including the commit.
    build_secs: f64,
    /// Size of `data.mdb` after the commit.
    disk_bytes: u64,
    /// `/proc/loadavg` (1 min) when the build started and when the series ended.
    load_before: f64,
    load_after: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Report {
    /// How the numbers were produced.
    command: String,
    cores: usize,
    dims: usize,
    queries: usize,
    filter_fraction: f64,
    builds: Vec<Build>,
    results: Vec<Record>,
}

/// Base vectors, held-out queries and the filter, all unit vectors in flat arrays.
struct Dataset {
    dims: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
    filter: RoaringBitmap,
}

impl Dataset {
    fn len(&self) -> usize {
        self.base.len() / self.dims
    }

    fn vector(&self, i: usize) -> &[f32] {
        &self.base[i * self.dims..(i + 1) * self.dims]
    }

    fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * self.dims..(i + 1) * self.dims]
    }

    fn query_count(&self) -> usize {
        self.queries.len() / self.dims
    }
}

/// Exact top-K ids of every query, unfiltered and filtered, and the in-memory scan's latency.
struct Truth {
    all: Vec<Vec<u32>>,
    filtered: Vec<Vec<u32>>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.sizes.is_empty() || args.queries == 0 {
        bail!("--sizes and --queries must not be empty");
    }
    let mut report = Report {
        command: std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect::<Vec<_>>()
            .join(" "),
        cores: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        dims: args.dims,
        queries: args.queries,
        filter_fraction: args.filter_fraction,
        ..Report::default()
    };
    let tmp_root = args.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut minilm: Option<MiniLmVectors> = None;

    for &distribution in &args.distributions {
        for &size in &args.sizes {
            eprintln!("== {size} {distribution:?} vectors, {} dims", args.dims);
            let started = Instant::now();
            let data = match distribution {
                Distribution::Minilm => {
                    if minilm.is_none() {
                        minilm = Some(load_minilm(&args)?);
                    }
                    minilm_dataset(&args, size, minilm.as_ref().expect("loaded above"))
                }
                _ => synthetic_dataset(&args, distribution, size),
            };
            eprintln!(
                "   generated in {:.1}s; exact top-{K} in memory...",
                started.elapsed().as_secs_f64()
            );
            let (truth, in_memory) = ground_truth(&data, size, distribution);
            let mut records = in_memory;
            let mut builds = Vec::new();
            // The store's exact scan runs on the arroy environment, or on hannoy's without arroy.
            let scan = args.backends.contains(&Backend::Exact);
            let arroy = args.backends.contains(&Backend::Arroy);
            if arroy {
                run_arroy(
                    &args,
                    &data,
                    &truth,
                    &tmp_root,
                    (size, distribution),
                    scan,
                    &mut records,
                    &mut builds,
                )?;
            }
            if args.backends.contains(&Backend::Hannoy) || (scan && !arroy) {
                run_hannoy(
                    &args,
                    &data,
                    &truth,
                    &tmp_root,
                    (size, distribution),
                    scan && !arroy,
                    &mut records,
                    &mut builds,
                )?;
            }
            fill_speedups(&mut records);
            print_table(&records, &builds);
            report.results.extend(records);
            report.builds.extend(builds);
            if let Some(out) = &args.out {
                write_report(out, &report, args.append)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- data

/// A standard normal sample (Box–Muller; `1 - u` keeps the logarithm finite).
fn gaussian(rng: &mut StdRng) -> f32 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > f32::EPSILON {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

fn random_unit(rng: &mut StdRng, dims: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dims).map(|_| gaussian(rng)).collect();
    normalize(&mut v);
    v
}

/// `centre + spread * g / sqrt(dims)` on the sphere, `g` standard normal.
fn perturbed(rng: &mut StdRng, centre: &[f32], spread: f32) -> Vec<f32> {
    let scale = spread / (centre.len() as f32).sqrt();
    let mut v: Vec<f32> = centre.iter().map(|c| c + scale * gaussian(rng)).collect();
    normalize(&mut v);
    v
}

fn random_filter(rng: &mut StdRng, size: usize, fraction: f64) -> RoaringBitmap {
    (0..size as u32).filter(|_| rng.random::<f64>() < fraction).collect()
}

fn synthetic_dataset(args: &Args, distribution: Distribution, size: usize) -> Dataset {
    let seed = args.seed ^ (size as u64).rotate_left(32) ^ distribution as u64;
    let mut rng = StdRng::seed_from_u64(seed);
    let dims = args.dims;
    let mut base = Vec::with_capacity(size * dims);
    let mut queries = Vec::with_capacity(args.queries * dims);
    match distribution {
        Distribution::Clustered => {
            let centres: Vec<Vec<f32>> = (0..args.clusters.max(1)).map(|_| random_unit(&mut rng, dims)).collect();
            let draw = |rng: &mut StdRng| {
                let centre = &centres[rng.random_range(0..centres.len())];
                perturbed(rng, centre, args.cluster_spread)
            };
            (0..size).for_each(|_| base.extend(draw(&mut rng)));
            (0..args.queries).for_each(|_| queries.extend(draw(&mut rng)));
        }
        _ => {
            (0..size).for_each(|_| base.extend(random_unit(&mut rng, dims)));
            (0..args.queries).for_each(|_| queries.extend(random_unit(&mut rng, dims)));
        }
    }
    let filter = random_filter(&mut rng, size, args.filter_fraction);
    Dataset {
        dims,
        base,
        queries,
        filter,
    }
}

/// MiniLM vectors of SciFact abstracts: `docs` bases followed by the query abstracts.
struct MiniLmVectors {
    docs: Vec<Vec<f32>>,
    queries: Vec<Vec<f32>>,
}

fn load_minilm(args: &Args) -> anyhow::Result<MiniLmVectors> {
    use ragline::providers::embed::Embedder as _;
    use ragline::providers::embed::local_bert::LocalBert;
    use ragline::providers::embed::model_files;

    let total = args.minilm_docs + args.queries;
    let dims = 384;
    if args.dims != dims {
        bail!("the minilm distribution has {dims} dimensions, not {}", args.dims);
    }
    let split = |flat: Vec<f32>| {
        let mut vectors: Vec<Vec<f32>> = flat.chunks_exact(dims).map(<[f32]>::to_vec).collect();
        let queries = vectors.split_off(args.minilm_docs);
        MiniLmVectors { docs: vectors, queries }
    };
    let cache = args
        .minilm_cache_dir
        .join(format!("ann-minilm-{total}x{}.f32", args.minilm_chars));
    if let Ok(bytes) = std::fs::read(&cache)
        && bytes.len() == total * dims * 4
    {
        eprintln!("   MiniLM vectors from {}", cache.display());
        let flat = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        return Ok(split(flat));
    }

    #[derive(Deserialize)]
    struct Abstract {
        title: String,
        text: String,
    }
    let corpus = std::fs::read_to_string(&args.minilm_corpus)
        .with_context(|| format!("reading {}", args.minilm_corpus.display()))?;
    let texts: Vec<String> = corpus
        .lines()
        .take(total)
        .map(|line| {
            serde_json::from_str::<Abstract>(line).map(|a| {
                format!("{}\n{}", a.title, a.text)
                    .chars()
                    .take(args.minilm_chars)
                    .collect()
            })
        })
        .collect::<Result<_, _>>()?;
    if texts.len() < total {
        bail!(
            "{} has {} abstracts, {total} needed",
            args.minilm_corpus.display(),
            texts.len()
        );
    }
    let cache_dir = model_files::default_cache_dir().context("HOME is not set")?;
    let model = LocalBert::load(&model_files::ensure_minilm(&cache_dir)?)?;
    let started = Instant::now();
    let mut flat = Vec::with_capacity(total * dims);
    for (i, batch) in texts.chunks(32).enumerate() {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        for vector in model.embed(&refs)?.vectors {
            flat.extend(vector);
        }
        eprintln!(
            "   embedded {}/{total} abstracts in {:.0}s",
            ((i + 1) * 32).min(total),
            started.elapsed().as_secs_f64()
        );
    }
    std::fs::create_dir_all(&args.minilm_cache_dir)?;
    let bytes: Vec<u8> = flat.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&cache, bytes)?;
    Ok(split(flat))
}

/// The MiniLM base vectors, then perturbed copies of them up to `size`; the
/// queries are the held-out abstracts.
fn minilm_dataset(args: &Args, size: usize, vectors: &MiniLmVectors) -> Dataset {
    let mut rng = StdRng::seed_from_u64(args.seed ^ size as u64);
    let mut base = Vec::with_capacity(size * args.dims);
    for i in 0..size {
        let doc = &vectors.docs[i % vectors.docs.len()];
        if i < vectors.docs.len() {
            base.extend_from_slice(doc);
        } else {
            base.extend(perturbed(&mut rng, doc, args.minilm_noise));
        }
    }
    let queries = vectors.queries.iter().flatten().copied().collect();
    let filter = random_filter(&mut rng, size, args.filter_fraction);
    Dataset {
        dims: args.dims,
        base,
        queries,
        filter,
    }
}

// ---------------------------------------------------------------- exact

/// Dot product with eight independent accumulators, so the compiler vectorizes it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
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
fn ground_truth(data: &Dataset, size: usize, distribution: Distribution) -> (Truth, Vec<Record>) {
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

// ---------------------------------------------------------------- measuring

struct LatencyStats {
    p50: f64,
    p99: f64,
    mean: f64,
}

impl LatencyStats {
    /// Nearest-rank percentiles, in milliseconds.
    fn of(latencies: &mut [Duration]) -> LatencyStats {
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
struct Series<'a> {
    key: (usize, Distribution),
    backend: &'a str,
    setting: String,
    param: Option<usize>,
    filtered: bool,
}

/// Runs every query through `search` (after a warm-up) and records recall@K and latency.
fn measure(
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

fn load_avg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------- LMDB

/// A fresh LMDB environment in a temporary directory, big enough for the vectors and the index.
fn open_env(
    tmp_root: &Path,
    prefix: &str,
    data: &Dataset,
) -> anyhow::Result<(tempfile::TempDir, heed::Env<WithoutTls>)> {
    std::fs::create_dir_all(tmp_root)?;
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(tmp_root)?;
    let raw = data.base.len() * 4;
    let map_size = (raw * 4 + (1 << 30)).next_multiple_of(1 << 20);
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(map_size).max_dbs(1);
    // SAFETY: the memory map is only unsafe if the file changes behind LMDB's back; the
    // directory is a fresh temporary one that only this environment touches.
    let env = unsafe { options.open(dir.path()) }?;
    Ok((dir, env))
}

fn data_file_size(dir: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(dir.join("data.mdb"))?.len())
}

// ---------------------------------------------------------------- arroy

#[expect(clippy::too_many_arguments, reason = "benchmark plumbing")]
fn run_arroy(
    args: &Args,
    data: &Dataset,
    truth: &Truth,
    tmp_root: &Path,
    key: (usize, Distribution),
    with_exact_scan: bool,
    records: &mut Vec<Record>,
    builds: &mut Vec<Build>,
) -> anyhow::Result<()> {
    use arroy::distances::Cosine;
    use arroy::internals::{KeyCodec, NodeCodec};

    let load_before = load_avg();
    let (dir, env) = open_env(tmp_root, "ann-arroy-", data)?;
    let wtxn = env.write_txn()?;
    let db: arroy::Database<'static, Cosine> = env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
            Ok(CommitOrAbort::<_, ()>::Commit(
                opener.create_database::<KeyCodec, NodeCodec<Cosine>>(wtxn, None)?,
            ))
        })?
        .unwrap_commit();

    eprintln!("   arroy: adding {} vectors...", data.len());
    let started = Instant::now();
    let mut wtxn = env.write_txn()?;
    let writer = arroy::Writer::new(db, 0, data.dims);
    for i in 0..data.len() {
        writer.add_item(&mut wtxn, i as u32, data.vector(i))?;
    }
    let added = started.elapsed();
    eprintln!("   arroy: building (added in {:.1}s)...", added.as_secs_f64());
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut builder = writer.builder(&mut rng);
    if args.arroy_trees > 0 {
        builder.n_trees(args.arroy_trees);
    }
    builder.build(&mut wtxn)?;
    wtxn.commit()?;
    let build_secs = (started.elapsed() - added).as_secs_f64();
    let disk_bytes = data_file_size(dir.path())?;

    let rtxn = env.read_txn()?;
    let reader = arroy::Reader::<Cosine>::open(&rtxn, 0, db)?;
    let n_trees = reader.n_trees();
    eprintln!(
        "   arroy: built in {build_secs:.1}s, {n_trees} trees, {} MB",
        disk_bytes >> 20
    );

    if with_exact_scan {
        for filtered in [false, true] {
            let allowed = if filtered {
                &data.filter & reader.item_ids()
            } else {
                reader.item_ids().clone()
            };
            let series = Series {
                key,
                backend: "exact",
                setting: "LMDB scan (store)".to_owned(),
                param: None,
                filtered,
            };
            records.push(measure(data, truth, series, |query| {
                store_exact_scan(query, &allowed, |id| Ok(reader.item_vector(&rtxn, id)?))
            })?);
        }
        // The store's path for indexes that fit in memory: the quantized copy, loaded
        // from LMDB as the store loads it, shortlists 2·k + 8 ids that are rescored exactly.
        let started = Instant::now();
        let mut table = QuantizedVectors::new(data.dims);
        for id in reader.item_ids() {
            if let Some(vector) = reader.item_vector(&rtxn, id)? {
                table.push(id, &vector);
            }
        }
        eprintln!(
            "   memory copy: {} MB loaded in {:.2}s",
            table.size_bytes() >> 20,
            started.elapsed().as_secs_f64()
        );
        for filtered in [false, true] {
            let series = Series {
                key,
                backend: "exact",
                setting: "memory i8 scan + rescore (store)".to_owned(),
                param: None,
                filtered,
            };
            records.push(measure(data, truth, series, |query| {
                let shortlist = table.top(query, filtered.then_some(&data.filter), 2 * K + 8);
                let ids: RoaringBitmap = shortlist.iter().map(|&(id, _)| id).collect();
                store_exact_scan(query, &ids, |id| Ok(reader.item_vector(&rtxn, id)?))
            })?);
        }
    }
    if args.backends.contains(&Backend::Arroy) {
        for &factor in &args.arroy_factors {
            let search_k = NonZeroUsize::new(K * n_trees * factor);
            let setting = match search_k {
                Some(k) => format!("search_k=10*n_trees*{factor} ({k})"),
                None => format!("search_k=default ({})", K * n_trees),
            };
            for filtered in [false, true] {
                let series = Series {
                    key,
                    backend: "arroy",
                    setting: setting.clone(),
                    param: Some(factor),
                    filtered,
                };
                records.push(measure(data, truth, series, |query| {
                    let mut nns = reader.nns(K);
                    if let Some(search_k) = search_k {
                        nns.search_k(search_k);
                    }
                    if filtered {
                        nns.candidates(&data.filter);
                    }
                    Ok(nns.by_vector(&rtxn, query)?.into_iter().map(|(id, _)| id).collect())
                })?);
            }
        }
    }
    builds.push(Build {
        size: key.0,
        distribution: key.1,
        backend: "arroy".to_owned(),
        params: format!("n_trees={n_trees}"),
        add_secs: added.as_secs_f64(),
        build_secs,
        disk_bytes,
        load_before,
        load_after: load_avg(),
    });
    drop(reader);
    drop(rtxn);
    drop(env);
    dir.close()?;
    Ok(())
}

/// The store's exact path: every allowed vector read back from LMDB, cosine
/// against the query, all scores sorted.
fn store_exact_scan(
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

// ---------------------------------------------------------------- hannoy

#[expect(clippy::too_many_arguments, reason = "benchmark plumbing")]
fn run_hannoy(
    args: &Args,
    data: &Dataset,
    truth: &Truth,
    tmp_root: &Path,
    key: (usize, Distribution),
    with_exact_scan: bool,
    records: &mut Vec<Record>,
    builds: &mut Vec<Build>,
) -> anyhow::Result<()> {
    use hannoy::distances::Cosine;
    use hannoy::internals::{KeyCodec, NodeCodec};

    let load_before = load_avg();
    let (dir, env) = open_env(tmp_root, "ann-hannoy-", data)?;
    let wtxn = env.write_txn()?;
    let db: hannoy::Database<'_, Cosine> = env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
            Ok(CommitOrAbort::<_, ()>::Commit(
                opener.create_database::<KeyCodec, NodeCodec<Cosine>>(wtxn, None)?,
            ))
        })?
        .unwrap_commit();

    eprintln!("   hannoy: adding {} vectors...", data.len());
    let started = Instant::now();
    let mut wtxn = env.write_txn()?;
    let writer = hannoy::Writer::new(db, 0, data.dims);
    for i in 0..data.len() {
        writer.add_item(&mut wtxn, i as u32, data.vector(i))?;
    }
    let added = started.elapsed();
    let m = args.hannoy_m;
    let efc = args.hannoy_ef_construction;
    eprintln!(
        "   hannoy: building M={m} ef_construction={efc} (added in {:.1}s)...",
        added.as_secs_f64()
    );
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut builder = writer.builder(&mut rng);
    builder.ef_construction(efc);
    match m {
        8 => builder.build::<8, 16>(&mut wtxn)?,
        16 => builder.build::<16, 32>(&mut wtxn)?,
        24 => builder.build::<24, 48>(&mut wtxn)?,
        32 => builder.build::<32, 64>(&mut wtxn)?,
        _ => bail!("--hannoy-m must be 8, 16, 24 or 32"),
    }
    wtxn.commit()?;
    let build_secs = (started.elapsed() - added).as_secs_f64();
    let disk_bytes = data_file_size(dir.path())?;
    eprintln!("   hannoy: built in {build_secs:.1}s, {} MB", disk_bytes >> 20);

    let rtxn = env.read_txn()?;
    let reader = hannoy::Reader::<Cosine>::open(&rtxn, 0, db)?;
    if with_exact_scan {
        for filtered in [false, true] {
            let allowed = if filtered {
                &data.filter & reader.item_ids()
            } else {
                reader.item_ids().clone()
            };
            let series = Series {
                key,
                backend: "exact",
                setting: "LMDB scan (store)".to_owned(),
                param: None,
                filtered,
            };
            records.push(measure(data, truth, series, |query| {
                store_exact_scan(query, &allowed, |id| Ok(reader.item_vector(&rtxn, id)?))
            })?);
        }
    }
    let efs: &[usize] = if args.backends.contains(&Backend::Hannoy) {
        &args.hannoy_ef
    } else {
        &[]
    };
    for &ef in efs {
        for filtered in [false, true] {
            let series = Series {
                key,
                backend: "hannoy",
                setting: format!("ef_search={ef}"),
                param: Some(ef),
                filtered,
            };
            records.push(measure(data, truth, series, |query| {
                let mut nns = reader.nns(K);
                nns.ef_search(ef);
                if filtered {
                    nns.candidates(&data.filter);
                }
                Ok(nns
                    .by_vector(&rtxn, query)?
                    .into_nns()
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect())
            })?);
        }
    }
    builds.push(Build {
        size: key.0,
        distribution: key.1,
        backend: "hannoy".to_owned(),
        params: format!("M={m} M0={} ef_construction={efc}", 2 * m),
        add_secs: added.as_secs_f64(),
        build_secs,
        disk_bytes,
        load_before,
        load_after: load_avg(),
    });
    drop(reader);
    drop(rtxn);
    drop(env);
    dir.close()?;
    Ok(())
}

// ---------------------------------------------------------------- output

/// Speed-up of every series against the store's exact LMDB scan of the same size,
/// distribution and filter.
fn fill_speedups(records: &mut [Record]) {
    let reference: Vec<(usize, Distribution, bool, f64)> = records
        .iter()
        .filter(|r| r.backend == "exact" && r.setting.starts_with("LMDB"))
        .map(|r| (r.size, r.distribution, r.filtered, r.p50_ms))
        .collect();
    for record in records.iter_mut() {
        record.speedup_p50_vs_exact_scan = reference
            .iter()
            .find(|(size, distribution, filtered, _)| {
                (*size, *distribution, *filtered) == (record.size, record.distribution, record.filtered)
            })
            .map(|&(_, _, _, p50)| p50 / record.p50_ms);
    }
}

fn print_table(records: &[Record], builds: &[Build]) {
    let mut out = String::new();
    writeln!(
        out,
        "\n{:>8} {:<9} {:<7} {:<30} {:<5} {:>8} {:>9} {:>9} {:>9}",
        "size", "dist", "backend", "setting", "filt", "recall", "p50 ms", "p99 ms", "vs scan"
    )
    .unwrap();
    for r in records {
        let speedup = r
            .speedup_p50_vs_exact_scan
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}x"));
        writeln!(
            out,
            "{:>8} {:<9} {:<7} {:<30} {:<5} {:>8.3} {:>9.3} {:>9.3} {:>9}",
            r.size,
            format!("{:?}", r.distribution).to_lowercase(),
            r.backend,
            r.setting,
            if r.filtered { "10%" } else { "no" },
            r.recall_at_10,
            r.p50_ms,
            r.p99_ms,
            speedup
        )
        .unwrap();
    }
    for b in builds {
        writeln!(
            out,
            "build {:>8} {:<9} {:<7} {:<40} add {:>6.1}s  build {:>7.1}s  disk {:>6} MB  load {:.1}->{:.1}",
            b.size,
            format!("{:?}", b.distribution).to_lowercase(),
            b.backend,
            b.params,
            b.add_secs,
            b.build_secs,
            b.disk_bytes >> 20,
            b.load_before,
            b.load_after
        )
        .unwrap();
    }
    println!("{out}");
}

fn write_report(out: &Path, report: &Report, append: bool) -> anyhow::Result<()> {
    let mut merged = Report {
        command: report.command.clone(),
        cores: report.cores,
        dims: report.dims,
        queries: report.queries,
        filter_fraction: report.filter_fraction,
        builds: report.builds.clone(),
        results: report.results.clone(),
    };
    if append && let Ok(text) = std::fs::read_to_string(out) {
        let old: Report = serde_json::from_str(&text).with_context(|| format!("parsing {}", out.display()))?;
        let same_series = |r: &Record| {
            report.results.iter().any(|n| {
                (n.size, n.distribution, &n.backend, &n.setting, n.filtered)
                    == (r.size, r.distribution, &r.backend, &r.setting, r.filtered)
            })
        };
        let same_build = |b: &Build| {
            report
                .builds
                .iter()
                .any(|n| (n.size, n.distribution, &n.backend) == (b.size, b.distribution, &b.backend))
        };
        merged.command = if old.command.ends_with(&report.command) {
            old.command
        } else {
            format!("{} ; {}", old.command, report.command)
        };
        merged.builds = old.builds.into_iter().filter(|b| !same_build(b)).collect();
        merged.builds.extend(report.builds.iter().cloned());
        merged.results = old.results.into_iter().filter(|r| !same_series(r)).collect();
        merged.results.extend(report.results.iter().cloned());
        merged.results.sort_by(|a, b| {
            (a.size, a.distribution as u8, &a.backend).cmp(&(b.size, b.distribution as u8, &b.backend))
        });
        fill_speedups(&mut merged.results);
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(out, serde_json::to_string_pretty(&merged)? + "\n")?;
    Ok(())
}
