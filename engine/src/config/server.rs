//! `ragline.yaml`: the server's own settings, beside `pipelines/` in the config
//! directory: trace export, the query log, budgets. Optional: without it, traces follow
//! the standard `OTEL_*` variables and the query log keeps 30 days.
//! `ragline serve` reads it at start; a change takes a restart.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::http::{Cors, HttpConfig, RateConfig, RateLimits};
use crate::store::analytics::Limits;
use crate::telemetry::OtlpSettings;
use crate::vocab::{ConfigError, Diagnostic, MAX_QUERY_CHARS, from_yaml};

/// The server config's file name in the config directory.
pub const SERVER_FILE: &str = "ragline.yaml";

/// The server's settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ragline server")]
pub struct ServerConfig {
    /// Metrics, and trace export over OTLP.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// The query log behind `/v1/analytics` and drift.
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    /// Spend budgets, exported as `ragline_budget_usd` for the budget alerts.
    #[serde(default)]
    pub budgets: BudgetsConfig,
    /// Request limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Browser access: CORS for a web UI on another origin.
    #[serde(default)]
    pub http: HttpConfig,
}

/// Request limits; a request over one is refused before any work.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body, uploads included, in bytes (default 64 MiB; 413
    /// `payload_too_large`). `serve --max-body-bytes` overrides it.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub max_body_bytes: Option<Spanned<u64>>,
    /// Most files in one upload request (default 100; 413 `too_many_files`).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_upload_files: Option<Spanned<u32>>,
    /// Longest question, in characters (default and most 4000; 400 `bad_request`).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_query_chars: Option<Spanned<u32>>,
    /// Request rates per client IP and per API key.
    #[serde(default)]
    pub rate: RateConfig,
}

/// The query log.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// Log every answered query (default true). Off: nothing is logged, so feedback,
    /// `/v1/analytics` and drift answer 503 `analytics_unavailable`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Days a query's record (and its embedding) is kept (default 30, 1 to 3650).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub retention_days: Option<Spanned<u32>>,
    /// The most queries the log keeps (default 2,000,000, about 1 KiB each on disk);
    /// past it the oldest are dropped first, even within the retention. Spend per key
    /// and day is kept apart, so budgets stay exact.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub max_queries: Option<Spanned<u64>>,
    /// Queries per minute and pipeline that keep their embedding for drift (default
    /// 60, after a first 1,000; 1 to 60,000). The others keep their record only, which
    /// is a third of the size.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub drift_vectors_per_minute: Option<Spanned<u32>>,
    /// Seconds between drift assessments of every pipeline, which update the
    /// `ragline_drift_*` metrics (default 60, at least 1).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub drift_every_s: Option<Spanned<u64>>,
}

/// Spend budgets in USD; the Prometheus alerts in `k8s/monitoring/` compare the spend
/// with them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetsConfig {
    /// Spend of all pipelines per 24 hours.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub daily_usd: Option<Spanned<f64>>,
    /// Spend of all pipelines per 30 days.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub monthly_usd: Option<Spanned<f64>>,
}

/// Metrics and trace export. For traces, the standard variables apply to whatever is not set here:
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
/// `OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Record metrics and serve them at `GET /metrics` (default true). Off: nothing is
    /// recorded and `/metrics` answers 503.
    #[serde(default)]
    pub metrics: Option<bool>,
    /// Serve `/metrics` on this address instead (`0.0.0.0:9464`), and not on the API's,
    /// so that only the scraper's network reaches it. `serve --metrics-addr` overrides it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub metrics_addr: Option<Spanned<String>>,
    /// OTLP/HTTP (protobuf) endpoint, as in `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (`http://collector:4318`); spans go to `{endpoint}/v1/traces`. Unset: the
    /// environment's, and without one no spans are exported.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub otlp_endpoint: Option<Spanned<String>>,
    /// `service.name` of the spans (default: `OTEL_SERVICE_NAME`, else `ragline`).
    #[serde(default)]
    pub service_name: Option<String>,
    /// The share of new traces recorded, from 0 to 1 (default 1). A request whose
    /// caller's trace is sampled (`traceparent` flag 01) is always recorded.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub sample_ratio: Option<Spanned<f64>>,
    /// Put the question, the prompt and the answer into spans (default false: spans
    /// carry ids, scores, models and token counts, never text).
    #[serde(default)]
    pub capture_content: bool,
    /// Longest one export may take, in milliseconds (default 5000). Exports run on
    /// their own thread: a slow collector never slows a request.
    #[serde(default)]
    pub export_timeout_ms: Option<u64>,
    /// Spans waiting for export at most (default 2048); more are dropped and counted
    /// in `ragline_otel_spans_dropped_total`.
    #[serde(default)]
    pub max_queued_spans: Option<usize>,
}

/// The server's checked settings.
#[derive(Debug, Clone)]
pub struct Server {
    /// Where spans go; `None` when neither the file nor the environment names an
    /// endpoint.
    pub otlp: Option<OtlpSettings>,
    /// Record and serve metrics.
    pub metrics: bool,
    /// Keep the query log, within these limits.
    pub query_log: Option<Limits>,
    pub retention_days: u32,
    pub drift_every: Duration,
    pub daily_budget_usd: Option<f64>,
    pub monthly_budget_usd: Option<f64>,
    /// `None`: the default.
    pub max_body_bytes: Option<usize>,
    pub max_upload_files: usize,
    pub max_query_chars: usize,
    pub rate: RateLimits,
    /// Where `/metrics` is served apart from the API; `None`: with it.
    pub metrics_addr: Option<SocketAddr>,
    pub cors: Cors,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            otlp: None,
            metrics: true,
            query_log: Some(Limits::default()),
            retention_days: 30,
            drift_every: Duration::from_secs(60),
            daily_budget_usd: None,
            monthly_budget_usd: None,
            max_body_bytes: None,
            max_upload_files: 100,
            max_query_chars: MAX_QUERY_CHARS,
            rate: RateLimits::default(),
            metrics_addr: None,
            cors: Cors::SameOrigin,
        }
    }
}

impl Server {
    /// Load `<config_dir>/ragline.yaml`, or the defaults when there is none.
    ///
    /// # Errors
    /// Every problem in the file, located.
    pub fn load(config_dir: &Path) -> Result<Server, ConfigError> {
        let file = config_dir.join(SERVER_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ServerConfig::default().compile(&file),
            Err(e) => return Err(Diagnostic::file(&file, format!("cannot read: {e}")).into()),
        };
        let raw: ServerConfig = from_yaml(&file, &text)?;
        raw.compile(&file)
    }
}

impl ServerConfig {
    /// Check the settings.
    ///
    /// # Errors
    /// Every problem, located in `file`.
    pub fn compile(&self, file: &Path) -> Result<Server, ConfigError> {
        let t = &self.telemetry;
        let mut diagnostics = Vec::new();
        if let Some(ratio) = &t.sample_ratio
            && !(0.0..=1.0).contains(&ratio.value)
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                ratio,
                "telemetry.sample_ratio",
                "sample_ratio must be between 0 and 1",
            ));
        }
        let endpoint = t.otlp_endpoint.as_ref().map(|e| {
            let url = e.value.trim().trim_end_matches('/');
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                diagnostics.push(Diagnostic::spanned(
                    file,
                    e,
                    "telemetry.otlp_endpoint",
                    "an OTLP/HTTP endpoint is an http:// or https:// URL, like http://127.0.0.1:4318",
                ));
            }
            format!("{url}/v1/traces")
        });
        let a = &self.analytics;
        if let Some(days) = &a.retention_days
            && !(1..=3650).contains(&days.value)
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                days,
                "analytics.retention_days",
                "retention_days must be between 1 and 3650",
            ));
        }
        if let Some(max) = &a.max_queries
            && max.value < 1_000
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                max,
                "analytics.max_queries",
                "max_queries must be at least 1000",
            ));
        }
        if let Some(per) = &a.drift_vectors_per_minute
            && !(1..=60_000).contains(&per.value)
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                per,
                "analytics.drift_vectors_per_minute",
                "drift_vectors_per_minute must be between 1 and 60000",
            ));
        }
        if let Some(every) = &a.drift_every_s
            && every.value == 0
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                every,
                "analytics.drift_every_s",
                "drift_every_s must be at least 1",
            ));
        }
        for (budget, key) in [
            (&self.budgets.daily_usd, "daily_usd"),
            (&self.budgets.monthly_usd, "monthly_usd"),
        ] {
            if let Some(b) = budget
                && !(b.value.is_finite() && b.value > 0.0)
            {
                diagnostics.push(Diagnostic::spanned(
                    file,
                    b,
                    format!("budgets.{key}"),
                    "a budget is a number of USD above 0",
                ));
            }
        }
        let l = &self.limits;
        if let Some(bytes) = &l.max_body_bytes
            && bytes.value < 1024
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                bytes,
                "limits.max_body_bytes",
                "max_body_bytes must be at least 1024",
            ));
        }
        if let Some(files) = &l.max_upload_files
            && files.value == 0
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                files,
                "limits.max_upload_files",
                "max_upload_files must be at least 1",
            ));
        }
        if let Some(chars) = &l.max_query_chars
            && !(1..=MAX_QUERY_CHARS as u32).contains(&chars.value)
        {
            diagnostics.push(Diagnostic::spanned(
                file,
                chars,
                "limits.max_query_chars",
                format!("max_query_chars must be between 1 and {MAX_QUERY_CHARS}"),
            ));
        }
        let rate = l.rate.compile(file, &mut diagnostics);
        let metrics_addr = t
            .metrics_addr
            .as_ref()
            .and_then(|a| match a.value.trim().parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    diagnostics.push(Diagnostic::spanned(
                        file,
                        a,
                        "telemetry.metrics_addr",
                        "an address with a port, like 0.0.0.0:9464",
                    ));
                    None
                }
            });
        let cors = self.http.compile(file, &mut diagnostics);
        if !diagnostics.is_empty() {
            return Err(diagnostics.into());
        }
        let export = endpoint.is_some() || OtlpSettings::endpoint_in_env();
        let otlp_defaults = OtlpSettings::default();
        let otlp = export.then(|| OtlpSettings {
            traces_url: endpoint,
            service_name: t.service_name.clone(),
            sample_ratio: t.sample_ratio.as_ref().map_or(1.0, |r| r.value),
            timeout: t.export_timeout_ms.map_or(otlp_defaults.timeout, Duration::from_millis),
            max_queue: t.max_queued_spans.unwrap_or(otlp_defaults.max_queue).max(1),
            capture_content: t.capture_content,
            ..otlp_defaults
        });
        let defaults = Server::default();
        let log_defaults = Limits::default();
        Ok(Server {
            otlp,
            metrics: t.metrics.unwrap_or(defaults.metrics),
            query_log: a.enabled.unwrap_or(true).then(|| Limits {
                max_queries: a.max_queries.as_ref().map_or(log_defaults.max_queries, |m| m.value),
                vectors_per_minute: a
                    .drift_vectors_per_minute
                    .as_ref()
                    .map_or(log_defaults.vectors_per_minute, |v| v.value),
            }),
            retention_days: a.retention_days.as_ref().map_or(defaults.retention_days, |d| d.value),
            drift_every: a
                .drift_every_s
                .as_ref()
                .map_or(defaults.drift_every, |s| Duration::from_secs(s.value)),
            daily_budget_usd: self.budgets.daily_usd.as_ref().map(|b| b.value),
            monthly_budget_usd: self.budgets.monthly_usd.as_ref().map(|b| b.value),
            max_body_bytes: l.max_body_bytes.as_ref().and_then(|b| usize::try_from(b.value).ok()),
            max_upload_files: l
                .max_upload_files
                .as_ref()
                .map_or(defaults.max_upload_files, |f| f.value as usize),
            max_query_chars: l
                .max_query_chars
                .as_ref()
                .map_or(defaults.max_query_chars, |c| c.value as usize),
            rate,
            metrics_addr,
            cors,
        })
    }
}

/// JSON Schema of `ragline.yaml`.
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(ServerConfig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::http::Quota;

    fn compile(yaml: &str) -> Result<Server, ConfigError> {
        let file = Path::new("ragline.yaml");
        let raw: ServerConfig = from_yaml(file, yaml)?;
        raw.compile(file)
    }

    #[test]
    fn an_endpoint_in_the_file_turns_export_on() {
        let s = compile("telemetry:\n  otlp_endpoint: http://127.0.0.1:4318/\n  sample_ratio: 0.25\n").unwrap();
        let otlp = s.otlp.unwrap();
        assert_eq!(otlp.traces_url.as_deref(), Some("http://127.0.0.1:4318/v1/traces"));
        assert!((otlp.sample_ratio - 0.25).abs() < 1e-9);
        assert!(!otlp.capture_content);
        assert!(s.metrics, "on unless switched off");
        assert_eq!(s.query_log, Some(Limits::default()));
    }

    #[test]
    fn limits_are_checked_and_located() {
        let s = compile("limits:\n  max_upload_files: 5\n  max_query_chars: 300\n").unwrap();
        assert_eq!(
            (s.max_upload_files, s.max_query_chars, s.max_body_bytes),
            (5, 300, None)
        );
        let e = compile("limits:\n  max_body_bytes: 10\n  max_upload_files: 0\n  max_query_chars: 5000\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ragline.yaml:2:19: limits.max_body_bytes: max_body_bytes must be at least 1024"),
            "{e}"
        );
        assert!(e.contains("ragline.yaml:3:21: limits.max_upload_files"), "{e}");
        assert!(
            e.contains("ragline.yaml:4:20: limits.max_query_chars: max_query_chars must be between 1 and 4000"),
            "{e}"
        );
    }

    #[test]
    fn rates_cors_and_the_metrics_address_are_checked() {
        let s = compile(
            "limits:\n  rate:\n    per_ip: { per_second: 50, burst: 100 }\n    per_key: { per_minute: 5 }\ntelemetry:\n  metrics_addr: 127.0.0.1:9464\nhttp:\n  cors_origins: [\"https://ui.example.com/\"]\n",
        )
        .unwrap();
        let quota = |requests, per_minute, burst| {
            Some(Quota {
                requests,
                per_minute,
                burst,
            })
        };
        assert_eq!(s.rate.per_ip, quota(50, false, 100));
        assert_eq!(s.rate.per_key, quota(5, true, 5), "burst defaults to the rate");
        assert_eq!(s.rate.per_key.unwrap().period(), Duration::from_secs(12));
        assert_eq!(s.metrics_addr, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(s.cors, Cors::Origins(vec!["https://ui.example.com".to_owned()]));
        let d = compile("").unwrap();
        assert_eq!(
            (d.rate, d.metrics_addr, d.cors),
            (RateLimits::default(), None, Cors::SameOrigin)
        );
        let e = compile(
            "limits:\n  rate:\n    per_ip: { per_second: 0 }\n    per_key: { per_second: 1, burst: 0 }\n    trust_forwarded: true\ntelemetry:\n  metrics_addr: metrics\nhttp:\n  cors_origins: [ui.example.com]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ragline.yaml:3:27: limits.rate.per_ip.per_second: per_second must be between 1 and 1000000"),
            "{e}"
        );
        assert!(
            e.contains("ragline.yaml:4:38: limits.rate.per_key.burst: burst must be between 1 and 1000000"),
            "{e}"
        );
        assert!(
            e.contains("ragline.yaml:7:17: telemetry.metrics_addr: an address with a port"),
            "{e}"
        );
        assert!(
            e.contains("ragline.yaml:9:18: http.cors_origins: `ui.example.com` is not an origin"),
            "{e}"
        );
    }

    #[test]
    fn metrics_and_the_query_log_can_be_switched_off() {
        let s = compile("telemetry:\n  metrics: false\nanalytics:\n  enabled: false\n").unwrap();
        assert!(!s.metrics && s.query_log.is_none());
        let s = compile("analytics:\n  max_queries: 5000\n  drift_vectors_per_minute: 600\n").unwrap();
        let limits = s.query_log.unwrap();
        assert_eq!((limits.max_queries, limits.vectors_per_minute), (5_000, 600));
        let e = compile("analytics:\n  max_queries: 10\n").unwrap_err().to_string();
        assert!(e.contains("ragline.yaml:2:16: analytics.max_queries"), "{e}");
        let e = compile("analytics:\n  enabled: sometimes\n").unwrap_err().to_string();
        assert!(e.contains("ragline.yaml:2:"), "{e}");
    }

    #[test]
    fn bad_values_are_located() {
        let e = compile("telemetry:\n  otlp_endpoint: collector:4318\n  sample_ratio: 2\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("ragline.yaml:2:18: telemetry.otlp_endpoint: an OTLP/HTTP endpoint"),
            "{text}"
        );
        assert!(
            text.contains("ragline.yaml:3:17: telemetry.sample_ratio: sample_ratio must be between 0 and 1"),
            "{text}"
        );
        let e = compile("telemetry:\n  otlp: x\n").unwrap_err().to_string();
        assert!(e.contains("ragline.yaml:2:3"), "{e}");
        let e = compile("analytics:\n  retention_days: 0\nbudgets:\n  daily_usd: -5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ragline.yaml:2:19: analytics.retention_days"), "{e}");
        assert!(
            e.contains("ragline.yaml:4:14: budgets.daily_usd: a budget is a number of USD above 0"),
            "{e}"
        );
    }
}
