//! Matching configured words and phrases: case-insensitive, whole words only (a term
//! that starts or ends with a letter or digit must start or end on a word boundary),
//! any run of whitespace between the words of a phrase.

use regex::{Regex, RegexBuilder};

/// Largest compiled size of one term or pattern, so a pathological pattern in a
/// pipeline file is a config error rather than a slow query.
const SIZE_LIMIT: usize = 1 << 20;

/// One term or pattern, and the regex that finds it.
#[derive(Debug, Clone)]
pub struct Phrase {
    /// As configured; what reports name.
    pub label: String,
    pub regex: Regex,
}

impl Phrase {
    /// A literal word or phrase.
    ///
    /// # Errors
    /// When the phrase is empty (only whitespace).
    pub fn term(term: &str) -> Result<Self, String> {
        let words: Vec<String> = term.split_whitespace().map(regex::escape).collect();
        if words.is_empty() {
            return Err("a term must not be empty".to_owned());
        }
        let wordy = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let trimmed = term.trim();
        let start = if wordy(trimmed.chars().next()) { r"\b" } else { "" };
        let end = if wordy(trimmed.chars().next_back()) { r"\b" } else { "" };
        let source = format!("{start}{}{end}", words.join(r"\s+"));
        let regex = build(&source)?;
        Ok(Self {
            label: trimmed.to_owned(),
            regex,
        })
    }

    /// A regular expression (Rust `regex` syntax), matched case-insensitively.
    ///
    /// # Errors
    /// The regex error, when it does not compile or is too large.
    pub fn pattern(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("a pattern must not be empty".to_owned());
        }
        Ok(Self {
            label: pattern.to_owned(),
            regex: build(pattern)?,
        })
    }

    /// How many times it occurs in `text`.
    pub fn count(&self, text: &str) -> usize {
        self.regex.find_iter(text).filter(|m| !m.as_str().is_empty()).count()
    }

    /// `text` with every occurrence counted by [`Phrase::count`] replaced by `with`
    /// (a pattern's empty matches are not occurrences, so nothing is inserted there).
    pub fn replace(&self, text: &str, with: &str) -> String {
        self.regex
            .replace_all(text, |c: &regex::Captures<'_>| {
                if c.get(0).is_some_and(|m| m.as_str().is_empty()) {
                    String::new()
                } else {
                    with.to_owned()
                }
            })
            .into_owned()
    }
}

fn build(source: &str) -> Result<Regex, String> {
    RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_match_whole_words_case_insensitively() {
        let p = Phrase::term("Project  Falcon").unwrap();
        assert_eq!(p.label, "Project  Falcon");
        assert_eq!(p.count("Tell me about project\nfalcon and PROJECT FALCON."), 2);
        assert_eq!(p.count("projectfalcon or project falconry"), 0);
        let p = Phrase::term("c++").unwrap();
        assert_eq!(p.count("I like C++ a lot"), 1);
        assert_eq!(p.count("abc++"), 0);
        assert!(Phrase::term("  ").is_err());
    }

    #[test]
    fn patterns_compile_or_say_why() {
        let p = Phrase::pattern(r"acct-\d{6}").unwrap();
        assert_eq!(p.count("ACCT-123456 and acct-12"), 1);
        assert!(Phrase::pattern("(unclosed").is_err());
        assert!(Phrase::pattern("").is_err());
    }
}
