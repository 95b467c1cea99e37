//! Parsers: the bytes of one file → plain text sections with their positions.
//!
//! Every parser is bounded (input size, decompressed size, nesting) and returns
//! a precise [`ParseError`] instead of panicking, so one bad file never aborts
//! a batch.

use serde::{Deserialize, Serialize};

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

/// Limits that keep a hostile file from using unbounded time or memory.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Largest input file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest total decompressed size of the parts read from a DOCX (zip) file, in bytes.
    pub max_unzipped_bytes: u64,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            max_unzipped_bytes: 256 * 1024 * 1024,
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
}

impl ParseError {
    /// A stable machine-readable code for API responses, e.g. `encrypted`, `no_text`.
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::Unsupported(_) => "unsupported_type",
            ParseError::TooLarge { .. } => "too_large",
            ParseError::Encrypted => "encrypted",
            ParseError::NoText(_) => "no_text",
            ParseError::Empty => "empty",
            ParseError::Corrupt(_) => "corrupt",
        }
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
/// encrypted, no text layer, empty or corrupt.
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
        DocFormat::Pdf => pdf::parse(bytes)?,
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
            sections: vec![Section {
                text,
                page: None,
                heading: None,
            }],
        }
    }
}

/// How an unsupported file is named in the error: `.ext`, or the file name when it has no extension.
fn type_name(file_name: &str) -> String {
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

/// Heading paths shared by the Markdown, HTML and DOCX parsers: a stack of (level, text).
#[derive(Default)]
struct HeadingPath(Vec<(u8, String)>);

impl HeadingPath {
    /// Enter a heading: drop the headings at `level` or deeper, then push this one.
    fn enter(&mut self, level: u8, text: String) {
        if text.is_empty() {
            return;
        }
        self.0.retain(|(l, _)| *l < level);
        self.0.push((level, text));
    }

    /// The path as "H1 > H2", or `None` before the first heading.
    fn current(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" > "))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/docs/");

    /// Every sample document and what parsing it must give: `None` for Ok, else the error code.
    const EXPECTED: &[(&str, Option<&str>)] = &[
        ("docx/docx2python-240-DOP-1013A_Lay_Down_Tubulars.docx", None),
        ("docx/docx2python-Weekly_Schedule.docx", None),
        ("docx/docx2python-comments.docx", None),
        ("docx/docx2python-created-in-pages-bulleted-lists.docx", None),
        ("docx/docx2python-example.docx", None),
        ("docx/docx2python-libreoffice_conversion.docx", None),
        ("docx/docx2python-merged_cells.docx", None),
        ("docx/docx2python-strict.docx", None),
        ("docx/docx2python-test-docx2python-conversion-google_docs.docx", None),
        ("docx/docx2python-zen_of_python.docx", None),
        ("docx/mammoth-footnotes.docx", None),
        ("docx/mammoth-tables.docx", None),
        ("docx/mammoth-text-box.docx", None),
        ("docx/mammoth-utf8-bom.docx", None),
        ("docx/python-docx-having-images.docx", Some("empty")),
        ("docx/python-docx-test.docx", None),
        ("html/golang-effective_go.html", None),
        ("html/golang-gc-guide.html", None),
        ("html/pypdf-habibi.html", None),
        ("md/golang-faq.md", None),
        ("md/rust-book-ch04-01-what-is-ownership.md", None),
        ("md/rust-book-ch04-02-references-and-borrowing.md", None),
        ("pdf/financebench-3M_2018_10K.pdf", None),
        ("pdf/pdfminer-aes-256-password-foo.pdf", Some("encrypted")),
        ("pdf/pdfminer-issue-449-vertical.pdf", None),
        ("pdf/pdfminer-jo-japanese.pdf", None),
        ("pdf/pdfminer-simple1.pdf", None),
        ("pdf/pdfminer-zen_of_python_corrupted.pdf", None),
        ("pdf/pypdf-GeoTopo-komprimiert-117p.pdf", None),
        ("pdf/pypdf-encrypted-openpassword.pdf", Some("encrypted")),
        ("pdf/pypdf-google-doc-document.pdf", None),
        ("pdf/pypdf-habibi-rotated-arabic.pdf", None),
        ("pdf/pypdf-imagemagick-images-no-text.pdf", Some("no_text")),
        ("pdf/pypdf-libreoffice-writer.pdf", None),
        ("pdf/pypdf-multicolumn.pdf", None),
        ("pdf/pypdf-pdflatex-4-pages.pdf", None),
    ];

    #[test]
    fn every_sample_document_has_a_pinned_outcome() {
        let mut on_disk = Vec::new();
        for dir in ["docx", "html", "md", "pdf"] {
            for entry in std::fs::read_dir(format!("{DOCS}{dir}")).unwrap() {
                on_disk.push(format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy()));
            }
        }
        on_disk.sort();
        let pinned: Vec<String> = EXPECTED.iter().map(|(name, _)| (*name).to_owned()).collect();
        assert_eq!(on_disk, pinned, "every sample file needs an expected outcome");
        for (name, expected) in EXPECTED {
            let bytes = std::fs::read(format!("{DOCS}{name}")).unwrap();
            match parse(name, &bytes, &ParseLimits::default()) {
                Ok(doc) => {
                    assert_eq!(*expected, None, "{name}: parsed, expected {expected:?}");
                    assert_eq!(Some(doc.format), detect_format(name));
                    assert!(!doc.sections.is_empty(), "{name}: no sections");
                    assert!(
                        doc.sections.iter().all(|s| !s.text.trim().is_empty()),
                        "{name}: blank section"
                    );
                }
                Err(error) => assert_eq!(Some(error.code()), *expected, "{name}: {error}"),
            }
        }
    }

    #[test]
    fn unsupported_and_too_large_are_checked_first() {
        let limits = ParseLimits::default();
        assert_eq!(
            parse("sheet.XLSX", b"x", &limits).err(),
            Some(ParseError::Unsupported(".XLSX".into()))
        );
        assert_eq!(
            parse("README", b"x", &limits).err(),
            Some(ParseError::Unsupported("README".into()))
        );
        assert_eq!(detect_format("Notes.MarkDown"), Some(DocFormat::Markdown));
        let tiny = ParseLimits {
            max_file_bytes: 4,
            ..limits
        };
        assert_eq!(
            parse("a.pdf", b"12345", &tiny).err(),
            Some(ParseError::TooLarge { size: 5, limit: 4 })
        );
        assert_eq!(
            parse("a.txt", b"1234", &tiny).map(|d| d.sections[0].text.clone()),
            Ok("1234".into())
        );
    }

    #[test]
    fn whitespace_only_documents_are_empty() {
        let limits = ParseLimits::default();
        assert_eq!(parse("a.txt", b" \n\t\n", &limits).err(), Some(ParseError::Empty));
        assert_eq!(
            parse("a.md", b"---\ntitle: x\n---\n\n", &limits).err(),
            Some(ParseError::Empty)
        );
        assert_eq!(
            parse("a.html", b"<script>x()</script><!-- c -->", &limits).err(),
            Some(ParseError::Empty)
        );
        let doc = parse("a.txt", b"\n\n  indented\n\n", &limits).unwrap();
        assert_eq!(doc.sections[0].text, "  indented");
    }

    #[test]
    fn deeply_nested_html_does_not_overflow() {
        let depth = 100_000;
        let html = format!(
            "{}deep text{}",
            "<div><span>".repeat(depth / 2),
            "</span></div>".repeat(depth / 2)
        );
        let doc = parse("deep.html", html.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(doc.sections[0].text, "deep text");
    }

    /// A zip holding `word/document.xml` with `xml`, deflated.
    fn docx_with(xml: &[u8]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("word/document.xml", options).unwrap();
        zip.write_all(xml).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn docx_decompression_is_bounded() {
        let body = "a".repeat(1 << 20);
        let bytes = docx_with(format!("<document><body><p><r><t>{body}</t></r></p></body></document>").as_bytes());
        assert!(bytes.len() < 16 * 1024, "fixture should compress well");
        let limits = ParseLimits {
            max_unzipped_bytes: 64 * 1024,
            ..ParseLimits::default()
        };
        let error = parse("bomb.docx", &bytes, &limits).err().unwrap();
        assert_eq!(
            error,
            ParseError::Corrupt("decompressed parts exceed the limit of 65536 bytes (at word/document.xml)".into())
        );
        assert_eq!(
            parse("bomb.docx", &bytes, &ParseLimits::default()).unwrap().sections[0]
                .text
                .len(),
            1 << 20
        );
    }

    #[test]
    fn docx_that_is_not_a_package_is_corrupt() {
        let limits = ParseLimits::default();
        assert!(matches!(
            parse("a.docx", b"plain text", &limits),
            Err(ParseError::Corrupt(_))
        ));
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("other.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let error = parse("a.docx", &bytes, &limits).err();
        assert_eq!(
            error,
            Some(ParseError::Corrupt("missing part: word/document.xml".into()))
        );
        let only_images = docx_with(b"<document><body><p><r><drawing/></r></p></body></document>");
        assert_eq!(parse("a.docx", &only_images, &limits).err(), Some(ParseError::Empty));
    }
}
