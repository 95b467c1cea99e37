//! [`Index`]: the public face of the store, tying LMDB (source of truth), arroy
//! (inside LMDB) and the tantivy BM25 index (derived, beside it) together.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use tantivy::TantivyError;

use super::bm25::{Bm25, Bm25Options};
use super::lmdb::{self, Databases, Env};
use super::write::{self, Applied};
use super::{
    ChunkId, ChunkRecord, DocumentRecord, EmbedderInfo, IndexCheck, IndexStats, NewDocument, Stemming, StoreError,
    facets, vectors,
};
use crate::vocab::Filter;

/// How to open an [`Index`].
#[derive(Debug, Clone, PartialEq)]
pub struct IndexOptions {
    /// Maximum size of the LMDB map, in bytes: a hard cap on the index size. It is
    /// virtual address space, reserved but not allocated (default 8 GiB).
    pub map_size_bytes: usize,
    /// How BM25 analyzes text. Changing it rebuilds the BM25 index from LMDB on open.
    pub stemming: Stemming,
    /// Weight of a title match relative to a body match in BM25 (default 1).
    pub title_boost: f32,
    /// Neighbouring chunks on each side that BM25 reads with a chunk (default 1), so a
    /// query whose words straddle a chunk boundary still finds it. Changing it rebuilds
    /// the BM25 index from LMDB on open.
    pub context_chunks: u32,
    /// Largest in-memory copy of the vectors (one byte per dimension), in bytes. An index
    /// that fits is searched by scanning that copy, a larger one through arroy's trees
    /// (default 64 MiB, ~170k MiniLM vectors; 0: always arroy).
    pub vector_memory_bytes: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            map_size_bytes: 8 << 30,
            stemming: Stemming::English,
            title_boost: 1.0,
            vector_memory_bytes: vectors::DEFAULT_VECTOR_MEMORY_BYTES,
            context_chunks: 1,
        }
    }
}

/// One index: documents, chunks, their vectors and a BM25 index, in a directory
/// (`lmdb/` and `bm25/`). Cheap to share (`Send + Sync`); writes are serialized.
/// Open each directory once per process.
pub struct Index {
    env: Env,
    dbs: Databases,
    bm25: Bm25,
    /// Serializes writes, so the BM25 side is applied in LMDB commit order.
    write_lock: Mutex<()>,
    /// The vectors in memory, for indexes small enough to scan.
    memory: vectors::MemoryCopy,
}

impl Index {
    /// Opens the index in `dir`, creating `dir/lmdb` and `dir/bm25` if missing, and
    /// rebuilds the BM25 index from LMDB if a crash left it behind.
    ///
    /// Errors: `Io` when the directories cannot be created, `Lmdb` when LMDB cannot
    /// open (including when this process already has `dir` open), `Bm25` when tantivy fails.
    pub fn open(dir: &Path, opts: &IndexOptions) -> Result<Index, StoreError> {
        let env = lmdb::open_env(&dir.join("lmdb"), opts.map_size_bytes, lmdb::DATABASE_COUNT)?;
        let dbs = lmdb::create_databases(&env)?;
        let bm25 = Bm25::open(
            &dir.join("bm25"),
            Bm25Options {
                stemming: opts.stemming,
                title_boost: opts.title_boost,
                context_chunks: opts.context_chunks,
            },
        )?;
        let index = Index {
            env,
            dbs,
            bm25,
            write_lock: Mutex::new(()),
            memory: vectors::MemoryCopy::new(opts.vector_memory_bytes),
        };
        let rtxn = index.env.read_txn()?;
        let generation = index.dbs.generation(&rtxn)?;
        drop(rtxn);
        let committed = index.bm25.committed_generation()?;
        if committed != Some(generation) {
            if generation > 0 {
                tracing::info!(dir = %dir.display(), generation, ?committed, "BM25 index behind LMDB; rebuilding it");
            }
            let _guard = index.lock_writes();
            match index.rebuild_bm25() {
                Ok(()) => {}
                // Another process is writing; its commit brings the BM25 index up to date.
                Err(StoreError::Bm25(error @ TantivyError::LockFailure(..))) => {
                    tracing::warn!(dir = %dir.display(), %error, "BM25 index busy; not rebuilt");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(index)
    }

    /// The embedder that built the index; `None` until the first write.
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn embedder(&self) -> Result<Option<EmbedderInfo>, StoreError> {
        let rtxn = self.env.read_txn()?;
        self.dbs.embedder(&rtxn)
    }

    /// The generation of the last committed write (0 for a new index): it moves with
    /// every change to what a search can find.
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn generation(&self) -> Result<u64, StoreError> {
        let rtxn = self.env.read_txn()?;
        self.dbs.generation(&rtxn)
    }

    /// The answer cache kept beside the index.
    pub fn answers(&self) -> super::AnswerStore<'_> {
        super::AnswerStore {
            env: &self.env,
            db: self.dbs.answers,
        }
    }

    /// The document `id`, without its chunks.
    ///
    /// Errors: `Lmdb` on read or decode failure.
    pub fn document(&self, id: &str) -> Result<Option<DocumentRecord>, StoreError> {
        if !write::key_fits(id, &self.dbs) {
            return Ok(None);
        }
        let rtxn = self.env.read_txn()?;
        Ok(self.dbs.documents.get(&rtxn, id)?)
    }

    /// Every document whose metadata passes `filter`, sorted by source (then id).
    ///
    /// Errors: `UnknownFilterField`, `Lmdb` on read or decode failure.
    pub fn documents(&self, filter: &Filter) -> Result<Vec<DocumentRecord>, StoreError> {
        facets::validate(filter)?;
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.dbs.documents.iter(&rtxn)? {
            let (_, record) = entry?;
            if filter.matches(&record.metadata) {
                out.push(record);
            }
        }
        out.sort_by(|a, b| a.source.cmp(&b.source).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// One batch: insert/replace `upserts` (by record.id; old chunks of a replaced doc are removed everywhere) and delete `deletes`.
    /// The first write records `embedder`; a later write with another id or dims → StoreError::EmbedderMismatch, nothing written.
    ///
    /// Deletes apply before upserts; of several upserts with one id the last wins.
    /// `record.chunk_count` is set here.
    ///
    /// Errors: `EmbedderMismatch`, `Dimension` (a chunk vector is not `embedder.dims`
    /// long) and `KeyLength` write nothing. `Lmdb`/`Vector` on LMDB failure write
    /// nothing. `Bm25` means LMDB committed but the BM25 index did not; it catches up
    /// on the next write or open.
    pub fn write(
        &self,
        embedder: &EmbedderInfo,
        upserts: Vec<NewDocument>,
        deletes: &[String],
    ) -> Result<(), StoreError> {
        write::validate(embedder, &upserts, &self.dbs)?;
        let _guard = self.lock_writes();
        if let Some(applied) = write::apply(&self.env, &self.dbs, embedder, upserts, deletes)? {
            self.update_bm25(&applied)?;
        }
        Ok(())
    }

    /// Deletes document `id` and its chunks; `false` when it was absent.
    ///
    /// Errors: as [`Index::write`].
    pub fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let Some(embedder) = self.embedder()? else {
            return Ok(false);
        };
        let _guard = self.lock_writes();
        match write::apply(&self.env, &self.dbs, &embedder, Vec::new(), &[id.to_owned()])? {
            Some(applied) => {
                self.update_bm25(&applied)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Records that document `id` was built from the stored original `origin` (see
    /// [`DocumentRecord::origin`]) without touching its chunks: the content is the same,
    /// only the object's version tag changed (e.g. the same bytes uploaded again).
    /// Returns `false` when there is no such document. Search results do not change, so
    /// the generation is not bumped.
    ///
    /// Errors: `Lmdb` on read, decode or write failure.
    pub fn set_origin(&self, id: &str, origin: Option<&str>) -> Result<bool, StoreError> {
        if !write::key_fits(id, &self.dbs) {
            return Ok(false);
        }
        let _guard = self.lock_writes();
        let mut wtxn = self.env.write_txn()?;
        let Some(mut record) = self.dbs.documents.get(&wtxn, id)? else {
            return Ok(false);
        };
        record.origin = origin.map(str::to_owned);
        self.dbs.documents.put(&mut wtxn, id, &record)?;
        wtxn.commit()?;
        Ok(true)
    }

    /// BM25 over title + body. `query` is raw user text: it must never fail on syntax (quotes, parens, AND, ':', '*'...).
    ///
    /// Only chunks passing `filter` are ranked, so `limit` is filled from them.
    /// Text without any word (empty, `*`) gives no results.
    ///
    /// Errors: `UnknownFilterField`, `Bm25` on search failure.
    pub fn keyword_search(
        &self,
        query: &str,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<(ChunkId, f32)>, StoreError> {
        facets::validate(filter)?;
        let rtxn = self.env.read_txn()?;
        // LMDB decides whether the filter restricts anything. Should the BM25 side lag a
        // write, its extra hits are chunks LMDB no longer has (ids are never reused), which
        // callers drop when they resolve hits through `chunks`.
        let restricts = facets::candidates(&rtxn, &self.dbs, filter)?.is_some();
        drop(rtxn);
        let everything = Filter::default();
        self.bm25
            .search(query, if restricts { filter } else { &everything }, limit)
    }

    /// Cosine similarity (higher is better), restricted to chunks passing `filter` INSIDE the search (candidate bitmap), so `limit` is filled from allowed chunks only.
    ///
    /// An index that fits `IndexOptions::vector_memory_bytes` is scanned in memory and
    /// the best candidates rescored exactly; a larger one scans up to 2,000 allowed
    /// chunks exactly and otherwise searches arroy's trees with a raised `search_k`.
    /// An empty index or candidate set gives no results.
    ///
    /// Errors: `UnknownFilterField`, `Dimension` when `vector` does not match the
    /// index, `Lmdb`/`Vector`/`Corrupt` on read failure.
    pub fn vector_search(
        &self,
        vector: &[f32],
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<(ChunkId, f32)>, StoreError> {
        facets::validate(filter)?;
        let rtxn = self.env.read_txn()?;
        let candidates = facets::candidates(&rtxn, &self.dbs, filter)?;
        let generation = self.dbs.generation(&rtxn)?;
        vectors::search(
            &rtxn,
            self.dbs.vectors,
            (&self.memory, generation),
            vector,
            candidates.as_ref(),
            limit,
        )
    }

    /// The chunks `ids`, in the same order; unknown ids are skipped.
    ///
    /// Errors: `Lmdb` on read or decode failure.
    pub fn chunks(&self, ids: &[ChunkId]) -> Result<Vec<ChunkRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(chunk) = self.dbs.chunk(&rtxn, id)? {
                out.push(chunk);
            }
        }
        Ok(out)
    }

    /// Document and chunk counts.
    ///
    /// Errors: `Lmdb` on read failure.
    pub fn stats(&self) -> Result<IndexStats, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(IndexStats {
            documents: self.dbs.documents.len(&rtxn)?,
            chunks: self.dbs.chunks.len(&rtxn)?,
        })
    }

    /// Whether LMDB (documents, chunks, vectors) and the BM25 index agree: what
    /// `ragline check` reports after a crash.
    ///
    /// Errors: `Lmdb`, `Vector` or `Bm25` on read failure.
    pub fn check(&self) -> Result<IndexCheck, StoreError> {
        let _guard = self.lock_writes();
        let rtxn = self.env.read_txn()?;
        let mut listed_chunks = 0u64;
        for item in self.dbs.documents.iter(&rtxn)? {
            listed_chunks += u64::from(item?.1.chunk_count);
        }
        Ok(IndexCheck {
            documents: self.dbs.documents.len(&rtxn)?,
            chunks: self.dbs.chunks.len(&rtxn)?,
            listed_chunks,
            vectors: vectors::count(&rtxn, self.dbs.vectors)?,
            bm25_chunks: self.bm25.count()?,
            generation: self.dbs.generation(&rtxn)?,
            bm25_generation: self.bm25.committed_generation()?,
        })
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        // The mutex guards no data, so a panic in another write leaves nothing to repair.
        self.write_lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a committed LMDB write to the BM25 index: incrementally when the BM25
    /// index is at the previous generation, by a full rebuild otherwise.
    fn update_bm25(&self, applied: &Applied) -> Result<(), StoreError> {
        if self.bm25.committed_generation()? != Some(applied.generation - 1) {
            return self.rebuild_bm25();
        }
        let writer = self.bm25.writer()?;
        for &id in &applied.removed {
            writer.delete(id);
        }
        for (doc, chunks) in &applied.added {
            writer.add(doc, chunks)?;
        }
        writer.commit(applied.generation)
    }

    /// Replaces the BM25 index with the chunks of one LMDB snapshot.
    fn rebuild_bm25(&self) -> Result<(), StoreError> {
        let rtxn = self.env.read_txn()?;
        let generation = self.dbs.generation(&rtxn)?;
        let writer = self.bm25.writer()?;
        writer.delete_all()?;
        for entry in self.dbs.documents.iter(&rtxn)? {
            let (id, doc) = entry?;
            let mut chunks = Vec::new();
            for chunk_id in &self.dbs.doc_chunk_ids(&rtxn, id)? {
                match self.dbs.chunk(&rtxn, chunk_id)? {
                    Some(chunk) => chunks.push(chunk),
                    None => {
                        return Err(StoreError::Corrupt(format!(
                            "document {id} lists missing chunk {chunk_id}"
                        )));
                    }
                }
            }
            writer.add(&doc, &chunks)?;
        }
        writer.commit(generation)
    }

    /// Test hook: the LMDB half of [`Index::write`] only, as if the process died
    /// before the BM25 commit.
    #[cfg(test)]
    pub(super) fn write_lmdb_only(&self, embedder: &EmbedderInfo, upserts: Vec<NewDocument>) -> Result<(), StoreError> {
        write::validate(embedder, &upserts, &self.dbs)?;
        write::apply(&self.env, &self.dbs, embedder, upserts, &[])?;
        Ok(())
    }
}
