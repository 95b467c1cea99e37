//! The retrieve stage: keyword (BM25) and vector search, fused, filtered by metadata
//! inside both searches. `compile` checks the settings, `search` runs them,
//! `fusion` combines the two result lists.

mod compile;
pub mod fusion;
mod search;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use self::fusion::{Fusion, FusionMethod, Normalization};
pub use self::search::{Hit, Probe, RetrieveError, Retrieved, Search, Searched};
use super::Stage;
use crate::store::Stemming;
use crate::vocab::Filter;

/// Search settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrieveConfig {
    /// Chunks handed to generation (default 6).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub top_k: Option<Spanned<u32>>,
    /// Candidates each search returns before fusion (default 50); at least `top_k`.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub candidates: Option<Spanned<u32>>,
    /// How keyword and vector results are combined.
    #[serde(default)]
    pub fusion: FusionConfig,
    /// Metadata every query of this pipeline is restricted to. A request may narrow it, never widen it.
    #[serde(default)]
    pub filter: FilterConfig,
    /// BM25 settings. They belong to the index: pipelines sharing an index must agree.
    #[serde(default)]
    pub keyword: KeywordConfig,
}

/// BM25 (keyword search) settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordConfig {
    /// `english` (default): lowercase, drop English stop words, stem (`policies` matches
    /// `policy`). `none`: lowercase only, for other languages, codes and identifiers.
    #[serde(default)]
    pub stemming: StemmingConfig,
    /// Weight of a match in a document's title relative to one in its text (default 1: equal).
    /// Titles are short, so BM25 already scores their matches high; above 1 they tend to dominate.
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub title_boost: Option<Spanned<f32>>,
    /// How many neighbouring chunks on each side BM25 reads together with a chunk (default
    /// 1, at most 5). A query whose words fall on both sides of a chunk boundary then still
    /// matches; words in the chunk itself count more than words in its neighbours. 0 ranks
    /// each chunk on its own text only.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub context_chunks: Option<Spanned<u32>>,
}

/// BM25 text analysis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StemmingConfig {
    /// English stop words and Snowball stemming.
    #[default]
    English,
    /// Lowercasing only.
    None,
}

/// Fusion settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FusionConfig {
    /// `rrf` (reciprocal rank fusion, the default), `weighted` (weighted sum of normalised
    /// scores) or `keyword_first` (BM25 hits first, vector hits as the fallback).
    #[serde(default)]
    pub method: FusionMethod,
    /// How `weighted` normalises each list: `min_max` (default) or `z_score`.
    #[serde(default)]
    #[schemars(with = "Option<Normalization>")]
    pub normalization: Option<Spanned<Normalization>>,
    /// Weight of the vector search, 0..=1 (default 0.5). The two weights must add up to 1.
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub vector_weight: Option<Spanned<f32>>,
    /// Weight of the keyword search, 0..=1 (default 0.5).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub keyword_weight: Option<Spanned<f32>>,
    /// RRF's rank constant `k` (default 60); larger flattens the rank curve. `rrf` only.
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub rrf_k: Option<Spanned<f32>>,
}

/// Allowed metadata values. Empty lists allow everything.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Allowed domains.
    #[serde(default)]
    pub domain: Vec<String>,
    /// Allowed departments.
    #[serde(default)]
    pub department: Vec<String>,
    /// Allowed document types.
    #[serde(default)]
    pub doc_type: Vec<String>,
    /// Allowed tags (a chunk passes if it has any of them).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The checked retrieve stage.
#[derive(Debug, Clone)]
pub struct RetrieveStage {
    pub top_k: usize,
    pub candidates: usize,
    pub fusion: Fusion,
    /// The pipeline's own restriction.
    pub filter: Filter,
    /// BM25 analysis of the pipeline's index.
    pub stemming: Stemming,
    /// BM25 title boost of the pipeline's index.
    pub title_boost: f32,
    /// Neighbouring chunks on each side in a chunk's BM25 window.
    pub context_chunks: u32,
}

impl Stage for RetrieveStage {
    fn name(&self) -> &'static str {
        "retrieve"
    }
}

/// Which searches a query runs. Queries are always `hybrid`; the others exist to
/// measure each half on its own (`ragline eval --mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchMode {
    /// BM25 and vector search, fused.
    #[default]
    Hybrid,
    /// BM25 only.
    Keyword,
    /// Vector search only.
    Vector,
}

impl std::str::FromStr for SearchMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hybrid" => Ok(SearchMode::Hybrid),
            "keyword" => Ok(SearchMode::Keyword),
            "vector" => Ok(SearchMode::Vector),
            other => Err(format!("unknown mode `{other}` (expected hybrid, keyword or vector)")),
        }
    }
}

impl std::fmt::Display for SearchMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Keyword => "keyword",
            SearchMode::Vector => "vector",
        })
    }
}
