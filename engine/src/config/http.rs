//! The HTTP edge of `ragline.yaml`: request rates (`limits.rate`) and the browser
//! origins allowed by CORS (`http.cors_origins`).

use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::vocab::Diagnostic;

/// Browser access to the API.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins a browser may call the API from (`https://ui.example.com`), or `["*"]`
    /// for any (then without credentials). Empty (the default): no CORS headers, so
    /// only same-origin pages, like the built-in UI, can call it.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub cors_origins: Vec<Spanned<String>>,
}

/// Request rates, counted by tower_governor. Over one: 429 `rate_limited` with
/// `Retry-After`. `/healthz`, `/readyz`, `/metrics` and `/openapi.json` are not limited.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Requests per client IP, authenticated or not (unset: no limit).
    #[serde(default)]
    pub per_ip: Option<QuotaConfig>,
    /// Requests per API key; a request without a key counts under its client IP
    /// (unset: no limit).
    #[serde(default)]
    pub per_key: Option<QuotaConfig>,
    /// Take the client IP from `X-Forwarded-For`, `X-Real-IP` or `Forwarded` (default
    /// false: the peer address). Only behind a proxy that sets them, or clients can
    /// pick their own IP.
    #[serde(default)]
    pub trust_forwarded: bool,
}

/// A steady rate with a burst on top: `per_second` or `per_minute`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// Requests per second, sustained.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub per_second: Option<Spanned<u32>>,
    /// Requests per minute, sustained.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub per_minute: Option<Spanned<u32>>,
    /// Requests that may come at once before the rate applies (default: the rate's
    /// number).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub burst: Option<Spanned<u32>>,
}

/// The highest number `limits.rate` takes for a rate.
pub const MAX_RATE: u32 = 1_000_000;

/// Checked request rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub per_ip: Option<Quota>,
    pub per_key: Option<Quota>,
    pub trust_forwarded: bool,
}

/// A checked rate: `requests` per second (or minute) sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub requests: u32,
    pub per_minute: bool,
    pub burst: u32,
}

impl Quota {
    /// The time one request's allowance takes to come back (never zero).
    pub fn period(&self) -> Duration {
        let window = Duration::from_secs(if self.per_minute { 60 } else { 1 });
        window / self.requests.clamp(1, MAX_RATE)
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = if self.per_minute { "min" } else { "s" };
        write!(f, "{}/{unit}, burst {}", self.requests, self.burst)
    }
}

/// Which origins a browser may call from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers: same origin only.
    #[default]
    SameOrigin,
    Any,
    Origins(Vec<String>),
}

impl RateConfig {
    /// The checked rates; problems are located under `limits.rate`.
    pub fn compile(&self, file: &Path, diagnostics: &mut Vec<Diagnostic>) -> RateLimits {
        RateLimits {
            per_ip: self
                .per_ip
                .as_ref()
                .and_then(|q| q.compile(file, "limits.rate.per_ip", diagnostics)),
            per_key: self
                .per_key
                .as_ref()
                .and_then(|q| q.compile(file, "limits.rate.per_key", diagnostics)),
            trust_forwarded: self.trust_forwarded,
        }
    }
}

impl QuotaConfig {
    /// The checked rate; problems are located under `at` (`limits.rate.per_ip`).
    pub fn compile(&self, file: &Path, at: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Quota> {
        quota(file, self, at, diagnostics)
    }
}

fn quota(file: &Path, q: &QuotaConfig, key: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<Quota> {
    let at = |field: &str| format!("{key}.{field}");
    let (rate, per_minute) = match (&q.per_second, &q.per_minute) {
        (Some(r), None) => (r, false),
        (None, Some(r)) => (r, true),
        (Some(r), Some(_)) => {
            diagnostics.push(Diagnostic::spanned(
                file,
                r,
                at("per_second"),
                "give per_second or per_minute, not both",
            ));
            return None;
        }
        (None, None) => {
            diagnostics.push(Diagnostic::file(file, format!("{key}: give per_second or per_minute")));
            return None;
        }
    };
    let unit = if per_minute { "per_minute" } else { "per_second" };
    let mut ok = true;
    for (value, field) in [(Some(rate), unit), (q.burst.as_ref(), "burst")] {
        if let Some(v) = value
            && !(1..=MAX_RATE).contains(&v.value)
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                v,
                at(field),
                format!("{field} must be between 1 and {MAX_RATE}"),
            ));
            ok = false;
        }
    }
    ok.then(|| Quota {
        requests: rate.value,
        per_minute,
        burst: q.burst.as_ref().map_or(rate.value, |b| b.value),
    })
}

impl HttpConfig {
    /// The checked origins.
    pub fn compile(&self, file: &Path, diagnostics: &mut Vec<Diagnostic>) -> Cors {
        cors(file, &self.cors_origins, diagnostics)
    }
}

fn cors(file: &Path, origins: &[Spanned<String>], diagnostics: &mut Vec<Diagnostic>) -> Cors {
    if origins.is_empty() {
        return Cors::SameOrigin;
    }
    if origins.iter().any(|o| o.value == "*") {
        if origins.len() > 1 {
            diagnostics.push(Diagnostic::file(
                file,
                "http.cors_origins: \"*\" allows every origin: list origins or \"*\", not both",
            ));
        }
        return Cors::Any;
    }
    let mut checked = Vec::new();
    for o in origins {
        let origin = o.value.trim().trim_end_matches('/');
        let scheme_ok = origin.starts_with("http://") || origin.starts_with("https://");
        let host = origin.split_once("://").map_or("", |(_, h)| h);
        if !scheme_ok || host.is_empty() || host.contains('/') || not_header_safe(origin) {
            diagnostics.push(Diagnostic::spanned(
                file,
                o,
                "http.cors_origins",
                format!(
                    "`{}` is not an origin: scheme and host, like https://ui.example.com",
                    o.value
                ),
            ));
        } else {
            checked.push(origin.to_owned());
        }
    }
    Cors::Origins(checked)
}

/// Whether `s` could not be a header value.
fn not_header_safe(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || c.is_whitespace())
}
