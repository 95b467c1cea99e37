//! The `cache:` section of a pipeline file and its checked form.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::verify::Checks;
use crate::stages::{CompileCx, Stage};
use crate::vocab::Diagnostic;

/// Where cached answers live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// In the index's own LMDB environment: one replica, nothing to run.
    #[default]
    Embedded,
    /// A Redis server (`url`), shared by every replica.
    Redis,
}

/// Answers to earlier questions, served again when a new question in the same scope
/// asks the same thing (see `docs/cache.md`). Without this section nothing is cached.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// `embedded` (default) or `redis`.
    #[serde(default)]
    pub backend: BackendKind,
    /// The Redis server, `redis://[:password@]host:port[/db]`; with `backend: redis`,
    /// this or `url_env` is required.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// The environment variable holding the Redis URL, read when the server first
    /// connects (keeps a password out of the pipeline file).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url_env: Option<Spanned<String>>,
    /// How long one Redis command may take, connecting included, before the cache is
    /// bypassed for that request (default 200, 1 to 10000 ms).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub timeout_ms: Option<Spanned<u32>>,
    /// The least cosine similarity between the new question and a cached one for the
    /// cached answer to be a candidate (default 0.6, 0.5 to 1). Candidates must then
    /// pass `verify`.
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub similarity: Option<Spanned<f32>>,
    /// How long an entry may be served: an age such as `30m`, `24h` or `7d` (default `24h`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ttl: Option<Spanned<String>>,
    /// Most entries kept per pipeline; the oldest go first (default 10000, 1 to 1000000).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_entries: Option<Spanned<u32>>,
    /// Whether streamed answers are cached and streaming requests served from the
    /// cache (default true).
    #[serde(default = "yes")]
    pub stream: bool,
    /// Whether an answer a fallback model gave is cached (default false: the next
    /// request tries the routed model again).
    #[serde(default)]
    pub cache_fallbacks: bool,
    /// The checks a semantic candidate must pass.
    #[serde(default)]
    pub verify: VerifyConfig,
}

fn yes() -> bool {
    true
}

/// The checks a semantic candidate must pass before it is served; each is on by default.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Both questions negated or neither, and no antonym pair split between them
    /// (allowed/forbidden, maximum/minimum, before/after, ...).
    #[serde(default = "yes")]
    pub polarity: bool,
    /// The same numbers, dates, amounts and codes (`SEV1`, `v2`).
    #[serde(default = "yes")]
    pub numbers: bool,
    /// The new question names no entity (a product, a team, an acronym) the cached one did not.
    #[serde(default = "yes")]
    pub entities: bool,
    /// How many top sources the retrieval check compares (default 3, 1 to 20; 0 turns it off).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub sources: Option<Spanned<u32>>,
    /// The least share of the cached answer's top sources that the new question must
    /// also retrieve in its top sources (default 0.3: one of the top 3; 0 to 1).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub min_source_overlap: Option<Spanned<f32>>,
    /// The least ratio of the new question's best source similarity to the cached
    /// question's (among the top `sources`): a question the corpus covers far less well
    /// than the cached one asks something else (default 0.6, 0 to 1; 0 turns it off).
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub min_coverage: Option<Spanned<f32>>,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            polarity: true,
            numbers: true,
            entities: true,
            sources: None,
            min_source_overlap: None,
            min_coverage: None,
        }
    }
}

/// Where a checked cache keeps its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Redis(RedisSpec),
}

/// A Redis server as a pipeline names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedisSpec {
    pub url: RedisUrl,
    pub timeout_ms: u32,
}

/// The URL itself, or the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RedisUrl {
    Literal(String),
    Env(String),
}

/// The checked cache stage.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheStage {
    pub backend: Backend,
    pub similarity: f32,
    pub ttl_ms: u64,
    pub max_entries: usize,
    pub stream: bool,
    pub cache_fallbacks: bool,
    pub checks: Checks,
    /// Top sources the retrieval check compares; 0: no retrieval check.
    pub sources: usize,
    pub min_source_overlap: f32,
    /// See [`VerifyConfig::min_coverage`].
    pub min_coverage: f32,
}

impl Default for CacheStage {
    fn default() -> Self {
        CacheStage {
            backend: Backend::Embedded,
            similarity: 0.6,
            ttl_ms: 24 * 3_600_000,
            max_entries: 10_000,
            stream: true,
            cache_fallbacks: false,
            checks: Checks::ALL,
            sources: 3,
            min_source_overlap: 0.3,
            min_coverage: 0.6,
        }
    }
}

impl Stage for CacheStage {
    fn name(&self) -> &'static str {
        "cache"
    }
}

impl CacheConfig {
    /// Check the settings; problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> CacheStage {
        let d = CacheStage::default();
        let file = cx.file;
        let backend = self.backend_spec(cx);
        let similarity = match &self.similarity {
            Some(s) if !(0.5..=1.0).contains(&s.value) => {
                let msg = "similarity must be between 0.5 and 1 (a cosine similarity)";
                cx.push(Diagnostic::spanned(file, s, "cache.similarity", msg));
                d.similarity
            }
            Some(s) => s.value,
            None => d.similarity,
        };
        let ttl_ms = match &self.ttl {
            Some(t) => match ttl_ms(&t.value) {
                Some(ms) => ms,
                None => {
                    let msg = format!("`{}` is not an age such as 30m, 24h or 7d (s, m, h, d)", t.value);
                    cx.push(Diagnostic::spanned(file, t, "cache.ttl", msg));
                    d.ttl_ms
                }
            },
            None => d.ttl_ms,
        };
        let max_entries = match &self.max_entries {
            Some(m) if !(1..=1_000_000).contains(&m.value) => {
                let msg = "max_entries must be between 1 and 1000000";
                cx.push(Diagnostic::spanned(file, m, "cache.max_entries", msg));
                d.max_entries
            }
            Some(m) => m.value as usize,
            None => d.max_entries,
        };
        let v = &self.verify;
        let sources = match &v.sources {
            Some(n) if n.value > 20 => {
                let msg = "sources must be between 0 and 20";
                cx.push(Diagnostic::spanned(file, n, "cache.verify.sources", msg));
                d.sources
            }
            Some(n) => n.value as usize,
            None => d.sources,
        };
        let min_source_overlap = match &v.min_source_overlap {
            Some(o) if !(0.0..=1.0).contains(&o.value) => {
                let msg = "min_source_overlap must be between 0 and 1";
                cx.push(Diagnostic::spanned(file, o, "cache.verify.min_source_overlap", msg));
                d.min_source_overlap
            }
            Some(o) => o.value,
            None => d.min_source_overlap,
        };
        let min_coverage = match &v.min_coverage {
            Some(c) if !(0.0..=1.0).contains(&c.value) => {
                let msg = "min_coverage must be between 0 and 1";
                cx.push(Diagnostic::spanned(file, c, "cache.verify.min_coverage", msg));
                d.min_coverage
            }
            Some(c) => c.value,
            None => d.min_coverage,
        };
        CacheStage {
            backend,
            similarity,
            ttl_ms,
            max_entries,
            stream: self.stream,
            cache_fallbacks: self.cache_fallbacks,
            checks: Checks {
                polarity: v.polarity,
                numbers: v.numbers,
                entities: v.entities,
            },
            sources,
            min_source_overlap,
            min_coverage,
        }
    }
}

impl CacheConfig {
    fn backend_spec(&self, cx: &mut CompileCx<'_>) -> Backend {
        let file = cx.file;
        if self.backend == BackendKind::Embedded {
            for (field, given) in [("url", &self.url), ("url_env", &self.url_env)] {
                if let Some(v) = given {
                    let msg = format!("`{field}` needs `backend: redis`");
                    cx.push(Diagnostic::spanned(file, v, format!("cache.{field}"), msg));
                }
            }
            if let Some(t) = &self.timeout_ms {
                cx.push(Diagnostic::spanned(
                    file,
                    t,
                    "cache.timeout_ms",
                    "`timeout_ms` needs `backend: redis`",
                ));
            }
            return Backend::Embedded;
        }
        let timeout_ms = match &self.timeout_ms {
            Some(t) if !(1..=10_000).contains(&t.value) => {
                cx.push(Diagnostic::spanned(
                    file,
                    t,
                    "cache.timeout_ms",
                    "timeout_ms must be between 1 and 10000",
                ));
                DEFAULT_TIMEOUT_MS
            }
            Some(t) => t.value,
            None => DEFAULT_TIMEOUT_MS,
        };
        let url = match (&self.url, &self.url_env) {
            (Some(url), None) => {
                if !is_redis_url(&url.value) {
                    let msg = format!("`{}` is not a redis:// URL", url.value);
                    cx.push(Diagnostic::spanned(file, url, "cache.url", msg));
                }
                RedisUrl::Literal(url.value.clone())
            }
            (None, Some(var)) => {
                let ok = !var.value.is_empty() && var.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    let msg = format!("`{}` is not an environment variable name", var.value);
                    cx.push(Diagnostic::spanned(file, var, "cache.url_env", msg));
                }
                RedisUrl::Env(var.value.clone())
            }
            (Some(_), Some(var)) => {
                cx.push(Diagnostic::spanned(
                    file,
                    var,
                    "cache.url_env",
                    "give `url` or `url_env`, not both",
                ));
                RedisUrl::Env(var.value.clone())
            }
            (None, None) => {
                let msg = "`backend: redis` needs `url: redis://host:port` or `url_env: VARIABLE`";
                cx.push(Diagnostic::file(file, format!("cache.backend: {msg}")));
                return Backend::Embedded;
            }
        };
        Backend::Redis(RedisSpec { url, timeout_ms })
    }
}

/// Redis commands' default timeout.
const DEFAULT_TIMEOUT_MS: u32 = 200;

/// `redis://` and something after it (TLS, `rediss://`, is not built in).
pub fn is_redis_url(url: &str) -> bool {
    url.strip_prefix("redis://").is_some_and(|rest| !rest.is_empty())
}

/// An age of at least one second (`90s`, `30m`, `24h`, `7d`) in milliseconds.
fn ttl_ms(value: &str) -> Option<u64> {
    let v = value.trim();
    let unit_at = v.len().checked_sub(1)?;
    let n: u64 = v.get(..unit_at)?.parse().ok()?;
    let unit = match &v[unit_at..] {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(n.checked_mul(unit)?).filter(|&ms| ms > 0)
}

#[cfg(test)]
mod tests {
    use super::ttl_ms;

    #[test]
    fn ttls_are_ages() {
        assert_eq!(ttl_ms("90s"), Some(90_000));
        assert_eq!(ttl_ms(" 24h "), Some(86_400_000));
        assert_eq!(ttl_ms("7d"), Some(7 * 86_400_000));
        for bad in ["", "h", "0s", "5", "5w", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(ttl_ms(bad), None, "{bad}");
        }
    }
}
