//! One ingest batch: read → parse → chunk → embed → write, file by file, with a
//! report per file. A file that fails is reported and skipped; it never aborts the
//! batch. Documents are written in groups, each group one store transaction, so a
//! crash loses at most the group in flight and never corrupts what was committed.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::chunk::{Chunk, ChunkSettings, chunk_document};
use super::parse::{self, DocFormat, ParseError, ParsedDocument, detect_format};
use crate::providers::ProviderError;
use crate::providers::embed::Embedder;
use crate::stages::ingest::IngestStage;
use crate::vocab::ids::{document_id, fingerprint};
use crate::stages::tag::{self, TEXT_HEAD_CHARS, TagError, TagInput};
use crate::store::{DocumentRecord, EmbedderInfo, Filter, Index, Metadata, NewChunk, NewDocument, StoreError};

/// Chunks per embedding call and store transaction.
const WRITE_BATCH: usize = 256;

/// One file to ingest.
#[derive(Debug, Clone)]
pub enum IngestInput {
    /// A file on disk; `source` is how it is named in the index (stable across runs).
    File { path: PathBuf, source: String },
    /// Uploaded or downloaded bytes; `metadata` overrides the pipeline's defaults, and
    /// `origin` (see [`DocumentRecord::origin`]) names the stored original they came from.
    Bytes {
        name: String,
        source: String,
        bytes: Vec<u8>,
        metadata: Option<Metadata>,
        origin: Option<String>,
    },
    /// Text that needs no parsing (e.g. a dataset record); `source` names it.
    Text {
        source: String,
        title: String,
        text: String,
        metadata: Option<Metadata>,
    },
}

impl IngestInput {
    /// The name used in reports.
    pub fn source(&self) -> &str {
        match self {
            IngestInput::File { source, .. } | IngestInput::Bytes { source, .. } | IngestInput::Text { source, .. } => {
                source
            }
        }
    }
}

/// Where a batch goes.
pub struct IngestTarget<'a> {
    pub stage: &'a IngestStage,
    /// What the pipeline may hold: documents outside it are refused.
    pub allowed: &'a Filter,
    pub index: &'a Index,
    pub embedder: &'a dyn Embedder,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// New or changed: parsed, chunked, embedded and stored.
    Ingested { document_id: String, chunks: usize },
    /// Same content and metadata as already indexed: nothing written.
    Unchanged { document_id: String },
    /// Not indexed; `code` is stable (`encrypted`, `no_text`, `corrupt`, ...), `message` says why.
    Failed { code: String, message: String },
}

/// One file's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub source: String,
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

/// A whole batch's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    pub chunks: usize,
    pub embedding_tokens: usize,
    pub seconds: f64,
}

impl IngestReport {
    /// Files in each state: (ingested, unchanged, failed).
    pub fn counts(&self) -> (usize, usize, usize) {
        self.files.iter().fold((0, 0, 0), |(i, u, f), r| match r.outcome {
            FileOutcome::Ingested { .. } => (i + 1, u, f),
            FileOutcome::Unchanged { .. } => (i, u + 1, f),
            FileOutcome::Failed { .. } => (i, u, f + 1),
        })
    }
}

/// A failure that stops the batch (files done before it stay committed).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// Ingest `inputs` into `target`, calling `on_file` after each file.
///
/// # Errors
/// [`IngestError`] when the store or the embedder fails; per-file problems are in the report.
pub fn ingest(
    target: &IngestTarget<'_>,
    inputs: Vec<IngestInput>,
    on_file: &mut dyn FnMut(&FileReport),
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let mut report = IngestReport::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut pending_chunks = 0;
    for input in inputs {
        let file_report = match prepare(target, input) {
            Ok(Prepared::Changed(doc)) => {
                pending_chunks += doc.chunks.len();
                pending.push(*doc);
                if pending_chunks >= WRITE_BATCH {
                    flush(target, &mut pending, &mut report, on_file)?;
                    pending_chunks = 0;
                }
                continue;
            }
            Ok(Prepared::Unchanged(r)) | Err(Failed(r)) => r,
        };
        on_file(&file_report);
        report.files.push(file_report);
    }
    flush(target, &mut pending, &mut report, on_file)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A parsed and chunked document waiting for its embeddings.
struct Pending {
    record: DocumentRecord,
    chunks: Vec<Chunk>,
}

/// Embed the pending documents' chunks in one call (so the model can batch by length
/// across documents), then write them in one store transaction.
fn flush(
    target: &IngestTarget<'_>,
    pending: &mut Vec<Pending>,
    report: &mut IngestReport,
    on_file: &mut dyn FnMut(&FileReport),
) -> Result<(), IngestError> {
    if pending.is_empty() {
        return Ok(());
    }
    let pending = std::mem::take(pending);
    let texts: Vec<String> = pending
        .iter()
        .flat_map(|d| {
            d.chunks
                .iter()
                .map(|c| embedding_text(&d.record.title, c.section.as_deref(), &c.text))
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embedded = target.embedder.embed(&refs)?;
    if embedded.vectors.len() != texts.len() {
        return Err(
            ProviderError::Inference(format!("{} vectors for {} chunks", embedded.vectors.len(), texts.len())).into(),
        );
    }
    report.embedding_tokens += embedded.tokens;
    report.chunks += texts.len();
    let mut vectors = embedded.vectors.into_iter();
    let mut reports = Vec::with_capacity(pending.len());
    let docs: Vec<NewDocument> = pending
        .into_iter()
        .map(|Pending { record, chunks }| {
            reports.push(FileReport {
                source: record.source.clone(),
                outcome: FileOutcome::Ingested {
                    document_id: record.id.clone(),
                    chunks: chunks.len(),
                },
            });
            let chunks = chunks
                .into_iter()
                .zip(vectors.by_ref())
                .map(|(c, vector)| NewChunk {
                    text: c.text,
                    page: c.page,
                    section: c.section,
                    vector,
                })
                .collect();
            NewDocument { record, chunks }
        })
        .collect();
    let info = EmbedderInfo {
        id: target.embedder.id().to_owned(),
        dims: target.embedder.dims(),
    };
    target.index.write(&info, docs, &[])?;
    for r in reports {
        on_file(&r);
        report.files.push(r);
    }
    Ok(())
}

enum Prepared {
    Changed(Box<Pending>),
    Unchanged(FileReport),
}

/// A per-file failure, already reported.
struct Failed(FileReport);

fn failed(source: &str, code: &str, message: impl Into<String>) -> Failed {
    Failed(FileReport {
        source: source.to_owned(),
        outcome: FileOutcome::Failed {
            code: code.to_owned(),
            message: message.into(),
        },
    })
}

/// Read, check and parse one input, unless the index already has it unchanged.
fn prepare(target: &IngestTarget<'_>, input: IngestInput) -> Result<Prepared, Failed> {
    let stage = target.stage;
    let (name, source, content, metadata, origin) = match input {
        IngestInput::File { path, source } => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let size = std::fs::metadata(&path)
                .map(|m| m.len())
                .map_err(|e| failed(&source, "io", e.to_string()))?;
            if size > stage.limits.max_file_bytes {
                let e = ParseError::TooLarge {
                    size,
                    limit: stage.limits.max_file_bytes,
                };
                return Err(failed(&source, e.code(), e.to_string()));
            }
            let bytes = std::fs::read(&path).map_err(|e| failed(&source, "io", e.to_string()))?;
            (name, source, Content::Bytes(bytes), None, None)
        }
        IngestInput::Bytes {
            name,
            source,
            bytes,
            metadata,
            origin,
        } => (name, source, Content::Bytes(bytes), metadata, origin),
        IngestInput::Text {
            source,
            title,
            text,
            metadata,
        } => (String::new(), source, Content::Text { title, text }, metadata, None),
    };
    // Uploads carry their own metadata; it is part of what the stored document depends on.
    let settings = match &metadata {
        None => stage.fingerprint.clone(),
        Some(m) => fingerprint(&[&stage.fingerprint, &serde_json::to_string(m).unwrap_or_default()]),
    };
    let metadata = metadata.unwrap_or_else(|| stage.defaults.clone());
    let id = document_id(&source);
    let content_hash = content.hash();
    let existing = target
        .index
        .document(&id)
        .map_err(|e| failed(&source, "store", e.to_string()))?;
    if let Some(existing) = existing.filter(|d| d.content_hash == content_hash && d.settings == settings) {
        // Same bytes under a new object version (e.g. uploaded again): remember the version,
        // so the next sync skips the object without downloading it.
        if origin.is_some() && existing.origin != origin {
            target
                .index
                .set_origin(&id, origin.as_deref())
                .map_err(|e| failed(&source, "store", e.to_string()))?;
        }
        return Ok(Prepared::Unchanged(FileReport {
            source,
            outcome: FileOutcome::Unchanged { document_id: id },
        }));
    }
    let (parsed, bytes, format) = match content {
        Content::Bytes(bytes) => {
            let parsed =
                parse::parse(&name, &bytes, &stage.limits).map_err(|e| failed(&source, e.code(), e.to_string()))?;
            (parsed, bytes.len(), detect_format(&name).map_or("unknown", format_name))
        }
        Content::Text { title, text } => {
            let len = text.len();
            let section = parse::Section {
                text,
                page: None,
                heading: None,
            };
            (
                ParsedDocument {
                    format: DocFormat::Text,
                    title: Some(title),
                    sections: vec![section],
                },
                len,
                "txt",
            )
        }
    };
    let sizes = ChunkSettings {
        kind: stage.chunk_kind,
        max_tokens: stage.max_tokens,
        overlap_tokens: stage.overlap_tokens,
    };
    let chunks = chunk_document(&parsed, sizes, target.embedder.tokenizer());
    if chunks.is_empty() {
        return Err(failed(&source, ParseError::Empty.code(), ParseError::Empty.to_string()));
    }
    let title = parsed
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| file_stem(&name));
    let metadata = metadata_for(stage, target.allowed, &source, &name, &title, &parsed, metadata)
        .map_err(|e| failed(&source, e.code(), e.to_string()))?;
    let record = DocumentRecord {
        id,
        title,
        source,
        format: format.to_owned(),
        content_hash,
        metadata,
        bytes: bytes as u64,
        chunk_count: chunks.len() as u32,
        ingested_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        settings,
        origin,
    };
    Ok(Prepared::Changed(Box::new(Pending { record, chunks })))
}

/// What an input holds: a file's bytes, or text that needs no parsing.
enum Content {
    Bytes(Vec<u8>),
    Text { title: String, text: String },
}

impl Content {
    /// Hex sha256 of the bytes, or of the title and text.
    fn hash(&self) -> String {
        let digest = match self {
            Content::Bytes(b) => Sha256::digest(b),
            Content::Text { title, text } => Sha256::new()
                .chain_update(title)
                .chain_update([0])
                .chain_update(text)
                .finalize(),
        };
        hex::encode(digest)
    }
}

/// The text an embedder sees for a chunk: title and section give it context.
fn embedding_text(title: &str, section: Option<&str>, text: &str) -> String {
    match section {
        Some(s) => format!("{title} — {s}\n{text}"),
        None => format!("{title}\n{text}"),
    }
}

/// A document's final metadata: `metadata` (defaults or upload fields) as the tag
/// script changes it, checked against the pipeline's required fields and filter.
///
/// # Errors
/// [`TagError`] naming the document and, for bad values, the field.
pub fn metadata_for(
    stage: &IngestStage,
    allowed: &Filter,
    source: &str,
    file_name: &str,
    title: &str,
    parsed: &ParsedDocument,
    metadata: Metadata,
) -> Result<Metadata, TagError> {
    let metadata = match &stage.tag {
        None => metadata,
        Some(script) => {
            let input = TagInput {
                path: source.to_owned(),
                file_name: file_name.to_owned(),
                title: title.to_owned(),
                text_head: text_head(parsed),
                metadata,
            };
            tag::tag(script, &input)?
        }
    };
    tag::validate(source, &metadata, &stage.required, allowed)?;
    Ok(metadata)
}

/// The start of a document's text, for tag scripts.
fn text_head(doc: &ParsedDocument) -> String {
    let mut head = String::new();
    for section in &doc.sections {
        if head.chars().count() >= TEXT_HEAD_CHARS {
            break;
        }
        if !head.is_empty() {
            head.push('\n');
        }
        head.push_str(&section.text);
    }
    head.chars().take(TEXT_HEAD_CHARS).collect()
}

/// The file name without its extension, as a fallback title.
pub fn file_stem(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned())
}

fn format_name(f: parse::DocFormat) -> &'static str {
    match f {
        parse::DocFormat::Text => "txt",
        parse::DocFormat::Markdown => "markdown",
        parse::DocFormat::Html => "html",
        parse::DocFormat::Pdf => "pdf",
        parse::DocFormat::Docx => "docx",
    }
}

/// The files under `paths` (files as given, directories walked recursively in
/// name order; hidden entries skipped). Sources are named relative to `base`
/// when inside it, so an index built from a checkout names files the same everywhere.
///
/// # Errors
/// A path that does not exist or cannot be read, with the path.
pub fn collect_inputs(paths: &[PathBuf], base: &Path) -> Result<Vec<IngestInput>, std::io::Error> {
    let base = base.canonicalize()?;
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(path) = stack.pop() {
        let meta =
            std::fs::metadata(&path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(&path)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                .collect();
            children.sort();
            stack.extend(children.into_iter().rev());
        } else {
            let canonical = path.canonicalize()?;
            let source = canonical
                .strip_prefix(&base)
                .unwrap_or(&canonical)
                .to_string_lossy()
                .into_owned();
            out.push(IngestInput::File { path, source });
        }
    }
    Ok(out)
}
