//! Retrieve stage: keyword (BM25) and vector search, fused, filtered by metadata
//! inside both searches.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use crate::config::Diagnostic;
use crate::store::{ChunkId, Filter};

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
}

/// Fusion settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FusionConfig {
    /// `rrf` (reciprocal rank fusion, the default) or `weighted` (weighted sum of min-max normalised scores).
    #[serde(default)]
    pub method: FusionMethod,
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

/// Fusion methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FusionMethod {
    /// Reciprocal rank fusion: score = Σ weight / (k + rank).
    #[default]
    Rrf,
    /// Weighted sum of scores, each list min-max normalised to 0..=1.
    Weighted,
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
}

/// Checked fusion parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    pub method: FusionMethod,
    pub vector_weight: f32,
    pub keyword_weight: f32,
    pub rrf_k: f32,
}

impl RetrieveConfig {
    /// Check the retrieve settings. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> RetrieveStage {
        let top_k = self.top_k.as_ref().map_or(6, |t| t.value);
        if let Some(t) = &self.top_k {
            if !(1..=100).contains(&t.value) {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    t,
                    "retrieve.top_k",
                    "top_k must be between 1 and 100",
                ));
            }
        }
        let candidates = self.candidates.as_ref().map_or(50.max(top_k), |c| c.value);
        if let Some(c) = &self.candidates {
            if c.value < top_k || c.value > 1000 {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    c,
                    "retrieve.candidates",
                    format!("candidates must be between top_k ({top_k}) and 1000"),
                ));
            }
        }
        let f = &self.fusion;
        let weight = |w: &Option<Spanned<f32>>, key: &str, cx: &mut CompileCx<'_>| {
            let v = w.as_ref().map_or(0.5, |w| w.value);
            if let Some(w) = w {
                if !(0.0..=1.0).contains(&w.value) || !w.value.is_finite() {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        w,
                        format!("retrieve.fusion.{key}"),
                        format!("{key} must be between 0 and 1, got {}", w.value),
                    ));
                }
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
                vector_weight,
                keyword_weight,
                rrf_k,
            },
            filter,
        }
    }
}

/// One fused result with the scores that made it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fused {
    pub chunk: ChunkId,
    pub score: f32,
    /// BM25 score, when the keyword search found the chunk.
    pub keyword_score: Option<f32>,
    /// Cosine similarity, when the vector search found the chunk.
    pub vector_score: Option<f32>,
}

impl Fusion {
    /// Combine two ranked lists (best first) into one, best first. Ties break by chunk id
    /// so the order is deterministic.
    pub fn fuse(&self, keyword: &[(ChunkId, f32)], vector: &[(ChunkId, f32)]) -> Vec<Fused> {
        let mut by_chunk: HashMap<ChunkId, Fused> = HashMap::new();
        let mut add = |list: &[(ChunkId, f32)], weight: f32, is_vector: bool| {
            let (lo, hi) = min_max(list);
            for (rank, &(chunk, raw)) in list.iter().enumerate() {
                let part = match self.method {
                    FusionMethod::Rrf => weight / (self.rrf_k + rank as f32 + 1.0),
                    FusionMethod::Weighted => weight * normalise(raw, lo, hi),
                };
                let entry = by_chunk.entry(chunk).or_insert(Fused {
                    chunk,
                    score: 0.0,
                    keyword_score: None,
                    vector_score: None,
                });
                entry.score += part;
                if is_vector {
                    entry.vector_score = Some(raw);
                } else {
                    entry.keyword_score = Some(raw);
                }
            }
        };
        add(keyword, self.keyword_weight, false);
        add(vector, self.vector_weight, true);
        let mut fused: Vec<Fused> = by_chunk.into_values().collect();
        fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
        fused
    }
}

fn min_max(list: &[(ChunkId, f32)]) -> (f32, f32) {
    list.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(_, s)| {
            (lo.min(s), hi.max(s))
        })
}

/// Min-max normalisation; a list whose scores are all equal maps to 1.
fn normalise(s: f32, lo: f32, hi: f32) -> f32 {
    if hi - lo <= f32::EPSILON {
        1.0
    } else {
        (s - lo) / (hi - lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fusion(method: FusionMethod, vw: f32) -> Fusion {
        Fusion {
            method,
            vector_weight: vw,
            keyword_weight: 1.0 - vw,
            rrf_k: 60.0,
        }
    }

    #[test]
    fn rrf_rewards_agreement() {
        let kw = [(1, 9.0), (2, 5.0), (3, 1.0)];
        let vec = [(2, 0.9), (4, 0.8), (1, 0.1)];
        let out = fusion(FusionMethod::Rrf, 0.5).fuse(&kw, &vec);
        // 1: 0.5/61 + 0.5/63; 2: 0.5/62 + 0.5/61 → 2 wins (better worst rank).
        assert_eq!(out[0].chunk, 2);
        assert_eq!(out[1].chunk, 1);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].keyword_score, Some(5.0));
        assert_eq!(out[0].vector_score, Some(0.9));
        let four = out.iter().find(|f| f.chunk == 4).unwrap();
        assert_eq!(four.keyword_score, None);
        assert!((out[0].score - (0.5 / 62.0 + 0.5 / 61.0)).abs() < 1e-6);
    }

    #[test]
    fn weighted_normalises_each_list() {
        let kw = [(1, 20.0), (2, 10.0)];
        let vec = [(2, 0.5), (1, 0.4)];
        let out = fusion(FusionMethod::Weighted, 0.8).fuse(&kw, &vec);
        // 1: 0.2*1 + 0.8*0 = 0.2; 2: 0.2*0 + 0.8*1 = 0.8
        assert_eq!(out[0].chunk, 2);
        assert!((out[0].score - 0.8).abs() < 1e-6);
        assert!((out[1].score - 0.2).abs() < 1e-6);
    }

    #[test]
    fn weight_zero_ignores_a_list_and_empty_lists_are_fine() {
        let kw = [(1, 3.0)];
        let vec = [(2, 0.9)];
        let out = fusion(FusionMethod::Weighted, 1.0).fuse(&kw, &vec);
        assert_eq!(out[0].chunk, 2);
        assert_eq!(out[1].score, 0.0);
        assert!(fusion(FusionMethod::Rrf, 0.5).fuse(&[], &[]).is_empty());
    }
}
