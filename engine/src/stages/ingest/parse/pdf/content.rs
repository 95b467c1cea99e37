//! Checks a page's content streams before `pdf-extract` interprets them.
//!
//! `pdf-extract` recurses into every form XObject a page draws (a form that draws
//! itself overflows the stack, which aborts the process), clones the graphics state
//! on every `q`, and decodes each stream whole. This walk does the same reading with
//! an explicit stack and limits, so an interpreted page is known to be bounded. On
//! the way it records the codes shown in the fonts that need a synthesized
//! `ToUnicode` map (see `cid.rs`).

use std::collections::{BTreeSet, HashMap};

use pdf_extract::content::Content;
use pdf_extract::{Dictionary, Document, Object, ObjectId};

use super::super::ParseError;

/// Forms drawing forms deeper than this are refused.
const MAX_FORM_DEPTH: usize = 12;
/// `q` (save graphics state) nested deeper than this in one stream is refused.
const MAX_SAVE_DEPTH: usize = 4096;

/// What one document's pages may make `pdf-extract` read.
pub(super) struct Allowance {
    /// Content bytes per page, counting a form each time it is drawn.
    pub(super) page_bytes: u64,
    /// Content bytes left for the rest of the document.
    pub(super) document_bytes: u64,
}

/// 2-byte codes shown per font, for the fonts being watched.
pub(super) type ShownCodes = HashMap<ObjectId, BTreeSet<u16>>;

/// One stream to read: its content, the resources its names resolve in, and the forms
/// that led to it (to find a form that draws itself).
struct Frame<'a> {
    content: std::borrow::Cow<'a, [u8]>,
    resources: Option<&'a Dictionary>,
    forms: Vec<ObjectId>,
}

/// Check page `page` (resources already resolved, see [`settle_inherited`]) and add the
/// codes it shows in `shown`'s fonts.
///
/// # Errors
/// [`ParseError::LimitExceeded`] when the page goes past `allowance` or the nesting
/// limits, [`ParseError::Corrupt`] for unreadable content or a form that draws itself.
pub(super) fn check_page(
    doc: &Document,
    page: ObjectId,
    allowance: &mut Allowance,
    shown: &mut ShownCodes,
) -> Result<(), ParseError> {
    let page_dict = doc
        .get_dictionary(page)
        .map_err(|e| ParseError::Corrupt(format!("page object: {e}")))?;
    let content = doc.get_page_content(page).unwrap_or_default();
    let mut stack = vec![Frame {
        content: content.into(),
        resources: page_dict.get_deref(b"Resources", doc).and_then(Object::as_dict).ok(),
        forms: Vec::new(),
    }];
    let mut page_bytes = 0_u64;
    while let Some(frame) = stack.pop() {
        let size = u64::try_from(frame.content.len()).unwrap_or(u64::MAX);
        page_bytes = page_bytes.saturating_add(size);
        if page_bytes > allowance.page_bytes {
            return Err(ParseError::LimitExceeded(format!(
                "page content (with the forms it draws) exceeds the limit of {} bytes",
                allowance.page_bytes
            )));
        }
        let Some(left) = allowance.document_bytes.checked_sub(size) else {
            allowance.document_bytes = 0;
            return Err(ParseError::LimitExceeded(
                "the pages' content (with the forms they draw) exceeds the decompression limit".into(),
            ));
        };
        allowance.document_bytes = left;
        if !worth_reading(doc, &frame, shown) {
            continue;
        }
        let operations = Content::decode(&frame.content)
            .map_err(|e| ParseError::Corrupt(format!("unreadable content stream: {e}")))?
            .operations;
        let mut font = None;
        let mut depth = 0_usize;
        for operation in &operations {
            let operand = |i: usize| operation.operands.get(i);
            match operation.operator.as_str() {
                "q" => {
                    depth += 1;
                    if depth > MAX_SAVE_DEPTH {
                        return Err(ParseError::LimitExceeded(format!(
                            "graphics state saved (q) more than {MAX_SAVE_DEPTH} levels deep"
                        )));
                    }
                }
                "Q" => depth = depth.saturating_sub(1),
                "Tf" => font = resource(doc, frame.resources, b"Font", operand(0)).map(|(id, _)| id),
                "Tj" | "'" => record(shown, font, operand(0)),
                "\"" => record(shown, font, operand(2)),
                "TJ" => {
                    if let Some(Object::Array(items)) = operand(0) {
                        items.iter().for_each(|item| record(shown, font, Some(item)));
                    }
                }
                "Do" => {
                    if let Some(form) = form(doc, &frame, operand(0))? {
                        stack.push(form);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Whether reading a stream's operations could find anything: a form it may draw, a
/// watched font, or enough `q` bytes to nest too deep. Most pages have none of these,
/// and decoding them twice (here and in the reader) would double the time.
fn worth_reading(doc: &Document, frame: &Frame<'_>, shown: &ShownCodes) -> bool {
    let entries = |category: &[u8]| {
        frame
            .resources
            .and_then(|r| r.get_deref(category, doc).and_then(Object::as_dict).ok())
            .into_iter()
            .flat_map(|dict| dict.iter().map(|(_, entry)| doc.dereference(entry).ok()))
            .flatten()
    };
    let forms = entries(b"XObject").any(|(_, object)| match object {
        Object::Stream(stream) => stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Image"),
        _ => false,
    });
    let watched = entries(b"Font").any(|(id, _)| id.is_some_and(|id| shown.contains_key(&id)));
    let saves = frame.content.iter().filter(|b| **b == b'q').count();
    forms || watched || saves > MAX_SAVE_DEPTH
}

/// The form XObject a `Do` operand names, as a frame to read next.
fn form<'a>(doc: &'a Document, frame: &Frame<'a>, name: Option<&Object>) -> Result<Option<Frame<'a>>, ParseError> {
    let Some((Some(id), Object::Stream(stream))) = resource(doc, frame.resources, b"XObject", name) else {
        return Ok(None);
    };
    if frame.forms.contains(&id) {
        return Err(ParseError::Corrupt(format!("XObject {} {} draws itself", id.0, id.1)));
    }
    if frame.forms.len() >= MAX_FORM_DEPTH {
        return Err(ParseError::LimitExceeded(format!(
            "XObject forms nested deeper than {MAX_FORM_DEPTH} levels"
        )));
    }
    let resources = stream.dict.get_deref(b"Resources", doc).and_then(Object::as_dict).ok();
    let mut forms = frame.forms.clone();
    forms.push(id);
    Ok(Some(Frame {
        content: stream.content.as_slice().into(),
        resources: resources.or(frame.resources),
        forms,
    }))
}

/// The object that `name` stands for in the `category` (`Font`, `XObject`) of `resources`,
/// with its id when it is an indirect object.
fn resource<'a>(
    doc: &'a Document,
    resources: Option<&'a Dictionary>,
    category: &[u8],
    name: Option<&Object>,
) -> Option<(Option<ObjectId>, &'a Object)> {
    let entries = resources?.get_deref(category, doc).and_then(Object::as_dict).ok()?;
    let entry = entries.get(name?.as_name().ok()?).ok()?;
    doc.dereference(entry).ok()
}

/// Add the 2-byte codes of a shown string to the current font's set, when it is watched.
fn record(shown: &mut ShownCodes, font: Option<Option<ObjectId>>, text: Option<&Object>) {
    let (Some(Some(font)), Some(Object::String(bytes, _))) = (font, text) else {
        return;
    };
    if let Some(codes) = shown.get_mut(&font) {
        codes.extend(bytes.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])));
    }
}

/// Letter size, the media box readers assume when a page has none.
const DEFAULT_MEDIA_BOX: [i64; 4] = [0, 0, 612, 792];
/// How many `/Parent` links are followed to find an inherited attribute.
const MAX_TREE_DEPTH: usize = 256;

/// Copy each page's inherited `/Resources` and `/MediaBox` onto the page itself (a
/// Letter box when there is none), so the reader never walks `/Parent` links: it would
/// recurse forever around a loop in them.
pub(super) fn settle_inherited(doc: &mut Document, pages: &[ObjectId]) {
    for &page in pages {
        let inherited = [b"Resources".as_slice(), b"MediaBox"].map(|key| inherited(doc, page, key).cloned());
        let Ok(dict) = doc.get_object_mut(page).and_then(Object::as_dict_mut) else {
            continue;
        };
        let [resources, media_box] = inherited;
        dict.set(
            "Resources",
            resources.unwrap_or_else(|| Object::Dictionary(Dictionary::new())),
        );
        let media_box = media_box.unwrap_or_else(|| Object::Array(DEFAULT_MEDIA_BOX.map(Object::Integer).to_vec()));
        dict.set("MediaBox", media_box);
    }
}

/// `key` on node `id` or its nearest ancestor that has it.
fn inherited<'a>(doc: &'a Document, id: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = doc.get_dictionary(id).ok()?;
    for _ in 0..MAX_TREE_DEPTH {
        if let Ok(value) = node.get(key) {
            return Some(value);
        }
        node = doc
            .get_dictionary(node.get(b"Parent").and_then(Object::as_reference).ok()?)
            .ok()?;
    }
    None
}
