//! Amazon Bedrock Guardrails through `ApplyGuardrail`: one text checked as `INPUT` or
//! `OUTPUT`, read back as a [`GuardrailOutcome`] (which policies acted, the guardrail's
//! output text, billable units). What an outcome means for a query is the guard
//! stage's business ([`crate::stages::guard`]).
//!
//! The client, credentials (standard AWS chain) and SDK error classes are shared with
//! the Bedrock models ([`super::aws`]); retries and the per-call timeout are
//! [`super::resilience`]'s.

use aws_sdk_bedrockruntime::operation::apply_guardrail::ApplyGuardrailOutput;
use aws_sdk_bedrockruntime::types::{
    GuardrailAction, GuardrailAssessment, GuardrailContentBlock, GuardrailContentSource, GuardrailTextBlock,
    GuardrailUsage,
};

use super::ProviderError;
use super::aws::{AwsTarget, LazyBedrockClient, PROVIDER, sdk_error};
use super::resilience::{RetryPolicy, with_retries};

/// Which side of a conversation a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardrailSource {
    /// The user's question.
    Input,
    /// What the model answered.
    Output,
}

/// One configured Bedrock guardrail.
#[derive(Debug)]
pub struct BedrockGuardrail {
    pub guardrail_id: String,
    /// A version number, or `DRAFT`.
    pub version: String,
    policy: RetryPolicy,
    client: LazyBedrockClient,
}

/// A policy finding that acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `policy:finding`, e.g. `topic:Investment advice`, `pii:US_SOCIAL_SECURITY_NUMBER`.
    /// Never the matched text.
    pub what: String,
    /// `BLOCKED`; otherwise the finding was `ANONYMIZED`.
    pub blocked: bool,
}

/// What the guardrail said about one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailOutcome {
    /// Whether it intervened (`GUARDRAIL_INTERVENED`).
    pub intervened: bool,
    /// The findings that acted; detected-only ones (action `NONE`) are left out.
    pub findings: Vec<Finding>,
    /// Its output text, when it gave one: the masked text, or its blocked message.
    pub output: Option<String>,
    /// Its `actionReason`, when it gave one.
    pub reason: Option<String>,
    /// Billable text units of the call (see [`billable_units`]).
    pub units: u64,
}

impl BedrockGuardrail {
    /// Guardrail `guardrail_id` at `version` in `target`; the client is built on first use.
    pub fn new(guardrail_id: String, version: String, target: AwsTarget, policy: RetryPolicy) -> Self {
        Self {
            guardrail_id,
            version,
            policy,
            client: LazyBedrockClient::new(target),
        }
    }

    /// `bedrock-guardrail/<id>@<version>`, as usage reports name it.
    pub fn label(&self) -> String {
        format!("bedrock-guardrail/{}@{}", self.guardrail_id, self.version)
    }

    /// Check `text` as `source`.
    ///
    /// # Errors
    /// [`ProviderError`] when the guardrail cannot be called (after retries) or rejects the request.
    pub async fn apply(&self, text: &str, source: GuardrailSource) -> Result<GuardrailOutcome, ProviderError> {
        let client = self.client.get().await?;
        let source = match source {
            GuardrailSource::Input => GuardrailContentSource::Input,
            GuardrailSource::Output => GuardrailContentSource::Output,
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
        Ok(read_output(&output, text))
    }
}

/// Read an `ApplyGuardrail` response for `text`.
pub fn read_output(output: &ApplyGuardrailOutput, text: &str) -> GuardrailOutcome {
    let outputs: Vec<&str> = output.outputs().iter().filter_map(|o| o.text()).collect();
    GuardrailOutcome {
        intervened: *output.action() == GuardrailAction::GuardrailIntervened,
        findings: findings(output.assessments()),
        output: (!outputs.is_empty()).then(|| outputs.join("")),
        reason: output.action_reason().map(str::to_owned),
        units: billable_units(output.usage(), text),
    }
}

/// Text units the call bills: the units of every paid policy the service reports
/// (topics, content filters, PII, contextual grounding, automated reasoning). Word
/// filters and regex-only sensitive-information checks are free. Without a usage
/// block: one unit per started 1,000 characters.
pub fn billable_units(usage: Option<&GuardrailUsage>, text: &str) -> u64 {
    let Some(u) = usage else {
        return (text.chars().count() as u64).div_ceil(1000).max(1);
    };
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
}

/// Every policy finding that acted (`BLOCKED` or `ANONYMIZED`), as `policy:finding`.
fn findings(assessments: &[GuardrailAssessment]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |policy: &str, what: &str, action: &str| {
        let blocked = match action {
            "BLOCKED" => true,
            "ANONYMIZED" => false,
            _ => return,
        };
        out.push(Finding {
            what: format!("{policy}:{what}"),
            blocked,
        });
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
    fn anonymized_pii_is_read_without_the_match() {
        let o = output(
            GuardrailAction::GuardrailIntervened,
            Some("my ssn is {US_SOCIAL_SECURITY_NUMBER}"),
            pii(GuardrailSensitiveInformationPolicyAction::Anonymized),
        );
        let v = read_output(&o, "my ssn is 123-45-6789");
        assert!(v.intervened);
        assert_eq!(v.output.as_deref(), Some("my ssn is {US_SOCIAL_SECURITY_NUMBER}"));
        assert_eq!(
            v.findings,
            [Finding {
                what: "pii:US_SOCIAL_SECURITY_NUMBER".into(),
                blocked: false
            }]
        );
        assert!(!format!("{v:?}").contains("6789"));
        assert_eq!(v.units, 2, "topic and PII units; word units are free");
    }

    #[test]
    fn a_blocked_topic_is_a_blocking_finding() {
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
        let v = read_output(
            &output(GuardrailAction::GuardrailIntervened, Some("Sorry."), topic),
            "x",
        );
        assert_eq!(v.output.as_deref(), Some("Sorry."));
        assert_eq!(v.findings[0].what, "topic:Investment advice");
        assert!(v.findings[0].blocked);
    }

    #[test]
    fn detect_only_findings_are_left_out() {
        let o = output(
            GuardrailAction::None,
            None,
            pii(GuardrailSensitiveInformationPolicyAction::None),
        );
        let v = read_output(&o, "hello");
        assert!(!v.intervened);
        assert!(v.findings.is_empty() && v.output.is_none());
    }

    #[test]
    fn units_fall_back_to_characters() {
        assert_eq!(billable_units(None, "x"), 1);
        assert_eq!(billable_units(None, &"x".repeat(2001)), 3);
        assert_eq!(billable_units(Some(&usage(3, 0, 5)), "x"), 3);
    }
}
