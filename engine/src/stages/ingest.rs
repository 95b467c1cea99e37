//! Ingest stage: where documents come from, how they are chunked and tagged, and
//! which embedder turns chunks into vectors.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use super::resilience::{RetryConfig, compile_policy};
use super::tag::TagConfig;
use crate::vocab::diagnostic::Diagnostic;
use crate::vocab::ids::fingerprint;
use crate::docstore::{StoreConfig, StoreSpec};
use crate::ingest::parse::ParseLimits;
use crate::providers::aws::AwsTarget;
use crate::providers::embed::titan::TITAN_DIMS;
use crate::providers::openai_http::OpenAiTarget;
use crate::providers::resilience::RetryPolicy;
use crate::script::Script;
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
    /// bag-of-words hash with no model, for tests; `bedrock_titan` calls Titan Text
    /// Embeddings V2 on Amazon Bedrock; `openai_compat` calls an OpenAI-compatible
    /// `/embeddings` server. An index remembers the embedder that built it and refuses
    /// another.
    #[serde(default)]
    pub provider: EmbedProvider,
    /// Vector size: `hash` 8 to 4096 (default 384); `bedrock_titan` 256, 512 or 1024
    /// (default 1024); `openai_compat` the model's size (required). `local` is always 384.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub dims: Option<Spanned<u32>>,
    /// `bedrock_titan`, `openai_compat`: the model id (default for `bedrock_titan`:
    /// `amazon.titan-embed-text-v2:0`). Also the key of its price in `pricing.yaml`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub model_id: Option<Spanned<String>>,
    /// `bedrock_titan`: AWS region (default: the standard AWS chain's). Credentials
    /// always come from the standard AWS chain.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// `bedrock_titan`: endpoint to call instead of the region's (VPC endpoint, test server).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub endpoint_url: Option<Spanned<String>>,
    /// `openai_compat`: the API base, ending before `/embeddings`, e.g. `http://127.0.0.1:11434/v1`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub base_url: Option<Spanned<String>>,
    /// `openai_compat`: name of the environment variable holding the API key (never the key).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_key_env: Option<Spanned<String>>,
    /// `bedrock_titan`, `openai_compat`: longest single call, in milliseconds (default 60000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// `bedrock_titan`, `openai_compat`: how throttling, 5xx and timeouts are retried.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
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
    /// Amazon Titan Text Embeddings V2 on Bedrock (InvokeModel).
    BedrockTitan,
    /// An OpenAI-compatible `/embeddings` server.
    OpenaiCompat,
}

impl EmbedProvider {
    /// As the YAML spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Hash => "hash",
            Self::BedrockTitan => "bedrock_titan",
            Self::OpenaiCompat => "openai_compat",
        }
    }
}

/// Titan's default model id.
pub const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";

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
    /// Where originals are kept (not part of the fingerprint: it does not shape documents).
    pub store: StoreSpec,
}

/// Which embedder, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbedSpec {
    pub provider: EmbedProvider,
    pub dims: usize,
    /// The remote model id (`bedrock_titan`, `openai_compat`).
    pub model_id: Option<String>,
    /// Where a remote embedder is.
    pub remote: RemoteEmbed,
    /// Retries and timeouts of a remote embedder.
    pub policy: RetryPolicy,
}

/// Where a remote embedder is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteEmbed {
    /// `local` and `hash` run in-process.
    None,
    Bedrock(AwsTarget),
    OpenAi(OpenAiTarget),
}

impl EmbedSpec {
    /// The `hash` embedder with `dims` dimensions.
    pub fn hash(dims: usize) -> Self {
        Self {
            provider: EmbedProvider::Hash,
            dims,
            model_id: None,
            remote: RemoteEmbed::None,
            policy: RetryPolicy::default(),
        }
    }

    /// The id the embedder records in an index (what [`crate::providers::embed::Embedder::id`] says).
    pub fn id(&self) -> String {
        match (self.provider, &self.model_id) {
            (EmbedProvider::Local, _) => crate::providers::embed::local_bert::ID.to_owned(),
            (EmbedProvider::Hash, _) => "hash/v1".to_owned(),
            (p, Some(m)) => format!("{}/{m}", p.as_str()),
            (p, None) => p.as_str().to_owned(),
        }
    }

    /// The remote model id, the key of its price.
    pub fn model_id(&self) -> Option<&str> {
        self.model_id.as_deref()
    }

    /// What of the embedder shapes stored vectors, for the ingest fingerprint. The
    /// in-process embedders keep the form older indexes were fingerprinted with.
    pub fn fingerprint_part(&self) -> String {
        match self.provider {
            EmbedProvider::Local | EmbedProvider::Hash => {
                format!("EmbedSpec {{ provider: {:?}, dims: {} }}", self.provider, self.dims)
            }
            _ => format!("{}/{}", self.id(), self.dims),
        }
    }

    /// Whether two specs produce the same vectors (same model and dimension), whatever
    /// their endpoints or retry settings.
    pub fn same_vectors(&self, other: &EmbedSpec) -> bool {
        self.id() == other.id() && self.dims == other.dims
    }
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

        let embed = self.embed.compile(cx);

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
            &embed.fingerprint_part(),
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
            store: self.store.as_ref().map_or(StoreSpec::Default, |s| s.compile(cx)),
        }
    }
}

impl EmbedConfig {
    /// Check the embedder settings.
    fn compile(&self, cx: &mut CompileCx<'_>) -> EmbedSpec {
        let provider = self.provider;
        self.check_applicable(cx);
        let dims_in = |cx: &mut CompileCx<'_>, allowed: &dyn Fn(u32) -> bool, message: &str| {
            if let Some(d) = &self.dims
                && !allowed(d.value)
            {
                cx.push(Diagnostic::spanned(cx.file, d, "ingest.embed.dims", message));
            }
        };
        let policy = compile_policy(cx, "ingest.embed", self.retry.as_ref(), self.timeout_ms.as_ref());
        let mut spec = EmbedSpec {
            provider,
            dims: 384,
            model_id: None,
            remote: RemoteEmbed::None,
            policy,
        };
        match provider {
            EmbedProvider::Local => {
                dims_in(
                    cx,
                    &|d| d == 384,
                    "the local model has 384 dimensions; remove `dims` or set it to 384",
                );
            }
            EmbedProvider::Hash => {
                dims_in(cx, &|d| (8..=4096).contains(&d), "dims must be between 8 and 4096");
                spec.dims = self.dims.as_ref().map_or(384, |d| d.value as usize);
            }
            EmbedProvider::BedrockTitan => {
                dims_in(
                    cx,
                    &|d| TITAN_DIMS.contains(&(d as usize)),
                    "Titan Text Embeddings V2 has 256, 512 or 1024 dimensions",
                );
                spec.dims = self.dims.as_ref().map_or(1024, |d| d.value as usize);
                spec.model_id = Some(
                    self.model_id
                        .as_ref()
                        .map_or_else(|| TITAN_V2.to_owned(), |m| m.value.clone()),
                );
                spec.remote = RemoteEmbed::Bedrock(AwsTarget {
                    region: self.region.as_ref().map(|r| r.value.clone()),
                    endpoint_url: self
                        .endpoint_url
                        .as_ref()
                        .map(|u| cx.http_url("ingest.embed.endpoint_url".to_owned(), u)),
                });
                if let Some(id) = &spec.model_id
                    && !cx.pricing.embeddings.contains_key(id)
                {
                    let message = cx.pricing.missing("embeddings", id);
                    match &self.model_id {
                        Some(m) => cx.push(Diagnostic::spanned(cx.file, m, "ingest.embed.model_id", message)),
                        None => cx.push(Diagnostic {
                            key_path: "ingest.embed".to_owned(),
                            ..Diagnostic::file(cx.file, message)
                        }),
                    }
                }
            }
            EmbedProvider::OpenaiCompat => {
                dims_in(cx, &|d| (1..=16384).contains(&d), "dims must be between 1 and 16384");
                let missing = |cx: &mut CompileCx<'_>, key: &str| {
                    cx.push(Diagnostic {
                        key_path: format!("ingest.embed.{key}"),
                        ..Diagnostic::file(cx.file, format!("provider `openai_compat` needs `{key}`"))
                    });
                };
                if self.dims.is_none() {
                    missing(cx, "dims");
                }
                if self.model_id.is_none() {
                    missing(cx, "model_id");
                }
                spec.dims = self.dims.as_ref().map_or(0, |d| d.value as usize);
                spec.model_id = self.model_id.as_ref().map(|m| m.value.clone());
                let base_url = match &self.base_url {
                    Some(u) => cx.http_url("ingest.embed.base_url".to_owned(), u),
                    None => {
                        missing(cx, "base_url");
                        String::new()
                    }
                };
                spec.remote = RemoteEmbed::OpenAi(OpenAiTarget {
                    base_url,
                    api_key_env: self.api_key_env.as_ref().map(|e| e.value.clone()),
                });
            }
        }
        spec
    }

    /// Keys set that the provider does not read.
    fn check_applicable(&self, cx: &mut CompileCx<'_>) {
        use EmbedProvider::{BedrockTitan, OpenaiCompat};
        let p = self.provider;
        let remote = [BedrockTitan, OpenaiCompat].as_slice();
        let keys: [(&str, Option<serde_saphyr::Location>, &[EmbedProvider]); 6] = [
            ("model_id", self.model_id.as_ref().map(|s| s.referenced), remote),
            ("region", self.region.as_ref().map(|s| s.referenced), &[BedrockTitan]),
            (
                "endpoint_url",
                self.endpoint_url.as_ref().map(|s| s.referenced),
                &[BedrockTitan],
            ),
            (
                "base_url",
                self.base_url.as_ref().map(|s| s.referenced),
                &[OpenaiCompat],
            ),
            (
                "api_key_env",
                self.api_key_env.as_ref().map(|s| s.referenced),
                &[OpenaiCompat],
            ),
            ("timeout_ms", self.timeout_ms.as_ref().map(|s| s.referenced), remote),
        ];
        for (name, at, allowed) in keys {
            if let Some(at) = at
                && !allowed.contains(&p)
            {
                cx.push(Diagnostic::at(
                    cx.file,
                    at,
                    format!("ingest.embed.{name}"),
                    format!("`{name}` does not apply to embed provider `{}`", p.as_str()),
                ));
            }
        }
        if self.retry.is_some() && !remote.contains(&p) {
            cx.push(Diagnostic {
                key_path: "ingest.embed.retry".to_owned(),
                ..Diagnostic::file(
                    cx.file,
                    format!("`retry` does not apply to embed provider `{}`", p.as_str()),
                )
            });
        }
    }
}
