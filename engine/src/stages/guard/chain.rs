//! A pipeline's guards, run in order on one text: the content filter, the denied
//! topics, PII masking, then Bedrock (which so never sees the personal data the local
//! guard masked). The first block stops the chain; masks accumulate.

use std::sync::Arc;

use super::bedrock::BedrockGuard;
use super::report::{self, GuardAction, GuardReason, GuardSide};
use super::{LocalGuard, Verdict};
use crate::providers::ProviderError;

/// The guards of one pipeline.
#[derive(Debug, Clone, Default)]
pub struct GuardChain {
    local: Vec<Arc<dyn LocalGuard>>,
    bedrock: Option<Arc<BedrockGuard>>,
}

/// One text after the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The text to go on with: masked where a guard masked. When blocked, the text as
    /// far as the chain got; see `refusal`.
    pub text: String,
    pub action: GuardAction,
    pub reasons: Vec<GuardReason>,
    /// When blocked by Bedrock: the guardrail's own blocked message.
    pub refusal: Option<String>,
    /// Bedrock text units billed, when Bedrock ran.
    pub bedrock_units: Option<u64>,
}

impl GuardChain {
    /// Local guards in the order they run, then Bedrock.
    pub fn new(local: Vec<Arc<dyn LocalGuard>>, bedrock: Option<Arc<BedrockGuard>>) -> Self {
        Self { local, bedrock }
    }

    /// No guard configured.
    pub fn is_empty(&self) -> bool {
        self.local.is_empty() && self.bedrock.is_none()
    }

    /// Whether any guard checks text from `side`.
    pub fn applies_to(&self, side: GuardSide) -> bool {
        self.local.iter().any(|g| g.applies_to(side)) || self.bedrock.as_ref().is_some_and(|b| b.sides.covers(side))
    }

    /// The names of the configured guards, in order.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.local.iter().map(|g| g.name()).collect();
        if self.bedrock.is_some() {
            names.push(super::bedrock::NAME);
        }
        names
    }

    /// The Bedrock guardrail, if configured.
    pub fn bedrock(&self) -> Option<&BedrockGuard> {
        self.bedrock.as_deref()
    }

    /// Run every guard that checks `side` on `text`.
    ///
    /// # Errors
    /// [`ProviderError`] when the Bedrock guardrail cannot be applied.
    pub async fn check(&self, text: &str, side: GuardSide) -> Result<Checked, ProviderError> {
        let mut checked = Checked {
            text: text.to_owned(),
            action: GuardAction::None,
            reasons: Vec::new(),
            refusal: None,
            bedrock_units: None,
        };
        for guard in self.local.iter().filter(|g| g.applies_to(side)) {
            match guard.check(&checked.text, side) {
                Verdict::Pass => {}
                Verdict::Masked { text, reasons } => {
                    checked.text = text;
                    add(&mut checked, reasons);
                }
                Verdict::Blocked { reasons } => {
                    add(&mut checked, reasons);
                    return Ok(checked);
                }
            }
        }
        if let Some(bedrock) = self.bedrock.as_ref().filter(|b| b.sides.covers(side)) {
            let verdict = bedrock.apply(&checked.text, side).await?;
            checked.bedrock_units = Some(verdict.units);
            add(&mut checked, verdict.reasons);
            match verdict.action {
                GuardAction::Blocked => checked.refusal = verdict.text,
                GuardAction::Masked => checked.text = verdict.text.unwrap_or(checked.text),
                GuardAction::None => {}
            }
            checked.action = checked.action.max(verdict.action);
        }
        Ok(checked)
    }

    /// Mask the source texts returned with an answer: the local guards that check
    /// answers and mask (a source is never blocked; the answer's check decides that).
    /// Returns the reasons, counted over all sources.
    pub fn mask_sources<'a>(&self, texts: impl IntoIterator<Item = &'a mut String>) -> Vec<GuardReason> {
        let mut reasons = Vec::new();
        let guards: Vec<&Arc<dyn LocalGuard>> =
            self.local.iter().filter(|g| g.applies_to(GuardSide::Sources)).collect();
        if guards.is_empty() {
            return reasons;
        }
        for text in texts {
            for guard in &guards {
                if let Verdict::Masked {
                    text: masked,
                    reasons: found,
                } = guard.check(text, GuardSide::Sources)
                {
                    *text = masked;
                    for r in found {
                        report::merge(&mut reasons, r);
                    }
                }
            }
        }
        reasons
    }
}

fn add(checked: &mut Checked, reasons: Vec<GuardReason>) {
    for r in reasons {
        checked.action = checked.action.max(r.action);
        report::merge(&mut checked.reasons, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::guard::Sides;
    use crate::stages::guard::content_filter::ContentFilter;
    use crate::stages::guard::phrases::Phrase;
    use crate::stages::guard::pii::{PiiGuard, PiiKind};
    use crate::stages::guard::topics::{DeniedTopics, Topic};

    fn chain() -> GuardChain {
        let pii = PiiGuard::new(&[PiiKind::Ssn, PiiKind::Email, PiiKind::Phone], false, Sides::default()).unwrap();
        let topics = DeniedTopics::new(vec![Topic {
            name: "salary".to_owned(),
            keywords: vec![Phrase::term("salary").unwrap()],
            sides: Sides::default(),
        }]);
        let filter = ContentFilter::new(vec![Phrase::term("secret").unwrap()], false, Sides::default());
        GuardChain::new(vec![Arc::new(filter), Arc::new(topics), Arc::new(pii)], None)
    }

    #[tokio::test]
    async fn masks_accumulate_and_a_block_stops_the_chain() {
        let c = chain();
        let ok = c.check("the secret is 123-45-6789", GuardSide::Query).await.unwrap();
        assert_eq!(ok.text, "the [REDACTED] is [SSN]");
        assert_eq!(ok.action, GuardAction::Masked);
        assert_eq!(ok.reasons.len(), 2);
        let blocked = c.check("my salary and 123-45-6789", GuardSide::Query).await.unwrap();
        assert_eq!(blocked.action, GuardAction::Blocked);
        assert_eq!(blocked.reasons.len(), 1, "PII never ran: {:?}", blocked.reasons);
        let clean = c.check("vacation days", GuardSide::Answer).await.unwrap();
        assert_eq!(clean.action, GuardAction::None);
        assert_eq!(clean.text, "vacation days");
        assert_eq!(c.names(), ["content_filter", "denied_topic", "pii"]);
    }

    #[test]
    fn sources_are_masked_never_blocked() {
        let mut texts = vec![
            "call 555-234-5678 about salary".to_owned(),
            "mail a@b.com or c@d.com".to_owned(),
        ];
        let reasons = chain().mask_sources(texts.iter_mut());
        assert_eq!(texts, ["call [PHONE] about salary", "mail [EMAIL] or [EMAIL]"]);
        let summary: Vec<(&str, u32)> = reasons.iter().map(|r| (r.what.as_str(), r.count)).collect();
        assert_eq!(summary, [("phone", 1), ("email", 2)]);
        assert!(reasons.iter().all(|r| r.on == GuardSide::Sources));
    }
}
