//! A pipeline's `drift:` section: how its recent questions are compared with a
//! baseline to see them drift away from what the corpus covers. Every key has a
//! default, so a pipeline without the section is watched too.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::stages::CompileCx;
use crate::vocab::Diagnostic;
use crate::vocab::time::{TIME_FORMS, parse_time};

/// Drift detection settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// The recent window: the latest this many queries (default 200, 20 to 5000).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub window: Option<Spanned<u32>>,
    /// What the recent window is compared with: `previous` (the `window` queries
    /// before it), `snapshot` (the queries `ragline drift baseline` saved), or a period
    /// `{since, until}` of logged queries. Default: the snapshot when one was taken,
    /// else `previous`.
    #[serde(default)]
    pub baseline: Option<BaselineConfig>,
    /// Fewer queries than this in either window gives no verdict (default 50, at least 10).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub min_queries: Option<Spanned<u32>>,
    /// A query whose nearest chunk has a vector similarity below this is out of
    /// coverage (default 0.3; cosine similarity, so it depends on the embedder).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub coverage_threshold: Option<Spanned<f32>>,
    /// The false-alarm level of each permutation test (default 0.01, 0.001 to 0.2).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub alpha: Option<Spanned<f64>>,
}

/// A drift baseline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BaselineConfig {
    /// The `window` queries before the recent window.
    Previous,
    /// The snapshot `ragline drift baseline <pipeline>` took.
    Snapshot,
    /// The logged queries of a period (as far as the query log's retention keeps them).
    Period {
        /// Start: an RFC 3339 time, a date (`2026-11-01`) or an age (`14d`).
        #[schemars(with = "String")]
        since: Spanned<String>,
        /// End (default: now); same forms.
        #[serde(default)]
        #[schemars(with = "Option<String>")]
        until: Option<Spanned<String>>,
    },
}

/// Checked drift settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftSpec {
    pub window: usize,
    pub baseline: BaselineSpec,
    pub min_queries: usize,
    pub coverage_threshold: f32,
    pub alpha: f64,
}

/// Which queries a drift window is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineSpec {
    /// The snapshot when there is one, else [`BaselineSpec::Previous`].
    Auto,
    Previous,
    Snapshot,
    /// Times as written (ages are relative to when drift is assessed).
    Period {
        since: String,
        until: Option<String>,
    },
}

impl Default for DriftSpec {
    fn default() -> Self {
        DriftSpec {
            window: 200,
            baseline: BaselineSpec::Auto,
            min_queries: 50,
            coverage_threshold: 0.3,
            alpha: 0.01,
        }
    }
}

impl DriftConfig {
    /// Check the settings; problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> DriftSpec {
        let d = DriftSpec::default();
        let mut check = |ok: bool, at: &dyn HasSpan, key: &str, message: &str| {
            if !ok {
                cx.push(at.diagnostic(cx.file, format!("drift.{key}"), message));
            }
        };
        if let Some(w) = &self.window {
            check(
                (20..=5000).contains(&w.value),
                w,
                "window",
                "window must be between 20 and 5000 queries",
            );
        }
        if let Some(m) = &self.min_queries {
            check(m.value >= 10, m, "min_queries", "min_queries must be at least 10");
        }
        if let Some(t) = &self.coverage_threshold {
            check(
                (-1.0..=1.0).contains(&t.value),
                t,
                "coverage_threshold",
                "coverage_threshold is a cosine similarity, from -1 to 1",
            );
        }
        if let Some(a) = &self.alpha {
            check(
                (0.001..=0.2).contains(&a.value),
                a,
                "alpha",
                "alpha must be between 0.001 and 0.2",
            );
        }
        let baseline = match &self.baseline {
            None => BaselineSpec::Auto,
            Some(BaselineConfig::Previous) => BaselineSpec::Previous,
            Some(BaselineConfig::Snapshot) => BaselineSpec::Snapshot,
            Some(BaselineConfig::Period { since, until }) => {
                for (t, key) in [(Some(since), "since"), (until.as_ref(), "until")] {
                    if let Some(t) = t {
                        let ok = parse_time(&t.value, 0).is_ok();
                        check(
                            ok,
                            t,
                            &format!("baseline.period.{key}"),
                            &format!("not a time: use {TIME_FORMS}"),
                        );
                    }
                }
                BaselineSpec::Period {
                    since: since.value.clone(),
                    until: until.as_ref().map(|u| u.value.clone()),
                }
            }
        };
        DriftSpec {
            window: self.window.as_ref().map_or(d.window, |w| w.value as usize),
            baseline,
            min_queries: self.min_queries.as_ref().map_or(d.min_queries, |m| m.value as usize),
            coverage_threshold: self
                .coverage_threshold
                .as_ref()
                .map_or(d.coverage_threshold, |t| t.value),
            alpha: self.alpha.as_ref().map_or(d.alpha, |a| a.value),
        }
    }
}

/// A located value, whatever its type.
trait HasSpan {
    fn diagnostic(&self, file: &std::path::Path, key: String, message: &str) -> Diagnostic;
}

impl<T> HasSpan for Spanned<T> {
    fn diagnostic(&self, file: &std::path::Path, key: String, message: &str) -> Diagnostic {
        Diagnostic::spanned(file, self, key, message)
    }
}
