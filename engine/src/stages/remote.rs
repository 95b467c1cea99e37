//! What every stage that calls a remote service shares: where AWS is (`aws:`, checked
//! into an [`AwsTarget`]) and how failures are retried (`retry:` and `timeout_ms:`,
//! checked into a [`RetryPolicy`]).

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use crate::providers::aws::AwsTarget;
use crate::providers::resilience::RetryPolicy;
use crate::vocab::diagnostic::Diagnostic;

/// Where to reach AWS: the region, and optionally an endpoint. Credentials always come
/// from the standard AWS chain (environment, profile, SSO, web identity, container or
/// instance role), never from this file. One `aws:` block can be shared with a YAML
/// anchor: `aws: &aws { region: eu-west-1 }`, then `aws: *aws`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsTargetConfig {
    /// AWS region, e.g. `us-east-1` (default: the standard chain's, such as `AWS_REGION`
    /// or the profile's).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<Spanned<String>>,
    /// Endpoint to call instead of the region's: a VPC endpoint, an S3-compatible
    /// server, or a local test server (`http://127.0.0.1:4566`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub endpoint_url: Option<Spanned<String>>,
}

impl AwsTargetConfig {
    /// Check the region and endpoint of the block at `key` (e.g. `generate.models.pro.bedrock.aws`).
    /// With an endpoint (an S3-compatible server, a test server) any region name goes:
    /// it only signs the requests (MinIO, R2 and Ceph use names such as `auto`).
    pub fn compile(&self, cx: &mut CompileCx<'_>, key: &str) -> AwsTarget {
        if let Some(r) = &self.region
            && self.endpoint_url.is_none()
            && !is_region(&r.value)
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                r,
                format!("{key}.region"),
                format!("`{}` is not an AWS region, such as `us-east-1`", r.value),
            ));
        }
        AwsTarget {
            region: self.region.as_ref().map(|r| r.value.clone()),
            endpoint_url: self
                .endpoint_url
                .as_ref()
                .map(|u| cx.http_url(format!("{key}.endpoint_url"), u)),
        }
    }
}

/// Whether `s` has the shape of a region name: lowercase words joined by `-`, ending
/// in a number (`us-east-1`, `eu-central-2`, `us-gov-west-1`).
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_have_their_shape() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["useast1", "us-east", "US-EAST-1", "us-east-1a", "-east-1", ""] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
