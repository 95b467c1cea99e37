//! Plain text: UTF-8 (BOM stripped, invalid bytes replaced), one section.

use super::{Extracted, Section};

/// Parse a plain-text file into one untitled section.
pub(super) fn parse(bytes: &[u8]) -> Extracted {
    Extracted::single(decode_utf8(bytes))
}

/// Decode `bytes` as UTF-8: strip a byte-order mark, replace invalid sequences
/// with U+FFFD and turn CRLF line endings into LF.
pub(super) fn decode_utf8(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text.into_owned()
    }
}

/// Sections under a heading path ("H1 > H2"), shared by the Markdown, HTML and DOCX parsers.
#[derive(Default)]
pub(super) struct Outline {
    pub(super) sections: Vec<Section>,
    path: Vec<(u8, String)>,
}

impl Outline {
    /// Close a section: keep `text` (unless blank) under the current heading path.
    pub(super) fn close(&mut self, text: String) {
        if !text.trim().is_empty() {
            let path: Vec<&str> = self.path.iter().map(|(_, heading)| heading.as_str()).collect();
            let heading = (!path.is_empty()).then(|| path.join(" > "));
            self.sections.push(Section::under(text, heading));
        }
    }

    /// Enter a heading: drop the headings at `level` or deeper, then push this one.
    pub(super) fn enter(&mut self, level: u8, heading: String) {
        if !heading.is_empty() {
            self.path.retain(|(l, _)| *l < level);
            self.path.push((level, heading));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_bom_and_normalises_line_endings() {
        let doc = parse(b"\xEF\xBB\xBFhello\r\nworld\n");
        assert_eq!(doc.sections.len(), 1);
        assert_eq!(doc.sections[0].text, "hello\nworld\n");
        assert_eq!(doc.title, None);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let doc = parse(b"caf\xE9 ok");
        assert_eq!(doc.sections[0].text, "caf\u{FFFD} ok");
    }
}
