//! `ToUnicode` maps for CJK fonts that lack one.
//!
//! A Type0 font with `Identity-H`/`Identity-V` encoding shows CIDs directly. Without a
//! `ToUnicode` map `pdf-extract` has no text for them, but when the CIDs follow one of
//! Adobe's public character collections (Japan1, GB1, CNS1, Korea1; named in the
//! font's `CIDSystemInfo`) Adobe's CID → Unicode tables (through `hayro-cmap`) give
//! the text. Such a font gets a synthesized map covering the codes the document shows.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::sync::OnceLock;

use hayro_cmap::{BfString, CMap, CidFamily, load_embedded};
use pdf_extract::{Dictionary, Document, Object, ObjectId, Stream};

use super::content::ShownCodes;

/// Type0 fonts without a `ToUnicode` map.
#[derive(Default)]
pub(super) struct UnmappedFonts {
    /// Fonts whose CIDs a public collection maps, by collection.
    pub(super) mappable: HashMap<ObjectId, Collection>,
    /// Names of the others (custom or `Identity` ordering, or a non-identity encoding).
    pub(super) unmappable: BTreeSet<String>,
}

/// Adobe's public CJK character collections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Collection {
    Japan1,
    Gb1,
    Cns1,
    Korea1,
}

impl Collection {
    fn of(registry: &[u8], ordering: &[u8]) -> Option<Self> {
        match CidFamily::from_registry_ordering(registry, ordering) {
            CidFamily::AdobeJapan1 => Some(Self::Japan1),
            CidFamily::AdobeGB1 => Some(Self::Gb1),
            CidFamily::AdobeCNS1 => Some(Self::Cns1),
            CidFamily::AdobeKorea1 => Some(Self::Korea1),
            _ => None,
        }
    }

    fn family(self) -> CidFamily {
        match self {
            Self::Japan1 => CidFamily::AdobeJapan1,
            Self::Gb1 => CidFamily::AdobeGB1,
            Self::Cns1 => CidFamily::AdobeCNS1,
            Self::Korea1 => CidFamily::AdobeKorea1,
        }
    }

    /// The collection's CID → Unicode map, parsed once per process.
    fn to_unicode(self) -> Option<&'static CMap> {
        static MAPS: [OnceLock<Option<CMap>>; 4] = [const { OnceLock::new() }; 4];
        let index = self as usize;
        MAPS.get(index)?
            .get_or_init(|| {
                let data = load_embedded(self.family().ucs2_cmap()?)?;
                CMap::parse(data, load_embedded)
            })
            .as_ref()
    }
}

/// The Type0 fonts of `doc` that have no `ToUnicode` map.
pub(super) fn unmapped_fonts(doc: &Document) -> UnmappedFonts {
    let mut found = UnmappedFonts::default();
    for (id, object) in &doc.objects {
        let Ok(font) = object.as_dict() else { continue };
        let type0 = font.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Type0");
        if !font.has_type(b"Font") || !type0 || font.has(b"ToUnicode") {
            continue;
        }
        match collection(doc, font) {
            Some(collection) => {
                found.mappable.insert(*id, collection);
            }
            None => {
                let name = font.get_deref(b"BaseFont", doc).and_then(Object::as_name);
                found
                    .unmappable
                    .insert(String::from_utf8_lossy(name.unwrap_or(b"unnamed")).into_owned());
            }
        }
    }
    found
}

/// The collection a Type0 font's CIDs belong to, when it shows them by identity.
fn collection(doc: &Document, font: &Dictionary) -> Option<Collection> {
    let encoding = font.get_deref(b"Encoding", doc).and_then(Object::as_name).ok()?;
    if encoding != b"Identity-H" && encoding != b"Identity-V" {
        return None;
    }
    let descendants = font
        .get_deref(b"DescendantFonts", doc)
        .and_then(Object::as_array)
        .ok()?;
    let descendant = doc.dereference(descendants.first()?).ok()?.1.as_dict().ok()?;
    let info = descendant
        .get_deref(b"CIDSystemInfo", doc)
        .and_then(Object::as_dict)
        .ok()?;
    let text = |key: &[u8]| info.get_deref(key, doc).and_then(Object::as_str).ok();
    Collection::of(text(b"Registry")?, text(b"Ordering")?)
}

/// Give each mappable font that shows some codes a `ToUnicode` stream for those codes.
/// Returns how many fonts got one.
pub(super) fn add_to_unicode_maps(
    doc: &mut Document,
    fonts: &HashMap<ObjectId, Collection>,
    shown: &ShownCodes,
) -> usize {
    let mut added = 0;
    for (&font, &collection) in fonts {
        let (Some(codes), Some(map)) = (shown.get(&font), collection.to_unicode()) else {
            continue;
        };
        let Some(cmap) = to_unicode_cmap(map, codes) else {
            continue;
        };
        let stream = doc.add_object(Stream::new(Dictionary::new(), cmap.into_bytes()));
        if let Ok(dict) = doc.get_object_mut(font).and_then(Object::as_dict_mut) {
            dict.set("ToUnicode", Object::Reference(stream));
            added += 1;
        }
    }
    added
}

/// Entries per `beginbfchar` block (the CMap format allows at most 100).
const BLOCK: usize = 100;

/// A `ToUnicode` CMap mapping each of `codes` (CIDs, under identity encoding) through `map`;
/// `None` when none of them maps.
fn to_unicode_cmap(map: &CMap, codes: &BTreeSet<u16>) -> Option<String> {
    let entries: Vec<(u16, String)> = codes
        .iter()
        .filter_map(|&code| {
            let text = match map.lookup_bf_string(u32::from(code))? {
                BfString::Char(ch) => ch.to_string(),
                BfString::String(text) => text,
            };
            Some((code, text.encode_utf16().map(|unit| format!("{unit:04X}")).collect()))
        })
        .collect();
    if entries.is_empty() {
        return None;
    }
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CMapName /Ragline-UCS2 def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for block in entries.chunks(BLOCK) {
        let _ = writeln!(cmap, "{} beginbfchar", block.len());
        for (code, utf16) in block {
            let _ = writeln!(cmap, "<{code:04X}> <{utf16}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    Some(cmap)
}
