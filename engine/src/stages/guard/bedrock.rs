//! The Bedrock guard: the query is checked as `INPUT`, the answer as `OUTPUT`
//! ([`crate::providers::guardrail`] makes the call). When the guardrail intervenes, its
//! findings say whether it blocked (any policy with action `BLOCKED`) or masked (PII
//! `ANONYMIZED`); its output text is the masked text, or the guardrail's own blocked
//! message. A failing guardrail fails the query: a safety check is never skipped.

use super::Sides;
use super::report::{self, GuardAction, GuardReason, GuardSide};
use crate::providers::ProviderError;
use crate::providers::guardrail::{BedrockGuardrail, GuardrailOutcome, GuardrailSource};

/// Name in reports.
pub const NAME: &str = "bedrock";

/// One configured Bedrock guardrail and the texts it checks.
#[derive(Debug)]
pub struct BedrockGuard {
    pub guardrail: BedrockGuardrail,
    pub sides: Sides,
}

/// What the guardrail decided about one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockVerdict {
    pub action: GuardAction,
    /// The guardrail's output when it intervened: the masked text, or its blocked message.
    pub text: Option<String>,
    pub reasons: Vec<GuardReason>,
    /// Billable text units of the call.
    pub units: u64,
}

impl BedrockGuard {
    /// Check `text`, which came from `side` (the query as `INPUT`, anything else as `OUTPUT`).
    ///
    /// # Errors
    /// [`ProviderError`] when the guardrail cannot be called (after retries) or rejects the request.
    pub async fn apply(&self, text: &str, side: GuardSide) -> Result<BedrockVerdict, ProviderError> {
        let source = match side {
            GuardSide::Query => GuardrailSource::Input,
            GuardSide::Answer | GuardSide::Sources => GuardrailSource::Output,
        };
        let verdict = interpret(self.guardrail.apply(text, source).await?, side);
        tracing::debug!(
            guardrail = %self.guardrail.guardrail_id,
            side = side.as_str(),
            action = verdict.action.as_str(),
            units = verdict.units,
            "bedrock guardrail applied"
        );
        Ok(verdict)
    }
}

/// What an outcome means for a text from `side`: blocked when a finding blocked or the
/// guardrail gave no replacement text, masked when it did.
fn interpret(outcome: GuardrailOutcome, side: GuardSide) -> BedrockVerdict {
    let mut reasons = Vec::new();
    for f in &outcome.findings {
        let action = if f.blocked {
            GuardAction::Blocked
        } else {
            GuardAction::Masked
        };
        report::merge(&mut reasons, GuardReason::new(NAME, side, action, f.what.clone(), 1));
    }
    let action = if !outcome.intervened {
        GuardAction::None
    } else if reasons.iter().any(|r| r.action == GuardAction::Blocked) || outcome.output.is_none() {
        GuardAction::Blocked
    } else {
        GuardAction::Masked
    };
    if outcome.intervened && reasons.is_empty() {
        let why = outcome.reason.as_deref().unwrap_or("guardrail intervened");
        reasons.push(GuardReason::new(NAME, side, action, why, 1));
    }
    BedrockVerdict {
        action,
        text: if outcome.intervened { outcome.output } else { None },
        reasons,
        units: outcome.units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::guardrail::Finding;

    fn outcome(intervened: bool, output: Option<&str>, findings: &[(&str, bool)]) -> GuardrailOutcome {
        GuardrailOutcome {
            intervened,
            findings: findings
                .iter()
                .map(|&(what, blocked)| Finding {
                    what: what.to_owned(),
                    blocked,
                })
                .collect(),
            output: output.map(str::to_owned),
            reason: None,
            units: 2,
        }
    }

    #[test]
    fn anonymized_pii_is_masked() {
        let o = outcome(
            true,
            Some("my ssn is {US_SOCIAL_SECURITY_NUMBER}"),
            &[("pii:US_SOCIAL_SECURITY_NUMBER", false)],
        );
        let v = interpret(o, GuardSide::Query);
        assert_eq!(v.action, GuardAction::Masked);
        assert_eq!(v.text.as_deref(), Some("my ssn is {US_SOCIAL_SECURITY_NUMBER}"));
        assert_eq!(v.reasons.len(), 1);
        assert_eq!(v.reasons[0].what, "pii:US_SOCIAL_SECURITY_NUMBER");
        assert_eq!(v.units, 2);
    }

    #[test]
    fn a_blocked_topic_blocks_and_so_does_an_intervention_without_text() {
        let v = interpret(
            outcome(true, Some("Sorry."), &[("topic:Investment advice", true)]),
            GuardSide::Answer,
        );
        assert_eq!(v.action, GuardAction::Blocked);
        assert_eq!(v.text.as_deref(), Some("Sorry."));
        assert_eq!(v.reasons[0].what, "topic:Investment advice");
        assert_eq!(v.reasons[0].on, GuardSide::Answer);
        let v = interpret(outcome(true, None, &[]), GuardSide::Query);
        assert_eq!(v.action, GuardAction::Blocked);
        assert_eq!(v.reasons[0].what, "guardrail intervened");
    }

    #[test]
    fn no_intervention_passes() {
        let v = interpret(outcome(false, Some("x"), &[]), GuardSide::Query);
        assert_eq!(v.action, GuardAction::None);
        assert!(v.reasons.is_empty() && v.text.is_none());
    }
}
