//! Amazon Bedrock Guardrails through `ApplyGuardrail`: the query is checked as
//! `INPUT`, the answer as `OUTPUT`. When the guardrail intervenes, its findings say
//! whether it blocked (any policy with action `BLOCKED`) or masked (PII `ANONYMIZED`);
//! its output text is the masked text, or the guardrail's own blocked message.
//!
//! The client, credentials (standard AWS chain) and SDK error classes are shared with
//! the Bedrock models ([`crate::providers::aws`]); retries and the per-call timeout are
//! [`crate::providers::resilience`]'s. A failing guardrail fails the query: a safety
//! check is never skipped silently.

use aws_sdk_bedrockruntime::operation::apply_guardrail::ApplyGuardrailOutput;
use aws_sdk_bedrockruntime::types::{
    GuardrailAction, GuardrailAssessment, GuardrailContentBlock, GuardrailContentSource, GuardrailTextBlock,
    GuardrailUsage,
};

use super::report::{GuardAction, GuardReason, GuardSide};
use super::{Sides, report};
use crate::providers::ProviderError;
use crate::providers::aws::{AwsTarget, LazyBedrockClient, PROVIDER, sdk_error};
use crate::providers::resilience::{RetryPolicy, with_retries};

/// Name in reports.
pub const NAME: &str = "bedrock";

/// One configured Bedrock guardrail.
#[derive(Debug)]
pub struct BedrockGuard {
    pub guardrail_id: String,
    /// A version number, or `DRAFT`.
    pub version: String,
    pub sides: Sides,
    policy: RetryPolicy,
    client: LazyBedrockClient,
}

/// What the guardrail decided about one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockVerdict {
    pub action: GuardAction,
    /// The guardrail's output when it intervened: the masked text, or its blocked message.
    pub text: Option<String>,
    pub reasons: Vec<GuardReason>,
    /// Billable text units of the call (see [`billable_units`]).
    pub units: u64,
}

impl BedrockGuard {
    /// Guardrail `guardrail_id` at `version` in `target`; the client is built on first use.
    pub fn new(guardrail_id: String, version: String, target: AwsTarget, sides: Sides, policy: RetryPolicy) -> Self {
        Self {
            guardrail_id,
            version,
            sides,
            policy,
            client: LazyBedrockClient::new(target),
        }
    }

    /// `bedrock-guardrail/<id>@<version>`, as usage reports name it.
    pub fn label(&self) -> String {
        format!("bedrock-guardrail/{}@{}", self.guardrail_id, self.version)
    }

    /// Check `text` (the query as `INPUT`, anything else as `OUTPUT`).
    ///
    /// # Errors
    /// [`ProviderError`] when the guardrail cannot be called (after retries) or rejects the request.
    pub async fn apply(&self, text: &str, side: GuardSide) -> Result<BedrockVerdict, ProviderError> {
        let client = self.client.get().await?;
        let source = match side {
            GuardSide::Query => GuardrailContentSource::Input,
            GuardSide::Answer | GuardSide::Sources => GuardrailContentSource::Output,
        };
        let block = GuardrailTextBlock::builder()
            .text(text)
            .build()
            .map_err(|e| ProviderError::InvalidInput(format!("guardrail text: {e}")))?;
        let content = GuardrailContentBlock::Text(block);
        let output = with_retries(&self.policy, PROVIDER, || {
            let call = client
                .apply_guardrail()
                .guardrail_identifier(&self.guardrail_id)
                .guardrail_version(&self.version)
                .source(source.clone())
                .content(content.clone());
            async move { call.send().await.map_err(|e| sdk_error(&e)) }
        })
        .await?;
        let verdict = interpret(&output, text, side);
        tracing::debug!(
            guardrail = %self.guardrail_id,
            side = ?side,
            action = verdict.action.as_str(),
            units = verdict.units,
            "bedrock guardrail applied"
        );
        Ok(verdict)
    }
}

/// Read an `ApplyGuardrail` response for `text`, which came from `side`.
pub fn interpret(output: &ApplyGuardrailOutput, text: &str, side: GuardSide) -> BedrockVerdict {
    let intervened = *output.action() == GuardrailAction::GuardrailIntervened;
    let mut reasons = Vec::new();
    for (what, action) in findings(output.assessments()) {
        report::merge(&mut reasons, GuardReason::new(NAME, side, action, what, 1));
    }
    let outputs: Vec<&str> = output.outputs().iter().filter_map(|o| o.text()).collect();
    let replacement = (!outputs.is_empty()).then(|| outputs.join(""));
    let action = if !intervened {
        GuardAction::None
    } else if reasons.iter().any(|r| r.action == GuardAction::Blocked) || replacement.is_none() {
        GuardAction::Blocked
    } else {
        GuardAction::Masked
    };
    if intervened && reasons.is_empty() {
        let why = output.action_reason().unwrap_or("guardrail intervened");
        reasons.push(GuardReason::new(NAME, side, action, why, 1));
    }
    BedrockVerdict {
        action,
        text: if intervened { replacement } else { None },
        reasons,
        units: billable_units(output.usage(), text),
    }
}

/// Text units the call bills: the units of every paid policy the service reports
/// (topics, content filters, PII, contextual grounding, automated reasoning). Word
/// filters and regex-only sensitive-information checks are free. Without a usage
/// block: one unit per started 1,000 characters.
pub fn billable_units(usage: Option<&GuardrailUsage>, text: &str) -> u64 {
    let reported = usage.map_or(0, |u| {
        [
            u.topic_policy_units(),
            u.content_policy_units(),
            u.sensitive_information_policy_units(),
            u.contextual_grounding_policy_units(),
            u.automated_reasoning_policy_units().unwrap_or(0),
        ]
        .into_iter()
        .map(|n| u64::try_from(n).unwrap_or(0))
        .sum()
    });
    if usage.is_some() {
        reported
    } else {
        (text.chars().count() as u64).div_ceil(1000).max(1)
    }
}

/// Every policy finding that acted (`BLOCKED` or `ANONYMIZED`), as `policy:finding`.
/// Detected-only findings (action `NONE`) are not interventions. Never the matched text.
fn findings(assessments: &[GuardrailAssessment]) -> Vec<(String, GuardAction)> {
    let mut out = Vec::new();
    let mut add = |policy: &str, what: &str, action: &str| {
        let action = match action {
            "BLOCKED" => GuardAction::Blocked,
            "ANONYMIZED" => GuardAction::Masked,
            _ => return,
        };
        out.push((format!("{policy}:{what}"), action));
    };
    for a in assessments {
        if let Some(p) = a.topic_policy() {
            for t in p.topics() {
                add("topic", t.name(), t.action().as_str());
            }
        }
        if let Some(p) = a.content_policy() {
            for f in p.filters() {
                add("content", f.r#type().as_str(), f.action().as_str());
            }
        }
        if let Some(p) = a.word_policy() {
            for w in p.custom_words() {
                add("word", w.r#match(), w.action().as_str());
            }
            for w in p.managed_word_lists() {
                add("word", w.r#type().as_str(), w.action().as_str());
            }
        }
        if let Some(p) = a.sensitive_information_policy() {
            for e in p.pii_entities() {
                add("pii", e.r#type().as_str(), e.action().as_str());
            }
            for r in p.regexes() {
                add("regex", r.name().unwrap_or("regex"), r.action().as_str());
            }
        }
        if let Some(p) = a.contextual_grounding_policy() {
            for f in p.filters() {
                add("grounding", f.r#type().as_str(), f.action().as_str());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::types::{
        GuardrailOutputContent, GuardrailPiiEntityFilter, GuardrailPiiEntityType,
        GuardrailSensitiveInformationPolicyAction, GuardrailSensitiveInformationPolicyAssessment, GuardrailTopic,
        GuardrailTopicPolicyAction, GuardrailTopicPolicyAssessment, GuardrailTopicType,
    };

    use super::*;

    fn usage(topic: i32, pii: i32, word: i32) -> GuardrailUsage {
        GuardrailUsage::builder()
            .topic_policy_units(topic)
            .content_policy_units(0)
            .word_policy_units(word)
            .sensitive_information_policy_units(pii)
            .sensitive_information_policy_free_units(0)
            .contextual_grounding_policy_units(0)
            .build()
            .unwrap()
    }

    fn output(action: GuardrailAction, text: Option<&str>, assessment: GuardrailAssessment) -> ApplyGuardrailOutput {
        let mut b = ApplyGuardrailOutput::builder()
            .action(action)
            .usage(usage(1, 1, 1))
            .set_outputs(Some(Vec::new()))
            .assessments(assessment);
        if let Some(t) = text {
            b = b.outputs(GuardrailOutputContent::builder().text(t).build());
        }
        b.build().unwrap()
    }

    fn pii(action: GuardrailSensitiveInformationPolicyAction) -> GuardrailAssessment {
        GuardrailAssessment::builder()
            .sensitive_information_policy(
                GuardrailSensitiveInformationPolicyAssessment::builder()
                    .pii_entities(
                        GuardrailPiiEntityFilter::builder()
                            .r#match("123-45-6789")
                            .r#type(GuardrailPiiEntityType::UsSocialSecurityNumber)
                            .action(action)
                            .build()
                            .unwrap(),
                    )
                    .set_regexes(Some(Vec::new()))
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[test]
    fn anonymized_pii_is_masked_without_the_match() {
        let o = output(
            GuardrailAction::GuardrailIntervened,
            Some("my ssn is {US_SOCIAL_SECURITY_NUMBER}"),
            pii(GuardrailSensitiveInformationPolicyAction::Anonymized),
        );
        let v = interpret(&o, "my ssn is 123-45-6789", GuardSide::Query);
        assert_eq!(v.action, GuardAction::Masked);
        assert_eq!(v.text.as_deref(), Some("my ssn is {US_SOCIAL_SECURITY_NUMBER}"));
        assert_eq!(v.reasons.len(), 1);
        assert_eq!(v.reasons[0].what, "pii:US_SOCIAL_SECURITY_NUMBER");
        assert!(!format!("{v:?}").contains("6789"));
        assert_eq!(v.units, 2, "topic and PII units; word units are free");
    }

    #[test]
    fn a_blocked_topic_blocks() {
        let topic = GuardrailAssessment::builder()
            .topic_policy(
                GuardrailTopicPolicyAssessment::builder()
                    .topics(
                        GuardrailTopic::builder()
                            .name("Investment advice")
                            .r#type(GuardrailTopicType::Deny)
                            .action(GuardrailTopicPolicyAction::Blocked)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build();
        let o = output(GuardrailAction::GuardrailIntervened, Some("Sorry."), topic);
        let v = interpret(&o, "which stocks?", GuardSide::Answer);
        assert_eq!(v.action, GuardAction::Blocked);
        assert_eq!(v.text.as_deref(), Some("Sorry."));
        assert_eq!(v.reasons[0].what, "topic:Investment advice");
        assert_eq!(v.reasons[0].on, GuardSide::Answer);
    }

    #[test]
    fn no_intervention_and_detect_only_findings_pass() {
        let o = output(
            GuardrailAction::None,
            None,
            pii(GuardrailSensitiveInformationPolicyAction::None),
        );
        let v = interpret(&o, "hello", GuardSide::Query);
        assert_eq!(v.action, GuardAction::None);
        assert!(v.reasons.is_empty() && v.text.is_none());
    }

    #[test]
    fn units_fall_back_to_characters() {
        assert_eq!(billable_units(None, "x"), 1);
        assert_eq!(billable_units(None, &"x".repeat(2001)), 3);
        assert_eq!(billable_units(Some(&usage(3, 0, 5)), "x"), 3);
    }
}
