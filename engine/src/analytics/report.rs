//! The analytics report: the logged queries of a time range grouped by domain, model,
//! prompt version, day or pipeline, with their volume, latency, tokens, cost, blocks,
//! feedback and the latest evaluation.

use std::collections::BTreeMap;

use crate::store::StoreError;
use crate::store::analytics::{EvalRecord, QueryLog, QueryRecord, Rating};
use crate::vocab::time::{TimeRange, day_of};

/// What the queries are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Domain,
    Model,
    PromptVersion,
    Day,
    Pipeline,
    /// The API key's role (`none` on an open server).
    Role,
    /// The API key's id.
    Key,
}

impl GroupBy {
    /// The accepted `by=` values.
    pub const NAMES: &'static [&'static str] = &["domain", "model", "prompt_version", "day", "pipeline", "role", "key"];

    /// `by=` as the API spells it; `None` for anything else.
    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "domain" => Self::Domain,
            "model" => Self::Model,
            "prompt_version" => Self::PromptVersion,
            "day" => Self::Day,
            "pipeline" => Self::Pipeline,
            "role" => Self::Role,
            "key" => Self::Key,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Model => "model",
            Self::PromptVersion => "prompt_version",
            Self::Day => "day",
            Self::Pipeline => "pipeline",
            Self::Role => "role",
            Self::Key => "key",
        }
    }

    fn key(self, r: &QueryRecord) -> String {
        let or_none = |s: &str| if s.is_empty() { "none".to_owned() } else { s.to_owned() };
        match self {
            Self::Domain => or_none(&r.domain),
            Self::Model => or_none(&r.model),
            Self::PromptVersion => or_none(&r.prompt_version),
            Self::Day => day_of(r.at_ms),
            Self::Pipeline => r.pipeline.clone(),
            Self::Role => or_none(r.role.as_deref().unwrap_or_default()),
            Self::Key => or_none(r.key_id.as_deref().unwrap_or_default()),
        }
    }
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: String,
    pub queries: u64,
    pub p50_latency_ms: f64,
    pub p95_latency_ms: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub embedding_tokens: u64,
    pub cost_usd: f64,
    pub cost_per_query_usd: f64,
    /// Queries a guardrail refused.
    pub guardrail_blocks: u64,
    pub thumbs_up: u64,
    pub thumbs_down: u64,
    /// Thumbs up over all rated answers; `None` when none was rated.
    pub thumbs_up_rate: Option<f64>,
    /// nDCG@10 of the latest `ragline eval` of the group's pipeline, when the group
    /// is one pipeline's and it was evaluated.
    pub eval_ndcg_at_10: Option<f64>,
}

/// The report of one time range.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub pipeline: Option<String>,
    pub range: TimeRange,
    pub by: GroupBy,
    pub groups: Vec<Group>,
    /// Every query of the range together.
    pub total: Group,
    /// The latest evaluation of each pipeline in the report.
    pub evals: Vec<EvalRecord>,
}

/// The report of `pipeline`'s (or every pipeline's) queries in `range`, grouped `by`.
///
/// # Errors
/// [`StoreError`] when the query log cannot be read.
pub fn report(log: &QueryLog, pipeline: Option<&str>, range: TimeRange, by: GroupBy) -> Result<Report, StoreError> {
    let records = log.range(pipeline, range.since_ms, range.until_ms)?;
    let mut pipelines: Vec<&str> = records.iter().map(|r| r.pipeline.as_str()).collect();
    pipelines.extend(pipeline);
    pipelines.sort_unstable();
    pipelines.dedup();
    let mut evals = BTreeMap::new();
    for p in pipelines {
        if let Some(e) = log.eval(p)? {
            evals.insert(p.to_owned(), e);
        }
    }
    let mut grouped: BTreeMap<String, Vec<&QueryRecord>> = BTreeMap::new();
    for r in &records {
        grouped.entry(by.key(r)).or_default().push(r);
    }
    let groups = grouped
        .into_iter()
        .map(|(key, rs)| summarize(key, &rs, &evals))
        .collect();
    let all: Vec<&QueryRecord> = records.iter().collect();
    Ok(Report {
        pipeline: pipeline.map(str::to_owned),
        range,
        by,
        groups,
        total: summarize("total".to_owned(), &all, &evals),
        evals: evals.into_values().collect(),
    })
}

fn summarize(key: String, records: &[&QueryRecord], evals: &BTreeMap<String, EvalRecord>) -> Group {
    let mut latencies: Vec<f64> = records.iter().map(|r| r.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let queries = records.len() as u64;
    // Adding 0.0 turns the empty sum (-0.0) into 0.
    let cost_usd: f64 = records.iter().map(|r| r.cost_usd).sum::<f64>() + 0.0;
    let rated = |rating| {
        records
            .iter()
            .filter(|r| r.feedback.as_ref().is_some_and(|f| f.rating == rating))
            .count() as u64
    };
    let (thumbs_up, thumbs_down) = (rated(Rating::Up), rated(Rating::Down));
    let one_pipeline = records
        .first()
        .map(|r| r.pipeline.as_str())
        .filter(|p| records.iter().all(|r| r.pipeline == *p));
    Group {
        key,
        queries,
        p50_latency_ms: percentile(&latencies, 0.50),
        p95_latency_ms: percentile(&latencies, 0.95),
        input_tokens: records.iter().map(|r| r.input_tokens).sum(),
        output_tokens: records.iter().map(|r| r.output_tokens).sum(),
        embedding_tokens: records.iter().map(|r| r.embedding_tokens).sum(),
        cost_usd,
        cost_per_query_usd: if queries == 0 { 0.0 } else { cost_usd / queries as f64 },
        guardrail_blocks: records.iter().filter(|r| r.guard == "blocked").count() as u64,
        thumbs_up,
        thumbs_down,
        thumbs_up_rate: (thumbs_up + thumbs_down > 0).then(|| thumbs_up as f64 / (thumbs_up + thumbs_down) as f64),
        eval_ndcg_at_10: one_pipeline.and_then(|p| evals.get(p)).map(|e| e.ndcg_at_10),
    }
}

/// The nearest-rank `q` quantile of sorted `values`; 0 for none.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::analytics::{Feedback, Limits, Logged};

    fn record(id: &str, pipeline: &str, domain: &str, model: &str, at_ms: u64, latency_ms: f64) -> QueryRecord {
        QueryRecord {
            id: id.to_owned(),
            at_ms,
            pipeline: pipeline.to_owned(),
            domains: vec![],
            domain: domain.to_owned(),
            top_domain: None,
            model: model.to_owned(),
            prompt_version: "p@v1#x".to_owned(),
            input_tokens: 100,
            output_tokens: 10,
            embedding_tokens: 5,
            cost_usd: if model == "pro" { 0.01 } else { 0.001 },
            latency_ms,
            cache: "miss".to_owned(),
            guard: if model.is_empty() {
                "blocked".to_owned()
            } else {
                "none".to_owned()
            },
            best_similarity: None,
            feedback: None,
            key_id: None,
            role: None,
        }
    }

    #[test]
    fn groups_add_up_with_percentiles_feedback_and_evals() {
        let dir = tempfile::tempdir().unwrap();
        let log = QueryLog::open(dir.path(), Limits::default()).unwrap();
        let day = 86_400_000;
        let rows = [
            record("a", "hr", "hr", "lite", day, 10.0),
            record("b", "hr", "hr", "lite", day + 1, 30.0),
            record("c", "legal", "legal", "pro", day + 2, 200.0),
            record("d", "hr", "hr", "", 2 * day, 1.0),
        ];
        for r in rows {
            log.record(Logged {
                record: r,
                vector: None,
            });
        }
        let up = |at_ms| Feedback {
            rating: Rating::Up,
            comment: None,
            at_ms,
        };
        log.feedback("hr", "a", up(5)).unwrap();
        log.feedback(
            "legal",
            "c",
            Feedback {
                rating: Rating::Down,
                ..up(6)
            },
        )
        .unwrap();
        log.put_eval(&EvalRecord {
            pipeline: "hr".into(),
            at_ms: 1,
            dataset: "scifact".into(),
            mode: "hybrid".into(),
            ndcg_at_10: 0.67,
            recall_at_10: 0.8,
            mrr_at_10: 0.6,
        })
        .unwrap();
        let all = TimeRange {
            since_ms: 0,
            until_ms: 3 * day,
        };

        let r = report(&log, None, all, GroupBy::Domain).unwrap();
        let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["hr", "legal"]);
        let hr = &r.groups[0];
        assert_eq!((hr.queries, hr.guardrail_blocks, hr.thumbs_up), (3, 1, 1));
        assert_eq!(hr.p50_latency_ms, 10.0);
        assert_eq!(hr.p95_latency_ms, 30.0);
        assert!((hr.cost_usd - 0.003).abs() < 1e-12);
        assert!((hr.cost_per_query_usd - 0.001).abs() < 1e-12);
        assert_eq!(hr.thumbs_up_rate, Some(1.0));
        assert_eq!(hr.eval_ndcg_at_10, Some(0.67));
        assert_eq!(r.groups[1].thumbs_up_rate, Some(0.0));
        assert_eq!(r.groups[1].eval_ndcg_at_10, None);
        assert_eq!(r.total.queries, 4);
        assert_eq!(r.total.eval_ndcg_at_10, None, "two pipelines");
        assert_eq!(r.evals.len(), 1);

        let by_model = report(&log, Some("hr"), all, GroupBy::Model).unwrap();
        let keys: Vec<(&str, u64)> = by_model.groups.iter().map(|g| (g.key.as_str(), g.queries)).collect();
        assert_eq!(keys, [("lite", 2), ("none", 1)]);
        let by_day = report(&log, None, all, GroupBy::Day).unwrap();
        let keys: Vec<&str> = by_day.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["1970-01-02", "1970-01-03"]);
        let none = report(
            &log,
            Some("hr"),
            TimeRange {
                since_ms: 0,
                until_ms: 10,
            },
            GroupBy::Day,
        )
        .unwrap();
        assert!(none.groups.is_empty());
        assert_eq!(none.total.queries, 0);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&[7.0], 0.95), 7.0);
    }
}
