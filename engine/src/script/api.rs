//! The few helpers scripts may call, registered from Rust. Documented in
//! `docs/scripting.md`; keep the two in step.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;
use rhai::{Array, Engine};

/// Compiled patterns, so a rule called per query does not recompile its regex.
static PATTERNS: LazyLock<Mutex<HashMap<String, Option<Regex>>>> = LazyLock::new(Mutex::default);
/// Largest compiled regex, in bytes, so a pattern cannot blow up memory.
const MAX_REGEX_BYTES: usize = 1 << 20;
/// Patterns kept in the cache; past this it is cleared.
const MAX_PATTERNS: usize = 256;

pub fn register(engine: &mut Engine) {
    engine.register_fn("contains_any", contains_any);
    engine.register_fn("word_count", word_count);
    engine.register_fn("matches", matches);
    engine.register_fn("lower", |s: &str| s.to_lowercase());
    engine.register_fn("log", |s: &str| tracing::info!(target: "ragline::script", "{s}"));
}

/// Whether `text` contains any of `needles` (case-insensitive, whole words or phrases).
fn contains_any(text: &str, needles: Array) -> bool {
    let lower = text.to_lowercase();
    needles.iter().filter_map(|n| n.clone().into_string().ok()).any(|n| {
        let n = n.to_lowercase();
        !n.is_empty()
            && lower.match_indices(&n).any(|(i, _)| {
                let before = lower[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
                let after = lower[i + n.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
                before && after
            })
    })
}

/// Whitespace-separated words.
fn word_count(text: &str) -> i64 {
    text.split_whitespace().count() as i64
}

/// Whether `text` matches the regular expression `pattern`; an invalid pattern never matches.
fn matches(text: &str, pattern: &str) -> bool {
    let Ok(mut cache) = PATTERNS.lock() else { return false };
    if cache.len() >= MAX_PATTERNS && !cache.contains_key(pattern) {
        cache.clear();
    }
    let re = cache.entry(pattern.to_owned()).or_insert_with(|| {
        regex::RegexBuilder::new(pattern)
            .size_limit(MAX_REGEX_BYTES)
            .build()
            .inspect_err(|e| {
                tracing::warn!(target: "ragline::script", pattern, error = %e, "invalid regex in script");
            })
            .ok()
    });
    re.as_ref().is_some_and(|re| re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_any_matches_whole_words_case_insensitively() {
        let words: Array = vec!["indemnif".into(), "NDA".into(), "governing law".into()];
        assert!(contains_any("Is the nda binding?", words.clone()));
        assert!(contains_any("Which Governing Law applies?", words.clone()));
        assert!(
            !contains_any("indemnification clause", words.clone()),
            "prefixes are not words"
        );
        assert!(!contains_any("agenda", words));
    }

    #[test]
    fn word_count_and_matches() {
        assert_eq!(word_count("  a b\tc\n"), 3);
        assert!(matches("SEV1 incident", r"(?i)sev[12]\b"));
        assert!(!matches("SEV3", r"(?i)sev[12]\b"));
        assert!(!matches("x", "("), "an invalid pattern never matches");
    }
}
