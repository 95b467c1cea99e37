//! What the engine knows about a query before routing it: counts and flags a rule
//! can use without parsing text itself, and one complexity score.

use serde::Serialize;

/// Question words looked for at any position.
const QUESTION_WORDS: &[&str] = &[
    "what", "who", "whom", "whose", "when", "where", "why", "how", "which", "whether",
];
/// Vocabulary that marks a legal question.
const LEGAL_TERMS: &[&str] = &[
    "agreement",
    "arbitration",
    "breach",
    "clause",
    "compliance",
    "confidential",
    "confidentiality",
    "contract",
    "damages",
    "dpa",
    "gdpr",
    "governing",
    "indemnification",
    "indemnify",
    "indemnity",
    "jurisdiction",
    "liability",
    "liable",
    "licence",
    "license",
    "litigation",
    "msa",
    "nda",
    "negligence",
    "obligation",
    "obligations",
    "party",
    "parties",
    "processor",
    "sub-processor",
    "termination",
    "terminate",
    "warranty",
    "warranties",
];
/// Vocabulary that marks a technical question.
const TECHNICAL_TERMS: &[&str] = &[
    "api",
    "architecture",
    "canary",
    "cluster",
    "database",
    "deploy",
    "deployment",
    "endpoint",
    "incident",
    "kubernetes",
    "latency",
    "on-call",
    "outage",
    "rate",
    "rollback",
    "runbook",
    "sev1",
    "sev2",
    "sev3",
    "sev4",
    "sla",
    "slo",
    "throughput",
    "timeout",
];
/// Words that open a subordinate or coordinate clause.
const CLAUSE_WORDS: &[&str] = &[
    "and",
    "or",
    "but",
    "if",
    "unless",
    "whether",
    "because",
    "although",
    "while",
    "which",
    "that",
    "where",
    "when",
    "provided",
    "including",
    "notwithstanding",
];

/// Features of one query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryFeatures {
    /// Whitespace-separated words.
    pub words: i64,
    /// Question words present, in order of first appearance (`what`, `how`, ...).
    pub question_words: Vec<String>,
    /// Legal vocabulary found (count of occurrences).
    pub legal_terms: i64,
    /// Technical vocabulary found (count of occurrences).
    pub technical_terms: i64,
    /// Capitalised words not at a sentence start, and numbers: a cheap proxy for named entities.
    pub entities: i64,
    /// Clauses: 1 + clause-opening words + `,` `;` `:` separators.
    pub clauses: i64,
    /// 0..=1, from length, clauses, domain vocabulary and entities (see [`QueryFeatures::of`]).
    pub complexity: f64,
}

impl QueryFeatures {
    /// Compute the features of `text`. complexity = 0.35·min(words/40, 1)
    /// + 0.25·min((clauses−1)/4, 1) + 0.2·min(terms/3, 1) + 0.2·min(entities/4, 1).
    pub fn of(text: &str) -> QueryFeatures {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let mut question_words = Vec::new();
        let (mut legal, mut technical, mut entities, mut clauses) = (0, 0, 0, 1);
        let mut sentence_start = true;
        for raw in &tokens {
            let word: String = raw
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
                .to_lowercase();
            if QUESTION_WORDS.contains(&word.as_str()) && !question_words.contains(&word) {
                question_words.push(word.clone());
            }
            legal += i64::from(LEGAL_TERMS.contains(&word.as_str()));
            technical += i64::from(TECHNICAL_TERMS.contains(&word.as_str()));
            clauses += i64::from(CLAUSE_WORDS.contains(&word.as_str()));
            clauses += raw.matches([',', ';', ':']).count() as i64;
            let first = raw.chars().next();
            let capitalised = first.is_some_and(char::is_uppercase) && !sentence_start;
            let number = first.is_some_and(|c| c.is_ascii_digit());
            entities += i64::from(capitalised || number);
            sentence_start = raw.ends_with(['.', '?', '!']);
        }
        let words = tokens.len() as i64;
        let frac = |x: f64, full: f64| (x / full).clamp(0.0, 1.0);
        let complexity = 0.35 * frac(words as f64, 40.0)
            + 0.25 * frac((clauses - 1) as f64, 4.0)
            + 0.2 * frac((legal + technical) as f64, 3.0)
            + 0.2 * frac(entities as f64, 4.0);
        QueryFeatures {
            words,
            question_words,
            legal_terms: legal,
            technical_terms: technical,
            entities,
            clauses,
            complexity: (complexity * 1000.0).round() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hr_question_is_simple() {
        let f = QueryFeatures::of("How many vacation days do employees get?");
        assert_eq!(f.words, 7);
        assert_eq!(f.question_words, ["how"]);
        assert_eq!((f.legal_terms, f.technical_terms, f.entities, f.clauses), (0, 0, 0, 1));
        assert!((f.complexity - 0.35 * 7.0 / 40.0).abs() < 1e-3, "{f:?}");
    }

    #[test]
    fn long_multi_clause_legal_question_is_complex() {
        let f = QueryFeatures::of(
            "If a customer terminates the MSA for convenience after a data breach, which indemnification \
             obligations survive, and does the limitation of liability still apply under Portuguese governing law?",
        );
        assert!(f.legal_terms >= 5, "{f:?}");
        assert!(f.clauses >= 5, "{f:?}");
        assert!(f.entities >= 2, "MSA and Portuguese: {f:?}");
        assert!(f.complexity > 0.7, "{f:?}");
        assert_eq!(f.question_words, ["which"]);
    }

    #[test]
    fn empty_text_has_zero_features() {
        let f = QueryFeatures::of("");
        assert_eq!((f.words, f.clauses, f.complexity), (0, 1, 0.0));
    }
}
