//! The arroy backend: build, the store's exact and in-memory scans on its environment, and the search_k sweep.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Instant;

use heed::CommitOrAbort;
use ragline::store::QuantizedVectors;
use rand::SeedableRng;
use rand::rngs::StdRng;
use roaring::RoaringBitmap;

use crate::exact::store_exact_scan;
use crate::lmdb::{data_file_size, open_env};
use crate::measure::{Series, load_avg, measure};
use crate::{Args, Backend, Build, Dataset, Distribution, K, Record, Truth};

#[expect(clippy::too_many_arguments, reason = "benchmark plumbing")]
pub(crate) fn run_arroy(
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
