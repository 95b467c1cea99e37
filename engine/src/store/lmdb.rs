//! The LMDB environment: every database name, their creation in one write
//! transaction, and typed access to the small values kept in `meta`.

use std::path::Path;

use arroy::distances::Cosine;
use arroy::internals::{KeyCodec, NodeCodec};
use heed::byteorder::BigEndian;
use heed::types::{Bytes, SerdeJson, Str, U32, U64};
use heed::{CommitOrAbort, RoTxn, RwTxn, WithoutTls};
use roaring::RoaringBitmap;

use super::{ChunkId, ChunkRecord, DocumentRecord, EmbedderInfo, StoreError};

/// Document id → document record.
const DOCUMENTS: &str = "documents";
/// Chunk id (u32 big-endian) → chunk record.
const CHUNKS: &str = "chunks";
/// Document id → roaring bitmap of its chunk ids.
const DOC_CHUNKS: &str = "doc_chunks";
/// `field\0value` → roaring bitmap of the chunk ids whose document has that value.
const FACETS: &str = "facets";
/// Small named values, see the `META_*` keys.
const META: &str = "meta";
/// The arroy vector index (index 0).
const VECTORS: &str = "vectors";
/// The answer cache (see `answers.rs`); never part of a generation.
const ANSWERS: &str = "answers";
/// How many named databases the environment holds.
pub(super) const DATABASE_COUNT: u32 = 7;

/// `meta` key of the [`EmbedderInfo`] that built the index (JSON).
const META_EMBEDDER: &str = "embedder";
/// `meta` key of the next unused chunk id (u64 big-endian; ids are never reused).
const META_NEXT_CHUNK_ID: &str = "next_chunk_id";
/// `meta` key of the generation counter (u64 big-endian), bumped by every committed write.
const META_GENERATION: &str = "generation";

/// LMDB page sizes are powers of two up to 64 KiB; a map size that is a multiple
/// of this suits all of them.
const MAP_SIZE_GRANULE: usize = 64 * 1024;

/// The environment type: read transactions without thread-local storage, so they are `Send`.
pub(super) type Env = heed::Env<WithoutTls>;

/// Every database of the index.
#[derive(Clone, Copy)]
pub(super) struct Databases {
    pub documents: heed::Database<'static, Str, SerdeJson<DocumentRecord>>,
    pub chunks: heed::Database<'static, U32<BigEndian>, SerdeJson<ChunkRecord>>,
    pub doc_chunks: heed::Database<'static, Str, Bytes>,
    pub facets: heed::Database<'static, Bytes, Bytes>,
    pub meta: heed::Database<'static, Str, Bytes>,
    pub vectors: arroy::Database<'static, Cosine>,
    pub answers: heed::Database<'static, Bytes, Bytes>,
    /// The longest key LMDB accepts, in bytes.
    pub max_key: usize,
}

/// Opens (creating the directory if needed) the LMDB environment at `path`, with room
/// for `max_dbs` named databases. Every LMDB environment of the store opens here: the
/// index, the embedding cache, the query log, the key store.
///
/// Errors: `Io` when the directory cannot be created, `Lmdb` when LMDB refuses to open.
pub(super) fn open_env(path: &Path, map_size_bytes: usize, max_dbs: u32) -> Result<Env, StoreError> {
    std::fs::create_dir_all(path).map_err(|source| StoreError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
    options
        .map_size(map_size_bytes.max(MAP_SIZE_GRANULE).next_multiple_of(MAP_SIZE_GRANULE))
        .max_dbs(max_dbs);
    // SAFETY: the memory map is only unsafe if the files are modified behind LMDB's back.
    // Only LMDB itself (in this or another ragline process, coordinated by its lock file)
    // writes to these directories, and heed refuses to open the same path twice in one process.
    let env = unsafe { options.open(path) }?;
    Ok(env)
}

/// Creates or opens every database in one write transaction.
///
/// Errors: `Lmdb` when a database cannot be created.
pub(super) fn create_databases(env: &Env) -> Result<Databases, StoreError> {
    let wtxn = env.write_txn()?;
    let committed = env.create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
        let documents = opener.create_database::<Str, SerdeJson<DocumentRecord>>(wtxn, Some(DOCUMENTS))?;
        let chunks = opener.create_database::<U32<BigEndian>, SerdeJson<ChunkRecord>>(wtxn, Some(CHUNKS))?;
        let doc_chunks = opener.create_database::<Str, Bytes>(wtxn, Some(DOC_CHUNKS))?;
        let facets = opener.create_database::<Bytes, Bytes>(wtxn, Some(FACETS))?;
        let meta = opener.create_database::<Str, Bytes>(wtxn, Some(META))?;
        let vectors = opener.create_database::<KeyCodec, NodeCodec<Cosine>>(wtxn, Some(VECTORS))?;
        let answers = opener.create_database::<Bytes, Bytes>(wtxn, Some(ANSWERS))?;
        Ok(CommitOrAbort::<_, ()>::Commit((
            documents, chunks, doc_chunks, facets, meta, vectors, answers,
        )))
    })?;
    match committed {
        CommitOrAbort::Commit((documents, chunks, doc_chunks, facets, meta, vectors, answers)) => Ok(Databases {
            documents,
            chunks,
            doc_chunks,
            facets,
            meta,
            vectors,
            answers,
            max_key: env.max_key_size(),
        }),
        CommitOrAbort::Abort(()) => Err(StoreError::Corrupt("creating the databases was aborted".to_owned())),
    }
}

impl Databases {
    /// The embedder recorded by the first write, if any.
    ///
    /// Errors: `Lmdb` on read failure or a value that is not valid JSON.
    pub fn embedder(&self, rtxn: &RoTxn) -> Result<Option<EmbedderInfo>, StoreError> {
        Ok(self
            .meta
            .remap_data_type::<SerdeJson<EmbedderInfo>>()
            .get(rtxn, META_EMBEDDER)?)
    }

    /// Records the embedder that builds this index.
    ///
    /// Errors: `Lmdb` on write failure.
    pub fn put_embedder(&self, wtxn: &mut RwTxn, embedder: &EmbedderInfo) -> Result<(), StoreError> {
        Ok(self
            .meta
            .remap_data_type::<SerdeJson<EmbedderInfo>>()
            .put(wtxn, META_EMBEDDER, embedder)?)
    }

    /// The generation of the last committed write (0 for a new index).
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn generation(&self, rtxn: &RoTxn) -> Result<u64, StoreError> {
        self.get_u64(rtxn, META_GENERATION)
    }

    /// Stores the generation of the write being committed.
    ///
    /// Errors: `Lmdb` on write failure.
    pub fn put_generation(&self, wtxn: &mut RwTxn, generation: u64) -> Result<(), StoreError> {
        self.put_u64(wtxn, META_GENERATION, generation)
    }

    /// The next unused chunk id (a u64 so that exhaustion of the u32 space is visible).
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn next_chunk_id(&self, rtxn: &RoTxn) -> Result<u64, StoreError> {
        self.get_u64(rtxn, META_NEXT_CHUNK_ID)
    }

    /// Stores the next unused chunk id.
    ///
    /// Errors: `Lmdb` on write failure.
    pub fn put_next_chunk_id(&self, wtxn: &mut RwTxn, next: u64) -> Result<(), StoreError> {
        self.put_u64(wtxn, META_NEXT_CHUNK_ID, next)
    }

    /// The chunk ids of document `id` (empty when the document is absent).
    ///
    /// Errors: `Lmdb` on read failure, `Corrupt` when the bitmap cannot be decoded.
    pub fn doc_chunk_ids(&self, rtxn: &RoTxn, id: &str) -> Result<RoaringBitmap, StoreError> {
        match self.doc_chunks.get(rtxn, id)? {
            Some(bytes) => decode_bitmap(bytes),
            None => Ok(RoaringBitmap::new()),
        }
    }

    /// The chunk record `id`, if stored.
    ///
    /// Errors: `Lmdb` on read or decode failure.
    pub fn chunk(&self, rtxn: &RoTxn, id: ChunkId) -> Result<Option<ChunkRecord>, StoreError> {
        Ok(self.chunks.get(rtxn, &id)?)
    }

    fn get_u64(&self, rtxn: &RoTxn, key: &str) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .remap_data_type::<U64<BigEndian>>()
            .get(rtxn, key)?
            .unwrap_or(0))
    }

    fn put_u64(&self, wtxn: &mut RwTxn, key: &str, value: u64) -> Result<(), StoreError> {
        Ok(self.meta.remap_data_type::<U64<BigEndian>>().put(wtxn, key, &value)?)
    }
}

/// Serializes a bitmap for storage.
///
/// Errors: `Corrupt` if serialization fails (it writes to memory, so it does not in practice).
pub(super) fn encode_bitmap(bitmap: &RoaringBitmap) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("encoding a chunk id bitmap: {e}")))?;
    Ok(bytes)
}

/// Decodes a stored bitmap.
///
/// Errors: `Corrupt` when the bytes are not a roaring bitmap.
pub(super) fn decode_bitmap(bytes: &[u8]) -> Result<RoaringBitmap, StoreError> {
    RoaringBitmap::deserialize_from(bytes).map_err(|e| StoreError::Corrupt(format!("chunk id bitmap: {e}")))
}
