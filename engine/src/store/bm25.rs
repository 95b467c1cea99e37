//! The tantivy BM25 index over chunk title, body and window (the body with its
//! neighbouring chunks), with the metadata fields for filtering inside the search.
//! Derived from LMDB: each commit carries the LMDB generation (and the window size) as
//! its payload, and the index is rebuilt when they disagree.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer, TokenStream as _,
};
use tantivy::{IndexBuilder, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

use super::{ChunkId, ChunkRecord, DocumentRecord, Stemming, StoreError};
use crate::vocab::Filter;
use crate::vocab::metadata::{DEPARTMENT, DOC_TYPE, DOMAIN, TAGS};

/// Analyzer names registered on every index (see [`register_analyzers`]).
const ENGLISH: &str = "ragline_en";
const PLAIN: &str = "ragline_plain";
/// Indexing memory budget of one write.
const WRITER_BUDGET_BYTES: usize = 50_000_000;
/// How long a write waits for another process's writer lock, in 100 ms steps.
const LOCK_RETRIES: u32 = 50;
/// At most this many distinct query terms are searched (the rest of a huge query is ignored).
const MAX_QUERY_TERMS: usize = 256;
/// Weight of a match in the chunk's own text, on top of the same match in its window
/// (weight 1): among neighbours sharing a window, the chunk holding the words ranks first.
const BODY_BOOST: f32 = 0.5;

/// How the BM25 side analyzes, indexes and ranks text (from `IndexOptions`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bm25Options {
    pub stemming: Stemming,
    /// Weight of a title match relative to a window match.
    pub title_boost: f32,
    /// Neighbouring chunks on each side that make up a chunk's window.
    pub context_chunks: u32,
}

/// The schema's fields.
#[derive(Clone, Copy)]
struct Fields {
    chunk_id: Field,
    doc_id: Field,
    title: Field,
    /// The chunk's own text.
    body: Field,
    /// The chunk's text with `context_chunks` neighbours on each side, so that a query
    /// whose words straddle a chunk boundary still matches.
    window: Field,
    domain: Field,
    department: Field,
    doc_type: Field,
    tags: Field,
}

fn analyzer_name(stemming: Stemming) -> &'static str {
    match stemming {
        Stemming::English => ENGLISH,
        Stemming::None => PLAIN,
    }
}

/// Register both analyzers: words (split on non-alphanumerics), longer than 40
/// bytes dropped, lowercased; `English` also drops English stop words and stems.
fn register_analyzers(index: &tantivy::Index) -> Result<(), StoreError> {
    let stop = StopWordFilter::new(tantivy::tokenizer::Language::English)
        .ok_or_else(|| StoreError::Corrupt("tantivy has no English stop words".to_owned()))?;
    let english = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop)
        .filter(Stemmer::new(tantivy::tokenizer::Language::English))
        .build();
    let plain = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .build();
    index.tokenizers().register(ENGLISH, english);
    index.tokenizers().register(PLAIN, plain);
    Ok(())
}

fn schema(stemming: Stemming) -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer_name(stemming))
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        chunk_id: builder.add_u64_field("chunk_id", INDEXED | STORED | FAST),
        doc_id: builder.add_text_field("doc_id", STRING),
        title: builder.add_text_field("title", text.clone()),
        body: builder.add_text_field("body", text.clone()),
        window: builder.add_text_field("window", text),
        domain: builder.add_text_field(DOMAIN, STRING | FAST),
        department: builder.add_text_field(DEPARTMENT, STRING | FAST),
        doc_type: builder.add_text_field(DOC_TYPE, STRING | FAST),
        tags: builder.add_text_field(TAGS, STRING | FAST),
    };
    (builder.build(), fields)
}

/// The BM25 side of an index.
pub(super) struct Bm25 {
    index: tantivy::Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
    options: Bm25Options,
}

impl Bm25 {
    /// Opens the index in `dir`, creating it if missing. An index with another
    /// schema, corrupt or from an incompatible tantivy is derived data: it is wiped
    /// and recreated empty (the caller then sees a generation mismatch and rebuilds it).
    ///
    /// Errors: `Io` when the directory cannot be created or wiped, `Bm25` when tantivy fails.
    pub fn open(dir: &Path, options: Bm25Options) -> Result<Bm25, StoreError> {
        let (schema, fields) = schema(options.stemming);
        let index = match open_or_create(dir, &schema) {
            Ok(index) => index,
            Err(StoreError::Bm25(
                error @ (TantivyError::SchemaError(_)
                | TantivyError::DataCorruption(_)
                | TantivyError::IncompatibleIndex(_)
                | TantivyError::OpenReadError(_)),
            )) => {
                tracing::warn!(dir = %dir.display(), %error, "BM25 index unusable; recreating it from LMDB");
                std::fs::remove_dir_all(dir).map_err(|source| io_error(dir, source))?;
                open_or_create(dir, &schema)?
            }
            Err(e) => return Err(e),
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        register_analyzers(&index)?;
        let name = analyzer_name(options.stemming);
        let analyzer = index
            .tokenizers()
            .get(name)
            .ok_or_else(|| StoreError::Corrupt(format!("tantivy has no `{name}` analyzer")))?;
        Ok(Bm25 {
            index,
            reader,
            fields,
            analyzer,
            options,
        })
    }

    /// The LMDB generation of the last commit; `None` for a new or foreign index, or one
    /// built with other windows.
    ///
    /// Errors: `Bm25` when the index metadata cannot be read.
    pub fn committed_generation(&self) -> Result<Option<u64>, StoreError> {
        let metas = self.index.load_metas()?;
        let Some((generation, windows)) = metas.payload.as_deref().and_then(|p| p.split_once(' ')) else {
            return Ok(None);
        };
        Ok(generation.parse().ok().filter(|_| windows == self.windows_tag()))
    }

    /// Names the window setting in the commit payload.
    fn windows_tag(&self) -> String {
        format!("context_chunks={}", self.options.context_chunks)
    }

    /// Chunks in the index, as of its last commit.
    ///
    /// Errors: `Bm25` when the reader cannot reload.
    pub fn count(&self) -> Result<u64, StoreError> {
        self.reader.reload()?;
        Ok(self.reader.searcher().num_docs())
    }

    /// A writer for one batch. Holds tantivy's lock until committed or dropped;
    /// waits up to ~5 s for a writer of another process.
    ///
    /// Errors: `Bm25` when the writer cannot be created or the lock stays busy.
    pub fn writer(&self) -> Result<Bm25Writer<'_>, StoreError> {
        let mut attempt = 0;
        loop {
            match self
                .index
                .writer_with_num_threads::<TantivyDocument>(1, WRITER_BUDGET_BYTES)
            {
                Ok(writer) => return Ok(Bm25Writer { bm25: self, writer }),
                Err(TantivyError::LockFailure(..)) if attempt < LOCK_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The best `limit` chunks for user text `query` (BM25 over title, window and
    /// body, see [`BODY_BOOST`]), restricted to chunks passing `filter` inside the search.
    /// Text that yields no terms gives no results; it never fails on syntax.
    ///
    /// Errors: `UnknownFilterField` for a filter field tantivy does not know, `Bm25` on search failure.
    pub fn search(&self, query: &str, filter: &Filter, limit: usize) -> Result<Vec<(ChunkId, f32)>, StoreError> {
        let Some(text) = self.text_query(query) else {
            return Ok(Vec::new());
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        for (name, values) in &filter.fields {
            if values.is_empty() {
                return Ok(Vec::new());
            }
            let field = self.facet_field(name)?;
            let terms = values.iter().map(|value| Term::from_field_text(field, value));
            // Filters restrict; they must not shift BM25 scores.
            let restrict = ConstScoreQuery::new(Box::new(TermSetQuery::new(terms)), 0.0);
            clauses.push((Occur::Must, Box::new(restrict)));
        }
        let searcher = self.reader.searcher();
        // tantivy allocates for `limit` hits up front: never ask for more than exist.
        let limit = limit.min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX));
        if limit == 0 {
            return Ok(Vec::new());
        }
        let hits = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(limit).order_by_score(),
        )?;
        let mut columns: HashMap<u32, Column<u64>> = HashMap::new();
        let mut out = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let column = match columns.entry(address.segment_ord) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => entry.insert(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .u64("chunk_id")?,
                ),
            };
            let id = column.first(address.doc_id).and_then(|id| ChunkId::try_from(id).ok());
            match id {
                Some(id) => out.push((id, score)),
                None => return Err(StoreError::Corrupt(format!("BM25 hit {address:?} has no chunk id"))),
            }
        }
        Ok(out)
    }

    /// A should-match over the analyzed terms of `query` in title, window and body;
    /// `None` when the text has no terms.
    fn text_query(&self, query: &str) -> Option<Box<dyn Query>> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(query);
        let mut terms = BTreeSet::new();
        while stream.advance() && terms.len() < MAX_QUERY_TERMS {
            terms.insert(stream.token().text.clone());
        }
        if terms.is_empty() {
            return None;
        }
        let fields = [
            (self.fields.title, self.options.title_boost),
            (self.fields.window, 1.0),
            (self.fields.body, BODY_BOOST),
        ];
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len() * fields.len());
        for term in &terms {
            for (field, boost) in fields {
                let query = TermQuery::new(Term::from_field_text(field, term), IndexRecordOption::WithFreqs);
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(query), boost))));
            }
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    fn facet_field(&self, name: &str) -> Result<Field, StoreError> {
        match name {
            DOMAIN => Ok(self.fields.domain),
            DEPARTMENT => Ok(self.fields.department),
            DOC_TYPE => Ok(self.fields.doc_type),
            TAGS => Ok(self.fields.tags),
            other => Err(StoreError::UnknownFilterField {
                field: other.to_owned(),
            }),
        }
    }
}

/// One batch of BM25 changes; nothing is visible until [`Bm25Writer::commit`].
pub(super) struct Bm25Writer<'a> {
    bm25: &'a Bm25,
    writer: IndexWriter<TantivyDocument>,
}

impl Bm25Writer<'_> {
    /// Removes every chunk (before a full rebuild).
    ///
    /// Errors: `Bm25` on failure.
    pub fn delete_all(&self) -> Result<(), StoreError> {
        self.writer.delete_all_documents()?;
        Ok(())
    }

    /// Removes chunk `id`.
    pub fn delete(&self, id: ChunkId) {
        self.writer
            .delete_term(Term::from_field_u64(self.bm25.fields.chunk_id, u64::from(id)));
    }

    /// Adds the chunks of document `doc`: all of them, since each one's window holds
    /// its neighbours.
    ///
    /// Errors: `Bm25` on failure.
    pub fn add(&self, doc: &DocumentRecord, chunks: &[ChunkRecord]) -> Result<(), StoreError> {
        let mut ordered: Vec<&ChunkRecord> = chunks.iter().collect();
        ordered.sort_by_key(|c| c.ordinal);
        let context = usize::try_from(self.bm25.options.context_chunks).unwrap_or(usize::MAX);
        for (i, chunk) in ordered.iter().enumerate() {
            let window = &ordered[i.saturating_sub(context)..=i.saturating_add(context).min(ordered.len() - 1)];
            let window: Vec<&str> = window.iter().map(|c| c.text.as_str()).collect();
            self.add_chunk(doc, chunk, &window.join("\n"))?;
        }
        Ok(())
    }

    fn add_chunk(&self, doc: &DocumentRecord, chunk: &ChunkRecord, window: &str) -> Result<(), StoreError> {
        let f = &self.bm25.fields;
        let mut d = TantivyDocument::default();
        d.add_u64(f.chunk_id, u64::from(chunk.id));
        d.add_text(f.doc_id, &doc.id);
        d.add_text(f.title, &doc.title);
        d.add_text(f.body, &chunk.text);
        d.add_text(f.window, window);
        d.add_text(f.domain, &doc.metadata.domain);
        if let Some(department) = &doc.metadata.department {
            d.add_text(f.department, department);
        }
        if let Some(doc_type) = &doc.metadata.doc_type {
            d.add_text(f.doc_type, doc_type);
        }
        for tag in &doc.metadata.tags {
            d.add_text(f.tags, tag);
        }
        self.writer.add_document(d)?;
        Ok(())
    }

    /// Commits the batch tagged with the LMDB `generation`, releases the writer
    /// lock (after pending merges) and makes the changes visible to searches.
    ///
    /// Errors: `Bm25` on failure.
    pub fn commit(mut self, generation: u64) -> Result<(), StoreError> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&format!("{generation} {}", self.bm25.windows_tag()));
        prepared.commit()?;
        self.writer.wait_merging_threads()?;
        self.bm25.reader.reload()?;
        Ok(())
    }
}

fn open_or_create(dir: &Path, schema: &Schema) -> Result<tantivy::Index, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
    let directory = MmapDirectory::open(dir).map_err(TantivyError::from)?;
    Ok(IndexBuilder::new().schema(schema.clone()).open_or_create(directory)?)
}

fn io_error(dir: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: PathBuf::from(dir),
        source,
    }
}
