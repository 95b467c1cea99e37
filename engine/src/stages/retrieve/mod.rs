//! Retrieve stage: keyword (BM25) and vector search, fused, filtered by metadata
//! inside both searches.

pub mod fusion;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use self::fusion::{Fusion, FusionMethod, Normalization};
use super::CompileCx;
use crate::store::{Filter, Stemming};
use crate::vocab::diagnostic::Diagnostic;

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

/// Upper bound of `retrieve.keyword.context_chunks`.
const MAX_CONTEXT_CHUNKS: u32 = 5;

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

impl RetrieveConfig {
    /// Check the retrieve settings. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> RetrieveStage {
        let top_k = self.top_k.as_ref().map_or(6, |t| t.value);
        if let Some(t) = &self.top_k
            && !(1..=100).contains(&t.value)
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                t,
                "retrieve.top_k",
                "top_k must be between 1 and 100",
            ));
        }
        let candidates = self.candidates.as_ref().map_or(50.max(top_k), |c| c.value);
        if let Some(c) = &self.candidates
            && (c.value < top_k || c.value > 1000)
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                c,
                "retrieve.candidates",
                format!("candidates must be between top_k ({top_k}) and 1000"),
            ));
        }
        let f = &self.fusion;
        let weight = |w: &Option<Spanned<f32>>, key: &str, cx: &mut CompileCx<'_>| {
            let v = w.as_ref().map_or(0.5, |w| w.value);
            if let Some(w) = w
                && (!(0.0..=1.0).contains(&w.value) || !w.value.is_finite())
            {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    w,
                    format!("retrieve.fusion.{key}"),
                    format!("{key} must be between 0 and 1, got {}", w.value),
                ));
            }
            v
        };
        let vector_weight = weight(&f.vector_weight, "vector_weight", cx);
        let keyword_weight = weight(&f.keyword_weight, "keyword_weight", cx);
        if (vector_weight + keyword_weight - 1.0).abs() > 1e-3 {
            let at = f.vector_weight.as_ref().or(f.keyword_weight.as_ref());
            if let Some(at) = at {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    at,
                    "retrieve.fusion",
                    format!("vector_weight ({vector_weight}) and keyword_weight ({keyword_weight}) must add up to 1"),
                ));
            }
        }
        let rrf_k = f.rrf_k.as_ref().map_or(60.0, |k| k.value);
        if let Some(k) = &f.rrf_k {
            if f.method != FusionMethod::Rrf {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    k,
                    "retrieve.fusion.rrf_k",
                    "rrf_k applies only to method `rrf`",
                ));
            } else if !(k.value >= 1.0 && k.value.is_finite()) {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    k,
                    "retrieve.fusion.rrf_k",
                    "rrf_k must be at least 1",
                ));
            }
        }
        if let Some(n) = &f.normalization
            && f.method != FusionMethod::Weighted
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                n,
                "retrieve.fusion.normalization",
                "normalization applies only to method `weighted`",
            ));
        }
        if f.method == FusionMethod::KeywordFirst
            && let Some(w) = f.vector_weight.as_ref().or(f.keyword_weight.as_ref())
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                w,
                "retrieve.fusion",
                "weights do not apply to method `keyword_first`: keyword hits always come first",
            ));
        }
        let title_boost = self.keyword.title_boost.as_ref().map_or(1.0, |b| b.value);
        if let Some(b) = &self.keyword.title_boost
            && !(b.value.is_finite() && (0.0..=100.0).contains(&b.value))
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                b,
                "retrieve.keyword.title_boost",
                format!("title_boost must be between 0 and 100, got {}", b.value),
            ));
        }
        let context_chunks = self.keyword.context_chunks.as_ref().map_or(1, |c| c.value);
        if let Some(c) = &self.keyword.context_chunks
            && c.value > MAX_CONTEXT_CHUNKS
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                c,
                "retrieve.keyword.context_chunks",
                format!("context_chunks must be at most {MAX_CONTEXT_CHUNKS}, got {}", c.value),
            ));
        }
        let mut filter = Filter::default();
        for (field, values) in [
            ("domain", &self.filter.domain),
            ("department", &self.filter.department),
            ("doc_type", &self.filter.doc_type),
            ("tags", &self.filter.tags),
        ] {
            if !values.is_empty() {
                filter.fields.insert(field.to_owned(), values.clone());
            }
        }
        RetrieveStage {
            top_k: top_k as usize,
            candidates: candidates as usize,
            fusion: Fusion {
                method: f.method,
                normalization: f.normalization.as_ref().map_or(Normalization::default(), |n| n.value),
                vector_weight,
                keyword_weight,
                rrf_k,
            },
            filter,
            stemming: match self.keyword.stemming {
                StemmingConfig::English => Stemming::English,
                StemmingConfig::None => Stemming::None,
            },
            title_boost,
            context_chunks,
        }
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
