//! PDF: one section per page through `pdf-extract` (and the `lopdf` it re-exports).
//!
//! `pdf-extract` can panic on unusual input, so loading and every page run
//! under `catch_unwind`; a panic becomes [`ParseError::Corrupt`]. A page that
//! fails is skipped when other pages yield text.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::xref::XrefEntry;
use pdf_extract::{
    Document, MediaBox, Object, OutputDev, OutputError, PlainTextOutput, Stream, Transform, decode_text_string,
    output_doc_page,
};

use super::{Extracted, ParseError, Section};

/// Longest reason kept in a [`ParseError::Corrupt`] message.
const MAX_REASON_CHARS: usize = 160;
/// How far outside the media box (in points) a glyph origin may lie and still count as visible.
const PAGE_MARGIN: f64 = 1.0;

/// Parse a PDF into one section per page (`page` is 1-based).
///
/// # Errors
/// [`ParseError::Encrypted`] when the empty user password does not open it,
/// [`ParseError::Corrupt`] when it cannot be read (or the reader panics),
/// [`ParseError::NoText`] when no page has a text layer.
pub(super) fn parse(bytes: &[u8]) -> Result<Extracted, ParseError> {
    let mut doc = match guarded(|| Document::load_mem(bytes))? {
        Ok(doc) => doc,
        Err(pdf_extract::Error::Decryption(_) | pdf_extract::Error::InvalidPassword) => {
            return Err(ParseError::Encrypted);
        }
        // A missing or broken cross-reference table: rebuild it from the object headers.
        Err(error) => match rebuild_xref(bytes).map(|fixed| guarded(|| Document::load_mem(&fixed))) {
            Some(Ok(Ok(doc))) => doc,
            _ => return Err(corrupt(&error)),
        },
    };
    // lopdf decrypts with the empty user password while loading and then drops
    // `/Encrypt` from the trailer; when it is still there a password is needed.
    if doc.trailer.has(b"Encrypt") {
        return Err(ParseError::Encrypted);
    }
    guarded(|| restore_streams(&mut doc, bytes))?;
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
fn page_text(doc: &Document, number: u32) -> Result<String, OutputError> {
    let mut text = String::new();
    let mut output = VisibleText {
        inner: PlainTextOutput::new(&mut text),
        page: (0.0, 0.0, 0.0, 0.0),
    };
    output_doc_page(doc, &mut output, number)?;
    Ok(text)
}

/// Plain-text output that drops glyphs drawn outside the media box: they are invisible
/// (ImageMagick, for one, writes an off-page "Background" label on image-only pages).
struct VisibleText<'a> {
    inner: PlainTextOutput<&'a mut String>,
    /// Media box as (min x, min y, max x, max y).
    page: (f64, f64, f64, f64),
}

impl OutputDev for VisibleText<'_> {
    fn begin_page(
        &mut self,
        number: u32,
        media: &MediaBox,
        art: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.page = (
            media.llx.min(media.urx),
            media.lly.min(media.ury),
            media.llx.max(media.urx),
            media.lly.max(media.ury),
        );
        self.inner.begin_page(number, media, art)
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.inner.end_page()
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        size: f64,
        ch: &str,
    ) -> Result<(), OutputError> {
        let (x0, y0, x1, y1) = self.page;
        let (x, y) = (trm.m31, trm.m32);
        if x < x0 - PAGE_MARGIN || x > x1 + PAGE_MARGIN || y < y0 - PAGE_MARGIN || y > y1 + PAGE_MARGIN {
            return Ok(());
        }
        self.inner.output_character(trm, width, spacing, size, ch)
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.inner.begin_word()
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        self.inner.end_word()
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        self.inner.end_line()
    }
}

/// lopdf keeps only the dictionary of a stream whose `/Length` is wrong (common in
/// hand-written files); re-read such streams up to their `endstream` keyword.
fn restore_streams(doc: &mut Document, bytes: &[u8]) {
    let Some(start) = find(bytes, b"%PDF-") else {
        return;
    };
    let bytes = &bytes[start..];
    let lost: Vec<((u32, u16), usize)> = doc
        .reference_table
        .entries
        .iter()
        .filter_map(|(number, entry)| match entry {
            XrefEntry::Normal { offset, generation } => Some(((*number, *generation), usize::try_from(*offset).ok()?)),
            _ => None,
        })
        .filter(|(id, _)| {
            doc.objects
                .get(id)
                .and_then(|o| o.as_dict().ok())
                .is_some_and(|d| d.has(b"Length"))
        })
        .collect();
    for (id, offset) in lost {
        let Some(tail) = bytes.get(offset..) else { continue };
        let body = &tail[..find(tail, b"endobj").unwrap_or(tail.len())];
        let (Some(open), Some(close)) = (find(body, b"stream"), find(body, b"endstream")) else {
            continue;
        };
        let data = body.get(open + 6..close).unwrap_or_default();
        let data = data.strip_prefix(b"\r").unwrap_or(data);
        let data = data.strip_prefix(b"\n").unwrap_or(data);
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        let data = data.strip_suffix(b"\r").unwrap_or(data);
        if let Some(Object::Dictionary(dict)) = doc.objects.remove(&id) {
            doc.objects.insert(id, Object::Stream(Stream::new(dict, data.to_vec())));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A copy of `bytes` with a fresh cross-reference table appended, built by scanning for
/// `N G obj` headers (as other readers do for damaged files). `None` when that cannot
/// work: encrypted files, no objects, no catalog, or absurd object numbers.
fn rebuild_xref(bytes: &[u8]) -> Option<Vec<u8>> {
    let bytes = &bytes[find(bytes, b"%PDF-")?..];
    if find(bytes, b"/Encrypt").is_some() {
        return None;
    }
    let mut objects: BTreeMap<u32, (u16, usize)> = BTreeMap::new();
    let mut line_start = 0;
    for line in bytes.split(|b| *b == b'\n' || *b == b'\r') {
        let indent = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let mut words = line.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
        let number = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok()?.parse::<u32>().ok());
        let generation = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok()?.parse::<u16>().ok());
        if let (Some(number), Some(generation), true) =
            (number, generation, words.next().is_some_and(|w| w.starts_with(b"obj")))
        {
            objects.insert(number, (generation, line_start + indent));
        }
        line_start += line.len() + 1;
    }
    let size = objects.keys().next_back()?.checked_add(1)?;
    if usize::try_from(size).ok()? > objects.len() * 4 + 1024 {
        return None;
    }
    let mut starts: Vec<usize> = objects.values().map(|(_, offset)| *offset).collect();
    starts.sort_unstable();
    let (root, (root_gen, _)) = objects.iter().find(|(_, (_, offset))| {
        let end = starts
            .get(starts.partition_point(|s| s <= offset))
            .copied()
            .unwrap_or(bytes.len());
        find(&bytes[*offset..end], b"/Catalog").is_some()
    })?;
    let mut fixed = bytes.to_vec();
    fixed.push(b'\n');
    let xref_start = fixed.len();
    let mut table = format!("xref\n0 {size}\n");
    for number in 0..size {
        table.push_str(&match objects.get(&number) {
            Some((generation, offset)) => format!("{offset:010} {generation:05} n\r\n"),
            None => "0000000000 65535 f\r\n".to_owned(),
        });
    }
    table.push_str(&format!(
        "trailer\n<< /Size {size} /Root {root} {root_gen} R >>\nstartxref\n{xref_start}\n%%EOF\n"
    ));
    fixed.extend_from_slice(table.as_bytes());
    Some(fixed)
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
        // No xref table and a wrong stream /Length: read through the repair path.
        let text = &doc.sections[0].text;
        assert!(text.contains("\nHello World\n"), "{text:?}");
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
        assert_eq!(doc.title.as_deref(), Some("10-K - 02/07/2019 - 3M Company"));
        assert!(page(&doc, 1).contains("3M COMPANY"));
        assert!(page(&doc, 1).contains("For the fiscal year ended December 31, 2018"));
        // FinanceBench financebench_id_03029 cites page 59 (0-based): the cash flow statement.
        let cash_flows = page(&doc, 60);
        assert!(cash_flows.contains("Consolidated Statement of Cash Flow"));
        assert!(cash_flows.contains("Purchases of property, plant and equipment (PP&E)     (1,577)"));
        assert!(
            !page(&doc, 59).contains("(PP&E)     (1,577)"),
            "page numbers are not shifted"
        );
    }

    #[test]
    fn unreadable_page_is_skipped_not_fatal() {
        // One GeoTopo page makes pdf-extract panic ("missing unicode map and encoding").
        let doc = parse(&read("pypdf-GeoTopo-komprimiert-117p.pdf")).unwrap();
        let missing: Vec<u32> = (1..=117)
            .filter(|n| !doc.sections.iter().any(|s| s.page == Some(*n)))
            .collect();
        assert_eq!(missing, [14], "the other pages keep their numbers");
        assert!(page(&doc, 1).contains("Geometrie und Topologie"));
    }

    #[test]
    fn off_page_text_is_invisible() {
        // ImageMagick draws a "Background" label outside the 3.84pt media box.
        let expected = ParseError::NoText("none of the 6 pages has extractable text".into());
        assert_eq!(
            parse(&read("pypdf-imagemagick-images-no-text.pdf")).err(),
            Some(expected)
        );
    }

    #[test]
    fn garbage_is_corrupt() {
        assert!(matches!(parse(b"%PDF-1.4\nnot a pdf"), Err(ParseError::Corrupt(_))));
        assert!(matches!(parse(b"hello"), Err(ParseError::Corrupt(_))));
    }
}
