//! What the in-process guards (`pii`, `content_filter`, `topics`) share: the texts a
//! guard checks, its verdict on one text, and the [`LocalGuard`] trait.

use super::report::{GuardReason, GuardSide};

/// Which texts a guard checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides {
    pub query: bool,
    pub answer: bool,
}

impl Default for Sides {
    fn default() -> Self {
        Self {
            query: true,
            answer: true,
        }
    }
}

impl Sides {
    /// Whether text from `side` is checked. Sources count as part of the answer.
    pub fn covers(self, side: GuardSide) -> bool {
        match side {
            GuardSide::Query => self.query,
            GuardSide::Answer | GuardSide::Sources => self.answer,
        }
    }
}

/// What a local guard decided about one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Pass,
    /// Findings replaced by placeholders; the text goes on.
    Masked { text: String, reasons: Vec<GuardReason> },
    /// The text must not go on.
    Blocked { reasons: Vec<GuardReason> },
}

/// A guard that checks text in process, without a network call.
pub trait LocalGuard: Send + Sync + std::fmt::Debug {
    /// As reports name it: `pii`, `content_filter`, `denied_topic`.
    fn name(&self) -> &'static str;

    /// Whether it checks text from `side`.
    fn applies_to(&self, side: GuardSide) -> bool;

    /// Check `text`, which came from `side`.
    fn check(&self, text: &str, side: GuardSide) -> Verdict;
}

/// Whether the match `start..end` of `text` stands on its own: not glued to letters or
/// digits, nor to another digit group by `-`, `.` or `/` (so `123-45-6789-01` or
/// `v2.555.123.4567` are not taken for an SSN or a phone number).
pub(crate) fn standalone(text: &str, start: usize, end: usize) -> bool {
    let glued = |c: Option<char>, beyond: Option<char>| match c {
        Some(c) if c.is_alphanumeric() || c == '_' => true,
        Some('-' | '.' | '/') => beyond.is_some_and(|b| b.is_ascii_digit()),
        _ => false,
    };
    let mut before = text.get(..start).unwrap_or_default().chars().rev();
    let mut after = text.get(end..).unwrap_or_default().chars();
    let (b1, b2) = (before.next(), before.next());
    let (a1, a2) = (after.next(), after.next());
    !glued(b1, b2) && !glued(a1, a2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_rejects_glued_matches() {
        let t = "id 123-45-6789 x";
        assert!(standalone(t, 3, 14));
        let t = "9123-45-6789";
        assert!(!standalone(t, 1, 12));
        let t = "123-45-6789-01";
        assert!(!standalone(t, 0, 11));
        let t = "SSN: 123-45-6789.";
        assert!(standalone(t, 5, 16));
        let t = "a123";
        assert!(!standalone(t, 1, 4));
    }

    #[test]
    fn sources_follow_the_answer_side() {
        let s = Sides {
            query: true,
            answer: false,
        };
        assert!(s.covers(GuardSide::Query));
        assert!(!s.covers(GuardSide::Answer));
        assert!(!s.covers(GuardSide::Sources));
    }
}
