//! Retry and timeout settings of a remote model or embedder (`retry:` and
//! `timeout_ms:`), checked into a [`RetryPolicy`].

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use crate::providers::resilience::RetryPolicy;
use crate::vocab::diagnostic::Diagnostic;

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
    /// with jitter (default 250, at most 60000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub initial_backoff_ms: Option<Spanned<u64>>,
    /// Longest backoff, in milliseconds (default 4000, at most 60000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub max_backoff_ms: Option<Spanned<u64>>,
    /// Longest time spent on one model, retries included, in milliseconds (default
    /// 30000, at most 600000); then the fallback model, if any, answers.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub max_elapsed_ms: Option<Spanned<u64>>,
}

/// Upper bound of `timeout_ms` and `retry.max_elapsed_ms`: 10 minutes.
const MAX_WAIT_MS: u64 = 600_000;
/// Upper bound of the backoffs: 1 minute.
const MAX_BACKOFF_MS: u64 = 60_000;

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
    // Upper bounds keep a typo (an extra zero or three) from turning a retry loop or a
    // call into a practically endless wait.
    for (value, name, max) in [
        (timeout_ms, "timeout_ms", MAX_WAIT_MS),
        (retry.max_elapsed_ms.as_ref(), "retry.max_elapsed_ms", MAX_WAIT_MS),
        (
            retry.initial_backoff_ms.as_ref(),
            "retry.initial_backoff_ms",
            MAX_BACKOFF_MS,
        ),
        (retry.max_backoff_ms.as_ref(), "retry.max_backoff_ms", MAX_BACKOFF_MS),
    ] {
        if let Some(v) = value
            && !(1..=max).contains(&v.value)
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                v,
                format!("{key}.{name}"),
                format!("{name} must be between 1 and {max}, got {}", v.value),
            ));
        }
    }
    let ms = Duration::from_millis;
    RetryPolicy {
        max_attempts: retry.max_attempts.map_or(default.max_attempts, |a| a.value),
        initial_backoff: retry
            .initial_backoff_ms
            .map_or(default.initial_backoff, |b| ms(b.value)),
        max_backoff: retry.max_backoff_ms.map_or(default.max_backoff, |b| ms(b.value)),
        max_elapsed: retry.max_elapsed_ms.map_or(default.max_elapsed, |m| ms(m.value)),
        timeout: timeout_ms.map_or(default.timeout, |t| ms(t.value)),
    }
}
