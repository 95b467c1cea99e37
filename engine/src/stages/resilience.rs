//! Retry and timeout settings of a remote model or embedder (`retry:` and
//! `timeout_ms:`), checked into a [`RetryPolicy`].

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use crate::config::Diagnostic;
use crate::providers::resilience::RetryPolicy;

/// How transient failures (throttling, 5xx, timeouts) are retried. Permanent ones
/// (validation, access denied) never are.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included (default 4; 1 disables retries).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_attempts: Option<Spanned<u32>>,
    /// Backoff before the first retry, in milliseconds; doubled for each further retry,
    /// with jitter (default 250).
    #[serde(default)]
    pub initial_backoff_ms: Option<u64>,
    /// Longest backoff, in milliseconds (default 4000).
    #[serde(default)]
    pub max_backoff_ms: Option<u64>,
    /// Longest time spent on one model, retries included, in milliseconds (default
    /// 30000); then the fallback model, if any, answers.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub max_elapsed_ms: Option<Spanned<u64>>,
}

/// Check `retry` and the per-call `timeout_ms` of the model or embedder at `key`.
pub fn compile_policy(
    cx: &mut CompileCx<'_>,
    key: &str,
    retry: Option<&RetryConfig>,
    timeout_ms: Option<&Spanned<u64>>,
) -> RetryPolicy {
    let default = RetryPolicy::default();
    let retry = retry.cloned().unwrap_or_default();
    if let Some(a) = &retry.max_attempts
        && !(1..=20).contains(&a.value)
    {
        cx.push(Diagnostic::spanned(
            cx.file,
            a,
            format!("{key}.retry.max_attempts"),
            "max_attempts must be between 1 and 20",
        ));
    }
    for (value, name) in [
        (timeout_ms, "timeout_ms"),
        (retry.max_elapsed_ms.as_ref(), "retry.max_elapsed_ms"),
    ] {
        if let Some(v) = value
            && v.value == 0
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                v,
                format!("{key}.{name}"),
                format!("{name} must be more than 0"),
            ));
        }
    }
    let ms = Duration::from_millis;
    RetryPolicy {
        max_attempts: retry.max_attempts.map_or(default.max_attempts, |a| a.value),
        initial_backoff: retry.initial_backoff_ms.map_or(default.initial_backoff, ms),
        max_backoff: retry.max_backoff_ms.map_or(default.max_backoff, ms),
        max_elapsed: retry.max_elapsed_ms.map_or(default.max_elapsed, |m| ms(m.value)),
        timeout: timeout_ms.map_or(default.timeout, |t| ms(t.value)),
    }
}
