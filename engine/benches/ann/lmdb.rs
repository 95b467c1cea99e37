//! Temporary LMDB environments for the index builds and their on-disk size.

use std::path::Path;

use heed::{EnvOpenOptions, WithoutTls};

use crate::Dataset;

/// A fresh LMDB environment in a temporary directory, big enough for the vectors and the index.
pub(crate) fn open_env(
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

pub(crate) fn data_file_size(dir: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(dir.join("data.mdb"))?.len())
}
