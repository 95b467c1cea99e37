//! Ranking metrics as trec_eval / pytrec_eval define them (the definitions BEIR
//! reports): nDCG@k with linear gain and a log2 discount, recall@k and MRR@k.
//! Documents are named by their dataset id; a query's judgments map ids to grades.

use std::collections::HashMap;

use serde::Serialize;

/// A query's relevance judgments: document id → grade. A grade above 0 is relevant.
pub type Judgments = HashMap<String, i32>;

/// The four reported metrics, for one query or averaged over queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
}

/// Order scored documents best first the way trec_eval does: by score, descending,
/// ties broken by document id, descending.
pub fn rank(mut scored: Vec<(String, f32)>) -> Vec<String> {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    scored.into_iter().map(|(id, _)| id).collect()
}

/// The grade of `doc`, with unjudged and negative grades counting as 0.
fn gain(judged: &Judgments, doc: &str) -> f64 {
    f64::from(judged.get(doc).copied().unwrap_or(0).max(0))
}

/// The discount of 1-based rank `rank`: log2(rank + 1).
fn discount(rank: usize) -> f64 {
    ((rank + 1) as f64).log2()
}

/// nDCG@k: Σ grade / log2(rank + 1) over the first `k` of `ranking`, divided by the
/// same sum over the judgments sorted by grade (the ideal ranking). 0 when no
/// document is relevant.
pub fn ndcg_at(ranking: &[String], judged: &Judgments, k: usize) -> f64 {
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, doc)| gain(judged, doc) / discount(i + 1))
        .sum();
    let mut ideal: Vec<i32> = judged.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| f64::from(g) / discount(i + 1))
        .sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

/// recall@k: the share of the relevant documents found in the first `k` of `ranking`
/// (0 when no document is relevant).
pub fn recall_at(ranking: &[String], judged: &Judgments, k: usize) -> f64 {
    let relevant = judged.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranking.iter().take(k).filter(|doc| gain(judged, doc) > 0.0).count();
    found as f64 / relevant as f64
}

/// MRR@k: 1 / the rank of the first relevant document within the first `k`, else 0.
pub fn mrr_at(ranking: &[String], judged: &Judgments, k: usize) -> f64 {
    ranking
        .iter()
        .take(k)
        .position(|doc| gain(judged, doc) > 0.0)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// All four metrics for one query; `None` when the query has no relevant document
/// (such queries are left out of the averages).
pub fn score_query(ranking: &[String], judged: &Judgments) -> Option<Scores> {
    judged.values().any(|&g| g > 0).then(|| Scores {
        ndcg_at_10: ndcg_at(ranking, judged, 10),
        recall_at_10: recall_at(ranking, judged, 10),
        recall_at_100: recall_at(ranking, judged, 100),
        mrr_at_10: mrr_at(ranking, judged, 10),
    })
}

/// The mean of each metric (all 0 for no queries).
pub fn mean(scores: &[Scores]) -> Scores {
    if scores.is_empty() {
        return Scores::default();
    }
    let n = scores.len() as f64;
    let sum = |f: fn(&Scores) -> f64| scores.iter().map(f).sum::<f64>() / n;
    Scores {
        ndcg_at_10: sum(|s| s.ndcg_at_10),
        recall_at_10: sum(|s| s.recall_at_10),
        recall_at_100: sum(|s| s.recall_at_100),
        mrr_at_10: sum(|s| s.mrr_at_10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn judged(list: &[(&str, i32)]) -> Judgments {
        list.iter().map(|(d, g)| ((*d).to_owned(), *g)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn binary_relevance() {
        let ranking = ids(&["a", "b", "c", "d"]);
        let j = judged(&[("b", 1), ("d", 1)]);
        // DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
        // IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.63093 = 1.63093 → nDCG = 0.65092
        assert!(
            close(ndcg_at(&ranking, &j, 10), 0.65092),
            "{}",
            ndcg_at(&ranking, &j, 10)
        );
        // b and d are both in the top 10; only b in the top 2.
        assert!(close(recall_at(&ranking, &j, 10), 1.0));
        assert!(close(recall_at(&ranking, &j, 2), 0.5));
        // First relevant at rank 2.
        assert!(close(mrr_at(&ranking, &j, 10), 0.5));
    }

    #[test]
    fn graded_relevance_uses_the_grade_as_gain() {
        let ranking = ids(&["a", "b", "c"]);
        // e is relevant but never retrieved; c is judged non-relevant.
        let j = judged(&[("a", 1), ("b", 2), ("c", 0), ("e", 2)]);
        // DCG = 1/log2(2) + 2/log2(3) + 0 = 1 + 1.26186 = 2.26186
        // ideal grades 2, 2, 1: IDCG = 2/1 + 2/log2(3) + 1/log2(4) = 2 + 1.26186 + 0.5 = 3.76186
        // nDCG = 2.26186 / 3.76186 = 0.60126
        assert!(
            close(ndcg_at(&ranking, &j, 10), 0.60126),
            "{}",
            ndcg_at(&ranking, &j, 10)
        );
        // relevant: a, b, e; found a, b → 2/3. MRR: a (grade 1) is relevant at rank 1.
        assert!(close(recall_at(&ranking, &j, 10), 2.0 / 3.0));
        assert!(close(mrr_at(&ranking, &j, 10), 1.0));
        // Swapping a and b gives the ideal order of what was found:
        // DCG = 2 + 1/log2(3) = 2.63093 → 2.63093 / 3.76186 = 0.69937
        let swapped = ids(&["b", "a", "c"]);
        assert!(
            close(ndcg_at(&swapped, &j, 10), 0.69937),
            "{}",
            ndcg_at(&swapped, &j, 10)
        );
    }

    #[test]
    fn the_cut_off_ignores_later_ranks() {
        let ranking = ids(&["x", "y", "rel"]);
        let j = judged(&[("rel", 1)]);
        // rel is at rank 3: nothing within k = 2.
        assert_eq!(ndcg_at(&ranking, &j, 2), 0.0);
        assert_eq!(recall_at(&ranking, &j, 2), 0.0);
        assert_eq!(mrr_at(&ranking, &j, 2), 0.0);
        // Within k = 3: DCG = 1/log2(4) = 0.5, IDCG = 1 → 0.5; MRR = 1/3.
        assert!(close(ndcg_at(&ranking, &j, 3), 0.5));
        assert!(close(mrr_at(&ranking, &j, 3), 1.0 / 3.0));
    }

    #[test]
    fn k_larger_than_the_list_and_the_ideal() {
        let ranking = ids(&["rel", "x"]);
        let j = judged(&[("rel", 3)]);
        // DCG = 3/1 = IDCG → 1, whatever k beyond 2.
        assert!(close(ndcg_at(&ranking, &j, 100), 1.0));
        assert!(close(recall_at(&ranking, &j, 100), 1.0));
        assert!(close(mrr_at(&ranking, &j, 100), 1.0));
    }

    #[test]
    fn ideal_dcg_is_cut_at_k_too() {
        // Three relevant docs, k = 1: IDCG@1 = 1 (only the best), DCG@1 = 1 → 1.
        let ranking = ids(&["a"]);
        let j = judged(&[("a", 1), ("b", 1), ("c", 1)]);
        assert!(close(ndcg_at(&ranking, &j, 1), 1.0));
        assert!(close(recall_at(&ranking, &j, 1), 1.0 / 3.0));
    }

    #[test]
    fn no_relevant_docs_or_no_results_score_zero() {
        let none = judged(&[("a", 0), ("b", -1)]);
        let ranking = ids(&["a", "b"]);
        assert_eq!(ndcg_at(&ranking, &none, 10), 0.0);
        assert_eq!(recall_at(&ranking, &none, 10), 0.0);
        assert_eq!(score_query(&ranking, &none), None);
        let j = judged(&[("a", 1)]);
        assert_eq!(score_query(&[], &j), Some(Scores::default()));
    }

    #[test]
    fn ties_break_by_id_descending_like_trec_eval() {
        let order = rank(vec![("a".into(), 1.0), ("b".into(), 2.0), ("c".into(), 1.0)]);
        assert_eq!(order, ids(&["b", "c", "a"]));
        // So a tie between a relevant and an unjudged doc is decided by the ids:
        // "c" (unjudged) outranks "a" (relevant) → a at rank 3 → MRR 1/3.
        let j = judged(&[("a", 1)]);
        assert!(close(mrr_at(&order, &j, 10), 1.0 / 3.0));
    }

    #[test]
    fn mean_averages_each_metric() {
        let a = Scores {
            ndcg_at_10: 1.0,
            recall_at_10: 1.0,
            recall_at_100: 1.0,
            mrr_at_10: 1.0,
        };
        let m = mean(&[a, Scores::default()]);
        assert!(close(m.ndcg_at_10, 0.5) && close(m.recall_at_100, 0.5) && close(m.mrr_at_10, 0.5));
        assert_eq!(mean(&[]), Scores::default());
    }
}
