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

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use clap::{Parser, ValueEnum};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

mod arroy_index;
mod data;
mod exact;
mod hannoy_index;
mod lmdb;
mod measure;
mod report;

use arroy_index::run_arroy;
use data::{MiniLmVectors, load_minilm, minilm_dataset, synthetic_dataset};
use exact::ground_truth;
use hannoy_index::run_hannoy;
use report::{fill_speedups, print_table, write_report};

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
