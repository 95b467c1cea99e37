//! Chunking with text-splitter: markdown-aware or plain, sized in the embedder's
//! tokens (or in words when the embedder has no tokenizer), with overlap.

use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

use super::parse::ParsedDocument;
use crate::stages::ingest::ChunkKind;

/// A piece of a document, small enough to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub page: Option<u32>,
    pub section: Option<String>,
}

/// Chunk sizes.
#[derive(Debug, Clone, Copy)]
pub struct ChunkSettings {
    pub kind: ChunkKind,
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

/// Sizes text in whitespace-separated words, for embedders without a tokenizer.
struct Words;

impl ChunkSizer for Words {
    fn size(&self, chunk: &str) -> usize {
        chunk.split_whitespace().count()
    }
}

/// Split every section of `doc` into chunks. Chunks never cross a section (so a
/// chunk has one page and one heading).
pub fn chunk_document(doc: &ParsedDocument, settings: ChunkSettings, tokenizer: Option<&Tokenizer>) -> Vec<Chunk> {
    match tokenizer {
        Some(t) => chunk_with(doc, settings, t),
        None => chunk_with(doc, settings, Words),
    }
}

fn chunk_with<S: ChunkSizer>(doc: &ParsedDocument, settings: ChunkSettings, sizer: S) -> Vec<Chunk> {
    // Overlap is always below max (checked at compile), so this cannot fail; fall back to none.
    let config = ChunkConfig::new(settings.max_tokens)
        .with_overlap(settings.overlap_tokens)
        .unwrap_or_else(|_| ChunkConfig::new(settings.max_tokens))
        .with_sizer(sizer);
    let mut out = Vec::new();
    let mut push = |texts: &mut dyn Iterator<Item = &str>, section: &super::parse::Section| {
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
    match settings.kind {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::parse::{DocFormat, Section};

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
        let settings = ChunkSettings {
            kind: ChunkKind::Markdown,
            max_tokens: 100,
            overlap_tokens: 10,
        };
        let chunks = chunk_document(&d, settings, None);
        assert!(chunks.iter().all(|c| c.text.split_whitespace().count() <= 100));
        assert!(chunks.len() >= 3, "{}", chunks.len());
        assert_eq!(chunks.last().unwrap().page, Some(2));
        assert!(chunks.iter().filter(|c| c.page == Some(1)).count() >= 3);
    }

    #[test]
    fn markdown_prefers_heading_boundaries() {
        let text = format!("# A\n\n{}\n\n# B\n\n{}", "alpha ".repeat(40), "beta ".repeat(40));
        let settings = ChunkSettings {
            kind: ChunkKind::Markdown,
            max_tokens: 60,
            overlap_tokens: 0,
        };
        let chunks = chunk_document(&doc(vec![(&text, None)]), settings, None);
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
            let settings = ChunkSettings { kind, max_tokens: max, overlap_tokens: max * overlap_pct / 100 };
            let chunks = chunk_document(&doc(vec![(&text, Some(3))]), settings, None);
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
