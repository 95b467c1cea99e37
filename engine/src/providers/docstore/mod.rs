//! Document stores: where the originals live (the source of truth the index is built
//! from). Two backends behind one closed enum: a local directory ([`local`], the
//! default) and S3 ([`s3`], or an S3-compatible server). Uploads are written here
//! first; `ragline sync` lists a store and mirrors it into the index.
//!
//! Keys are relative to the store's root or prefix, `/`-separated, by convention
//! `<domain>/<file name>`. Each object has a version tag (an S3 ETag, a local file's
//! size and mtime) that changes when its content does.

pub mod local;
pub mod location;
pub mod meta;
pub mod s3;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

pub use location::{DirLocation, S3Location, StoreSpec, check_bucket};
pub use meta::ObjectMeta;

use local::LocalStore;
use s3::S3Store;

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Relative to the store's root or prefix.
    pub key: String,
    /// Changes whenever the content does.
    pub version: String,
    pub size: u64,
}

/// An object read whole (never more than the size limit).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub key: String,
    pub bytes: Vec<u8>,
    /// The version of the bytes read (which may be newer than the listing's).
    pub version: String,
    pub meta: ObjectMeta,
}

/// What a write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub version: String,
}

/// What went wrong in a document store.
#[derive(Debug, thiserror::Error)]
pub enum DocStoreError {
    /// The store cannot be reached or failed on its side (connection refused, timeout,
    /// 5xx), or it is not set up (no region, no credentials). Nothing was changed.
    #[error("document store {store} is unavailable: {message}")]
    Unavailable { store: String, message: String },
    /// The credentials were refused or lack a permission.
    #[error("document store {store} denied access: {message}")]
    AccessDenied { store: String, message: String },
    /// The store refused the request for another reason (no such bucket, bad key, ...).
    #[error("document store {store} refused the request: {message}")]
    Rejected { store: String, message: String },
    /// The object disappeared between listing and reading.
    #[error("{key}: not found in {store} (deleted while syncing?)")]
    NotFound { store: String, key: String },
    /// The object is larger than the pipeline's `ingest.max_file_bytes`; it was not read past the limit.
    #[error("too large: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    /// The bytes read do not match the content hash recorded with the object.
    #[error("corrupt: content hash {actual} does not match the object's sha256 metadata {recorded}")]
    HashMismatch { recorded: String, actual: String },
    /// A local file operation failed.
    #[error("I/O on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl DocStoreError {
    /// Whether the error concerns one object only (a sync reports it and goes on), or
    /// the store as a whole (a sync stops; what it committed stays).
    pub fn is_per_object(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. } | Self::TooLarge { .. } | Self::HashMismatch { .. } | Self::Io { .. }
        )
    }
}

/// A document store.
#[derive(Debug)]
pub enum DocStore {
    Local(LocalStore),
    S3(S3Store),
}

impl DocStore {
    /// The store of `spec`; `default_root` and `default_prefix` place the default one.
    /// Builds no client: an S3 client is made on first use.
    pub fn new(spec: &StoreSpec, default_root: &Path, default_prefix: &str) -> DocStore {
        match spec {
            StoreSpec::Default => {
                DocStore::Local(LocalStore::new(default_root.to_path_buf(), default_prefix.to_owned()))
            }
            StoreSpec::Dir(d) => DocStore::Local(LocalStore::new(d.root.clone(), d.source_prefix.clone())),
            StoreSpec::S3(l) => DocStore::S3(S3Store::new(l.clone())),
        }
    }

    /// Where the store is, for messages: `s3://bucket/prefix` or a directory.
    pub fn describe(&self) -> String {
        match self {
            DocStore::Local(s) => s.describe(),
            DocStore::S3(s) => s.describe(),
        }
    }

    /// How the object `key` is named in the index (its document's `source`); the
    /// document id derives from it, so it is stable per key.
    pub fn source(&self, key: &str) -> String {
        match self {
            DocStore::Local(s) => s.source(key),
            DocStore::S3(s) => s.source(key),
        }
    }

    /// The key of the object a document `source` names, when it is in this store.
    pub fn key_of(&self, source: &str) -> Option<String> {
        let key = source.strip_prefix(self.source("").as_str())?;
        (!key.is_empty()).then(|| key.to_owned())
    }

    /// Delete `key`; deleting what is not there succeeds.
    ///
    /// # Errors
    /// [`DocStoreError`] when the store cannot delete it.
    pub async fn delete(&self, key: &str) -> Result<(), DocStoreError> {
        match self {
            DocStore::Local(s) => s.delete(key).await,
            DocStore::S3(s) => s.delete(key).await,
        }
    }

    /// Write `bytes` under `key`, replacing what was there, with `meta`.
    ///
    /// # Errors
    /// [`DocStoreError`]; on error nothing is replaced.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, meta: &ObjectMeta) -> Result<Stored, DocStoreError> {
        match self {
            DocStore::Local(s) => s.put(key, bytes, meta).await,
            DocStore::S3(s) => s.put(key, bytes, meta).await,
        }
    }

    /// Every object whose key starts with `prefix`, sorted by key (all pages).
    ///
    /// # Errors
    /// [`DocStoreError`] when any page cannot be listed: a partial listing is never returned.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, DocStoreError> {
        let mut objects = match self {
            DocStore::Local(s) => s.list(prefix).await?,
            DocStore::S3(s) => s.list(prefix).await?,
        };
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// Read `key` whole, streaming, failing with [`DocStoreError::TooLarge`] as soon as
    /// it is known to exceed `max_bytes`.
    ///
    /// # Errors
    /// [`DocStoreError`]; see [`DocStoreError::is_per_object`].
    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Fetched, DocStoreError> {
        match self {
            DocStore::Local(s) => s.get(key, max_bytes).await,
            DocStore::S3(s) => s.get(key, max_bytes).await,
        }
    }
}

/// The stores pipelines use, made once per process so an S3 client (and its
/// credentials) is reused across requests and reloads.
#[derive(Debug, Default)]
pub struct StoreCache {
    stores: Mutex<HashMap<(StoreSpec, String), Arc<DocStore>>>,
}

impl StoreCache {
    /// The store of pipeline `pipeline` with `spec`; the default store is
    /// `<data_dir>/documents/<pipeline>`, its documents named `upload/<pipeline>/<key>`.
    pub fn get(&self, spec: &StoreSpec, pipeline: &str, data_dir: &Path) -> Arc<DocStore> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        stores
            .entry((spec.clone(), pipeline.to_owned()))
            .or_insert_with(|| {
                let root = data_dir.join("documents").join(pipeline);
                Arc::new(DocStore::new(spec, &root, &format!("upload/{pipeline}/")))
            })
            .clone()
    }
}

/// The key of an uploaded file: `<domain>/<file name>`.
pub fn upload_key(domain: &str, file_name: &str) -> String {
    format!("{domain}/{file_name}")
}
