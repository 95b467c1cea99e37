//! The chunk sub-stage: text-splitter, markdown-aware or plain, sized in the
//! embedder's tokens (or in words when the embedder has no tokenizer), with overlap.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use text_splitter::{ChunkConfig as SplitterConfig, ChunkSizer, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

use super::parse::{ParsedDocument, Section};
use crate::stages::{CompileCx, Run, Stage};
use crate::vocab::Diagnostic;

/// Chunking settings. Sizes are in the embedder's tokens (words for embedders without a tokenizer).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkConfig {
    /// `markdown` splits at headings, then paragraphs and sentences; `text` at paragraphs and sentences.
    #[serde(default)]
    pub kind: ChunkKind,
    /// Largest chunk, in tokens (default 200; at most 256 for the `local` embedder).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_tokens: Option<Spanned<u32>>,
    /// Tokens shared by neighbouring chunks (default 30); must be less than `max_tokens`.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub overlap_tokens: Option<Spanned<u32>>,
}

/// Chunker kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChunkKind {
    /// Markdown-aware: headings and blocks are preferred split points.
    #[default]
    Markdown,
    /// Plain text: paragraphs, then sentences, then words.
    Text,
}

impl ChunkConfig {
    /// Check the sizes; `window` is the embedder's context in tokens, if it has a fixed
    /// one. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>, window: Option<(u32, &str)>) -> Chunker {
        let max_tokens = self.max_tokens.as_ref().map_or(200, |m| m.value);
        let overlap = self.overlap_tokens.as_ref().map_or(30, |o| o.value);
        if let Some(m) = &self.max_tokens {
            if m.value < 16 {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    m,
                    "ingest.chunk.max_tokens",
                    "max_tokens must be at least 16",
                ));
            } else if let Some((limit, embedder)) = window
                && m.value > limit
            {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    m,
                    "ingest.chunk.max_tokens",
                    format!("max_tokens {} exceeds the {embedder} embedder's {limit}-token window; the rest of each chunk would not be embedded", m.value),
                ));
            }
        }
        if let Some(o) = &self.overlap_tokens
            && o.value >= max_tokens
        {
            cx.push(Diagnostic::spanned(
                cx.file,
                o,
                "ingest.chunk.overlap_tokens",
                format!(
                    "overlap_tokens ({}) must be less than max_tokens ({max_tokens})",
                    o.value
                ),
            ));
        }
        Chunker {
            kind: self.kind,
            max_tokens: max_tokens as usize,
            overlap_tokens: overlap.min(max_tokens.saturating_sub(1)) as usize,
        }
    }
}

/// The checked chunker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunker {
    pub kind: ChunkKind,
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

impl Stage for Chunker {
    fn name(&self) -> &'static str {
        "chunk"
    }
}

/// Split every section of a document into chunks, sized by the embedder's tokenizer
/// (or in words without one). Chunks never cross a section (so a chunk has one page
/// and one heading).
impl Run for Chunker {
    type Input<'a> = (&'a ParsedDocument, Option<&'a Tokenizer>);
    type Output = Vec<Chunk>;
    type Error = std::convert::Infallible;

    fn run(&self, (doc, tokenizer): Self::Input<'_>) -> Result<Vec<Chunk>, Self::Error> {
        Ok(match tokenizer {
            Some(t) => self.chunk_with(doc, t),
            None => self.chunk_with(doc, Words),
        })
    }
}

impl Chunker {
    /// What of the chunker shapes stored chunks, for the ingest fingerprint.
    pub fn fingerprint_part(&self) -> String {
        format!("{:?}/{}/{}", self.kind, self.max_tokens, self.overlap_tokens)
    }

    fn chunk_with<S: ChunkSizer>(&self, doc: &ParsedDocument, sizer: S) -> Vec<Chunk> {
        // Overlap is always below max (checked at compile), so this cannot fail; fall back to none.
        let config = SplitterConfig::new(self.max_tokens)
            .with_overlap(self.overlap_tokens)
            .unwrap_or_else(|_| SplitterConfig::new(self.max_tokens))
            .with_sizer(sizer);
        let mut out = Vec::new();
        let mut push = |texts: &mut dyn Iterator<Item = &str>, section: &Section| {
            for text in texts {
                if !text.trim().is_empty() {
                    out.push(Chunk {
                        text: text.to_owned(),
                        page: section.page,
                        section: section.heading.clone(),
                    });
                }
            }
        };
        match self.kind {
            ChunkKind::Markdown => {
                let splitter = MarkdownSplitter::new(config);
                for s in &doc.sections {
                    push(&mut splitter.chunks(&s.text), s);
                }
            }
            ChunkKind::Text => {
                let splitter = TextSplitter::new(config);
                for s in &doc.sections {
                    push(&mut splitter.chunks(&s.text), s);
                }
            }
        }
        out
    }
}

/// A piece of a document, small enough to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub page: Option<u32>,
    pub section: Option<String>,
}

/// Sizes text in whitespace-separated words, for embedders without a tokenizer.
struct Words;

impl ChunkSizer for Words {
    fn size(&self, chunk: &str) -> usize {
        chunk.split_whitespace().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::ingest::parse::{DocFormat, Section};

    fn doc(sections: Vec<(&str, Option<u32>)>) -> ParsedDocument {
        ParsedDocument {
            format: DocFormat::Markdown,
            title: None,
            sections: sections
                .into_iter()
                .map(|(t, p)| Section {
                    text: t.into(),
                    page: p,
                    heading: None,
                })
                .collect(),
        }
    }

    #[test]
    fn chunks_respect_size_and_keep_pages() {
        let long = "word ".repeat(300);
        let d = doc(vec![(&long, Some(1)), ("# Title\n\nshort section", Some(2))]);
        let settings = Chunker {
            kind: ChunkKind::Markdown,
            max_tokens: 100,
            overlap_tokens: 10,
        };
        let Ok(chunks) = settings.run((&d, None));
        assert!(chunks.iter().all(|c| c.text.split_whitespace().count() <= 100));
        assert!(chunks.len() >= 3, "{}", chunks.len());
        assert_eq!(chunks.last().unwrap().page, Some(2));
        assert!(chunks.iter().filter(|c| c.page == Some(1)).count() >= 3);
    }

    #[test]
    fn markdown_prefers_heading_boundaries() {
        let text = format!("# A\n\n{}\n\n# B\n\n{}", "alpha ".repeat(40), "beta ".repeat(40));
        let settings = Chunker {
            kind: ChunkKind::Markdown,
            max_tokens: 60,
            overlap_tokens: 0,
        };
        let Ok(chunks) = settings.run((&doc(vec![(&text, None)]), None));
        assert_eq!(chunks.len(), 2);
        assert!(chunks[0].text.contains("alpha") && !chunks[0].text.contains("beta"));
        assert!(chunks[1].text.starts_with("# B"));
    }

    proptest::proptest! {
        /// Every chunk fits, and no word of the input is lost.
        #[test]
        fn chunks_fit_and_cover_every_word(
            words in proptest::collection::vec("[a-z]{1,12}", 1..600),
            max in 16usize..120,
            overlap_pct in 0usize..50,
            markdown in proptest::bool::ANY,
        ) {
            let text = words.join(" ");
            let kind = if markdown { ChunkKind::Markdown } else { ChunkKind::Text };
            let settings = Chunker { kind, max_tokens: max, overlap_tokens: max * overlap_pct / 100 };
            let Ok(chunks) = settings.run((&doc(vec![(&text, Some(3))]), None));
            proptest::prop_assert!(!chunks.is_empty());
            for c in &chunks {
                proptest::prop_assert!(c.text.split_whitespace().count() <= max);
                proptest::prop_assert_eq!(c.page, Some(3));
            }
            let mut covered = std::collections::HashSet::new();
            for c in &chunks {
                covered.extend(c.text.split_whitespace().map(str::to_owned));
            }
            for w in &words {
                proptest::prop_assert!(covered.contains(w), "lost {}", w);
            }
        }
    }
}
