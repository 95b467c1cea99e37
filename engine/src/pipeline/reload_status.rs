//! What the server says about reloads in `GET /v1/pipelines`: the generation it
//! serves, how many reloads succeeded and failed, and the latest error.

use crate::vocab::ConfigError;

/// Whether the files on disk are what is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadState {
    /// The latest load succeeded: the server serves the files on disk.
    Ok,
    /// The latest reload failed: the server keeps serving the previous generation.
    Error,
}

/// Reloads of the config directory.
#[derive(Debug, Clone)]
pub struct ReloadStatus {
    /// Whether the server watches the config directory (`ragline serve --watch`).
    pub watching: bool,
    pub state: ReloadState,
    /// The config generation served: 1 at start, one more per successful reload.
    pub generation: u64,
    /// Reloads that succeeded since start.
    pub succeeded: u64,
    /// Reloads that failed since start (each left the previous generation serving).
    pub failed: u64,
    /// When the latest reload was tried (RFC 3339, UTC).
    pub last_reload_at: Option<String>,
    /// How long the latest reload took, from reading files to the swap or the refusal.
    pub last_duration_ms: Option<f64>,
    /// The latest failure; kept after a later success, for the record.
    pub last_error: Option<ReloadFailure>,
}

/// A failed reload.
#[derive(Debug, Clone)]
pub struct ReloadFailure {
    /// When it failed (RFC 3339, UTC).
    pub at: String,
    /// Every problem, as `file:line:col: key.path: message`.
    pub errors: Vec<String>,
}

impl Default for ReloadStatus {
    fn default() -> Self {
        ReloadStatus {
            watching: false,
            state: ReloadState::Ok,
            generation: 1,
            succeeded: 0,
            failed: 0,
            last_reload_at: None,
            last_duration_ms: None,
            last_error: None,
        }
    }
}

impl ReloadStatus {
    /// Count a successful reload.
    pub fn succeeded(&mut self, duration_ms: f64) {
        self.state = ReloadState::Ok;
        self.generation += 1;
        self.succeeded += 1;
        self.last_reload_at = Some(now_rfc3339());
        self.last_duration_ms = Some(duration_ms);
    }

    /// Count a failed reload.
    pub fn failed(&mut self, error: &ConfigError, duration_ms: f64) {
        let at = now_rfc3339();
        self.state = ReloadState::Error;
        self.failed += 1;
        self.last_reload_at = Some(at.clone());
        self.last_duration_ms = Some(duration_ms);
        self.last_error = Some(ReloadFailure {
            at,
            errors: error.diagnostics.iter().map(ToString::to_string).collect(),
        });
    }
}

/// The current time as RFC 3339 with milliseconds, UTC.
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Diagnostic;

    #[test]
    fn counts_and_keeps_the_last_error() {
        let mut s = ReloadStatus::default();
        let e: ConfigError = Diagnostic::file(std::path::Path::new("p.yaml"), "broken").into();
        s.failed(&e, 2.0);
        assert_eq!((s.state, s.generation, s.failed), (ReloadState::Error, 1, 1));
        assert_eq!(s.last_error.as_ref().unwrap().errors, ["p.yaml:1:1: broken"]);
        s.succeeded(1.0);
        assert_eq!((s.state, s.generation, s.succeeded), (ReloadState::Ok, 2, 1));
        assert!(s.last_error.is_some());
        let at = s.last_reload_at.unwrap();
        assert!(at.ends_with('Z') && at.contains('T'), "{at}");
    }
}
