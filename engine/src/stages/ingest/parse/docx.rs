//! DOCX: a streaming walk over `word/document.xml` (plus foot- and endnotes). Tables,
//! text boxes (`w:txbxContent`) and notes are kept; headers and footers are not read
//! (they repeat on every page and mostly hold page numbers).
//!
//! Elements are matched by local name, so Strict OOXML reads like transitional.
//! Every part (document, styles, foot- and endnotes, core properties) is read through
//! [`Read::take`] against one shared budget (`max_decompressed_bytes`), so a zip bomb
//! cannot exhaust memory, and element nesting is capped at [`MAX_XML_DEPTH`], so
//! nested tables cannot make the walk quadratic.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;
use zip::result::ZipError;

use super::text::Outline;
use super::{Extracted, ParseError, ParseLimits, Section};

/// Magic bytes of an OLE compound file: a legacy `.doc` or a password-protected OOXML package.
const CFB_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
/// Elements whose content duplicates (`mc:Fallback`) or was removed from the visible text.
const SKIPPED: &[&[u8]] = &[b"Fallback", b"del", b"moveFrom"];
/// Longer "headings" (a body paragraph in a heading style) are kept as text.
const MAX_HEADING_CHARS: usize = 100;
/// Deepest element nesting accepted in an XML part. Word's own documents stay far
/// below it (body, nested tables, a text box in a drawing: a few dozen levels).
const MAX_XML_DEPTH: usize = 256;
/// Style id → heading level.
type Styles = HashMap<String, u8>;

/// Parse a DOCX file: body sections split at heading paragraphs, then notes.
///
/// # Errors
/// [`ParseError::Corrupt`] when it is not a zip with `word/document.xml` or the XML is
/// malformed; [`ParseError::LimitExceeded`] when the parts read exceed
/// `max_decompressed_bytes` or nest deeper than [`MAX_XML_DEPTH`];
/// [`ParseError::Encrypted`] for a password-protected package.
pub(super) fn parse(bytes: &[u8], limits: &ParseLimits) -> Result<Extracted, ParseError> {
    if bytes.starts_with(CFB_MAGIC) {
        let needle: Vec<u8> = "EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let encrypted = bytes.windows(needle.len()).any(|w| w == needle);
        let legacy = ParseError::Corrupt("not a DOCX zip package (a legacy .doc file?)".into());
        return Err(if encrypted { ParseError::Encrypted } else { legacy });
    }
    let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt("not a zip archive", &e))?;
    let limit = limits.max_decompressed_bytes;
    let mut parts = Parts {
        archive,
        remaining: limit,
        limit,
    };
    let Some(document) = parts.read("word/document.xml")? else {
        return Err(corrupt("missing part", &"word/document.xml"));
    };
    let styles = match parts.read("word/styles.xml")? {
        Some(xml) => heading_styles(&xml)?,
        None => Styles::new(),
    };
    let mut body = Walker {
        headings: true,
        ..Walker::default()
    };
    scan(&document, "word/document.xml", |event| body.event(event, &styles))?;
    let title_paragraph = body.title_paragraph.take();
    let mut sections = body.finish();
    for (part, heading) in [("word/footnotes.xml", "Footnotes"), ("word/endnotes.xml", "Endnotes")] {
        if let Some(xml) = parts.read(part)? {
            let mut notes = Walker::default();
            scan(&xml, part, |event| notes.event(event, &styles))?;
            let text = notes.finish().into_iter().map(|s| s.text).collect();
            sections.push(Section::under(text, Some(heading.into())));
        }
    }
    let title = match parts.read("docProps/core.xml")? {
        Some(xml) => core_title(&xml)?,
        None => None,
    };
    let title = title.or(title_paragraph);
    Ok(Extracted { title, sections })
}

/// The zip archive plus what is left of the decompression budget.
struct Parts<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    remaining: u64,
    limit: u64,
}

impl Parts<'_> {
    /// The decompressed bytes of `name`, or `None` when the package has no such part.
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ParseError> {
        let file = match self.archive.by_name(name) {
            Ok(file) => file,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED)) => return Err(ParseError::Encrypted),
            Err(e) => return Err(corrupt(name, &e)),
        };
        let mut data = Vec::new();
        let mut bounded = file.take(self.remaining.saturating_add(1));
        bounded.read_to_end(&mut data).map_err(|e| corrupt(name, &e))?;
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if size > self.remaining {
            let limit = self.limit;
            return Err(ParseError::LimitExceeded(format!(
                "decompressed parts exceed the limit of {limit} bytes (at {name})"
            )));
        }
        self.remaining -= size;
        Ok(Some(data))
    }
}

fn corrupt(context: &str, error: &dyn std::fmt::Display) -> ParseError {
    ParseError::Corrupt(format!("{context}: {error}"))
}

/// Feed every event of an XML part to `f` (no recursion), refusing nesting deeper than
/// [`MAX_XML_DEPTH`].
fn scan(xml: &[u8], part: &str, mut f: impl FnMut(Event<'_>)) -> Result<(), ParseError> {
    let mut reader = Reader::from_reader(xml);
    let mut depth = 0_usize;
    loop {
        let event = reader.read_event().map_err(|e| corrupt(part, &e))?;
        match &event {
            Event::Eof => return Ok(()),
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_XML_DEPTH {
            return Err(ParseError::LimitExceeded(format!(
                "XML elements nested deeper than {MAX_XML_DEPTH} levels (in {part})"
            )));
        }
        f(event);
    }
}

/// The character data an event stands for: text, CDATA, or a resolved reference.
fn char_data(event: &Event<'_>) -> Option<String> {
    match event {
        Event::Text(t) => Some(String::from_utf8_lossy(t).replace("\r\n", "\n")),
        Event::CData(t) => Some(String::from_utf8_lossy(t).into_owned()),
        Event::GeneralRef(r) => match r.resolve_char_ref() {
            Ok(Some(ch)) => Some(ch.to_string()),
            _ => resolve_predefined_entity(&String::from_utf8_lossy(r)).map(str::to_owned),
        },
        _ => None,
    }
}

/// The value of the attribute with local name `name` (e.g. `w:val`).
fn attr(element: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    let attr = element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)?;
    attr.unescape_value().ok().map(|v| v.into_owned())
}

/// Heading level for a style name or id: `Heading1`, `heading 1`, `Title` (level 1).
fn style_level(name: &str) -> Option<u8> {
    let compact = name.replace(' ', "").to_ascii_lowercase();
    let level = if compact == "title" {
        1
    } else {
        compact.strip_prefix("heading")?.parse().ok()?
    };
    (1..=9).contains(&level).then_some(level)
}

/// `outlineLvl` value (0-based, 9 = body text) as a heading level.
fn outline_level(element: &BytesStart<'_>) -> Option<u8> {
    let level: u8 = attr(element, b"val")?.parse().ok()?;
    (level < 9).then_some(level + 1)
}

/// Heading styles from `styles.xml`, by style name (`heading 1`) or outline level, so
/// localized style ids (`berschrift1`) are recognised too.
fn heading_styles(xml: &[u8]) -> Result<Styles, ParseError> {
    let mut styles = Styles::new();
    let mut current: Option<(String, Option<u8>)> = None;
    scan(xml, "word/styles.xml", |event| match event {
        Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
            b"style" => current = attr(&e, b"styleId").map(|id| (id, None)),
            name => {
                let level = match name {
                    b"name" => attr(&e, b"val").as_deref().and_then(style_level),
                    b"outlineLvl" => outline_level(&e),
                    _ => None,
                };
                if let Some((_, found @ None)) = current.as_mut() {
                    *found = level;
                }
            }
        },
        Event::End(e) if e.local_name().as_ref() == b"style" => {
            if let Some((id, Some(level))) = current.take() {
                styles.insert(id, level);
            }
        }
        _ => {}
    })?;
    Ok(styles)
}

/// `dc:title` from `docProps/core.xml`, when non-empty.
fn core_title(xml: &[u8]) -> Result<Option<String>, ParseError> {
    let (mut title, mut inside) = (String::new(), false);
    scan(xml, "docProps/core.xml", |event| match &event {
        Event::Start(e) if e.local_name().as_ref() == b"title" => inside = title.is_empty(),
        Event::End(e) if e.local_name().as_ref() == b"title" => inside = false,
        other if inside => title.push_str(&char_data(other).unwrap_or_default()),
        _ => {}
    })?;
    Ok(Some(title.trim().to_owned()).filter(|t| !t.is_empty()))
}

/// A paragraph being read: its text and heading level (from `pStyle` / `outlineLvl`).
#[derive(Default)]
struct Paragraph {
    text: String,
    level: Option<u8>,
}

/// Streaming state for one WordprocessingML part. Paragraphs, rows and cells are
/// stacks because text boxes hold paragraphs inside paragraphs and tables nest.
#[derive(Default)]
struct Walker {
    /// Whether heading paragraphs start sections (not in notes).
    headings: bool,
    outline: Outline,
    body: String,
    paragraphs: Vec<Paragraph>,
    rows: Vec<Vec<String>>,
    cells: Vec<String>,
    runs: usize,
    texts: usize,
    skipping: usize,
    /// Text of the first level-1 heading, the title when `core.xml` has none.
    title_paragraph: Option<String>,
}

impl Walker {
    fn event(&mut self, event: Event<'_>, styles: &Styles) {
        match event {
            Event::Start(_) if self.skipping > 0 => self.skipping += 1,
            Event::End(_) if self.skipping > 0 => self.skipping -= 1,
            _ if self.skipping > 0 => {}
            Event::Start(e) if SKIPPED.contains(&e.local_name().as_ref()) => self.skipping = 1,
            Event::Start(e) => self.open(&e, styles),
            Event::Empty(e) => {
                self.open(&e, styles);
                self.close(e.local_name().as_ref());
            }
            Event::End(e) => self.close(e.local_name().as_ref()),
            other if self.texts > 0 => self.push_text(&char_data(&other).unwrap_or_default()),
            _ => {}
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, styles: &Styles) {
        let paragraph = self.paragraphs.last_mut();
        match e.local_name().as_ref() {
            b"p" => self.paragraphs.push(Paragraph::default()),
            b"pStyle" => {
                let level = attr(e, b"val").and_then(|id| styles.get(&id).copied().or_else(|| style_level(&id)));
                paragraph.into_iter().for_each(|p| p.level = level.or(p.level));
            }
            b"outlineLvl" => paragraph
                .into_iter()
                .for_each(|p| p.level = p.level.or(outline_level(e))),
            b"r" => self.runs += 1,
            b"t" => self.texts += 1,
            b"tab" if self.runs > 0 => self.push_text("\t"),
            b"br" | b"cr" if self.runs > 0 => self.push_text("\n"),
            b"noBreakHyphen" if self.runs > 0 => self.push_text("-"),
            b"tr" => self.rows.push(Vec::new()),
            b"tc" => self.cells.push(String::new()),
            _ => {}
        }
    }

    fn close(&mut self, name: &[u8]) {
        match name {
            b"p" => {
                if let Some(paragraph) = self.paragraphs.pop() {
                    self.end_paragraph(paragraph);
                }
            }
            b"r" => self.runs = self.runs.saturating_sub(1),
            b"t" => self.texts = self.texts.saturating_sub(1),
            b"tc" => {
                if let (Some(cell), Some(row)) = (self.cells.pop(), self.rows.last_mut()) {
                    row.push(cell.trim().to_owned());
                }
            }
            b"tr" => {
                if let Some(row) = self.rows.pop() {
                    self.push_line(&row.join(" | "));
                }
            }
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str) {
        match self.paragraphs.last_mut() {
            Some(paragraph) => paragraph.text.push_str(text),
            None => self.push_line(text),
        }
    }

    fn end_paragraph(&mut self, paragraph: Paragraph) {
        let heading = paragraph.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let fits = (1..=MAX_HEADING_CHARS).contains(&heading.chars().count());
        let top_level = self.headings && self.paragraphs.is_empty() && self.cells.is_empty();
        match paragraph.level {
            Some(level) if top_level && fits => {
                self.outline.close(std::mem::take(&mut self.body));
                if level == 1 && self.title_paragraph.is_none() {
                    self.title_paragraph = Some(heading.clone());
                }
                self.body = format!("{heading}\n");
                self.outline.enter(level, heading);
            }
            _ => self.push_line(&paragraph.text),
        }
    }

    /// Append one line to the open table cell (space-separated), or else to the section
    /// text, where a run of empty paragraphs leaves at most one blank line.
    fn push_line(&mut self, line: &str) {
        let line = line.trim_end();
        if let Some(cell) = self.cells.last_mut() {
            if !cell.is_empty() && !line.trim().is_empty() {
                cell.push(' ');
            }
            cell.push_str(line.trim_start());
        } else if !line.trim().is_empty() || (!self.body.is_empty() && !self.body.ends_with("\n\n")) {
            self.body.push_str(line);
            self.body.push('\n');
        }
    }

    fn finish(mut self) -> Vec<Section> {
        self.outline.close(std::mem::take(&mut self.body));
        self.outline.sections
    }
}

#[cfg(test)]
mod tests;
