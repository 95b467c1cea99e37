//! One input through read, parse, chunk and tag: what a batch embeds and writes next,
//! unless the index already has it unchanged.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::IngestTarget;
use super::report::{FileOutcome, FileReport};
use crate::pipeline::step::step;
use crate::stages::ingest::FileError;
use crate::stages::ingest::chunk::Chunk;
use crate::stages::ingest::parse::{self, DocFormat, ParseError, ParsedDocument, detect_format};
use crate::stages::ingest::sources::IngestInput;
use crate::stages::ingest::tag::TagInput;
use crate::store::DocumentRecord;
use crate::vocab::ids::{document_id, fingerprint};

/// A parsed and chunked document waiting for its embeddings.
pub(super) struct Pending {
    pub record: DocumentRecord,
    pub chunks: Vec<Chunk>,
}

pub(super) enum Prepared {
    Changed(Box<Pending>),
    Unchanged(FileReport),
}

/// A per-file failure, already reported.
pub(super) struct Failed(pub FileReport);

fn failed(source: &str, error: FileError, message: impl Into<String>) -> Failed {
    Failed(FileReport {
        source: source.to_owned(),
        outcome: FileOutcome::failed(error, message),
    })
}

fn parse_failed(source: &str, e: &ParseError) -> Failed {
    failed(source, e.into(), e.to_string())
}

/// Read, check, parse, chunk and tag one input, unless the index already has it unchanged.
pub(super) fn prepare(target: &IngestTarget<'_>, input: IngestInput) -> Result<Prepared, Failed> {
    let stage = target.stage;
    let (name, source, content, metadata, origin) = match input {
        IngestInput::File { path, source } => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let size = std::fs::metadata(&path)
                .map(|m| m.len())
                .map_err(|e| failed(&source, FileError::Io, e.to_string()))?;
            if size > stage.limits.max_file_bytes {
                let e = ParseError::TooLarge {
                    size,
                    limit: stage.limits.max_file_bytes,
                };
                return Err(parse_failed(&source, &e));
            }
            let bytes = std::fs::read(&path).map_err(|e| failed(&source, FileError::Io, e.to_string()))?;
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
        .map_err(|e| failed(&source, FileError::Index, e.to_string()))?;
    if let Some(existing) = existing.filter(|d| d.content_hash == content_hash && d.settings == settings) {
        // Same bytes under a new object version (e.g. uploaded again): remember the version,
        // so the next sync skips the object without downloading it.
        if origin.is_some() && existing.origin != origin {
            target
                .index
                .set_origin(&id, origin.as_deref())
                .map_err(|e| failed(&source, FileError::Index, e.to_string()))?;
        }
        return Ok(Prepared::Unchanged(FileReport {
            source,
            outcome: FileOutcome::Unchanged { document_id: id },
        }));
    }
    let (parsed, bytes, format) = match content {
        Content::Bytes(bytes) => {
            let parsed =
                step(target.pipeline, &stage.limits, (&name, &bytes)).map_err(|e| parse_failed(&source, &e))?;
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
    let Ok(chunks) = step(target.pipeline, &stage.chunk, (&parsed, target.embedder.tokenizer()));
    if chunks.is_empty() {
        return Err(parse_failed(&source, &ParseError::Empty));
    }
    let title = title_of(&parsed, &name);
    let input = TagInput::new(&source, &name, &title, &parsed, metadata);
    let metadata = step(target.pipeline, &stage.tag, (&input, target.allowed))
        .map_err(|e| failed(&source, (&e).into(), e.to_string()))?;
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

/// A document's title: its own, else the file name without its extension.
pub(super) fn title_of(parsed: &ParsedDocument, file_name: &str) -> String {
    parsed
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| file_stem(file_name))
}

/// The file name without its extension, as a fallback title.
fn file_stem(name: &str) -> String {
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
