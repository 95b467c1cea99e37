//! Personal data: US social security numbers, e-mail addresses and US phone numbers,
//! masked as `[SSN]`, `[EMAIL]` and `[PHONE]` (or the text blocked).
//!
//! - **SSN**: `123-45-6789` or `123 45 6789`, and nine bare digits only right after
//!   `SSN` or `social security number`. Numbers the SSA never issues are left alone:
//!   area `000`, `666` or `900`–`999`, group `00`, serial `0000`.
//! - **E-mail**: `local@domain.tld`, with dot-separated local parts of letters, digits
//!   and `_%+-`, domain labels of at most 63 characters, and an alphabetic TLD of 2–63
//!   letters (so `user@localhost` and `1.2@3.4` are not e-mail addresses).
//! - **Phone**: NANP numbers (area code and exchange start with 2–9) written
//!   `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `555 123 4567`, with an optional
//!   `1` or `+1` country code, or `+15551234567`. Ten bare digits and seven-digit local
//!   numbers are not masked: too many order numbers and ids look like them.
//!
//! A match glued to letters, digits, or another digit group (`123-45-6789-01`) is not one.

use regex::Regex;

use super::report::{GuardAction, GuardReason, GuardSide};
use super::{LocalGuard, Sides, Verdict, standalone};

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiiKind {
    Ssn,
    Email,
    Phone,
}

impl PiiKind {
    /// As reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssn => "ssn",
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }

    /// What replaces it in masked text.
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Ssn => "[SSN]",
            Self::Email => "[EMAIL]",
            Self::Phone => "[PHONE]",
        }
    }
}

const SSN: &str = r"\b(?:(\d{3})-(\d{2})-(\d{4})|(\d{3}) (\d{2}) (\d{4}))\b";
const SSN_LABELLED: &str =
    r"(?i)\b(?:ssn|social\s+security(?:\s+(?:number|no\.?))?)\s*(?:#|no\.?|number)?\s*(?:is|:|=)?\s*(\d{9})\b";
const EMAIL: &str =
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b";
const PHONE: &str =
    r"(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}\b|\+1[2-9]\d{2}[2-9]\d{6}\b";

/// Finds personal data of the configured kinds.
#[derive(Debug, Clone)]
pub struct PiiGuard {
    kinds: Vec<PiiKind>,
    action: GuardAction,
    sides: Sides,
    ssn: Regex,
    ssn_labelled: Regex,
    email: Regex,
    phone: Regex,
}

impl PiiGuard {
    /// A guard for `kinds` that masks (`GuardAction::Masked`) or blocks what it finds.
    ///
    /// # Errors
    /// A regex error, which would be a bug in this file (the patterns are constants).
    pub fn new(kinds: &[PiiKind], block: bool, sides: Sides) -> Result<Self, regex::Error> {
        let mut kinds = kinds.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        Ok(Self {
            kinds,
            action: if block {
                GuardAction::Blocked
            } else {
                GuardAction::Masked
            },
            sides,
            ssn: Regex::new(SSN)?,
            ssn_labelled: Regex::new(SSN_LABELLED)?,
            email: Regex::new(EMAIL)?,
            phone: Regex::new(PHONE)?,
        })
    }

    /// Byte ranges of every finding of `kind` in `text`, in order, not overlapping.
    pub fn find(&self, kind: PiiKind, text: &str) -> Vec<(usize, usize)> {
        match kind {
            PiiKind::Ssn => self.find_ssn(text),
            PiiKind::Email => self
                .email
                .find_iter(text)
                .filter(|m| {
                    // Not the tail of a longer local part (`a..b@x.com`).
                    let before = text.get(..m.start()).and_then(|t| t.chars().next_back());
                    !before.is_some_and(|c| c.is_alphanumeric() || "._%+-".contains(c))
                })
                .map(|m| (m.start(), m.end()))
                .collect(),
            PiiKind::Phone => self
                .phone
                .find_iter(text)
                .filter(|m| standalone(text, m.start(), m.end()))
                .map(|m| (m.start(), m.end()))
                .collect(),
        }
    }

    fn find_ssn(&self, text: &str) -> Vec<(usize, usize)> {
        let mut found: Vec<(usize, usize)> = Vec::new();
        for c in self.ssn.captures_iter(text) {
            let Some(whole) = c.get(0) else { continue };
            let part = |a: usize, b: usize| c.get(a).or_else(|| c.get(b)).map_or("", |m| m.as_str());
            if valid_ssn(part(1, 4), part(2, 5), part(3, 6)) && standalone(text, whole.start(), whole.end()) {
                found.push((whole.start(), whole.end()));
            }
        }
        for c in self.ssn_labelled.captures_iter(text) {
            let Some(digits) = c.get(1) else { continue };
            let d = digits.as_str();
            if let (Some(area), Some(group), Some(serial)) = (d.get(..3), d.get(3..5), d.get(5..))
                && valid_ssn(area, group, serial)
                && standalone(text, digits.start(), digits.end())
            {
                found.push((digits.start(), digits.end()));
            }
        }
        found.sort_unstable();
        found
    }

    /// `text` with every finding of every configured kind replaced, and the count per kind.
    pub fn mask(&self, text: &str) -> (String, Vec<(PiiKind, u32)>) {
        let mut out = text.to_owned();
        let mut counts = Vec::new();
        // E-mail first: an address may hold digit groups that look like a phone number.
        for kind in [PiiKind::Email, PiiKind::Ssn, PiiKind::Phone] {
            if !self.kinds.contains(&kind) {
                continue;
            }
            let ranges = self.find(kind, &out);
            if ranges.is_empty() {
                continue;
            }
            let mut masked = String::with_capacity(out.len());
            let mut at = 0;
            for (start, end) in &ranges {
                masked.push_str(out.get(at..*start).unwrap_or_default());
                masked.push_str(kind.placeholder());
                at = *end;
            }
            masked.push_str(out.get(at..).unwrap_or_default());
            out = masked;
            counts.push((kind, u32::try_from(ranges.len()).unwrap_or(u32::MAX)));
        }
        (out, counts)
    }
}

/// Whether the three parts of an SSN could have been issued.
fn valid_ssn(area: &str, group: &str, serial: &str) -> bool {
    !(area == "000" || area == "666" || area.starts_with('9') || group == "00" || serial == "0000")
}

impl LocalGuard for PiiGuard {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn applies_to(&self, side: GuardSide) -> bool {
        self.sides.covers(side)
    }

    fn check(&self, text: &str, side: GuardSide) -> Verdict {
        let (masked, counts) = self.mask(text);
        if counts.is_empty() {
            return Verdict::Pass;
        }
        let reasons = counts
            .into_iter()
            .map(|(kind, n)| GuardReason::new(self.name(), side, self.action, kind.as_str(), n))
            .collect();
        match self.action {
            GuardAction::Blocked => Verdict::Blocked { reasons },
            _ => Verdict::Masked { text: masked, reasons },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> PiiGuard {
        PiiGuard::new(&[PiiKind::Ssn, PiiKind::Email, PiiKind::Phone], false, Sides::default()).unwrap()
    }

    fn found(kind: PiiKind, text: &str) -> Vec<&str> {
        guard().find(kind, text).into_iter().map(|(a, b)| &text[a..b]).collect()
    }

    #[test]
    fn ssn_positive() {
        assert_eq!(found(PiiKind::Ssn, "My SSN is 123-45-6789."), ["123-45-6789"]);
        assert_eq!(found(PiiKind::Ssn, "ssn 123 45 6789, thanks"), ["123 45 6789"]);
        assert_eq!(found(PiiKind::Ssn, "(078-05-1120)"), ["078-05-1120"]);
        assert_eq!(found(PiiKind::Ssn, "SSN: 123456789"), ["123456789"]);
        assert_eq!(found(PiiKind::Ssn, "social security number 234567890"), ["234567890"]);
        assert_eq!(
            found(PiiKind::Ssn, "a 123-45-6789 and b 899-99-9999"),
            ["123-45-6789", "899-99-9999"]
        );
    }

    #[test]
    fn ssn_negative() {
        for text in [
            "000-12-3456", // area 000
            "666-12-3456", // area 666
            "900-12-3456", // area 9xx (ITINs, never SSNs)
            "987-65-4321", // area 9xx
            "123-00-4567", // group 00
            "123-45-0000", // serial 0000
            "123456789",   // bare digits without a label
            "order 123456789",
            "1123-45-6789",   // glued to a digit
            "123-45-67890",   // too long
            "123-45-6789-01", // part of a longer id
            "A123-45-6789",   // glued to a letter
            "123-456-789",    // wrong grouping
            "123-45 6789",    // mixed separators
            "SSN: 000000000", // labelled but never issued
        ] {
            assert!(found(PiiKind::Ssn, text).is_empty(), "{text}");
        }
    }

    #[test]
    fn email_positive() {
        assert_eq!(
            found(PiiKind::Email, "write to jane.doe@example.com."),
            ["jane.doe@example.com"]
        );
        assert_eq!(
            found(PiiKind::Email, "<a+b_c%d-e@mail.co.uk>"),
            ["a+b_c%d-e@mail.co.uk"]
        );
        assert_eq!(
            found(PiiKind::Email, "X@Sub-Domain.Example.ORG"),
            ["X@Sub-Domain.Example.ORG"]
        );
        assert_eq!(found(PiiKind::Email, "a@b.io, c@d.dev"), ["a@b.io", "c@d.dev"]);
    }

    #[test]
    fn email_negative() {
        for text in [
            "user@localhost",
            "@handle on social media",
            "version 1.2@3.4",
            "a@b.c",
            "foo@-bar.com",
            "foo@bar-.com",
            "a..b@example.com",
            "no at sign example.com",
            "x@y.z1",
        ] {
            assert!(
                found(PiiKind::Email, text).is_empty(),
                "{text}: {:?}",
                found(PiiKind::Email, text)
            );
        }
    }

    #[test]
    fn phone_positive() {
        for (text, want) in [
            ("call (555) 234-5678 now", "(555) 234-5678"),
            ("call (555)234-5678", "(555)234-5678"),
            ("555-234-5678", "555-234-5678"),
            ("555.234.5678", "555.234.5678"),
            ("555 234 5678", "555 234 5678"),
            ("+1 555 234 5678", "+1 555 234 5678"),
            ("+1-555-234-5678", "+1-555-234-5678"),
            ("1-800-555-0199.", "1-800-555-0199"),
            ("+1 (212) 555-0100", "+1 (212) 555-0100"),
            ("tel:+12125550100", "+12125550100"),
        ] {
            assert_eq!(found(PiiKind::Phone, text), [want], "{text}");
        }
    }

    #[test]
    fn phone_negative() {
        for text in [
            "123-456-7890",    // area code starts with 1
            "055-234-5678",    // area code starts with 0
            "555-123-4567",    // exchange starts with 1
            "5552345678",      // ten bare digits
            "555-2345",        // seven-digit local number
            "v2.555.234.5678", // glued to a version number
            "555-234-56789",   // too long
            "12-555-234-5678", // glued to a digit group
            "ISBN 978-3-16-148410-0",
            "2024-05-17",
        ] {
            assert!(
                found(PiiKind::Phone, text).is_empty(),
                "{text}: {:?}",
                found(PiiKind::Phone, text)
            );
        }
    }

    #[test]
    fn masks_every_kind_and_counts() {
        let g = guard();
        let text = "I am 123-45-6789, mail jane@example.com or call (555) 234-5678 / 555-234-5679.";
        let Verdict::Masked { text, reasons } = g.check(text, GuardSide::Query) else {
            panic!("not masked");
        };
        assert_eq!(text, "I am [SSN], mail [EMAIL] or call [PHONE] / [PHONE].");
        let summary: Vec<(&str, u32)> = reasons.iter().map(|r| (r.what.as_str(), r.count)).collect();
        assert_eq!(summary, [("email", 1), ("ssn", 1), ("phone", 2)]);
        assert!(reasons.iter().all(|r| r.guard == "pii" && r.on == GuardSide::Query));
        assert_eq!(g.check("How many vacation days?", GuardSide::Query), Verdict::Pass);
    }

    #[test]
    fn only_configured_kinds_and_block() {
        let g = PiiGuard::new(&[PiiKind::Email], true, Sides::default()).unwrap();
        assert_eq!(g.check("SSN 123-45-6789", GuardSide::Answer), Verdict::Pass);
        let Verdict::Blocked { reasons } = g.check("jane@example.com", GuardSide::Answer) else {
            panic!("not blocked");
        };
        assert_eq!(reasons[0].action, GuardAction::Blocked);
        assert_eq!(reasons[0].what, "email");
    }

    #[test]
    fn email_digits_are_not_a_phone() {
        let (text, _) = guard().mask("555-234-5678@example.com");
        assert_eq!(text, "[EMAIL]");
    }
}
