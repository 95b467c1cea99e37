//! What the guardrails did, as answers and listings report it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::stages::guard;

/// The guardrails' verdict on one query: the strongest action taken and every reason.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GuardrailReport {
    /// `none`, `masked` or `blocked`.
    pub action: GuardAction,
    /// Each intervention, in the order the guards ran (query first, then the answer
    /// and its sources).
    pub reasons: Vec<GuardReason>,
}

impl From<&guard::GuardrailReport> for GuardrailReport {
    fn from(r: &guard::GuardrailReport) -> Self {
        Self {
            action: r.action.into(),
            reasons: r.reasons.iter().map(GuardReason::from).collect(),
        }
    }
}

/// What the guardrails did to a query and its answer, strongest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Nothing found (or no guardrails configured).
    None,
    /// Findings were replaced by placeholders (`[SSN]`, `[EMAIL]`, `[PHONE]`, `[REDACTED]`)
    /// or by Bedrock's anonymized text; the query was answered.
    Masked,
    /// The query or the answer was refused; the answer is the refusal message.
    Blocked,
}

impl From<guard::GuardAction> for GuardAction {
    fn from(a: guard::GuardAction) -> Self {
        match a {
            guard::GuardAction::None => Self::None,
            guard::GuardAction::Masked => Self::Masked,
            guard::GuardAction::Blocked => Self::Blocked,
        }
    }
}

/// Which text a guard checked.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardSide {
    /// The question, before retrieval and generation.
    Query,
    /// The generated answer.
    Answer,
    /// The retrieved source texts returned with the answer.
    Sources,
}

impl From<guard::GuardSide> for GuardSide {
    fn from(s: guard::GuardSide) -> Self {
        match s {
            guard::GuardSide::Query => Self::Query,
            guard::GuardSide::Answer => Self::Answer,
            guard::GuardSide::Sources => Self::Sources,
        }
    }
}

/// One intervention. Never holds the personal data it found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GuardReason {
    /// The guard: `pii`, `content_filter`, `denied_topic` or `bedrock`.
    pub guard: String,
    /// The text it intervened in.
    pub on: GuardSide,
    /// `masked` or `blocked`.
    pub action: GuardAction,
    /// What it found: for `pii` the kind (`ssn`, `email`, `phone`); for
    /// `content_filter` the deny-list term or pattern; for `denied_topic` the topic's
    /// name; for `bedrock` the policy and its finding, e.g. `topic:Investment advice`,
    /// `pii:US_SOCIAL_SECURITY_NUMBER`, `content:VIOLENCE`.
    pub what: String,
    /// How many times.
    pub count: u32,
}

impl From<&guard::GuardReason> for GuardReason {
    fn from(r: &guard::GuardReason) -> Self {
        Self {
            guard: r.guard.clone(),
            on: r.on.into(),
            action: r.action.into(),
            what: r.what.clone(),
            count: r.count,
        }
    }
}

/// Queries a pipeline's guardrails checked since the process started, by final action.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct InterventionCounts {
    /// Queries passed untouched.
    pub none: u64,
    /// Queries whose query, answer or sources were masked.
    pub masked: u64,
    /// Queries refused (on the query or on the answer).
    pub blocked: u64,
}

impl From<guard::InterventionCounts> for InterventionCounts {
    fn from(c: guard::InterventionCounts) -> Self {
        Self {
            none: c.none,
            masked: c.masked,
            blocked: c.blocked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_serialize_in_snake_case() {
        let mut report = guard::GuardrailReport::default();
        report.extend([
            guard::GuardReason::new("pii", guard::GuardSide::Query, guard::GuardAction::Masked, "ssn", 1),
            guard::GuardReason::new(
                "denied_topic",
                guard::GuardSide::Answer,
                guard::GuardAction::Blocked,
                "salary",
                1,
            ),
        ]);
        let json = serde_json::to_value(GuardrailReport::from(&report)).unwrap_or_default();
        assert_eq!(json["action"], "blocked");
        assert_eq!(json["reasons"][0]["on"], "query");
        assert_eq!(json["reasons"][1]["on"], "answer");
        assert_eq!(json["reasons"][1]["action"], "blocked");
    }
}
