//! Checking `retrieve:` into a [`RetrieveStage`].

use super::fusion::{Fusion, FusionMethod, Normalization};
use super::{RetrieveConfig, RetrieveStage, StemmingConfig};
use crate::stages::CompileCx;
use crate::store::Stemming;
use crate::vocab::Diagnostic;
use crate::vocab::Filter;
use serde_saphyr::Spanned;

/// Upper bound of `retrieve.keyword.context_chunks`.
const MAX_CONTEXT_CHUNKS: u32 = 5;

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
