//! Ingest stage: where documents come from, how they are chunked and tagged, and
//! which embedder turns chunks into vectors.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use super::tag::{MetadataField, TagConfig};
use crate::config::Diagnostic;
use crate::ingest::parse::ParseLimits;
use crate::script::Script;
use crate::store::Metadata;

/// How documents enter the index.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Where documents come from. `ragline ingest <pipeline>` without paths reads these.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// How documents are split into chunks.
    #[serde(default)]
    pub chunk: ChunkConfig,
    /// Metadata every document of this pipeline gets unless it says otherwise.
    #[serde(default)]
    pub metadata: MetadataConfig,
    /// Which model embeds chunks and queries.
    #[serde(default)]
    pub embed: EmbedConfig,
    /// A rhai rule that sets each document's metadata from its path, title and text.
    #[serde(default)]
    pub tag: Option<TagConfig>,
    /// Largest file accepted, in bytes (default 50 MiB).
    #[serde(default)]
    pub max_file_bytes: Option<u64>,
}

const DEFAULT_MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// One source of documents.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A directory, read recursively. Relative paths resolve against the pipeline file.
    Dir(#[schemars(with = "String")] Spanned<PathBuf>),
}

/// Chunking settings. Sizes are in the embedder's tokens (words for embedders without a tokenizer).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[derive(Default)]
pub struct ChunkConfig {
    /// `markdown` splits at headings, then paragraphs and sentences; `text` at paragraphs and sentences.
    #[serde(default)]
    pub kind: ChunkKind,
    /// Largest chunk, in tokens (default 200; at most 256 for the `local` embedder).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_tokens: Option<Spanned<u32>>,
    /// Tokens shared by neighbouring chunks (default 30); must be less than `max_tokens`.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub overlap_tokens: Option<Spanned<u32>>,
}

/// Chunker kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChunkKind {
    /// Markdown-aware: headings and blocks are preferred split points.
    #[default]
    Markdown,
    /// Plain text: paragraphs, then sentences, then words.
    Text,
}

/// Default metadata for documents of this pipeline.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    /// Domain of the documents, e.g. `hr` (default `general`). Queries filter on it.
    #[serde(default)]
    pub domain: Option<String>,
    /// Owning department, e.g. `People Operations`.
    #[serde(default)]
    pub department: Option<String>,
    /// Kind of document, e.g. `policy`.
    #[serde(default)]
    pub doc_type: Option<String>,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Fields every document must have after tagging, e.g. `[doc_type]`; a document
    /// without them is refused with an error naming the field.
    #[serde(default)]
    pub required: Vec<MetadataField>,
}

/// Embedder settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedConfig {
    /// `local` runs all-MiniLM-L6-v2 in-process (384 dims); `hash` is a deterministic
    /// bag-of-words hash with no model, for tests.
    #[serde(default)]
    pub provider: EmbedProvider,
    /// Vector size for `hash` (default 384). The `local` model is always 384.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub dims: Option<Spanned<u32>>,
}

/// Embedding providers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmbedProvider {
    /// all-MiniLM-L6-v2 on candle, fetched and verified by the set-up.
    #[default]
    Local,
    /// Feature hashing of words and word pairs: fast, deterministic, no model. Lexical only.
    Hash,
}

/// The checked ingest stage.
#[derive(Debug, Clone)]
pub struct IngestStage {
    /// Source directories, absolute or relative to the working directory.
    pub dirs: Vec<PathBuf>,
    pub chunk_kind: ChunkKind,
    pub max_tokens: usize,
    pub overlap_tokens: usize,
    pub defaults: Metadata,
    pub embed: EmbedSpec,
    pub limits: ParseLimits,
    /// The tag script, if any.
    pub tag: Option<Script>,
    /// Fields every document must have.
    pub required: Vec<MetadataField>,
    /// Hash of every setting that shapes a stored document (chunking, embedder,
    /// default metadata, tag script): a document ingested under other settings is redone.
    pub fingerprint: String,
}

/// Which embedder, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbedSpec {
    pub provider: EmbedProvider,
    pub dims: usize,
}

/// The local model's context window, in tokens.
pub const LOCAL_MAX_TOKENS: u32 = 256;

impl IngestConfig {
    /// Check the ingest settings. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> IngestStage {
        let mut dirs = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            match source {
                SourceConfig::Dir(dir) => {
                    let path = cx.resolve(&dir.value);
                    if !path.is_dir() {
                        cx.push(Diagnostic::spanned(
                            cx.file,
                            dir,
                            format!("ingest.sources[{i}].dir"),
                            format!("directory not found: {}", path.display()),
                        ));
                    }
                    dirs.push(path);
                }
            }
        }

        let embed = match self.embed.provider {
            EmbedProvider::Local => {
                if let Some(d) = &self.embed.dims
                    && d.value != 384
                {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        d,
                        "ingest.embed.dims",
                        "the local model has 384 dimensions; remove `dims` or set it to 384",
                    ));
                }
                EmbedSpec {
                    provider: EmbedProvider::Local,
                    dims: 384,
                }
            }
            EmbedProvider::Hash => {
                let dims = self.embed.dims.as_ref().map_or(384, |d| d.value);
                if let Some(d) = &self.embed.dims
                    && !(8..=4096).contains(&d.value)
                {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        d,
                        "ingest.embed.dims",
                        "dims must be between 8 and 4096",
                    ));
                }
                EmbedSpec {
                    provider: EmbedProvider::Hash,
                    dims: dims as usize,
                }
            }
        };

        let max_tokens = self.chunk.max_tokens.as_ref().map_or(200, |m| m.value);
        let overlap = self.chunk.overlap_tokens.as_ref().map_or(30, |o| o.value);
        if let Some(m) = &self.chunk.max_tokens {
            if m.value < 16 {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    m,
                    "ingest.chunk.max_tokens",
                    "max_tokens must be at least 16",
                ));
            } else if embed.provider == EmbedProvider::Local && m.value > LOCAL_MAX_TOKENS {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    m,
                    "ingest.chunk.max_tokens",
                    format!("max_tokens {} exceeds the local embedder's {LOCAL_MAX_TOKENS}-token window; the rest of each chunk would not be embedded", m.value),
                ));
            }
        }
        if let Some(o) = &self.chunk.overlap_tokens
            && o.value >= max_tokens
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                o,
                "ingest.chunk.overlap_tokens",
                format!(
                    "overlap_tokens ({}) must be less than max_tokens ({max_tokens})",
                    o.value
                ),
            ));
        }

        let m = &self.metadata;
        let tag = self.tag.as_ref().and_then(|t| t.compile(cx));
        let defaults = Metadata {
            domain: m.domain.clone().unwrap_or_else(|| "general".to_owned()),
            department: m.department.clone(),
            doc_type: m.doc_type.clone(),
            tags: m.tags.clone(),
        };
        let chunk_kind = self.chunk.kind;
        let overlap_tokens = overlap.min(max_tokens.saturating_sub(1)) as usize;
        let fingerprint = fingerprint(&[
            &format!("{chunk_kind:?}/{max_tokens}/{overlap_tokens}"),
            &format!("{embed:?}"),
            &serde_json::to_string(&defaults).unwrap_or_default(),
            &format!("{:?}", m.required),
            tag.as_ref().map_or("", |t| t.hash.as_str()),
        ]);
        IngestStage {
            dirs,
            chunk_kind,
            max_tokens: max_tokens as usize,
            overlap_tokens,
            defaults,
            embed,
            limits: ParseLimits {
                max_file_bytes: self.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES),
                ..ParseLimits::default()
            },
            tag,
            required: m.required.clone(),
            fingerprint,
        }
    }
}

/// Short hex sha256 of the parts, each length-prefixed so no two lists collide.
pub fn fingerprint(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())[..16].to_owned()
}
