//! Fusion: combining the keyword and vector result lists into one ranking. Every
//! fused hit keeps both raw scores, so a user can see why it ranked where it did.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::store::ChunkId;

/// Fusion methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FusionMethod {
    /// Reciprocal rank fusion: score = Σ weight / (k + rank). Uses ranks only, so it
    /// needs no score calibration.
    #[default]
    Rrf,
    /// Weighted sum of normalised scores (see `normalization`).
    Weighted,
    /// Keyword hits first, in BM25 order; vector hits fill the remaining places, so a
    /// query no keyword matches still gets semantic results.
    KeywordFirst,
}

/// How `weighted` fusion puts BM25 scores and cosine similarities on one scale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Per query and list: (s − min) / (max − min), so the best hit of each list scores 1.
    #[default]
    MinMax,
    /// Per query and list: the logistic of (s − mean) / standard deviation, so a hit
    /// scores by how far it stands out from the rest of its list.
    ZScore,
}

/// Checked fusion parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    pub method: FusionMethod,
    pub normalization: Normalization,
    pub vector_weight: f32,
    pub keyword_weight: f32,
    pub rrf_k: f32,
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
        let kw_parts = self.parts(keyword, self.keyword_weight, true);
        let vec_parts = self.parts(vector, self.vector_weight, false);
        for (&(chunk, raw), part) in keyword.iter().zip(kw_parts) {
            let e = by_chunk.entry(chunk).or_insert_with(|| empty(chunk));
            e.score += part;
            e.keyword_score = Some(raw);
        }
        for (&(chunk, raw), part) in vector.iter().zip(vec_parts) {
            let e = by_chunk.entry(chunk).or_insert_with(|| empty(chunk));
            if self.method != FusionMethod::KeywordFirst || e.keyword_score.is_none() {
                e.score += part;
            }
            e.vector_score = Some(raw);
        }
        let mut fused: Vec<Fused> = by_chunk.into_values().collect();
        fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
        fused
    }

    /// Each list entry's contribution to its chunk's fused score.
    fn parts(&self, list: &[(ChunkId, f32)], weight: f32, is_keyword: bool) -> Vec<f32> {
        match self.method {
            FusionMethod::Rrf => (0..list.len())
                .map(|rank| weight / (self.rrf_k + rank as f32 + 1.0))
                .collect(),
            FusionMethod::Weighted => normalised(list, self.normalization).map(|n| weight * n).collect(),
            // Keyword hits land in 1..=2, vector-only hits in 0..1: keyword hits always lead.
            FusionMethod::KeywordFirst if is_keyword => {
                normalised(list, Normalization::MinMax).map(|n| 1.0 + n).collect()
            }
            FusionMethod::KeywordFirst => normalised(list, Normalization::MinMax).map(|n| 0.999 * n).collect(),
        }
    }
}

fn empty(chunk: ChunkId) -> Fused {
    Fused {
        chunk,
        score: 0.0,
        keyword_score: None,
        vector_score: None,
    }
}

/// The list's scores mapped to 0..=1 by `how`.
fn normalised(list: &[(ChunkId, f32)], how: Normalization) -> impl Iterator<Item = f32> + '_ {
    let n = list.len().max(1) as f32;
    let (lo, hi, sum) = list
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY, 0.0), |(lo, hi, sum), &(_, s)| {
            (lo.min(s), hi.max(s), sum + s)
        });
    let mean = sum / n;
    let std = (list.iter().map(|&(_, s)| (s - mean).powi(2)).sum::<f32>() / n).sqrt();
    list.iter().map(move |&(_, s)| match how {
        // A list whose scores are all equal maps to 1 (min-max) or 0.5 (z-score).
        Normalization::MinMax if hi - lo <= f32::EPSILON => 1.0,
        Normalization::MinMax => (s - lo) / (hi - lo),
        Normalization::ZScore if std <= f32::EPSILON => 0.5,
        Normalization::ZScore => 1.0 / (1.0 + (-(s - mean) / std).exp()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fusion(method: FusionMethod, vw: f32) -> Fusion {
        Fusion {
            method,
            normalization: Normalization::MinMax,
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
    fn weighted_min_max_normalises_each_list() {
        let kw = [(1, 20.0), (2, 10.0)];
        let vec = [(2, 0.5), (1, 0.4)];
        let out = fusion(FusionMethod::Weighted, 0.8).fuse(&kw, &vec);
        // 1: 0.2*1 + 0.8*0 = 0.2; 2: 0.2*0 + 0.8*1 = 0.8
        assert_eq!(out[0].chunk, 2);
        assert!((out[0].score - 0.8).abs() < 1e-6);
        assert!((out[1].score - 0.2).abs() < 1e-6);
    }

    #[test]
    fn weighted_z_score_uses_the_logistic_of_standard_scores() {
        // keyword: mean 2, std 1 → z = +1, -1; vector: one entry → 0.5.
        let kw = [(1, 3.0), (2, 1.0)];
        let vec = [(3, 0.7)];
        let f = Fusion {
            normalization: Normalization::ZScore,
            ..fusion(FusionMethod::Weighted, 0.5)
        };
        let out = f.fuse(&kw, &vec);
        let logistic = |z: f32| 1.0 / (1.0 + (-z).exp());
        assert_eq!(out[0].chunk, 1);
        assert!((out[0].score - 0.5 * logistic(1.0)).abs() < 1e-6);
        assert!((out[1].score - 0.25).abs() < 1e-6, "{out:?}");
        assert!((out[2].score - 0.5 * logistic(-1.0)).abs() < 1e-6);
    }

    #[test]
    fn keyword_first_keeps_bm25_order_and_falls_back_to_vectors() {
        let kw = [(1, 2.0), (2, 1.0)];
        let vec = [(3, 0.9), (2, 0.8), (4, 0.1)];
        let out = fusion(FusionMethod::KeywordFirst, 0.5).fuse(&kw, &vec);
        let order: Vec<ChunkId> = out.iter().map(|f| f.chunk).collect();
        assert_eq!(order, [1, 2, 3, 4]);
        assert_eq!(out[1].vector_score, Some(0.8));
        // Nothing matched by keyword: pure semantic order.
        let out = fusion(FusionMethod::KeywordFirst, 0.5).fuse(&[], &vec);
        assert_eq!(out.iter().map(|f| f.chunk).collect::<Vec<_>>(), [3, 2, 4]);
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

    mod props {
        use std::collections::HashSet;

        use proptest::prelude::*;

        use super::*;

        /// A ranked list: distinct chunk ids with descending scores.
        fn ranked() -> impl Strategy<Value = Vec<(ChunkId, f32)>> {
            proptest::collection::hash_set(0u32..200, 0..40).prop_flat_map(|ids| {
                let n = ids.len();
                (
                    Just(ids.into_iter().collect::<Vec<_>>()),
                    proptest::collection::vec(-5.0f32..50.0, n),
                )
                    .prop_map(|(ids, mut scores)| {
                        scores.sort_by(|a, b| b.total_cmp(a));
                        ids.into_iter().zip(scores).collect()
                    })
            })
        }

        fn any_fusion() -> impl Strategy<Value = Fusion> {
            let methods = prop_oneof![
                Just(FusionMethod::Rrf),
                Just(FusionMethod::Weighted),
                Just(FusionMethod::KeywordFirst)
            ];
            let norms = prop_oneof![Just(Normalization::MinMax), Just(Normalization::ZScore)];
            (methods, norms, 0.0f32..=1.0, 1.0f32..100.0).prop_map(|(method, normalization, vw, rrf_k)| Fusion {
                method,
                normalization,
                vector_weight: vw,
                keyword_weight: 1.0 - vw,
                rrf_k,
            })
        }

        proptest! {
            #[test]
            fn fused_is_the_union_sorted_with_raw_scores_kept(f in any_fusion(), kw in ranked(), vec in ranked()) {
                let out = f.fuse(&kw, &vec);
                let want: HashSet<ChunkId> = kw.iter().chain(&vec).map(|(c, _)| *c).collect();
                let got: HashSet<ChunkId> = out.iter().map(|x| x.chunk).collect();
                prop_assert_eq!(out.len(), want.len());
                prop_assert_eq!(got, want);
                for w in out.windows(2) {
                    prop_assert!(w[0].score >= w[1].score);
                }
                for x in &out {
                    prop_assert_eq!(x.keyword_score, kw.iter().find(|(c, _)| *c == x.chunk).map(|(_, s)| *s));
                    prop_assert_eq!(x.vector_score, vec.iter().find(|(c, _)| *c == x.chunk).map(|(_, s)| *s));
                    prop_assert!(x.score >= 0.0 && x.score <= 2.0 + 1e-5);
                }
            }

            #[test]
            fn a_chunk_first_in_both_lists_wins(f in any_fusion(), kw in ranked(), vec in ranked()) {
                prop_assume!(!kw.is_empty());
                let mut vec = vec;
                vec.retain(|(c, _)| *c != kw[0].0);
                let top = vec.first().map_or(50.0, |(_, s)| *s + 1.0);
                vec.insert(0, (kw[0].0, top));
                let out = f.fuse(&kw, &vec);
                let best = out.iter().find(|y| y.chunk == kw[0].0).map_or(0.0, |y| y.score);
                prop_assert!(out.iter().all(|x| x.score <= best + 1e-6));
            }
        }
    }
}
