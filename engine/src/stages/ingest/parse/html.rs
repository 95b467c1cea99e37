//! HTML: visible text with block structure as line breaks, sections at h1–h3.
//!
//! The tree is walked with an explicit stack, so nesting depth cannot overflow
//! the call stack, and nesting beyond [`MAX_DEPTH`] is flattened before parsing
//! (html5ever's time grows with the square of the depth). Scripts, styles,
//! `<head>`, templates and comments are dropped.

use std::borrow::Cow;

use scraper::{Html, Node};

use super::Extracted;
use super::text::{Outline, decode_utf8};

/// Deepest element nesting passed to html5ever, the same cap as Chromium's parser.
const MAX_DEPTH: usize = 512;
/// Elements whose content is never visible text.
const SKIPPED: &str = "script style noscript template head title iframe object";
/// Elements that end a paragraph (blank line before and after).
const PARAGRAPHS: &str = "p pre blockquote table ul ol dl figure section article aside header footer main nav hr \
                          details form fieldset address center h4 h5 h6";
/// Elements that end a line.
const LINES: &str = "div li tr dt dd br caption figcaption summary legend option tbody thead tfoot body html";
/// Elements that never nest (void, or closed implicitly by a sibling) when estimating depth.
const FLAT: &str = "area base br col embed hr img input link meta param source track wbr p li dt dd tr td th \
                    option optgroup thead tbody tfoot colgroup rb rt rp";

/// Whether `name` is one of the space-separated element names in `list`.
fn listed(list: &str, name: &str) -> bool {
    list.split_ascii_whitespace().any(|n| n == name)
}

/// Parse an HTML document or fragment. Title: `<title>`, else the first `<h1>`,
/// else a Go-website `<!--{ "Title": … }-->` front-matter comment.
pub(super) fn parse(bytes: &[u8]) -> Extracted {
    let html = Html::parse_document(&flatten_deep_nesting(&decode_utf8(bytes)));
    let mut out = Builder::default();
    let mut stack = vec![Step::Enter(html.tree.root())];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(node) => match node.value() {
                Node::Text(text) => out.text(text),
                Node::Element(element) if listed(SKIPPED, element.name()) => {}
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
    let title = element_text(&html, "title").or(out.first_h1.take());
    let title = title.or_else(|| comment_title(&html));
    out.flush();
    Extracted {
        title,
        sections: out.outline.sections,
    }
}

/// One step of the iterative walk: visit a node, or close an element after its children.
enum Step<'a, N> {
    Enter(N),
    Leave(&'a str),
}

/// `html` without the start and end tags nested deeper than [`MAX_DEPTH`] (their text stays).
/// Depth is estimated from the tags alone: elements in [`FLAT`] and self-closing tags are
/// not counted, and comments, scripts and styles are skipped.
fn flatten_deep_nesting(html: &str) -> Cow<'_, str> {
    let (mut out, mut copied, mut depth, mut at) = (String::new(), 0, 0_usize, 0);
    while let Some(start) = html[at..].find('<').map(|i| at + i) {
        let rest = &html[start..];
        let closing = rest.starts_with("</");
        let name: String = rest[if closing { 2 } else { 1 }..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let skip_to = |end: &str| rest.find(end).map_or(html.len(), |i| start + i + end.len());
        let tag_end = skip_to(">");
        at = match name.as_str() {
            _ if rest.starts_with("<!--") => skip_to("-->"),
            "" => start + 1,
            "script" | "style" if !closing => match end_tag(rest, &name) {
                Some(i) => rest[i..].find('>').map_or(html.len(), |j| start + i + j + 1),
                None => html.len(),
            },
            _ if listed(FLAT, &name) || html[..tag_end].ends_with("/>") => tag_end,
            _ => {
                let deep = depth >= MAX_DEPTH + usize::from(closing);
                depth = if closing { depth.saturating_sub(1) } else { depth + 1 };
                if deep {
                    out.push_str(&html[copied..start]);
                    copied = tag_end;
                }
                tag_end
            }
        };
    }
    if copied == 0 {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// Offset of the `</name` end tag in `html` (ASCII case-insensitive).
fn end_tag(html: &str, name: &str) -> Option<usize> {
    let matches = |i: &usize| {
        html.get(i + 2..i + 2 + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    };
    html.match_indices("</").map(|(i, _)| i).find(matches)
}

/// Text of the first element named `name` (a flat scan over all nodes, no recursion).
fn element_text(html: &Html, name: &str) -> Option<String> {
    let node = html
        .tree
        .nodes()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == name))?;
    let text: String = node
        .children()
        .filter_map(|c| Some(c.value().as_text()?.to_string()))
        .collect();
    Some(text).filter(|t| !t.trim().is_empty())
}

/// `Title` from a leading `<!--{ JSON }-->` comment, as on the Go website.
fn comment_title(html: &Html) -> Option<String> {
    let comment = html
        .tree
        .nodes()
        .find_map(|n| Some(n.value().as_comment()?.to_string()))?;
    let json: serde_json::Value = serde_json::from_str(comment.trim()).ok()?;
    json.get("Title")?.as_str().map(str::to_owned)
}

/// Accumulates text into sections while the walk opens and closes elements.
#[derive(Default)]
struct Builder {
    outline: Outline,
    buf: String,
    pending_space: bool,
    pre_depth: usize,
    /// Level of the h1–h3 being read and where its text starts in `buf`.
    heading: Option<(u8, usize)>,
    first_h1: Option<String>,
}

impl Builder {
    fn open(&mut self, name: &str) {
        match (section_level(name), name) {
            (Some(level), _) if self.heading.is_none() => {
                self.flush();
                self.heading = Some((level, self.buf.len()));
            }
            (_, "td" | "th") => {
                if !self.buf.is_empty() && !self.buf.ends_with('\n') {
                    self.buf.push_str(" | ");
                }
                self.pending_space = false;
            }
            (_, "pre") => {
                self.paragraph_break();
                self.pre_depth += 1;
            }
            _ => self.block_break(name),
        }
    }

    fn close(&mut self, name: &str) {
        match (section_level(name), self.heading) {
            (Some(level), Some((open_level, start))) if level == open_level => {
                let text: Vec<&str> = self.buf.get(start..).unwrap_or_default().split_whitespace().collect();
                let text = text.join(" ");
                if level == 1 && self.first_h1.is_none() && !text.is_empty() {
                    self.first_h1 = Some(text.clone());
                }
                self.outline.enter(level, text);
                self.heading = None;
                self.paragraph_break();
            }
            _ if name == "pre" => {
                self.pre_depth = self.pre_depth.saturating_sub(1);
                self.paragraph_break();
            }
            _ => self.block_break(name),
        }
    }

    fn block_break(&mut self, name: &str) {
        if listed(PARAGRAPHS, name) {
            self.paragraph_break();
        } else if listed(LINES, name) {
            self.line_break();
        }
    }

    fn text(&mut self, text: &str) {
        if self.pre_depth > 0 {
            self.buf.push_str(text);
            self.pending_space = false;
            return;
        }
        self.pending_space |= text.starts_with(char::is_whitespace);
        let mut words = text.split_whitespace().peekable();
        while let Some(word) = words.next() {
            if self.pending_space && !self.buf.is_empty() && !self.buf.ends_with('\n') {
                self.buf.push(' ');
            }
            self.buf.push_str(word);
            self.pending_space = words.peek().is_some() || text.ends_with(char::is_whitespace);
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
        self.outline.close(std::mem::take(&mut self.buf));
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

    fn read(name: &str) -> Extracted {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docs/html/");
        parse(&std::fs::read(format!("{path}{name}")).unwrap())
    }

    fn sections(doc: &Extracted) -> Vec<(Option<&str>, &str)> {
        doc.sections
            .iter()
            .map(|s| (s.heading.as_deref(), s.text.as_str()))
            .collect()
    }

    #[test]
    fn sample_pages() {
        let gc = read("golang-gc-guide.html");
        let text: String = sections(&gc).into_iter().map(|(_, t)| t).collect();
        for leaked in [
            ".gc-guide-graph",
            "flex-direction",
            "Do not send CLs",
            "d3.js",
            "<script",
        ] {
            assert!(!text.contains(leaked), "script/style/comment text leaked: {leaked:?}");
        }
        assert!(
            sections(&gc)
                .iter()
                .any(|(h, t)| *h == Some("The GC cycle > GOGC") && t.starts_with("GOGC\n\n"))
        );

        let effective = read("golang-effective_go.html");
        let text: String = sections(&effective).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            effective.title.as_deref(),
            Some("Effective Go"),
            "from the front-matter comment"
        );
        assert!(!text.contains("\"Template\": true"), "front-matter comment leaked");
        assert!(
            text.contains("type T struct {\n    name    string // name of the object\n"),
            "<pre> kept as is"
        );
        assert!(
            text.contains("\n\nx<<8 + y<<16\n"),
            "entities in <pre> decoded, line kept"
        );
        let intro =
            "Introduction\n\nGo is an open-source programming language that focuses on simplicity, reliability,";
        assert!(
            sections(&effective)
                .iter()
                .any(|(h, t)| *h == Some("Introduction") && t.starts_with(intro))
        );

        assert_eq!(read("pypdf-habibi.html").title.as_deref(), Some("habibi"));
    }

    #[test]
    fn blocks_tables_and_headings() {
        let html = "<h1>Doc</h1><p>a <b>bold</b>\n  word</p><table><tr><td>x</td><td>y</td></tr><tr><th>z</th></tr>\
                    </table><h2>Part</h2><ul><li>one</li><li>two<br>three</li></ul><h3>Deep</h3>text";
        let doc = parse(html.as_bytes());
        let expected = [
            (Some("Doc"), "Doc\n\na bold word\n\nx | y\nz\n\n"),
            (Some("Doc > Part"), "Part\n\none\ntwo\nthree\n\n"),
            (Some("Doc > Part > Deep"), "Deep\n\ntext\n"),
        ];
        assert_eq!(sections(&doc), expected);
        assert_eq!(doc.title.as_deref(), Some("Doc"));
    }

    #[test]
    fn deep_nesting_is_flattened_quickly() {
        let html = format!(
            "{}deep text{}",
            "<div><span>".repeat(50_000),
            "</span></div>".repeat(50_000)
        );
        assert_eq!(
            sections(&parse(html.as_bytes())),
            [(None, "deep text\n")],
            "100k nested elements"
        );
        let flattened = flatten_deep_nesting(&html);
        assert_eq!(
            flattened.matches("<div>").count() + flattened.matches("<span>").count(),
            MAX_DEPTH
        );
        let shallow = "<div><!-- <div> --><script>if (a <b) {}</script><p>x<br/><img></div>";
        assert!(matches!(flatten_deep_nesting(shallow), Cow::Borrowed(_)));
    }

    #[test]
    fn hostile_nesting_shapes_are_flattened() {
        // Unclosed and misnested formatting elements (html5ever's adoption agency),
        // nested tables, lists and foreign content: the tree depth stays bounded.
        let shapes = [
            "<b>".repeat(40_000),
            "<b><i></b></i>".repeat(20_000),
            "<table><tr><td>".repeat(20_000),
            "<ul><li>".repeat(30_000),
            format!("<svg>{}", "<g>".repeat(40_000)),
            "<a href=x>".repeat(30_000),
        ];
        for shape in shapes {
            let html = format!("{shape}needle");
            let tree = Html::parse_document(&flatten_deep_nesting(&html));
            let depth = tree.tree.nodes().map(|n| n.ancestors().count()).max().unwrap();
            // Only `table` is counted of table > tbody > tr > td (rows close each other).
            assert!(depth <= 4 * MAX_DEPTH + 8, "{:?}…: {depth} levels", &shape[..14]);
            let text: String = sections(&parse(html.as_bytes())).into_iter().map(|(_, t)| t).collect();
            assert!(text.contains("needle"), "{:?}…", &shape[..14]);
        }
    }

    #[test]
    fn scripts_styles_and_templates_are_dropped() {
        let html = "<p>kept</p><script>var secret = 1;</script><style>.x { color: red }</style>\
                    <template><p>inert</p></template><noscript>fallback</noscript><p>also kept</p>";
        assert_eq!(sections(&parse(html.as_bytes())), [(None, "kept\n\nalso kept\n\n")]);
    }
}
