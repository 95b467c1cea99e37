//! The offline answer generator: no language model. It picks the retrieved
//! sentences that share the most (IDF-weighted) terms with the question and cites
//! the chunk each came from. Deterministic, free, and honest about what it is: it
//! can only quote, never infer.

use std::collections::{HashMap, HashSet};

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

use super::{ContextChunk, GenerateFuture, GenerateRequest, Generation, Generator};

/// Words too common to tell sentences apart.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but",
    "by", "can", "could", "did", "do", "does", "doing", "for", "from", "get", "gets", "got", "had", "has", "have",
    "how", "i", "if", "in", "into", "is", "it", "its", "many", "may", "me", "more", "most", "much", "my", "no", "not",
    "of", "on", "or", "our", "should", "so", "some", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "those", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why",
    "will", "with", "would", "you", "your",
];

/// Sentence extraction with citations.
pub struct Extractive {
    max_sentences: usize,
    stemmer: Stemmer,
}

impl Extractive {
    /// An extractive generator that answers with at most `max_sentences` sentences.
    pub fn new(max_sentences: usize) -> Self {
        Self {
            max_sentences: max_sentences.max(1),
            stemmer: Stemmer::create(Algorithm::English),
        }
    }

    fn terms(&self, text: &str) -> HashSet<String> {
        text.unicode_words()
            .map(str::to_lowercase)
            .filter(|w| {
                !STOPWORDS.contains(&w.as_str()) && (w.chars().count() > 1 || w.chars().all(|c| c.is_numeric()))
            })
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }

    /// The answer for `request`; pure, so it is easy to test.
    pub fn answer(&self, request: &GenerateRequest) -> Generation {
        let query = self.terms(&request.question);
        let candidates: Vec<Candidate<'_>> = request.context.iter().flat_map(sentences).collect();
        let term_sets: Vec<HashSet<String>> = candidates.iter().map(|c| self.terms(c.text)).collect();
        let mut df: HashMap<&str, usize> = HashMap::new();
        for set in &term_sets {
            for t in set.iter().filter(|t| query.contains(*t)) {
                *df.entry(t.as_str()).or_default() += 1;
            }
        }
        let n = candidates.len().max(1) as f32;
        let top_chunk = request
            .context
            .iter()
            .map(|c| c.score)
            .fold(f32::MIN_POSITIVE, f32::max);
        let mut scored: Vec<(f32, usize)> = term_sets
            .iter()
            .enumerate()
            .filter_map(|(i, set)| {
                let matched: f32 = set
                    .iter()
                    .filter_map(|t| df.get(t.as_str()))
                    .map(|&d| (1.0 + n / d as f32).ln())
                    .sum();
                (matched > 0.0).then(|| {
                    let chunk_bonus = 0.3 * candidates[i].chunk.score / top_chunk;
                    let length_penalty = 1.0 + (term_sets[i].len() as f32 / 40.0);
                    (matched / length_penalty + chunk_bonus, i)
                })
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

        let mut seen = HashSet::new();
        let mut picked: Vec<usize> = scored
            .iter()
            .map(|&(_, i)| i)
            .filter(|&i| seen.insert(candidates[i].text.trim()))
            .take(self.max_sentences)
            .collect();
        picked.sort_unstable();

        let input_tokens = request
            .context
            .iter()
            .map(|c| c.text.split_whitespace().count() as u64)
            .sum();
        if picked.is_empty() {
            let text =
                "No passage in the retrieved documents matches this question, so there is nothing to quote.".to_owned();
            return Generation {
                output_tokens: text.split_whitespace().count() as u64,
                text,
                cited: vec![],
                input_tokens,
                fallback: None,
            };
        }
        let mut cited: Vec<usize> = picked.iter().map(|&i| candidates[i].chunk.n).collect();
        let text = picked
            .iter()
            .map(|&i| format!("{} [{}]", plain(candidates[i].text), candidates[i].chunk.n))
            .collect::<Vec<_>>()
            .join(" ");
        cited.sort_unstable();
        cited.dedup();
        Generation {
            output_tokens: text.split_whitespace().count() as u64,
            text,
            cited,
            input_tokens,
            fallback: None,
        }
    }
}

impl Generator for Extractive {
    fn name(&self) -> &'static str {
        "extractive"
    }

    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> GenerateFuture<'a> {
        Box::pin(async move { Ok(self.answer(request)) })
    }
}

/// A sentence without Markdown emphasis and code marks, for the answer text.
fn plain(sentence: &str) -> String {
    sentence.trim().replace("**", "").replace("__", "").replace('`', "")
}

struct Candidate<'a> {
    chunk: &'a ContextChunk,
    text: &'a str,
}

/// Sentences of a chunk: lines first (so headings and list items stay apart), then
/// Unicode sentence bounds. Markdown headings, table rules and very short fragments are skipped.
fn sentences(chunk: &ContextChunk) -> impl Iterator<Item = Candidate<'_>> {
    chunk
        .text
        .lines()
        .map(|l| l.trim().trim_start_matches(['-', '*', '>', '|']).trim())
        .filter(|l| !l.starts_with('#') && !l.starts_with("---"))
        .flat_map(|l| l.unicode_sentences())
        .map(str::trim)
        .filter(|s| s.split_whitespace().count() >= 4)
        .map(move |text| Candidate { chunk, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: usize, text: &str) -> ContextChunk {
        ContextChunk {
            n,
            title: format!("doc {n}"),
            text: text.into(),
            score: 1.0 / n as f32,
        }
    }

    fn ask(q: &str, chunks: Vec<ContextChunk>) -> Generation {
        let req = GenerateRequest {
            question: q.into(),
            prompt: String::new(),
            context: chunks,
        };
        Extractive::new(2).answer(&req)
    }

    #[test]
    fn quotes_the_matching_sentence_with_its_citation() {
        let g = ask(
            "How many vacation days do employees get?",
            vec![
                chunk(
                    1,
                    "# Leave\nOur offices are in Lisbon. Full-time employees receive 25 days of paid vacation per year.",
                ),
                chunk(2, "The marketing budget for 2026 is 40,000 euros in total."),
            ],
        );
        assert!(
            g.text
                .starts_with("Full-time employees receive 25 days of paid vacation per year. [1]"),
            "{}",
            g.text
        );
        assert!(!g.text.contains("marketing"));
        assert_eq!(g.cited, vec![1]);
        assert!(g.input_tokens > 10);
    }

    #[test]
    fn answer_drops_markdown_emphasis() {
        let g = ask(
            "vacation days",
            vec![chunk(1, "Employees receive **25 days of paid vacation** each `year`.")],
        );
        assert_eq!(g.text, "Employees receive 25 days of paid vacation each year. [1]");
    }

    #[test]
    fn says_so_when_nothing_matches() {
        let g = ask(
            "quantum chromodynamics",
            vec![chunk(1, "Employees receive 25 days of paid vacation per year.")],
        );
        assert!(g.cited.is_empty());
        assert!(g.text.contains("nothing to quote"));
    }

    #[test]
    fn keeps_document_order_and_caps_sentences() {
        let g = ask(
            "sick leave days",
            vec![chunk(
                1,
                "Sick leave is 10 days per year. Unused sick leave days do not carry over. Sick leave needs a note after 3 days.",
            )],
        );
        assert_eq!(g.text.matches("[1]").count(), 2);
    }
}
