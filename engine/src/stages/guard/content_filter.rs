//! The content filter: a deny list of terms (whole words or phrases, any case) and
//! regular expressions. A text holding one is blocked, or has it masked as `[REDACTED]`.

use super::phrases::Phrase;
use super::report::{GuardAction, GuardReason, GuardSide};
use super::{LocalGuard, Sides, Verdict};

/// What replaces a denied term when the filter masks.
pub const REDACTED: &str = "[REDACTED]";

/// A deny list.
#[derive(Debug, Clone)]
pub struct ContentFilter {
    deny: Vec<Phrase>,
    action: GuardAction,
    sides: Sides,
}

impl ContentFilter {
    /// Terms and patterns, already checked; `block` refuses a text holding one, else
    /// it is masked.
    pub fn new(terms: Vec<Phrase>, block: bool, sides: Sides) -> Self {
        Self {
            deny: terms,
            action: if block {
                GuardAction::Blocked
            } else {
                GuardAction::Masked
            },
            sides,
        }
    }
}

impl LocalGuard for ContentFilter {
    fn name(&self) -> &'static str {
        "content_filter"
    }

    fn applies_to(&self, side: GuardSide) -> bool {
        self.sides.covers(side)
    }

    fn check(&self, text: &str, side: GuardSide) -> Verdict {
        let mut out = text.to_owned();
        let mut reasons = Vec::new();
        for phrase in &self.deny {
            let n = phrase.count(&out);
            if n == 0 {
                continue;
            }
            reasons.push(GuardReason::new(
                self.name(),
                side,
                self.action,
                phrase.label.clone(),
                u32::try_from(n).unwrap_or(u32::MAX),
            ));
            if self.action == GuardAction::Masked {
                out = phrase.replace(&out, REDACTED);
            }
        }
        match (reasons.is_empty(), self.action) {
            (true, _) => Verdict::Pass,
            (false, GuardAction::Blocked) => Verdict::Blocked { reasons },
            (false, _) => Verdict::Masked { text: out, reasons },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(block: bool) -> ContentFilter {
        ContentFilter::new(
            vec![
                Phrase::term("project falcon").unwrap(),
                Phrase::term("password").unwrap(),
                Phrase::pattern(r"acct-\d{6}").unwrap(),
            ],
            block,
            Sides::default(),
        )
    }

    #[test]
    fn blocks_denied_terms_and_patterns() {
        let f = filter(true);
        let Verdict::Blocked { reasons } = f.check("What is Project Falcon's password?", GuardSide::Query) else {
            panic!("not blocked");
        };
        let what: Vec<&str> = reasons.iter().map(|r| r.what.as_str()).collect();
        assert_eq!(what, ["project falcon", "password"]);
        assert!(
            reasons
                .iter()
                .all(|r| r.action == GuardAction::Blocked && r.guard == "content_filter")
        );
        assert!(matches!(
            f.check("send ACCT-123456", GuardSide::Answer),
            Verdict::Blocked { .. }
        ));
    }

    #[test]
    fn passes_clean_text_and_near_misses() {
        let f = filter(true);
        for text in ["How many vacation days?", "passwords", "falcon project", "acct-12345"] {
            assert_eq!(f.check(text, GuardSide::Query), Verdict::Pass, "{text}");
        }
    }

    #[test]
    fn masks_when_configured() {
        let Verdict::Masked { text, reasons } =
            filter(false).check("The password is hunter2; PASSWORD again.", GuardSide::Answer)
        else {
            panic!("not masked");
        };
        assert_eq!(text, "The [REDACTED] is hunter2; [REDACTED] again.");
        assert_eq!(reasons[0].count, 2);
        assert_eq!(reasons[0].action, GuardAction::Masked);
    }

    #[test]
    fn a_pattern_that_can_match_nothing_masks_only_its_matches() {
        let f = ContentFilter::new(vec![Phrase::pattern(r"(secret)?").unwrap()], false, Sides::default());
        let Verdict::Masked { text, reasons } = f.check("a secret b", GuardSide::Answer) else {
            panic!("not masked");
        };
        assert_eq!(text, "a [REDACTED] b");
        assert_eq!(reasons[0].count, 1);
    }

    #[test]
    fn respects_sides() {
        let f = ContentFilter::new(
            vec![Phrase::term("password").unwrap()],
            true,
            Sides {
                query: false,
                answer: true,
            },
        );
        assert!(!f.applies_to(GuardSide::Query));
        assert!(f.applies_to(GuardSide::Answer));
    }
}
