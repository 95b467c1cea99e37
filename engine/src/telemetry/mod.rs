//! Telemetry: the metrics every layer records (exported in Prometheus text format at
//! `GET /metrics`), the spans of each request and stage (exported over OTLP when an
//! endpoint is configured), and the log subscriber. Only this module uses the
//! `metrics` and OpenTelemetry crates; everyone else calls the functions of [`record`]
//! and [`spans`], whose arguments are the labels and attributes.
//!
//! Labels come only from config (pipeline, stage, model, provider, domain as declared,
//! index) or from closed sets (status, outcome, error code); callers bound anything
//! else to [`OTHER`], so a typo or a hostile request cannot create series forever.
//! Every histogram has explicit buckets ([`exporter`]), so series aggregate across
//! replicas; the table of metrics, buckets and span attributes is in
//! `docs/telemetry.md`.

mod context;
mod exporter;
mod handles;
pub mod logs;
mod otlp;
pub mod record;
pub mod semconv;
pub mod spans;

pub use context::{RequestTrace, TraceHeaders, request_done, server_request};
pub use exporter::{Metrics, TelemetryError};
pub use otlp::{Exporting, OtlpError, OtlpSettings};

/// The label value of anything outside the configured set.
pub const OTHER: &str = "other";

/// `value` when `allowed` holds it, else [`OTHER`].
pub fn bounded<'a>(value: &'a str, allowed: impl IntoIterator<Item = &'a str>) -> &'a str {
    if allowed.into_iter().any(|a| a == value) {
        value
    } else {
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_set_become_other() {
        assert_eq!(bounded("hr", ["hr", "legal"]), "hr");
        assert_eq!(bounded("h r", ["hr", "legal"]), OTHER);
        assert_eq!(bounded("", []), OTHER);
    }
}
