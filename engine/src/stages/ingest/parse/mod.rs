//! Parsers: the bytes of one file → plain text sections with their positions.
//!
//! Every parser is bounded (input size, decompressed size, nesting; for PDFs also
//! page count, interpreted content and a deadline, see [`ParseLimits`]) and returns
//! a precise [`ParseError`] instead of panicking, so one bad file never aborts
//! a batch.

use serde::{Deserialize, Serialize};

use crate::stages::{Run, Stage};

mod docx;
mod html;
mod markdown;
mod pdf;
mod text;

/// The formats ragline can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocFormat {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
}

/// One parsed document: a title (when the format has one) and its text in sections.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    pub format: DocFormat,
    /// Title from the document itself (front matter, `<title>`, first heading, PDF/DOCX
    /// metadata). `None` when the document has none; callers fall back to the file name.
    pub title: Option<String>,
    /// Text in reading order. Never empty on success, and never all-whitespace.
    pub sections: Vec<Section>,
}

/// A contiguous run of text with its position in the source document.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub text: String,
    /// 1-based page number (PDF only).
    pub page: Option<u32>,
    /// Heading path of the section, e.g. "Leave > Vacation" (Markdown, HTML, DOCX headings).
    pub heading: Option<String>,
}

impl Section {
    /// A section without a page number, under `heading`.
    fn under(text: String, heading: Option<String>) -> Self {
        Self {
            text,
            page: None,
            heading,
        }
    }
}

/// Limits that keep a hostile file from using unbounded time or memory. Going past one
/// is a [`ParseError::LimitExceeded`] (or [`ParseError::TooLarge`] for the file size).
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Largest input file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest total decompressed size, in bytes, of the parts read from a DOCX (zip)
    /// file or of the streams of a PDF; also the most content a PDF's pages may make
    /// the reader interpret (a form XObject counts each time it is drawn).
    pub max_decompressed_bytes: u64,
    /// Most pages a PDF may have.
    pub max_pdf_pages: usize,
    /// Most content one PDF page may make the reader interpret, in bytes, counting the
    /// forms it draws each time they are drawn.
    pub max_page_content_bytes: u64,
    /// Longest a PDF's text extraction may run (the other formats are read in one
    /// linear pass over their bounded input).
    pub max_duration: std::time::Duration,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            max_decompressed_bytes: 256 * 1024 * 1024,
            max_pdf_pages: 10_000,
            max_page_content_bytes: 8 * 1024 * 1024,
            max_duration: std::time::Duration::from_secs(120),
        }
    }
}

/// Why a file could not be turned into text. Each variant's message is what a user sees.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ParseError {
    #[error("unsupported file type: {0} (supported: .txt, .md, .markdown, .html, .htm, .pdf, .docx)")]
    Unsupported(String),
    #[error("too large: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("encrypted: password required")]
    Encrypted,
    #[error("no text layer (scanned?): {0}")]
    NoText(String),
    #[error("empty: the document contains no text")]
    Empty,
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// The file is readable, but its text is stored in a way ragline cannot decode
    /// (for example a CID font without a `ToUnicode` map).
    #[error("unsupported: {0}")]
    UnsupportedContent(String),
    /// Reading the file would go past one of the [`ParseLimits`] (a zip or deflate bomb,
    /// absurd nesting, too many pages, or a time limit).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
}

impl Stage for ParseLimits {
    fn name(&self) -> &'static str {
        "parse"
    }
}

/// Parse one file (its name, its bytes) within these limits; see [`parse`].
impl Run for ParseLimits {
    type Input<'a> = (&'a str, &'a [u8]);
    type Output = ParsedDocument;
    type Error = ParseError;

    fn run(&self, (file_name, bytes): Self::Input<'_>) -> Result<ParsedDocument, ParseError> {
        parse(file_name, bytes, self)
    }
}

/// The format a file name stands for, by extension (case-insensitive).
pub fn detect_format(file_name: &str) -> Option<DocFormat> {
    let ext = std::path::Path::new(file_name)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    match ext.as_str() {
        "txt" | "text" => Some(DocFormat::Text),
        "md" | "markdown" => Some(DocFormat::Markdown),
        "html" | "htm" => Some(DocFormat::Html),
        "pdf" => Some(DocFormat::Pdf),
        "docx" => Some(DocFormat::Docx),
        _ => None,
    }
}

/// Parse one file's bytes.
///
/// Checks `limits.max_file_bytes` first, then dispatches on the file name's
/// extension. On success every section holds some non-whitespace text.
///
/// # Errors
/// [`ParseError`] names why the file yields no text: unsupported type, too large,
/// encrypted, no text layer, empty, corrupt, text in an undecodable encoding, or a
/// limit that reading it would exceed.
pub fn parse(file_name: &str, bytes: &[u8], limits: &ParseLimits) -> Result<ParsedDocument, ParseError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limits.max_file_bytes {
        return Err(ParseError::TooLarge {
            size,
            limit: limits.max_file_bytes,
        });
    }
    let format = detect_format(file_name).ok_or_else(|| ParseError::Unsupported(type_name(file_name)))?;
    let extracted = match format {
        DocFormat::Text => text::parse(bytes),
        DocFormat::Markdown => markdown::parse(bytes),
        DocFormat::Html => html::parse(bytes),
        DocFormat::Pdf => pdf::parse(bytes, limits)?,
        DocFormat::Docx => docx::parse(bytes, limits)?,
    };
    let sections: Vec<Section> = extracted
        .sections
        .into_iter()
        .filter_map(|section| {
            let text = trim_blank_lines(&section.text);
            (!text.is_empty()).then(|| Section {
                text: text.to_owned(),
                ..section
            })
        })
        .collect();
    if sections.is_empty() {
        return Err(match format {
            DocFormat::Pdf => ParseError::NoText("no page has extractable text".into()),
            _ => ParseError::Empty,
        });
    }
    let title = extracted
        .title
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty());
    Ok(ParsedDocument {
        format,
        title,
        sections,
    })
}

/// What a format module hands back before the shared clean-up in [`parse`].
struct Extracted {
    title: Option<String>,
    sections: Vec<Section>,
}

impl Extracted {
    /// One untitled section holding `text`.
    fn single(text: String) -> Self {
        Self {
            title: None,
            sections: vec![Section::under(text, None)],
        }
    }
}

/// How an unsupported file is named in the error: `.ext`, or the file name when it has no extension.
pub fn type_name(file_name: &str) -> String {
    match std::path::Path::new(file_name).extension().and_then(|e| e.to_str()) {
        Some(ext) => format!(".{ext}"),
        None => file_name.to_owned(),
    }
}

/// `text` without leading blank lines and without trailing whitespace; empty when all blank.
fn trim_blank_lines(text: &str) -> &str {
    let text = text.trim_end();
    let first_visible = text.find(|c: char| !c.is_whitespace()).unwrap_or(text.len());
    let line_start = text[..first_visible].rfind('\n').map_or(0, |i| i + 1);
    &text[line_start..]
}

#[cfg(test)]
mod tests;
