//! Plain text: UTF-8 (BOM stripped, invalid bytes replaced), one section.

use super::Extracted;

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
