//! A persistent cache of embeddings keyed by (embedder id, dimension, text), so
//! re-ingesting unchanged text, rebuilding an index or re-running an evaluation
//! costs no model time. Its own LMDB environment, beside the indexes.

use std::path::Path;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, WithoutTls};
use sha2::{Digest, Sha256};

use super::StoreError;

/// The one database in the cache environment.
const EMBEDDINGS: &str = "embeddings";
/// Address space reserved for the cache; LMDB only uses disk for what is written.
const MAP_SIZE_BYTES: usize = 32 << 30;

/// Cache key: sha256 of the embedder id, the dimension and the text.
pub type CacheKey = [u8; 32];

/// The key of one text for one embedder.
pub fn cache_key(embedder_id: &str, dims: usize, text: &str) -> CacheKey {
    let mut h = Sha256::new();
    h.update(embedder_id.as_bytes());
    h.update([0]);
    h.update((dims as u64).to_le_bytes());
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Embeddings by [`CacheKey`], stored as little-endian `f32`s.
pub struct EmbeddingCache {
    env: Env<WithoutTls>,
    db: Database<'static, Bytes, Bytes>,
}

impl EmbeddingCache {
    /// Open (creating) the cache in `dir`.
    ///
    /// # Errors
    /// `Io` when the directory cannot be created, `Lmdb` when LMDB refuses to open it.
    pub fn open(dir: &Path) -> Result<EmbeddingCache, StoreError> {
        let env = super::lmdb::open_env(dir, MAP_SIZE_BYTES, 1)?;
        let wtxn = env.write_txn()?;
        let created = env.create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
            Ok(CommitOrAbort::<_, ()>::Commit(
                opener.create_database::<Bytes, Bytes>(wtxn, Some(EMBEDDINGS))?,
            ))
        })?;
        match created {
            CommitOrAbort::Commit(db) => Ok(EmbeddingCache { env, db }),
            CommitOrAbort::Abort(()) => Err(StoreError::Corrupt(
                "creating the embedding cache was aborted".to_owned(),
            )),
        }
    }

    /// Look up many keys at once; `None` where absent or unreadable.
    ///
    /// # Errors
    /// `Lmdb` when the read transaction fails.
    pub fn get_many(&self, keys: &[CacheKey]) -> Result<Vec<Option<Vec<f32>>>, StoreError> {
        let rtxn = self.env.read_txn()?;
        keys.iter()
            .map(|k| {
                Ok(self.db.get(&rtxn, k)?.filter(|b| b.len() % 4 == 0).map(|bytes| {
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect()
                }))
            })
            .collect()
    }

    /// Store many embeddings in one transaction.
    ///
    /// # Errors
    /// `Lmdb` when the write fails (e.g. the map is full).
    pub fn put_many(&self, entries: &[(CacheKey, &[f32])]) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut buf = Vec::new();
        for (key, vector) in entries {
            buf.clear();
            buf.extend(vector.iter().flat_map(|v| v.to_le_bytes()));
            self.db.put(&mut wtxn, key, &buf)?;
        }
        wtxn.commit()?;
        Ok(())
    }

    /// Entries in the cache.
    ///
    /// # Errors
    /// `Lmdb` when the read fails.
    pub fn entries(&self) -> Result<u64, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.db.len(&rtxn)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keys_differ_by_embedder_dims_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let cache = EmbeddingCache::open(dir.path()).unwrap();
        let a = cache_key("local/x", 3, "hello");
        let b = cache_key("local/x", 4, "hello");
        let c = cache_key("local/y", 3, "hello");
        let d = cache_key("local/x", 3, "hello!");
        assert_eq!(std::collections::HashSet::from([a, b, c, d]).len(), 4);
        cache.put_many(&[(a, &[1.0, -2.5, 3.25][..])]).unwrap();
        assert_eq!(
            cache.get_many(&[a, b]).unwrap(),
            vec![Some(vec![1.0, -2.5, 3.25]), None]
        );
        drop(cache);
        let cache = EmbeddingCache::open(dir.path()).unwrap();
        assert_eq!(cache.entries().unwrap(), 1);
    }
}
