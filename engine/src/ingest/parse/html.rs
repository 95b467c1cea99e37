//! HTML: visible text with block structure as line breaks, sections at h1–h3.
//!
//! The tree is walked with an explicit stack, so nesting depth cannot overflow
//! the call stack. Scripts, styles, `<head>`, templates and comments are dropped.

use scraper::{Html, Node};

use super::text::decode_utf8;
use super::{Extracted, HeadingPath, Section};

/// Elements whose content is never visible text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "head", "title", "iframe", "object",
];
/// Elements that end a paragraph (blank line before and after).
const PARAGRAPHS: &[&str] = &[
    "p",
    "pre",
    "blockquote",
    "table",
    "ul",
    "ol",
    "dl",
    "figure",
    "section",
    "article",
    "aside",
    "header",
    "footer",
    "main",
    "nav",
    "hr",
    "details",
    "form",
    "fieldset",
    "address",
    "center",
    "h4",
    "h5",
    "h6",
];
/// Elements that end a line.
const LINES: &[&str] = &[
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "br",
    "caption",
    "figcaption",
    "summary",
    "legend",
    "option",
    "tbody",
    "thead",
    "tfoot",
    "body",
    "html",
];

/// Parse an HTML document or fragment. Title: `<title>`, else the first `<h1>`,
/// else a Go-website `<!--{ "Title": … }-->` front-matter comment.
pub(super) fn parse(bytes: &[u8]) -> Extracted {
    let html = Html::parse_document(&decode_utf8(bytes));
    let mut out = Builder::default();
    let mut stack = vec![Step::Enter(html.tree.root())];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(node) => match node.value() {
                Node::Text(text) => out.text(text),
                Node::Element(element) if SKIPPED.contains(&element.name()) => {}
                Node::Element(element) => {
                    out.open(element.name());
                    stack.push(Step::Leave(element.name()));
                    stack.extend(node.children().rev().map(Step::Enter));
                }
                Node::Document | Node::Fragment => stack.extend(node.children().rev().map(Step::Enter)),
                _ => {}
            },
            Step::Leave(name) => out.close(name),
        }
    }
    let title = element_text(&html, "title")
        .or(out.first_h1.take())
        .or_else(|| comment_title(&html));
    out.flush();
    Extracted {
        title,
        sections: out.sections,
    }
}

/// One step of the iterative walk: visit a node, or close an element after its children.
enum Step<'a, N> {
    Enter(N),
    Leave(&'a str),
}

/// Text of the first element named `name` (a flat scan over all nodes, no recursion).
fn element_text(html: &Html, name: &str) -> Option<String> {
    let node = html
        .tree
        .nodes()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == name))?;
    let text: String = node
        .children()
        .filter_map(|c| c.value().as_text().map(|t| t.to_string()))
        .collect();
    Some(text).filter(|t| !t.trim().is_empty())
}

/// `Title` from a leading `<!--{ JSON }-->` comment, as on the Go website.
fn comment_title(html: &Html) -> Option<String> {
    let comment = html
        .tree
        .nodes()
        .find_map(|n| n.value().as_comment().map(|c| c.to_string()))?;
    let json: serde_json::Value = serde_json::from_str(comment.trim()).ok()?;
    json.get("Title")?.as_str().map(str::to_owned)
}

/// Accumulates text into sections while the walk opens and closes elements.
#[derive(Default)]
struct Builder {
    sections: Vec<Section>,
    buf: String,
    pending_space: bool,
    pre_depth: usize,
    path: HeadingPath,
    /// Level of the h1–h3 being read and where its text starts in `buf`.
    heading: Option<(u8, usize)>,
    first_h1: Option<String>,
}

impl Builder {
    fn open(&mut self, name: &str) {
        if let Some(level) = section_level(name) {
            if self.heading.is_none() {
                self.flush();
                self.heading = Some((level, self.buf.len()));
            }
        } else if name == "td" || name == "th" {
            if !self.buf.is_empty() && !self.buf.ends_with('\n') {
                self.buf.push_str(" | ");
            }
            self.pending_space = false;
        } else if name == "pre" {
            self.paragraph_break();
            self.pre_depth += 1;
        } else if PARAGRAPHS.contains(&name) {
            self.paragraph_break();
        } else if LINES.contains(&name) {
            self.line_break();
        }
    }

    fn close(&mut self, name: &str) {
        if let Some(level) = section_level(name) {
            if let Some((open_level, start)) = self.heading
                && open_level == level
            {
                let text = self
                    .buf
                    .get(start..)
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if level == 1 && self.first_h1.is_none() && !text.is_empty() {
                    self.first_h1 = Some(text.clone());
                }
                self.path.enter(level, text);
                self.heading = None;
                self.paragraph_break();
            }
        } else if name == "pre" {
            self.pre_depth = self.pre_depth.saturating_sub(1);
            self.paragraph_break();
        } else if PARAGRAPHS.contains(&name) {
            self.paragraph_break();
        } else if LINES.contains(&name) {
            self.line_break();
        }
    }

    fn text(&mut self, text: &str) {
        if self.pre_depth > 0 {
            self.buf.push_str(text);
            self.pending_space = false;
            return;
        }
        if text.starts_with(char::is_whitespace) {
            self.pending_space = true;
        }
        let mut any_word = false;
        for word in text.split_whitespace() {
            if self.pending_space && !self.buf.is_empty() && !self.buf.ends_with('\n') {
                self.buf.push(' ');
            }
            self.buf.push_str(word);
            self.pending_space = true;
            any_word = true;
        }
        if any_word {
            self.pending_space = text.ends_with(char::is_whitespace);
        }
    }

    fn line_break(&mut self) {
        let kept = self.buf.trim_end_matches([' ', '\t']).len();
        self.buf.truncate(kept);
        if !self.buf.is_empty() && !self.buf.ends_with('\n') {
            self.buf.push('\n');
        }
        self.pending_space = false;
    }

    fn paragraph_break(&mut self) {
        self.line_break();
        if !self.buf.is_empty() && !self.buf.ends_with("\n\n") {
            self.buf.push('\n');
        }
    }

    /// End the current section (kept when it has visible text).
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.buf);
        if !text.trim().is_empty() {
            self.sections.push(Section {
                text,
                page: None,
                heading: self.path.current(),
            });
        }
        self.pending_space = false;
    }
}

/// Heading level for the elements that start a section.
fn section_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/docs/html/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    fn all_text(doc: &Extracted) -> String {
        doc.sections
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn gc_guide_drops_script_and_style() {
        let doc = parse(&read("golang-gc-guide.html"));
        let text = all_text(&doc);
        assert!(text.contains("Tracing Garbage Collection"));
        for leaked in [".gc-guide-graph", "flex-direction", "Do not send CLs", "d3.js", "<script", "<style"] {
            assert!(!text.contains(leaked), "script/style text leaked: {leaked:?}");
        }
        let gogc = doc.sections.iter().find(|s| s.text.starts_with("GOGC\n")).unwrap();
        assert_eq!(gogc.heading.as_deref(), Some("The GC cycle > GOGC"));
    }

    #[test]
    fn effective_go_comment_dropped_pre_kept() {
        let doc = parse(&read("golang-effective_go.html"));
        let text = all_text(&doc);
        assert!(!text.contains("\"Template\": true"), "front-matter comment leaked");
        assert_eq!(doc.title.as_deref(), Some("Effective Go"));
        assert!(
            text.contains("Go is an open-source programming language"),
            "whitespace not collapsed"
        );
        // `<pre>` keeps its line breaks and indentation.
        assert!(text.contains("type T struct {\n    name    string // name of the object\n"));
        assert!(
            text.contains("\n\nx<<8 + y<<16\n"),
            "entities in <pre> decoded, line kept"
        );
        let intro = doc
            .sections
            .iter()
            .find(|s| s.heading.as_deref() == Some("Introduction"))
            .unwrap();
        assert!(intro.text.starts_with("Introduction\n\nGo is an open-source programming language that focuses on simplicity, reliability, and efficiency"));
    }

    #[test]
    fn habibi_title_and_arabic_body() {
        let doc = parse(&read("pypdf-habibi.html"));
        assert_eq!(doc.title.as_deref(), Some("habibi"));
        assert_eq!(all_text(&doc).trim(), "حَبيبي habibi");
    }

    #[test]
    fn blocks_tables_and_headings() {
        let html = "<h1>Doc</h1><p>a <b>bold</b>\n  word</p><table><tr><td>x</td><td>y</td></tr><tr><th>z</th></tr></table>\
                    <h2>Part</h2><ul><li>one</li><li>two<br>three</li></ul><h3>Deep</h3>text";
        let doc = parse(html.as_bytes());
        let got: Vec<(Option<&str>, &str)> = doc
            .sections
            .iter()
            .map(|s| (s.heading.as_deref(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("Doc"), "Doc\n\na bold word\n\nx | y\nz\n\n"),
                (Some("Doc > Part"), "Part\n\none\ntwo\nthree\n\n"),
                (Some("Doc > Part > Deep"), "Deep\n\ntext\n"),
            ]
        );
        assert_eq!(doc.title.as_deref(), Some("Doc"));
    }
}
