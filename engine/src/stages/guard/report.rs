//! What a response says about its guardrails: `guardrail: {action, reasons}`.

/// What the guardrails did to a query and its answer, strongest first: `blocked` >
/// `masked` > `none`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GuardAction {
    /// Nothing found (or no guardrails configured).
    #[default]
    None,
    /// Findings were replaced by placeholders (`[SSN]`, `[EMAIL]`, `[PHONE]`, `[REDACTED]`)
    /// or by Bedrock's anonymized text; the query was answered.
    Masked,
    /// The query or the answer was refused; the answer is the refusal message.
    Blocked,
}

impl GuardAction {
    /// As in responses: `none`, `masked`, `blocked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Masked => "masked",
            Self::Blocked => "blocked",
        }
    }
}

/// Which text a guard checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GuardSide {
    /// The question, before retrieval and generation.
    Query,
    /// The generated answer.
    Answer,
    /// The retrieved source texts returned with the answer.
    Sources,
}

impl GuardSide {
    /// As in responses: `query`, `answer`, `sources`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Answer => "answer",
            Self::Sources => "sources",
        }
    }
}

/// One intervention. Never holds the personal data it found.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl GuardReason {
    pub fn new(guard: &str, on: GuardSide, action: GuardAction, what: impl Into<String>, count: u32) -> Self {
        Self {
            guard: guard.to_owned(),
            on,
            action,
            what: what.into(),
            count,
        }
    }
}

/// The guardrails' verdict on one query: the strongest action taken and every reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardrailReport {
    /// `none`, `masked` or `blocked`.
    pub action: GuardAction,
    /// Each intervention, in the order the guards ran (query first, then the answer
    /// and its sources).
    pub reasons: Vec<GuardReason>,
}

impl GuardrailReport {
    /// Add reasons, raising the action to the strongest of them.
    pub fn extend(&mut self, reasons: impl IntoIterator<Item = GuardReason>) {
        for r in reasons {
            self.action = self.action.max(r.action);
            merge(&mut self.reasons, r);
        }
    }
}

/// Add `reason` to `reasons`, summing counts of the same guard, side, action and finding.
pub fn merge(reasons: &mut Vec<GuardReason>, reason: GuardReason) {
    match reasons
        .iter_mut()
        .find(|r| r.guard == reason.guard && r.on == reason.on && r.action == reason.action && r.what == reason.what)
    {
        Some(r) => r.count = r.count.saturating_add(reason.count),
        None => reasons.push(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongest_action_wins_and_counts_merge() {
        let mut report = GuardrailReport::default();
        report.extend([GuardReason::new("pii", GuardSide::Query, GuardAction::Masked, "ssn", 1)]);
        assert_eq!(report.action, GuardAction::Masked);
        report.extend([
            GuardReason::new("pii", GuardSide::Query, GuardAction::Masked, "ssn", 2),
            GuardReason::new("denied_topic", GuardSide::Answer, GuardAction::Blocked, "salary", 1),
        ]);
        assert_eq!(report.action, GuardAction::Blocked);
        assert_eq!(report.reasons.len(), 2);
        assert_eq!(report.reasons[0].count, 3);
    }
}
