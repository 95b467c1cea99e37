//! What similarity cannot see. Two questions can embed almost alike and still want
//! different answers: "can I carry over vacation days" against "can I not ...", "over
//! USD 500" against "over USD 5,000", "Beacon pricing" against "Relay pricing". A
//! cached answer is served for a new question only when the two agree on
//!
//! - **negation**: as many negations in both (`not`, `no`, `never`, `without`, `n't`, ...);
//! - **polarity**: no word of an antonym pair on one side meets its opposite on the
//!   other (allowed/forbidden, maximum/minimum, before/after, approve/reject, ...);
//! - **numbers**: the same numbers, dates and amounts (digits, number words, ordinals,
//!   months and weekdays, codes such as `SEV1` or `v2`);
//! - **entities**: the new question names nothing the cached one did not (capitalised
//!   words inside a sentence and acronyms, compared case-insensitively with the other
//!   question's words);
//! - **sources**: what the new question retrieves overlaps what the cached answer
//!   was written from ([`source_overlap`]);
//! - **coverage**: the new question's best source matches it about as well as the
//!   cached question's matched that one ([`coverage`]): "how many days are there in a
//!   leap year" retrieves the vacation policy too, for want of anything better, but
//!   far less closely.
//!
//! [`Signature::of`] reads a question once; [`first_failed`] compares two.

use std::collections::BTreeSet;

use crate::stages::retrieve::Hit;

use super::lexicon::{ANTONYMS, DATE_WORDS, MONTHS, NEGATIONS, NOT_ENTITIES, NUMBER_WORDS};

/// A check a semantic candidate can fail, as metrics and reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    Negation,
    Polarity,
    Numbers,
    Entities,
    Sources,
    Coverage,
}

impl Check {
    /// `negation`, `polarity`, `numbers`, `entities`, `sources`, `coverage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Negation => "negation",
            Check::Polarity => "polarity",
            Check::Numbers => "numbers",
            Check::Entities => "entities",
            Check::Sources => "sources",
            Check::Coverage => "coverage",
        }
    }
}

/// Which lexical checks run ([`Check::Sources`] is decided by the caller, who has the hits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Negation and polarity.
    pub polarity: bool,
    pub numbers: bool,
    pub entities: bool,
}

impl Checks {
    /// Every check on.
    pub const ALL: Checks = Checks {
        polarity: true,
        numbers: true,
        entities: true,
    };
}

/// What the checks read of one question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    /// How many negations: "cannot ... without" is not "can ... without".
    negations: usize,
    /// Each word of an antonym pair the question uses: (pair, side, word).
    polar: BTreeSet<(usize, bool, String)>,
    /// Numbers, dates and codes, normalised (`5,000` → `5000`, `five` → `5`), with
    /// repeats ("day 30 of the 30-60-90 plan" is not "day 60 of ...").
    numbers: Vec<String>,
    /// Named entities, lowercased.
    entities: BTreeSet<String>,
    /// Every word, lowercased.
    words: BTreeSet<String>,
    /// The words in order, lowercased.
    sequence: Vec<String>,
}

impl Signature {
    /// Read `question` once.
    pub fn of(question: &str) -> Signature {
        let mut sig = Signature::default();
        let mut sentence_start = true;
        for (token, ends_sentence) in tokens(question) {
            // A possessive names what it possesses: "Beacon's" is Beacon.
            let token = token
                .strip_suffix("'s")
                .or_else(|| token.strip_suffix("\u{2019}s"))
                .unwrap_or(token);
            let lower = token.to_lowercase();
            if NEGATIONS.contains(&lower.as_str()) || lower.ends_with("n't") || lower.ends_with("n\u{2019}t") {
                sig.negations += 1;
            }
            for (i, (a, b)) in ANTONYMS.iter().enumerate() {
                if a.contains(&lower.as_str()) {
                    sig.polar.insert((i, true, lower.clone()));
                }
                if b.contains(&lower.as_str()) {
                    sig.polar.insert((i, false, lower.clone()));
                }
            }
            for part in lower.split('-').filter(|p| !p.is_empty()) {
                if let Some(n) = number(part) {
                    sig.numbers.push(n);
                }
            }
            // A compound with a word in it names something ("LGPL-3.0", "relay-api");
            // one of numbers and codes only ("30-60-90") is a number.
            let compound = lower.contains('-')
                && lower
                    .split('-')
                    .any(|p| p.chars().any(char::is_alphabetic) && number(p).is_none());
            if (compound || (number(&lower).is_none() && is_entity(token, sentence_start)))
                && !NOT_ENTITIES.contains(&lower.as_str())
            {
                sig.entities.insert(lower.clone());
            }
            if lower.contains('-') {
                sig.words
                    .extend(lower.split('-').filter(|p| !p.is_empty()).map(str::to_owned));
            }
            sig.words.insert(lower.clone());
            sig.sequence.push(lower);
            sentence_start = ends_sentence;
        }
        sig.numbers.sort_unstable();
        sig
    }

    /// The antonym sides this question's words take that `other` has no such word for.
    fn sides_beyond<'a>(&'a self, other: &'a Signature) -> impl Iterator<Item = (usize, bool)> + 'a {
        self.polar
            .iter()
            .filter(|(_, _, word)| !other.words.contains(word))
            .map(|&(pair, side, _)| (pair, side))
    }

    /// Whether the two questions frame one swapped or added term: the same words
    /// before (at least two) and after it (together at least half of the longer
    /// question), and a content word on each side of a swap ("an NDA for a partner"
    /// against "... for a job candidate"), or added to the whole of the other question
    /// ("what happens during the summit" against "what happens to deployments during
    /// the summit").
    fn term_swapped(&self, other: &Signature) -> bool {
        let (a, b) = (&self.sequence, &other.sequence);
        let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let room = a.len().min(b.len()) - prefix;
        let suffix = a
            .iter()
            .rev()
            .zip(b.iter().rev())
            .take(room)
            .take_while(|(x, y)| x == y)
            .count();
        let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
        let content = |span: &[String], sig: &Signature| {
            span.iter()
                .any(|w| w.len() > 3 || w.chars().any(|c| c.is_ascii_digit()) || sig.entities.contains(w))
        };
        let same_number =
            ma.len() == 1 && mb.len() == 1 && number(&ma[0]).is_some() && number(&ma[0]) == number(&mb[0]);
        // The shared words start the question: a reworded opening ("Tell me" against
        // "Explain") is how paraphrases differ.
        let framed = prefix >= 2 && 2 * (prefix + suffix) >= a.len().max(b.len());
        let swapped = !ma.is_empty() && !mb.is_empty() && content(ma, self) && content(mb, other) && !same_number;
        // An added term: one question is the other with content words inserted.
        let added = (ma.is_empty() && content(mb, other)) || (mb.is_empty() && content(ma, self));
        framed && (swapped || added)
    }
}

/// The first check `asked` fails against `cached`, among those `checks` turns on.
pub fn first_failed(checks: Checks, cached: &Signature, asked: &Signature) -> Option<Check> {
    if checks.polarity {
        if cached.negations != asked.negations {
            return Some(Check::Negation);
        }
        // Only words one question has and the other lacks count: "under the MSA" in
        // both says nothing about "increase" against "decrease".
        let opposite = cached
            .sides_beyond(asked)
            .any(|(pair, side)| asked.sides_beyond(cached).any(|s| s == (pair, !side)));
        if opposite {
            return Some(Check::Polarity);
        }
    }
    if checks.numbers && cached.numbers != asked.numbers {
        return Some(Check::Numbers);
    }
    let known =
        |e: &String| cached.words.contains(e) || (e.contains('-') && e.split('-').all(|p| cached.words.contains(p)));
    if checks.entities && (!asked.entities.iter().all(known) || asked.term_swapped(cached)) {
        return Some(Check::Entities);
    }
    None
}

/// The share of the cached answer's first `n` sources that are among the new
/// question's first `n` hits (chunk ids, best first): 1 when the two would be
/// written from the same chunks, 0 when from none in common.
pub fn source_overlap(cached: &[u32], fresh: &[u32], n: usize) -> f32 {
    let cached = &cached[..cached.len().min(n)];
    if cached.is_empty() {
        return 0.0;
    }
    let fresh = &fresh[..fresh.len().min(n)];
    let common = cached.iter().filter(|c| fresh.contains(c)).count();
    common as f32 / cached.len() as f32
}

/// How well the new question's sources match it against how well the cached
/// question's matched it: the best vector similarity among the first `n` fresh hits
/// over the best among the cached answer's first `n` sources. `None` when either has
/// no vector score (keyword-only retrieval).
pub fn coverage(cached: &[Hit], fresh: &[Hit], n: usize) -> Option<f32> {
    let best = |hits: &[Hit]| hits.iter().take(n).filter_map(|h| h.vector_score).reduce(f32::max);
    let (c, f) = (best(cached)?, best(fresh)?);
    (c > 0.0).then(|| f / c)
}

/// A question as the exact level keys it: lowercase, every run of other characters
/// than letters and digits one space, trimmed. "What's the LIMIT?" and "what s the
/// limit" are the same question.
pub fn normalize(question: &str) -> String {
    let mut out = String::with_capacity(question.len());
    for c in question.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The words of `text`: runs of letters and digits, with `.`, `,` and `'` kept inside
/// them (`5,000`, `3.0`, `can't`); each with whether a sentence ends after it.
fn tokens(text: &str) -> Vec<(&str, bool)> {
    let mut out: Vec<(&str, bool)> = Vec::new();
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].1.is_alphanumeric() {
            if matches!(bytes[i].1, '.' | '?' | '!' | ':' | ';')
                && let Some(last) = out.last_mut()
            {
                last.1 = true;
            }
            i += 1;
            continue;
        }
        let start = bytes[i].0;
        let mut j = i + 1;
        while j < bytes.len() {
            let c = bytes[j].1;
            let inner = matches!(c, '.' | ',' | '\'' | '\u{2019}' | '-')
                && bytes.get(j + 1).is_some_and(|(_, n)| n.is_alphanumeric());
            if c.is_alphanumeric() || inner {
                j += 1;
            } else {
                break;
            }
        }
        let end = bytes.get(j).map_or(text.len(), |&(at, _)| at);
        out.push((&text[start..end], false));
        i = j;
    }
    out
}

/// `token` (lowercased) as a number, date or code, normalised; `None` for a word.
fn number(token: &str) -> Option<String> {
    if let Some(&(_, digits)) = NUMBER_WORDS.iter().find(|(w, _)| *w == token) {
        return Some(digits.to_owned());
    }
    if MONTHS.contains(&token) {
        return Some(token.get(..3).unwrap_or(token).to_owned());
    }
    if DATE_WORDS.contains(&token) {
        return Some(token.to_owned());
    }
    if !token.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    // `2.x` is version 2.
    let token = token.strip_suffix(".x").unwrap_or(token);
    let mut n: String = token.chars().filter(|&c| c != ',').collect();
    while n.contains('.') && (n.ends_with('0') || n.ends_with('.')) {
        n.pop();
    }
    Some(n)
}

/// A name: an acronym (two or more capitals), a word with a capital inside it
/// (`GitHub`), or a capitalised word that does not start a sentence.
fn is_entity(token: &str, sentence_start: bool) -> bool {
    let letters: Vec<char> = token.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return false;
    }
    let capitals = letters.iter().filter(|c| c.is_uppercase()).count();
    let acronym = capitals >= 2 && capitals == letters.len();
    let inner_capital = letters.iter().skip(1).any(|c| c.is_uppercase());
    acronym || inner_capital || (!sentence_start && letters[0].is_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(cached: &str, asked: &str) -> Option<Check> {
        first_failed(Checks::ALL, &Signature::of(cached), &Signature::of(asked))
    }

    #[test]
    fn paraphrases_pass_every_check() {
        for (a, b) in [
            (
                "How many vacation days do employees get per year?",
                "What is the yearly number of vacation days?",
            ),
            ("Who may sign an NDA?", "Which people are allowed to sign an NDA?"),
            (
                "What is the home-office stipend?",
                "how much is the home office stipend",
            ),
            (
                "When is the October review deadline?",
                "Deadline for the october review?",
            ),
            (
                "What happens at a SEV1 incident?",
                "Tell me what we do in a SEV1 incident.",
            ),
            (
                "How long is parental leave?",
                "How many weeks of parental leave do I get?",
            ),
        ] {
            assert_eq!(fails(a, b), None, "{a} / {b}");
        }
    }

    #[test]
    fn negation_and_antonyms_fail() {
        assert_eq!(
            fails(
                "What share of the medical premium does the company pay for Denver employees?",
                "What share of the medical premium do Denver employees pay themselves?"
            ),
            Some(Check::Polarity),
            "who pays"
        );
        assert_eq!(
            fails("Can I carry over vacation days?", "Can I not carry over vacation days?"),
            Some(Check::Negation)
        );
        assert_eq!(
            fails("Which licences are allowed?", "Which licences are forbidden?"),
            Some(Check::Polarity)
        );
        assert_eq!(
            fails("What is the maximum carry-over?", "What is the minimum carry-over?"),
            Some(Check::Polarity)
        );
        assert_eq!(
            fails(
                "What must I do before a deployment?",
                "What must I do after a deployment?"
            ),
            Some(Check::Polarity)
        );
        assert_eq!(
            fails("Why isn't the build green?", "Why is the build green?"),
            Some(Check::Negation)
        );
        assert_eq!(
            fails(
                "Which NDAs can be signed without Legal review?",
                "Which NDAs cannot be signed without Legal review?"
            ),
            Some(Check::Negation),
            "one negation against two"
        );
        assert_eq!(
            fails("Can fees increase under the MSA?", "Can fees decrease under the MSA?"),
            Some(Check::Polarity),
            "a word both share says nothing"
        );
    }

    #[test]
    fn different_numbers_and_dates_fail() {
        assert_eq!(
            fails(
                "Who approves expenses over USD 500?",
                "Who approves expenses over USD 5,000?"
            ),
            Some(Check::Numbers)
        );
        assert_eq!(
            fails("How many days after 5 years?", "How many days after ten years?"),
            Some(Check::Numbers)
        );
        assert_eq!(
            fails("What changed in Relay 3.0?", "What changed in Relay 2.0?"),
            Some(Check::Numbers)
        );
        assert_eq!(
            fails("When is the April review?", "When is the October review?"),
            Some(Check::Numbers)
        );
        // Equal numbers written differently agree.
        assert_eq!(
            fails(
                "Goals by day 30 of the 30-60-90 plan?",
                "Goals by day 60 of the 30-60-90 plan?"
            ),
            Some(Check::Numbers),
            "numbers count with their repeats"
        );
        assert_eq!(fails("Leave after five years?", "Leave after 5 years?"), None);
        assert_eq!(fails("Relay 3 features", "Relay 3.0 features"), None);
        assert_eq!(fails("Limit of 5,000 requests", "Limit of 5000 requests"), None);
    }

    #[test]
    fn swapped_entities_fail() {
        assert_eq!(
            fails(
                "Is GPL-3.0 allowed in our products?",
                "Is LGPL-3.0 allowed in our products?"
            ),
            Some(Check::Entities),
            "a compound with a version is still a name"
        );
        assert_eq!(
            fails(
                "What does the MSA say about confidential information?",
                "What does the social media policy say about confidential information?"
            ),
            Some(Check::Entities),
            "an acronym swapped for a phrase"
        );
        assert_eq!(
            fails(
                "What happens during the Northwind Summit?",
                "What happens to deployments during the Northwind Summit?"
            ),
            Some(Check::Entities),
            "a term added to the whole question"
        );
        assert_eq!(
            fails("How much does Beacon cost?", "How much does Relay cost?"),
            Some(Check::Entities)
        );
        assert_eq!(
            fails("Where is the Lisbon office?", "Where is the Denver office?"),
            Some(Check::Entities)
        );
        assert_eq!(
            fails(
                "What does the MSA say about liability?",
                "What does the DPA say about liability?"
            ),
            Some(Check::Entities)
        );
        assert_eq!(
            fails(
                "Who must approve an NDA with a competitor?",
                "Who must approve an NDA with a vendor?"
            ),
            Some(Check::Entities),
            "one content word swapped"
        );
        assert_eq!(
            fails(
                "What language is relay-api written in?",
                "What language is relay-connectors written in?"
            ),
            Some(Check::Entities)
        );
        assert_eq!(
            fails(
                "how much is the home office stipend",
                "What is the home-office stipend?"
            ),
            None,
            "a compound of words the other question has"
        );
        // The same entity in another case is the same entity.
        assert_eq!(fails("what does beacon cost", "What does Beacon cost?"), None);
        // The first word of a sentence is not a name unless it is an acronym.
        assert_eq!(fails("Tell me the policy", "Explain the policy"), None);
    }

    #[test]
    fn source_overlap_compares_the_first_sources() {
        assert_eq!(source_overlap(&[1, 2, 3], &[3, 2, 1, 9], 3), 1.0);
        assert!((source_overlap(&[1, 2, 3], &[1, 7, 8], 3) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(source_overlap(&[1, 2, 3], &[4, 5, 6, 1], 3), 0.0);
        assert_eq!(source_overlap(&[], &[1], 3), 0.0);
    }

    #[test]
    fn coverage_compares_the_best_vector_scores() {
        let hit = |score: Option<f32>| Hit {
            n: 1,
            document_id: "d".into(),
            title: String::new(),
            source: String::new(),
            domain: String::new(),
            chunk_id: 1,
            text: String::new(),
            page: None,
            section: None,
            score: 0.0,
            keyword_score: None,
            vector_score: score,
        };
        let cached = [hit(Some(0.4)), hit(Some(0.5))];
        let fresh = [hit(Some(0.25)), hit(None), hit(Some(0.9))];
        assert_eq!(
            coverage(&cached, &fresh, 2),
            Some(0.5),
            "the third fresh hit is beyond n"
        );
        assert_eq!(coverage(&cached, &fresh, 3), Some(1.8));
        assert_eq!(coverage(&cached, &[hit(None)], 3), None, "keyword-only: no verdict");
    }

    #[test]
    fn normalize_folds_case_and_punctuation() {
        assert_eq!(normalize("  What's the LIMIT?? "), "what s the limit");
        assert_eq!(normalize("what s the limit"), "what s the limit");
        assert_eq!(normalize("über-cool"), "über cool");
        assert_eq!(normalize("?!"), "");
    }
}
