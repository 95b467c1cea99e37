//! Test vectors: synthetic uniform and clustered sets, and real MiniLM vectors of SciFact abstracts.

use std::time::Instant;

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use roaring::RoaringBitmap;
use serde::Deserialize;

use crate::exact::dot;
use crate::{Args, Dataset, Distribution};

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

pub(crate) fn synthetic_dataset(args: &Args, distribution: Distribution, size: usize) -> Dataset {
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
pub(crate) struct MiniLmVectors {
    docs: Vec<Vec<f32>>,
    queries: Vec<Vec<f32>>,
}

pub(crate) fn load_minilm(args: &Args) -> anyhow::Result<MiniLmVectors> {
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
pub(crate) fn minilm_dataset(args: &Args, size: usize, vectors: &MiniLmVectors) -> Dataset {
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
