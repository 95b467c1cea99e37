//! PDF: one section per page through `pdf-extract` (and the `lopdf` it re-exports).
//!
//! `pdf-extract` can panic on unusual input, so loading and every page run
//! under `catch_unwind`; a panic becomes [`ParseError::Corrupt`]. A page that
//! fails is skipped when other pages yield text.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::{Document, Object, PlainTextOutput, decode_text_string, output_doc_page};

use super::{Extracted, ParseError, Section};

/// Longest reason kept in a [`ParseError::Corrupt`] message.
const MAX_REASON_CHARS: usize = 160;

/// Parse a PDF into one section per page (`page` is 1-based).
///
/// # Errors
/// [`ParseError::Encrypted`] when the empty user password does not open it,
/// [`ParseError::Corrupt`] when it cannot be read (or the reader panics),
/// [`ParseError::NoText`] when no page has a text layer.
pub(super) fn parse(bytes: &[u8]) -> Result<Extracted, ParseError> {
    let doc = guarded(|| Document::load_mem(bytes))?.map_err(load_error)?;
    // lopdf decrypts with the empty user password while loading and then drops
    // `/Encrypt` from the trailer; when it is still there a password is needed.
    if doc.trailer.has(b"Encrypt") {
        return Err(ParseError::Encrypted);
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(ParseError::Corrupt("no pages found".into()));
    }
    let mut sections = Vec::with_capacity(pages.len());
    let mut failures = Vec::new();
    for &number in pages.keys() {
        match guarded(|| page_text(&doc, number)).and_then(|r| r.map_err(|e| corrupt(&e))) {
            Ok(text) => sections.push(Section {
                text,
                page: Some(number),
                heading: None,
            }),
            Err(error) => failures.push((number, error)),
        }
    }
    let has_text = sections.iter().any(|s| !s.text.trim().is_empty());
    if let Some((page, error)) = failures.first() {
        if !has_text {
            return Err(error.clone());
        }
        tracing::warn!(failed_pages = failures.len(), first_failed_page = page, %error, "skipped unreadable PDF pages");
    }
    if !has_text {
        return Err(ParseError::NoText(format!(
            "none of the {} pages has extractable text",
            pages.len()
        )));
    }
    let title = guarded(|| info_title(&doc)).ok().flatten();
    Ok(Extracted { title, sections })
}

/// Plain text of one page, in `pdf-extract`'s reading order.
fn page_text(doc: &Document, number: u32) -> Result<String, pdf_extract::OutputError> {
    let mut text = String::new();
    output_doc_page(doc, &mut PlainTextOutput::new(&mut text), number)?;
    Ok(text)
}

/// `/Title` from the document information dictionary, when set.
fn info_title(doc: &Document) -> Option<String> {
    let info = match doc.trailer.get(b"Info").ok()? {
        Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        Object::Dictionary(dict) => dict,
        _ => return None,
    };
    let title = decode_text_string(info.get(b"Title").ok()?).ok()?;
    Some(title.trim_matches(|c: char| c.is_whitespace() || c == '\0').to_owned()).filter(|t| !t.is_empty())
}

/// Run `f`, turning a panic into [`ParseError::Corrupt`].
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ParseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        corrupt(&format!("PDF reader failed: {message}"))
    })
}

fn load_error(error: pdf_extract::Error) -> ParseError {
    match error {
        pdf_extract::Error::Decryption(_) | pdf_extract::Error::InvalidPassword => ParseError::Encrypted,
        other => corrupt(&other),
    }
}

fn corrupt(reason: &dyn std::fmt::Display) -> ParseError {
    let reason = reason.to_string();
    let short: String = reason.chars().take(MAX_REASON_CHARS).collect();
    ParseError::Corrupt(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/docs/pdf/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    fn page(doc: &Extracted, number: u32) -> &str {
        &doc.sections.iter().find(|s| s.page == Some(number)).unwrap().text
    }

    #[test]
    fn simple1_hello_world() {
        let doc = parse(&read("pdfminer-simple1.pdf")).unwrap();
        assert_eq!(doc.sections.len(), 1);
        assert_eq!(doc.sections[0].page, Some(1));
        assert!(doc.sections[0].text.contains("Hello"), "{:?}", doc.sections[0].text);
        assert!(doc.sections[0].text.contains("World"));
    }

    #[test]
    fn ten_k_pages_numbered_and_timed() {
        let bytes = read("financebench-3M_2018_10K.pdf");
        let started = std::time::Instant::now();
        let doc = parse(&bytes).unwrap();
        eprintln!("3M 10-K: {} pages in {:?}", doc.sections.len(), started.elapsed());
        assert_eq!(doc.sections.len(), 160);
        let numbers: Vec<u32> = doc.sections.iter().filter_map(|s| s.page).collect();
        assert_eq!(numbers, (1..=160).collect::<Vec<_>>());
        assert!(page(&doc, 1).contains("3M"));
        assert!(page(&doc, 1).contains("ANNUAL REPORT") || page(&doc, 1).contains("10-K"));
    }

    #[test]
    fn encrypted_files_need_a_password() {
        assert_eq!(
            parse(&read("pypdf-encrypted-openpassword.pdf")).err(),
            Some(ParseError::Encrypted)
        );
        assert_eq!(
            parse(&read("pdfminer-aes-256-password-foo.pdf")).err(),
            Some(ParseError::Encrypted)
        );
    }

    #[test]
    fn image_only_pdf_has_no_text() {
        let error = parse(&read("pypdf-imagemagick-images-no-text.pdf")).err().unwrap();
        assert_eq!(
            error,
            ParseError::NoText("none of the 6 pages has extractable text".into())
        );
    }

    #[test]
    fn multi_page_latex() {
        let doc = parse(&read("pypdf-pdflatex-4-pages.pdf")).unwrap();
        assert_eq!(doc.sections.len(), 4);
        assert!(doc.sections.iter().all(|s| !s.text.trim().is_empty()));
    }

    #[test]
    fn garbage_is_corrupt() {
        assert!(matches!(
            parse(b"%PDF-1.4\nnot really a pdf"),
            Err(ParseError::Corrupt(_))
        ));
        assert!(matches!(parse(b"hello"), Err(ParseError::Corrupt(_))));
    }
}

#[cfg(test)]
mod dump_tmp {
    #[test]
    #[ignore]
    fn dump() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/docs/pdf/");
        let only = std::env::var("DUMP").unwrap_or_default();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().contains(&only) { continue; }
            let t = std::time::Instant::now();
            let r = super::parse(&std::fs::read(&path).unwrap());
            eprintln!("==== {} {:?}", path.display(), t.elapsed());
            match r {
                Ok(d) => { eprintln!("title {:?} pages {}", d.title, d.sections.len()); for s in d.sections.iter().take(std::env::var("PAGES").ok().and_then(|p| p.parse().ok()).unwrap_or(2)) { eprintln!("-- page {:?}\n{:?}", s.page, s.text.chars().take(std::env::var("CHARS").ok().and_then(|p| p.parse().ok()).unwrap_or(600)).collect::<String>()); } }
                Err(e) => eprintln!("ERR {e:?}"),
            }
        }
    }
}
