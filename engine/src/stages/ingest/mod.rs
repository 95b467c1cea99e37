//! The ingest stage: where documents come from (`sources`, and the document `store`),
//! how they are read (`parse`), split (`chunk`) and tagged (`tag`), and which model
//! turns chunks into vectors (`embed`). Each sub-stage is one file with its config
//! and runtime; `pipeline::ingest` runs them in order.

pub mod chunk;
pub mod embed;
mod error;
pub mod parse;
pub mod sources;
pub mod store;
pub mod tag;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use self::chunk::{ChunkConfig, Chunker};
use self::embed::{EmbedConfig, EmbedSpec, LOCAL_MAX_TOKENS};
pub use self::error::FileError;
use self::parse::ParseLimits;
use self::sources::{SourceConfig, Sources};
use self::store::StoreConfig;
use self::tag::{TagConfig, Tagger};
use super::{CompileCx, Stage};
use crate::providers::docstore::StoreSpec;
use crate::vocab::ids::fingerprint;
use crate::vocab::{Metadata, MetadataField};

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
    /// Where originals are kept: uploads are written here before they are indexed, and
    /// `ragline sync` mirrors it into the index. Default: a directory under the data dir.
    #[serde(default)]
    pub store: Option<StoreConfig>,
}

const DEFAULT_MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

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

/// The checked ingest stage: its sub-stages in the order they run.
#[derive(Debug, Clone)]
pub struct IngestStage {
    pub sources: Sources,
    /// Where originals are kept (not part of the fingerprint: it does not shape documents).
    pub store: StoreSpec,
    pub limits: ParseLimits,
    pub chunk: Chunker,
    /// Metadata a document gets unless it (an upload) or the tag script says otherwise.
    pub defaults: Metadata,
    pub tag: Tagger,
    pub embed: EmbedSpec,
    /// Hash of every setting that shapes a stored document (chunking, embedder,
    /// default metadata, tag script): a document ingested under other settings is redone.
    pub fingerprint: String,
}

impl IngestStage {
    /// The files its sub-stages were compiled from (the tag script).
    pub fn files_to_watch(&self) -> Vec<PathBuf> {
        self.tag.files_to_watch()
    }
}

impl IngestConfig {
    /// Check the ingest settings. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> IngestStage {
        let sources = sources::compile(cx, &self.sources);
        let embed = self.embed.compile(cx);
        let window = (embed == EmbedSpec::Local).then_some((LOCAL_MAX_TOKENS, "local"));
        let chunk = self.chunk.compile(cx, window);
        let m = &self.metadata;
        let tag = Tagger {
            script: self.tag.as_ref().and_then(|t| t.compile(cx)),
            required: m.required.clone(),
        };
        let defaults = Metadata {
            domain: m.domain.clone().unwrap_or_else(|| "general".to_owned()),
            department: m.department.clone(),
            doc_type: m.doc_type.clone(),
            tags: m.tags.clone(),
        };
        let fingerprint = fingerprint(&[
            &chunk.fingerprint_part(),
            &embed.fingerprint_part(),
            &serde_json::to_string(&defaults).unwrap_or_default(),
            &format!("{:?}", m.required),
            tag.script.as_ref().map_or("", |t| t.hash.as_str()),
        ]);
        IngestStage {
            sources,
            store: self.store.as_ref().map_or(StoreSpec::Default, |s| s.compile(cx)),
            limits: ParseLimits {
                max_file_bytes: self.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES),
                ..ParseLimits::default()
            },
            chunk,
            defaults,
            tag,
            embed,
            fingerprint,
        }
    }
}
