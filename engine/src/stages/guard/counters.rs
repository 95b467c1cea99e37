//! Interventions counted per pipeline and action. Kept in the shared resources, so
//! the counts outlive config reloads; shown in `GET /v1/pipelines/{name}`.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::report::GuardAction;

/// Queries a pipeline's guardrails checked since the process started, by final action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterventionCounts {
    /// Queries passed untouched.
    pub none: u64,
    /// Queries whose query, answer or sources were masked.
    pub masked: u64,
    /// Queries refused (on the query or on the answer).
    pub blocked: u64,
}

/// Counts by pipeline name.
#[derive(Debug, Default)]
pub struct GuardCounters {
    by_pipeline: Mutex<BTreeMap<String, InterventionCounts>>,
}

impl GuardCounters {
    /// Count one checked query of `pipeline`.
    pub fn record(&self, pipeline: &str, action: GuardAction) {
        let mut map = self.by_pipeline.lock().unwrap_or_else(PoisonError::into_inner);
        let counts = map.entry(pipeline.to_owned()).or_default();
        let slot = match action {
            GuardAction::None => &mut counts.none,
            GuardAction::Masked => &mut counts.masked,
            GuardAction::Blocked => &mut counts.blocked,
        };
        *slot = slot.saturating_add(1);
    }

    /// The counts of `pipeline` (zero when it never ran a guard).
    pub fn of(&self, pipeline: &str) -> InterventionCounts {
        let map = self.by_pipeline.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(pipeline).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_pipeline_and_action() {
        let c = GuardCounters::default();
        c.record("hr", GuardAction::Masked);
        c.record("hr", GuardAction::Masked);
        c.record("hr", GuardAction::Blocked);
        c.record("legal", GuardAction::None);
        assert_eq!(
            c.of("hr"),
            InterventionCounts {
                none: 0,
                masked: 2,
                blocked: 1
            }
        );
        assert_eq!(c.of("legal").none, 1);
        assert_eq!(c.of("other"), InterventionCounts::default());
    }
}
