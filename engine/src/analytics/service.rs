//! What the HTTP API and the CLI ask of analytics, on a loaded pipeline: feedback, the
//! report, drift (and its metrics), the baseline snapshot, retention.

use super::drift::{self, DriftError, DriftReport};
use super::report::{GroupBy, Report};
use crate::pipeline::{Pipeline, Resources, now_ms};
use crate::providers::ProviderError;
use crate::store::StoreError;
use crate::store::analytics::{Feedback, QueryLog, QueryRecord, Rating};
use crate::telemetry::record;
use crate::vocab::time::{DAY_MS, TimeRange};

/// The longest feedback comment kept.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Why an analytics request failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("the query log is unavailable (the server log says why)")]
    Unavailable,
    #[error("pipeline {pipeline} gave no answer with id `{id}` (or it is older than the retention)")]
    AnswerNotFound { pipeline: String, id: String },
    #[error("a comment has at most {MAX_COMMENT_CHARS} characters, not {0}")]
    CommentTooLong(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Drift(#[from] DriftError),
    #[error(transparent)]
    Embedder(#[from] ProviderError),
}

fn log(p: &Pipeline) -> Result<&QueryLog, AnalyticsError> {
    p.query_log().map(|l| &**l).ok_or(AnalyticsError::Unavailable)
}

/// Record `rating` (and `comment`) for `pipeline`'s answer `id`.
///
/// # Errors
/// [`AnalyticsError::AnswerNotFound`] for an unknown id, `CommentTooLong`, or a store
/// failure.
pub fn feedback(
    p: &Pipeline,
    id: &str,
    rating: Rating,
    comment: Option<String>,
) -> Result<QueryRecord, AnalyticsError> {
    let comment = comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if let Some(chars) = comment
        .as_ref()
        .map(|c| c.chars().count())
        .filter(|&n| n > MAX_COMMENT_CHARS)
    {
        return Err(AnalyticsError::CommentTooLong(chars));
    }
    let feedback = Feedback {
        rating,
        comment,
        at_ms: now_ms(),
    };
    let name = &p.spec.name;
    let record = log(p)?
        .feedback(name, id, feedback)?
        .ok_or_else(|| AnalyticsError::AnswerNotFound {
            pipeline: name.clone(),
            id: id.to_owned(),
        })?;
    record::feedback(name, rating.as_str());
    Ok(record)
}

/// The report of `pipeline` (or, with `None`, of every pipeline) in `range`.
///
/// # Errors
/// [`AnalyticsError`] when the log is unavailable or unreadable.
pub fn report(
    resources: &Resources,
    pipeline: Option<&str>,
    range: TimeRange,
    by: GroupBy,
) -> Result<Report, AnalyticsError> {
    let log = resources.query_log().ok_or(AnalyticsError::Unavailable)?;
    Ok(super::report::report(log, pipeline, range, by)?)
}

/// Assess `p`'s drift now, and export the result as metrics.
///
/// # Errors
/// [`AnalyticsError`] when the log, the embedder or the baseline is unavailable.
pub fn drift(p: &Pipeline) -> Result<DriftReport, AnalyticsError> {
    let embedder = p.embedder()?;
    let report = drift::assess(log(p)?, &p.spec, embedder.id(), now_ms())?;
    let signals = report
        .signals
        .as_ref()
        .map(|s| s.all().map(|(name, t)| (name, t.score, t.threshold)));
    record::drift(
        &report.pipeline,
        report.recent,
        report.baseline,
        signals.as_ref().map(|s| &s[..]),
    );
    Ok(report)
}

/// Save `p`'s recent window as its drift baseline; returns its size.
///
/// # Errors
/// [`AnalyticsError`] when the log or the embedder is unavailable.
pub fn take_baseline(p: &Pipeline) -> Result<usize, AnalyticsError> {
    let embedder = p.embedder()?;
    Ok(drift::take_baseline(log(p)?, &p.spec, embedder.id(), now_ms())?)
}

/// Delete the queries older than `retention_days` from the log; returns how many.
///
/// # Errors
/// [`AnalyticsError`] when the log is unavailable or the write fails.
pub fn prune(resources: &Resources, retention_days: u32) -> Result<usize, AnalyticsError> {
    let before = now_ms().saturating_sub(u64::from(retention_days) * DAY_MS);
    let log = resources.query_log().ok_or(AnalyticsError::Unavailable)?;
    Ok(log.prune(before)?)
}
