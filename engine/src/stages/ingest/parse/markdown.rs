//! Markdown: front matter stripped, sections split at ATX and setext headings.
//!
//! The Markdown itself is kept (the chunker is Markdown-aware); each section
//! starts with its heading line and carries the heading path.

use super::Extracted;
use super::text::{Outline, decode_utf8};

/// Parse a Markdown file. Title: front matter `title:`, else the first `# ` heading.
pub(super) fn parse(bytes: &[u8]) -> Extracted {
    let text = decode_utf8(bytes);
    let (front_matter, body) = split_front_matter(&text);
    let mut title = front_matter.and_then(front_matter_title);
    let mut outline = Outline::default();
    let mut current = String::new();
    let mut fence: Option<(char, usize)> = None;
    // Start (in `current`) of the previous line when it could be a setext heading's text.
    let mut paragraph_line: Option<usize> = None;
    for line in body.split_inclusive('\n') {
        if let Some((ch, len)) = fence {
            if is_fence(line).is_some_and(|(c, l, rest)| c == ch && l >= len && rest.trim().is_empty()) {
                fence = None;
            }
            current.push_str(line);
            continue;
        }
        if let Some((ch, len, _)) = is_fence(line) {
            fence = Some((ch, len));
            paragraph_line = None;
            current.push_str(line);
            continue;
        }
        if let Some((level, heading)) = atx_heading(line) {
            outline.close(std::mem::take(&mut current));
            if level == 1 && title.is_none() {
                title = Some(heading.clone());
            }
            outline.enter(level, heading);
            paragraph_line = None;
            current.push_str(line);
            continue;
        }
        if let (Some(start), Some(level)) = (paragraph_line, setext_level(line)) {
            let heading_line = current.split_off(start);
            outline.close(std::mem::take(&mut current));
            let heading = clean_heading(&heading_line);
            if level == 1 && title.is_none() {
                title = Some(heading.clone());
            }
            outline.enter(level, heading);
            current = heading_line;
            paragraph_line = None;
            current.push_str(line);
            continue;
        }
        paragraph_line = could_be_setext_text(line).then_some(current.len());
        current.push_str(line);
    }
    outline.close(current);
    Extracted {
        title,
        sections: outline.sections,
    }
}

/// Split a leading `---` … `---` (or `...`) YAML block off the text.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let Some(rest) = text.strip_prefix("---\n") else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare == "..." {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    (None, text)
}

/// The `title:` value of a YAML front matter block, unquoted.
fn front_matter_title(front_matter: &str) -> Option<String> {
    let value = front_matter.lines().find_map(|l| l.strip_prefix("title:"))?.trim();
    let unquoted = [('"', '"'), ('\'', '\'')]
        .iter()
        .find_map(|(open, close)| value.strip_prefix(*open)?.strip_suffix(*close))
        .unwrap_or(value);
    Some(unquoted.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Up to three spaces of indentation, as CommonMark allows before block markers.
fn unindent(line: &str) -> Option<&str> {
    let stripped = line.trim_start_matches(' ');
    (line.len() - stripped.len() <= 3).then_some(stripped)
}

/// A code fence opener/closer: (fence char, fence length, rest of line).
fn is_fence(line: &str) -> Option<(char, usize, &str)> {
    let line = unindent(line)?;
    let ch = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = line.len() - line.trim_start_matches(ch).len();
    (len >= 3).then(|| (ch, len, &line[len..]))
}

/// An ATX heading (`## Title ##`): its level and cleaned text.
fn atx_heading(line: &str) -> Option<(u8, String)> {
    let line = unindent(line)?;
    let hashes = line.len() - line.trim_start_matches('#').len();
    let rest = &line[hashes..];
    if !(1..=6).contains(&hashes) || !(rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r'])) {
        return None;
    }
    let level = u8::try_from(hashes).ok()?;
    Some((level, clean_heading(rest)))
}

/// Heading text without a closing `#` run or a trailing `{#id .class}` attribute block.
fn clean_heading(text: &str) -> String {
    let mut text = text.trim();
    if text.ends_with('}')
        && let Some(open) = text.rfind('{')
        && text[open + 1..].starts_with(['#', '.'])
    {
        text = text[..open].trim_end();
    }
    let without_closing = text.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        text = without_closing.trim_end();
    }
    text.to_owned()
}

/// A setext underline: `===` is level 1, `---` level 2.
fn setext_level(line: &str) -> Option<u8> {
    let line = unindent(line)?.trim_end();
    let ch = line.chars().next()?;
    let level = match ch {
        '=' => 1,
        '-' => 2,
        _ => return None,
    };
    line.chars().all(|c| c == ch).then_some(level)
}

/// Whether a line may be the text of a setext heading (a plain paragraph line).
fn could_be_setext_text(line: &str) -> bool {
    let Some(bare) = unindent(line) else {
        return false;
    };
    let bare = bare.trim_end();
    !bare.is_empty()
        && !bare.starts_with(['>', '|', '<', '-', '*', '+'])
        && !bare.starts_with(|c: char| c.is_ascii_digit())
        && setext_level(bare).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docs/md/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    #[test]
    fn golang_faq_front_matter_stripped_and_sections_split() {
        let doc = parse(&read("golang-faq.md"));
        assert_eq!(doc.title.as_deref(), Some("Frequently Asked Questions (FAQ)"));
        let all: String = doc.sections.iter().map(|s| s.text.as_str()).collect();
        assert!(!all.contains("sidebar:"), "front matter leaked");
        assert!(!all.contains("breadcrumb: true"));
        assert!(doc.sections[0].text.starts_with("## Origins"));
        let purpose = doc
            .sections
            .iter()
            .find(|s| s.text.contains("At the time of Go's inception in 2007"))
            .unwrap();
        assert_eq!(
            purpose.heading.as_deref(),
            Some("Origins > What is the purpose of the project?")
        );
        assert!(doc.sections.len() > 50, "only {} sections", doc.sections.len());
        assert!(
            doc.sections
                .iter()
                .any(|s| s.heading.as_deref().is_some_and(|h| h.starts_with("Usage > ")))
        );
    }

    #[test]
    fn rust_book_code_fences_do_not_split_sections() {
        let doc = parse(&read("rust-book-ch04-01-what-is-ownership.md"));
        assert_eq!(doc.title, None, "the chapter starts at `##`, so there is no `# ` title");
        let all: String = doc.sections.iter().map(|s| s.text.as_str()).collect();
        assert!(
            all.contains("{{#rustdoc_include"),
            "mdBook directives are kept verbatim"
        );
        for section in &doc.sections {
            assert!(
                section
                    .heading
                    .as_deref()
                    .is_some_and(|h| h.starts_with("What Is Ownership?"))
            );
        }
    }

    #[test]
    fn headings_fences_and_setext() {
        let md = "intro\n# Top #\ntext\n```\n# not a heading\n```\n## Sub {#sub}\nbody\nSetext\n---\nmore\n#hashtag\n";
        let doc = parse(md.as_bytes());
        let got: Vec<(Option<&str>, &str)> = doc
            .sections
            .iter()
            .map(|s| (s.heading.as_deref(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, "intro\n"),
                (Some("Top"), "# Top #\ntext\n```\n# not a heading\n```\n"),
                (Some("Top > Sub"), "## Sub {#sub}\nbody\n"),
                (Some("Top > Setext"), "Setext\n---\nmore\n#hashtag\n"),
            ]
        );
        assert_eq!(doc.title.as_deref(), Some("Top"));
    }

    #[test]
    fn unterminated_front_matter_is_kept_as_text() {
        let doc = parse(b"---\ntitle: x\nno end\n");
        assert_eq!(doc.title, None);
        assert!(doc.sections[0].text.contains("title: x"));
    }
}
