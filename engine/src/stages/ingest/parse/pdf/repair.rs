//! Repairs for damaged files: streams with a wrong `/Length`, and a missing or broken
//! cross-reference table.

use std::collections::BTreeMap;

use pdf_extract::xref::XrefEntry;
use pdf_extract::{Document, Object, Stream};

use super::load::find;

/// lopdf keeps only the dictionary of a stream whose `/Length` is wrong (common in
/// hand-written files); re-read such streams up to their `endstream` keyword.
pub(super) fn restore_streams(doc: &mut Document, bytes: &[u8]) {
    let Some(start) = find(bytes, b"%PDF-") else {
        return;
    };
    let bytes = &bytes[start..];
    let lost: Vec<((u32, u16), usize)> = doc
        .reference_table
        .entries
        .iter()
        .filter_map(|(number, entry)| match entry {
            XrefEntry::Normal { offset, generation } => Some(((*number, *generation), usize::try_from(*offset).ok()?)),
            _ => None,
        })
        .filter(|(id, _)| {
            doc.objects
                .get(id)
                .and_then(|o| o.as_dict().ok())
                .is_some_and(|d| d.has(b"Length"))
        })
        .collect();
    // Keyword positions, found once: searching from each object would be quadratic.
    let object_ends = positions(bytes, b"endobj");
    let stream_ends = positions(bytes, b"endstream");
    let stream_starts: Vec<usize> = positions(bytes, b"stream")
        .into_iter()
        .filter(|&at| !bytes[..at].ends_with(b"end"))
        .collect();
    let next = |sorted: &[usize], after: usize| sorted.get(sorted.partition_point(|&p| p < after)).copied();
    for (id, offset) in lost {
        let end = next(&object_ends, offset).unwrap_or(bytes.len());
        let (Some(open), Some(close)) = (next(&stream_starts, offset), next(&stream_ends, offset)) else {
            continue;
        };
        if open > close || close > end {
            continue;
        }
        let data = bytes.get(open + 6..close).unwrap_or_default();
        let data = data.strip_prefix(b"\r").unwrap_or(data);
        let data = data.strip_prefix(b"\n").unwrap_or(data);
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        let data = data.strip_suffix(b"\r").unwrap_or(data);
        if let Some(Object::Dictionary(dict)) = doc.objects.remove(&id) {
            doc.objects.insert(id, Object::Stream(Stream::new(dict, data.to_vec())));
        }
    }
}

/// Where `needle` starts in `haystack`, in order.
fn positions(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter_map(|(at, window)| (window == needle).then_some(at))
        .collect()
}

/// A copy of `bytes` with a fresh cross-reference table appended, built by scanning for
/// `N G obj` headers (as other readers do for damaged files). `None` when that cannot
/// work: encrypted files, no objects, no catalog, or absurd object numbers.
pub(super) fn rebuild_xref(bytes: &[u8]) -> Option<Vec<u8>> {
    let bytes = &bytes[find(bytes, b"%PDF-")?..];
    if find(bytes, b"/Encrypt").is_some() {
        return None;
    }
    let mut objects: BTreeMap<u32, (u16, usize)> = BTreeMap::new();
    let mut line_start = 0;
    for line in bytes.split(|b| *b == b'\n' || *b == b'\r') {
        let indent = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let mut words = line.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
        let number = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok()?.parse::<u32>().ok());
        let generation = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok()?.parse::<u16>().ok());
        if let (Some(number), Some(generation), true) =
            (number, generation, words.next().is_some_and(|w| w.starts_with(b"obj")))
        {
            objects.insert(number, (generation, line_start + indent));
        }
        line_start += line.len() + 1;
    }
    let size = objects.keys().next_back()?.checked_add(1)?;
    if usize::try_from(size).ok()? > objects.len() * 4 + 1024 {
        return None;
    }
    let mut starts: Vec<usize> = objects.values().map(|(_, offset)| *offset).collect();
    starts.sort_unstable();
    let (root, (root_gen, _)) = objects.iter().find(|(_, (_, offset))| {
        let end = starts
            .get(starts.partition_point(|s| s <= offset))
            .copied()
            .unwrap_or(bytes.len());
        find(&bytes[*offset..end], b"/Catalog").is_some()
    })?;
    let mut fixed = bytes.to_vec();
    fixed.push(b'\n');
    let xref_start = fixed.len();
    let mut table = format!("xref\n0 {size}\n");
    for number in 0..size {
        table.push_str(&match objects.get(&number) {
            Some((generation, offset)) => format!("{offset:010} {generation:05} n\r\n"),
            None => "0000000000 65535 f\r\n".to_owned(),
        });
    }
    table.push_str(&format!(
        "trailer\n<< /Size {size} /Root {root} {root_gen} R >>\nstartxref\n{xref_start}\n%%EOF\n"
    ));
    fixed.extend_from_slice(table.as_bytes());
    Some(fixed)
}
