//! PDF: one section per page through `pdf-extract` (and the `lopdf` it re-exports).
//!
//! The reader is kept within bounds before it runs: streams are decoded up front
//! under the decompression budget ([`load`]), the page count is capped, and each page's
//! content is checked against size and nesting limits ([`content`]). What is left
//! unbounded, the interpretation itself, stops at a deadline ([`output`]).
//! `pdf-extract` can still panic on unusual input, so loading and every page run
//! under `catch_unwind`; a page that fails is skipped when other pages yield text.
//! CJK fonts without a `ToUnicode` map get one from Adobe's tables ([`cid`]).

mod cid;
mod content;
mod load;
mod output;
mod repair;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use pdf_extract::{Document, Object, ObjectId, decode_text_string, output_doc_page};

use self::content::{Allowance, ShownCodes};
use self::load::Budget;
use self::output::VisibleText;
use super::{Extracted, ParseError, ParseLimits, Section};

/// Longest reason kept in a [`ParseError::Corrupt`] message.
const MAX_REASON_CHARS: usize = 160;

/// Parse a PDF into one section per page (`page` is 1-based).
///
/// # Errors
/// [`ParseError::Encrypted`] when the empty user password does not open it,
/// [`ParseError::Corrupt`] when it cannot be read (or the reader panics),
/// [`ParseError::LimitExceeded`] when it goes past `limits`,
/// [`ParseError::UnsupportedContent`] when its text is drawn only in fonts without a
/// Unicode mapping, [`ParseError::NoText`] when no page has a text layer.
pub(super) fn parse(bytes: &[u8], limits: &ParseLimits) -> Result<Extracted, ParseError> {
    let deadline = Instant::now() + limits.max_duration;
    let mut budget = Budget::new(limits.max_decompressed_bytes);
    load::check_xref_streams(bytes, limits.max_decompressed_bytes)?;
    let mut doc = match guarded(|| load::load(bytes, &mut budget))? {
        Ok(doc) => doc,
        Err(pdf_extract::Error::Decryption(_) | pdf_extract::Error::InvalidPassword) => {
            return Err(ParseError::Encrypted);
        }
        // A missing or broken cross-reference table: rebuild it from the object headers.
        Err(error) => {
            budget.check()?;
            let fixed = repair::rebuild_xref(bytes).ok_or_else(|| corrupt(&error))?;
            budget = Budget::new(limits.max_decompressed_bytes);
            guarded(|| load::load(&fixed, &mut budget))?.map_err(|_| corrupt(&error))?
        }
    };
    budget.check()?;
    // lopdf decrypts with the empty user password while loading and then drops
    // `/Encrypt` from the trailer; when it is still there a password is needed.
    if doc.trailer.has(b"Encrypt") {
        return Err(ParseError::Encrypted);
    }
    guarded(|| repair::restore_streams(&mut doc, bytes))?;
    load::bound_all(&mut doc, &mut budget);
    budget.check()?;
    let pages: Vec<(u32, ObjectId)> = doc.get_pages().into_iter().collect();
    if pages.is_empty() {
        return Err(ParseError::Corrupt("no pages found".into()));
    }
    if pages.len() > limits.max_pdf_pages {
        return Err(ParseError::LimitExceeded(format!(
            "{} pages exceed the limit of {}",
            pages.len(),
            limits.max_pdf_pages
        )));
    }
    let page_ids: Vec<ObjectId> = pages.iter().map(|(_, id)| *id).collect();
    content::settle_inherited(&mut doc, &page_ids);
    let fonts = cid::unmapped_fonts(&doc);
    let mut shown: ShownCodes = fonts.mappable.keys().map(|id| (*id, Default::default())).collect();
    let mut allowance = Allowance {
        page_bytes: limits.max_page_content_bytes,
        document_bytes: limits.max_decompressed_bytes,
    };
    let checked: Vec<Result<(), ParseError>> = page_ids
        .iter()
        .map(|&id| content::check_page(&doc, id, &mut allowance, &mut shown))
        .collect();
    // Past the document's allowance every later page fails: that is no partial success.
    if allowance.document_bytes == 0
        && let Some(Err(error)) = checked.iter().rev().find(|c| c.is_err())
    {
        return Err(error.clone());
    }
    let synthesized = cid::add_to_unicode_maps(&mut doc, &fonts.mappable, &shown);
    if synthesized > 0 {
        tracing::debug!(fonts = synthesized, "mapped CJK fonts through Adobe's CID tables");
    }
    let mut sections = Vec::with_capacity(pages.len());
    let mut failures = Vec::new();
    let mut unmapped = 0;
    for (&(number, _), check) in pages.iter().zip(checked) {
        let text = check.and_then(|()| {
            let (text, page_unmapped) = page_text(&doc, number, deadline)?;
            unmapped += page_unmapped;
            Ok(text)
        });
        match text {
            Ok(text) => sections.push(Section {
                text,
                page: Some(number),
                heading: None,
            }),
            Err(error @ ParseError::LimitExceeded(_)) if Instant::now() >= deadline => return Err(error),
            Err(error) => failures.push((number, error)),
        }
    }
    let has_text = sections.iter().any(|s| !s.text.trim().is_empty());
    if unmapped > 0 {
        tracing::warn!(glyphs = unmapped, "PDF glyphs without a Unicode mapping were dropped");
    }
    if let Some((page, error)) = failures.first() {
        if !has_text {
            return Err(error.clone());
        }
        tracing::warn!(failed_pages = failures.len(), first_failed_page = page, %error, "skipped unreadable PDF pages");
    }
    if !has_text {
        return Err(no_text(pages.len(), unmapped, &fonts.unmappable));
    }
    let title = guarded(|| info_title(&doc)).ok().flatten();
    Ok(Extracted { title, sections })
}

/// Why a readable document has no text: glyphs drawn in fonts without a Unicode
/// mapping, or none at all (a scan).
fn no_text(pages: usize, unmapped: usize, fonts: &std::collections::BTreeSet<String>) -> ParseError {
    if unmapped == 0 {
        return ParseError::NoText(format!("none of the {pages} pages has extractable text"));
    }
    let names: Vec<&str> = fonts.iter().map(String::as_str).collect();
    match names.as_slice() {
        [] => ParseError::UnsupportedContent(format!("{unmapped} glyphs in fonts without a Unicode mapping")),
        names => ParseError::UnsupportedContent(format!(
            "CID font without ToUnicode map ({}): {unmapped} glyphs cannot be turned into text",
            names.join(", ")
        )),
    }
}

/// Plain text of one page in `pdf-extract`'s reading order, and how many of its glyphs
/// had no Unicode mapping.
///
/// # Errors
/// [`ParseError::LimitExceeded`] past the deadline, [`ParseError::Corrupt`] when the
/// reader fails or panics, [`ParseError::UnsupportedContent`] when it panics on a font
/// it cannot decode.
fn page_text(doc: &Document, number: u32, deadline: Instant) -> Result<(String, usize), ParseError> {
    let mut text = String::new();
    let mut output = VisibleText::new(&mut text, deadline);
    let result = guarded(|| output_doc_page(doc, &mut output, number))?;
    if output.timed_out {
        return Err(ParseError::LimitExceeded(format!(
            "text extraction ran out of time at page {number}"
        )));
    }
    result.map_err(|e| corrupt(&e))?;
    let unmapped = output.unmapped;
    Ok((text, unmapped))
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

/// Run `f`, turning a panic into an error: [`ParseError::UnsupportedContent`] for the
/// fonts and encodings `pdf-extract` does not implement, [`ParseError::Corrupt`] otherwise.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ParseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        const UNSUPPORTED: [&str; 4] = [
            "unsupported encoding",
            "unsupported ToUnicode",
            "unsupported cmap",
            "missing unicode map and encoding",
        ];
        if UNSUPPORTED.iter().any(|prefix| message.starts_with(prefix)) {
            let short: String = message.chars().take(MAX_REASON_CHARS).collect();
            return ParseError::UnsupportedContent(format!("font the PDF reader cannot decode ({short})"));
        }
        corrupt(&format!("PDF reader failed: {message}"))
    })
}

fn corrupt(reason: &dyn std::fmt::Display) -> ParseError {
    let reason = reason.to_string();
    let short: String = reason.chars().take(MAX_REASON_CHARS).collect();
    ParseError::Corrupt(short)
}

#[cfg(test)]
mod tests;
