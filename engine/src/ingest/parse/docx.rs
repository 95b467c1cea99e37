//! DOCX: a streaming walk over `word/document.xml` (plus foot- and endnotes).
//!
//! Elements are matched by local name, so Strict OOXML reads like transitional.
//! Every part is read through [`Read::take`] against one shared budget
//! (`max_unzipped_bytes`), so a zip bomb cannot exhaust memory.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;
use zip::result::ZipError;

use super::{Extracted, HeadingPath, ParseError, ParseLimits, Section};

/// Magic bytes of an OLE compound file: a legacy `.doc` or a password-protected OOXML package.
const CFB_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
/// Elements whose content duplicates or was removed from the visible text.
const SKIPPED: &[&[u8]] = &[b"Fallback", b"del", b"moveFrom"];

/// Parse a DOCX file: body sections split at heading paragraphs, then notes.
///
/// # Errors
/// [`ParseError::Corrupt`] when it is not a zip with `word/document.xml`, the XML is
/// malformed, or the parts read exceed `max_unzipped_bytes`; [`ParseError::Encrypted`]
/// for a password-protected package.
pub(super) fn parse(bytes: &[u8], limits: &ParseLimits) -> Result<Extracted, ParseError> {
    if bytes.starts_with(CFB_MAGIC) {
        let needle: Vec<u8> = "EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes).collect();
        return Err(if bytes.windows(needle.len()).any(|w| w == needle) {
            ParseError::Encrypted
        } else {
            ParseError::Corrupt("not a DOCX zip package (a legacy .doc file?)".into())
        });
    }
    let mut parts = Parts {
        archive: ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt("not a zip archive", &e))?,
        remaining: limits.max_unzipped_bytes,
        limit: limits.max_unzipped_bytes,
    };
    let document = parts
        .read("word/document.xml")?
        .ok_or_else(|| corrupt("missing part", &"word/document.xml"))?;
    let styles = parts
        .read("word/styles.xml")?
        .map(|xml| heading_styles(&xml))
        .transpose()?
        .unwrap_or_default();
    let mut body = Walker {
        headings: true,
        ..Walker::default()
    };
    body.run(&document, "word/document.xml", &styles)?;
    let title_paragraph = body.title_paragraph.take();
    let mut sections = body.finish();
    for (part, heading) in [("word/footnotes.xml", "Footnotes"), ("word/endnotes.xml", "Endnotes")] {
        if let Some(xml) = parts.read(part)? {
            let mut notes = Walker::default();
            notes.run(&xml, part, &styles)?;
            let text: String = notes.finish().into_iter().map(|s| s.text).collect();
            sections.push(Section {
                text,
                page: None,
                heading: Some(heading.into()),
            });
        }
    }
    let core_title = parts
        .read("docProps/core.xml")?
        .map(|xml| core_title(&xml))
        .transpose()?
        .flatten();
    Ok(Extracted {
        title: core_title.or(title_paragraph),
        sections,
    })
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
        file.take(self.remaining.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| corrupt(name, &e))?;
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if size > self.remaining {
            return Err(ParseError::Corrupt(format!(
                "decompressed parts exceed the limit of {} bytes (at {name})",
                self.limit
            )));
        }
        self.remaining -= size;
        Ok(Some(data))
    }
}

fn corrupt(context: &str, error: &dyn std::fmt::Display) -> ParseError {
    ParseError::Corrupt(format!("{context}: {error}"))
}

/// The value of the attribute with local name `name` (e.g. `w:val`).
fn attr(element: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    let attr = element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)?;
    attr.unescape_value().ok().map(|v| v.into_owned())
}

/// Heading level for a style name or id: `Heading1`, `heading 1`, `Title`.
fn style_level(name: &str) -> Option<u8> {
    let compact: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if compact == "title" {
        return Some(1);
    }
    compact
        .strip_prefix("heading")?
        .parse::<u8>()
        .ok()
        .filter(|l| (1..=9).contains(l))
}

/// `outlineLvl` value (0-based, 9 = body text) as a heading level.
fn outline_level(element: &BytesStart<'_>) -> Option<u8> {
    attr(element, b"val")?
        .parse::<u8>()
        .ok()
        .filter(|l| *l < 9)
        .map(|l| l + 1)
}

/// Style id → heading level, from the style names and outline levels in `styles.xml`.
fn heading_styles(xml: &[u8]) -> Result<HashMap<String, u8>, ParseError> {
    let mut levels = HashMap::new();
    let mut reader = Reader::from_reader(xml);
    let mut current: Option<(String, Option<u8>)> = None;
    loop {
        match reader.read_event().map_err(|e| corrupt("word/styles.xml", &e))? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"style" => {
                    current = attr(&e, b"styleId").map(|id| (id, None));
                }
                b"name" => {
                    if let Some((_, level)) = current.as_mut() {
                        *level = level.or(attr(&e, b"val").as_deref().and_then(style_level));
                    }
                }
                b"outlineLvl" => {
                    if let Some((_, level)) = current.as_mut() {
                        *level = level.or(outline_level(&e));
                    }
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == b"style" => {
                if let Some((id, Some(level))) = current.take() {
                    levels.insert(id, level);
                }
            }
            Event::Eof => return Ok(levels),
            _ => {}
        }
    }
}

/// `dc:title` from `docProps/core.xml`, when non-empty.
fn core_title(xml: &[u8]) -> Result<Option<String>, ParseError> {
    let mut reader = Reader::from_reader(xml);
    let mut title: Option<String> = None;
    loop {
        match reader.read_event().map_err(|e| corrupt("docProps/core.xml", &e))? {
            Event::Start(e) if e.local_name().as_ref() == b"title" => title = Some(String::new()),
            Event::Text(t) => {
                if let (Some(title), Ok(text)) = (title.as_mut(), t.xml10_content()) {
                    title.push_str(&text);
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"title" => {
                return Ok(title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()));
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

/// A paragraph being read: its text and heading level (from `pStyle` / `outlineLvl`).
#[derive(Default)]
struct Paragraph {
    text: String,
    level: Option<u8>,
}

/// Streaming state for one WordprocessingML part.
#[derive(Default)]
struct Walker {
    /// Whether heading paragraphs start sections (not in notes).
    headings: bool,
    sections: Vec<Section>,
    path: HeadingPath,
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
    fn run(&mut self, xml: &[u8], part: &str, styles: &HashMap<String, u8>) -> Result<(), ParseError> {
        let mut reader = Reader::from_reader(xml);
        loop {
            match reader.read_event().map_err(|e| corrupt(part, &e))? {
                Event::Start(e) if self.skipping > 0 || SKIPPED.contains(&e.local_name().as_ref()) => {
                    self.skipping += 1;
                }
                Event::End(_) if self.skipping > 0 => self.skipping -= 1,
                _ if self.skipping > 0 => {}
                Event::Start(e) => self.open(&e, styles),
                Event::Empty(e) => {
                    self.open(&e, styles);
                    self.close(e.local_name().as_ref());
                }
                Event::End(e) => self.close(e.local_name().as_ref()),
                Event::Text(t) if self.texts > 0 => {
                    let text = t.xml10_content().map_err(|e| corrupt(part, &e))?;
                    self.push_text(&text);
                }
                Event::CData(t) if self.texts > 0 => self.push_text(&String::from_utf8_lossy(&t)),
                Event::GeneralRef(r) if self.texts > 0 => {
                    let name = r.decode().map_err(|e| corrupt(part, &e))?;
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(ch)) => Some(ch.to_string()),
                        _ => quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned),
                    };
                    self.push_text(&resolved.unwrap_or_default());
                }
                Event::Eof => return Ok(()),
                _ => {}
            }
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, styles: &HashMap<String, u8>) {
        match e.local_name().as_ref() {
            b"p" => self.paragraphs.push(Paragraph::default()),
            b"pStyle" => {
                let level = attr(e, b"val").and_then(|id| styles.get(&id).copied().or_else(|| style_level(&id)));
                if let (Some(p), Some(level)) = (self.paragraphs.last_mut(), level) {
                    p.level = Some(level);
                }
            }
            b"outlineLvl" => {
                if let (Some(p), Some(level)) = (self.paragraphs.last_mut(), outline_level(e)) {
                    p.level = p.level.or(Some(level));
                }
            }
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
        let top_level = self.paragraphs.is_empty() && self.cells.is_empty();
        let heading = paragraph.text.split_whitespace().collect::<Vec<_>>().join(" ");
        match paragraph.level {
            Some(level) if self.headings && top_level && !heading.is_empty() => {
                self.flush();
                if self.title_paragraph.is_none() && level == 1 {
                    self.title_paragraph = Some(heading.clone());
                }
                self.body.push_str(&heading);
                self.body.push('\n');
                self.path.enter(level, heading);
            }
            _ => self.push_line(&paragraph.text),
        }
    }

    /// Append one line to the open table cell, or else to the section text.
    fn push_line(&mut self, line: &str) {
        if let Some(cell) = self.cells.last_mut() {
            let line = line.trim();
            if !line.is_empty() {
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(line);
            }
        } else if !line.trim().is_empty() {
            self.body.push_str(line.trim_end());
            self.body.push('\n');
        } else if !self.body.is_empty() && !self.body.ends_with("\n\n") {
            self.body.push('\n');
        }
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.body);
        if !text.trim().is_empty() {
            self.sections.push(Section {
                text,
                page: None,
                heading: self.path.current(),
            });
        }
    }

    fn finish(mut self) -> Vec<Section> {
        self.flush();
        self.sections
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str) -> Extracted {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/docs/docx/");
        parse(
            &std::fs::read(format!("{path}{name}")).unwrap(),
            &ParseLimits::default(),
        )
        .unwrap()
    }

    fn all_text(doc: &Extracted) -> String {
        doc.sections.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn footnotes_become_their_own_section() {
        let doc = read("mammoth-footnotes.docx");
        assert!(doc.sections[0].text.contains("Ouch."));
        let notes = doc
            .sections
            .iter()
            .find(|s| s.heading.as_deref() == Some("Footnotes"))
            .unwrap();
        assert!(
            notes.text.contains("A tachyon walks into a bar. Fin."),
            "{:?}",
            notes.text
        );
    }

    #[test]
    fn real_documents_spot_checks() {
        let cases: &[(&str, &[&str])] = &[
            (
                "mammoth-tables.docx",
                &["Above\nTop left | Top right\nBottom left | Bottom right\nBelow\n"],
            ),
            (
                "docx2python-strict.docx",
                &["Bullet1\n", "Number2\n", "Cellaa | Cellab\n", "Cellba | Cellbb\n"],
            ),
            ("mammoth-utf8-bom.docx", &["This XML has a byte order mark."]),
            (
                "python-docx-test.docx",
                &["python-docx was here!\npython-docx was here too!"],
            ),
        ];
        for (file, expected) in cases {
            let text = all_text(&read(file));
            for needle in *expected {
                assert!(text.contains(needle), "{file}: missing {needle:?} in {text:?}");
            }
        }
    }

    #[test]
    fn text_box_text_is_read_once() {
        let text = all_text(&read("mammoth-text-box.docx"));
        assert_eq!(text.matches("Datum plane").count(), 1, "{text:?}");
        assert!(!text.contains("4000020000"), "drawing attributes are not text");
    }

    #[test]
    fn heading_style_starts_a_section() {
        let doc = read("docx2python-zen_of_python.docx");
        let zen = doc
            .sections
            .iter()
            .find(|s| s.text.contains("Namespaces are one honking great idea"))
            .unwrap();
        assert_eq!(zen.heading.as_deref(), Some("Beautiful is better than ugly."));
        assert!(
            zen.text
                .starts_with("Beautiful is better than ugly.\nExplicit is better than implicit.\n")
        );
        assert!(!all_text(&doc).contains("PAGEREF"), "field codes are not text");
    }

    #[test]
    fn inline_markup() {
        let xml = br#"<w:document xmlns:w="urn:w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/><w:tabs><w:tab w:val="left"/></w:tabs></w:pPr><w:r><w:t>Intro</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">a &amp; b</w:t><w:tab/><w:t>c</w:t><w:br/><w:t>d&#233;</w:t></w:r></w:p>
            <w:p><w:r><w:delText>gone</w:delText></w:r><w:del><w:r><w:t>deleted</w:t></w:r></w:del></w:p>
            <w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Sub</w:t></w:r></w:p><w:p><w:r><w:t>x</w:t></w:r></w:p>
            </w:body></w:document>"#;
        let mut walker = Walker {
            headings: true,
            ..Walker::default()
        };
        walker.run(xml, "test", &HashMap::new()).unwrap();
        assert_eq!(walker.title_paragraph.as_deref(), Some("Intro"));
        let sections = walker.finish();
        let got: Vec<(Option<&str>, &str)> = sections
            .iter()
            .map(|s| (s.heading.as_deref(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("Intro"), "Intro\na & b\tc\ndé\n\n"),
                (Some("Intro > Sub"), "Sub\nx\n")
            ]
        );
    }
}
