//! The hannoy backend: build, the store's exact scan when arroy does not run, and the ef_search sweep.

use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use heed::CommitOrAbort;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::exact::store_exact_scan;
use crate::lmdb::{data_file_size, open_env};
use crate::measure::{Series, load_avg, measure};
use crate::{Args, Backend, Build, Dataset, Distribution, K, Record, Truth};

#[expect(clippy::too_many_arguments, reason = "benchmark plumbing")]
pub(crate) fn run_hannoy(
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
