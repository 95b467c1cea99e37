//! Drift: do a pipeline's recent questions still look like its baseline? The recent
//! window (its latest `drift.window` logged queries) is compared with the baseline (the
//! window before it, a snapshot from `ragline drift baseline`, or a period) on the
//! query embeddings (MMD and centroid distance), the domain mix (PSI) and the share out
//! of coverage; see [`stats`].

pub mod stats;

use self::stats::{Sample, Signals, Tested};
use crate::config::PipelineSpec;
use crate::config::drift::{BaselineSpec, DriftSpec};
use crate::store::StoreError;
use crate::store::analytics::{Baseline, QueryLog, WindowQuery};
use crate::vocab::time::{BadTime, parse_time};

/// Why drift could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("drift.baseline.period: {0}")]
    Period(#[from] BadTime),
    #[error("pipeline {0} has no drift baseline snapshot: take one with `ragline drift baseline {0}`")]
    NoSnapshot(String),
}

/// Where the baseline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineKind {
    Previous,
    Snapshot,
    Period,
}

impl BaselineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Previous => "previous",
            Self::Snapshot => "snapshot",
            Self::Period => "period",
        }
    }
}

/// A drift assessment of one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    pub pipeline: String,
    pub embedder: String,
    pub baseline_kind: BaselineKind,
    /// Queries in each window.
    pub recent: usize,
    pub baseline: usize,
    pub min_queries: usize,
    pub alpha: f64,
    /// `None` while either window has fewer than `min_queries`.
    pub signals: Option<Signals>,
}

impl DriftReport {
    /// Whether any signal crossed its threshold.
    pub fn drifted(&self) -> bool {
        self.signals
            .as_ref()
            .is_some_and(|s| s.all().iter().any(|(_, t)| t.drifted()))
    }
}

impl Signals {
    /// Every signal with its name, as metrics and the API name them.
    pub fn all(&self) -> [(&'static str, Tested); 4] {
        [
            ("embedding_mmd", self.embedding_mmd),
            ("embedding_centroid", self.embedding_centroid),
            ("domain_psi", self.domain_psi),
            ("out_of_coverage", self.out_of_coverage),
        ]
    }
}

/// Assess `pipeline`, whose query vectors come from `embedder`, at `now_ms`.
///
/// # Errors
/// [`DriftError`] when the log cannot be read, the configured period is malformed, or
/// a snapshot baseline is configured but none was taken.
pub fn assess(log: &QueryLog, pipeline: &PipelineSpec, embedder: &str, now_ms: u64) -> Result<DriftReport, DriftError> {
    let spec = &pipeline.drift;
    let name = pipeline.name.as_str();
    let until = now_ms.saturating_add(1);
    let recent = log.window(name, embedder, 0, until, spec.window)?;
    let snapshot =
        || -> Result<Option<Baseline>, StoreError> { Ok(log.baseline(name)?.filter(|b| b.embedder == embedder)) };
    let (kind, baseline) = match &spec.baseline {
        BaselineSpec::Auto => match snapshot()? {
            Some(b) => (BaselineKind::Snapshot, b.queries),
            None => (BaselineKind::Previous, previous(log, name, embedder, spec, &recent)?),
        },
        BaselineSpec::Previous => (BaselineKind::Previous, previous(log, name, embedder, spec, &recent)?),
        BaselineSpec::Snapshot => match snapshot()? {
            Some(b) => (BaselineKind::Snapshot, b.queries),
            None => return Err(DriftError::NoSnapshot(name.to_owned())),
        },
        BaselineSpec::Period { since, until } => {
            let since = parse_time(since, now_ms)?;
            let until = until.as_deref().map_or(Ok(now_ms), |u| parse_time(u, now_ms))?;
            let limit = spec.window.saturating_mul(5);
            (BaselineKind::Period, log.window(name, embedder, since, until, limit)?)
        }
    };
    let signals = (recent.len() >= spec.min_queries && baseline.len() >= spec.min_queries).then(|| {
        let (b, r) = (samples(&baseline, spec), samples(&recent, spec));
        stats::compare(&b, &r, spec.alpha, seed(name))
    });
    Ok(DriftReport {
        pipeline: name.to_owned(),
        embedder: embedder.to_owned(),
        baseline_kind: kind,
        recent: recent.len(),
        baseline: baseline.len(),
        min_queries: spec.min_queries,
        alpha: spec.alpha,
        signals,
    })
}

/// Save `pipeline`'s recent window as its baseline snapshot; returns its size.
///
/// # Errors
/// [`StoreError`] when the log cannot be read or written.
pub fn take_baseline(
    log: &QueryLog,
    pipeline: &PipelineSpec,
    embedder: &str,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let queries = log.window(
        &pipeline.name,
        embedder,
        0,
        now_ms.saturating_add(1),
        pipeline.drift.window,
    )?;
    let n = queries.len();
    log.put_baseline(&Baseline {
        pipeline: pipeline.name.clone(),
        taken_at_ms: now_ms,
        embedder: embedder.to_owned(),
        queries,
    })?;
    Ok(n)
}

/// The `window` queries before the recent window (which is newest first).
fn previous(
    log: &QueryLog,
    name: &str,
    embedder: &str,
    spec: &DriftSpec,
    recent: &[WindowQuery],
) -> Result<Vec<WindowQuery>, StoreError> {
    if recent.len() < spec.window {
        return Ok(Vec::new());
    }
    let older = log.window(name, embedder, 0, u64::MAX, spec.window * 2)?;
    Ok(older.into_iter().skip(spec.window).collect())
}

fn samples<'a>(queries: &'a [WindowQuery], spec: &DriftSpec) -> Vec<Sample<'a>> {
    queries
        .iter()
        .map(|q| Sample {
            vector: &q.vector,
            domain: q.top_domain.as_deref(),
            uncovered: q.best_similarity.is_none_or(|s| s < spec.coverage_threshold),
        })
        .collect()
}

/// A seed per pipeline, so the same windows always give the same thresholds.
fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
