//! Loading a PDF with every stream decoded up front, under one decompression budget.
//!
//! lopdf inflates streams with an unbounded `read_to_end`, so a few kilobytes of
//! FlateDecode can claim gigabytes. Here every stream is decoded by bounded decoders
//! while lopdf reads it (through its per-object filter, before object streams are
//! expanded) or right after loading, and its `/Filter` is removed, so nothing
//! downstream decompresses again. Images, embedded files and XMP metadata carry no
//! text layer and are emptied instead of decoded.

use std::cell::RefCell;
use std::io::{Read, Write};

use flate2::read::{DeflateDecoder, ZlibDecoder};
use pdf_extract::filters::png;
use pdf_extract::{Document, LoadOptions, Object, ObjectId, Stream};

use super::super::ParseError;

/// The decompression budget of one document.
#[derive(Debug)]
pub(super) struct Budget {
    remaining: u64,
    limit: u64,
    /// The first stream that did not fit.
    exhausted_at: Option<ObjectId>,
}

impl Budget {
    pub(super) fn new(limit: u64) -> Self {
        Self {
            remaining: limit,
            limit,
            exhausted_at: None,
        }
    }

    /// Take `bytes` from the budget; `false` (and the budget marked exhausted) when they do not fit.
    fn charge(&mut self, id: ObjectId, bytes: usize) -> bool {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if self.exhausted_at.is_none() && bytes <= self.remaining {
            self.remaining -= bytes;
            return true;
        }
        self.exhausted_at.get_or_insert(id);
        self.remaining = 0;
        false
    }

    /// # Errors
    /// [`ParseError::LimitExceeded`] once a stream did not fit.
    pub(super) fn check(&self) -> Result<(), ParseError> {
        match self.exhausted_at {
            None => Ok(()),
            Some((number, generation)) => Err(ParseError::LimitExceeded(format!(
                "decompressed streams exceed the limit of {} bytes (at object {number} {generation})",
                self.limit
            ))),
        }
    }
}

thread_local! {
    /// The budget of the document lopdf is loading on this thread (lopdf is built without
    /// rayon, so its per-object filter runs here). Unset means no budget: streams are emptied.
    static LOADING: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Load `bytes` with every stream decoded against `budget`.
///
/// # Errors
/// lopdf's error when the file cannot be read; the caller checks `budget` afterwards.
pub(super) fn load(bytes: &[u8], budget: &mut Budget) -> Result<Document, pdf_extract::Error> {
    let installed = Installed::new(budget);
    let result = Document::load_mem_with_options(bytes, LoadOptions::with_filter(bound_while_loading));
    drop(installed);
    let mut doc = result?;
    // lopdf skips the filter for encrypted files, and object streams are the only
    // streams it expands itself; decode everything else now.
    bound_all(&mut doc, budget);
    Ok(doc)
}

/// Decode every stream of `doc` that still has a filter (for example, one re-read from the file).
pub(super) fn bound_all(doc: &mut Document, budget: &mut Budget) {
    for (id, object) in &mut doc.objects {
        if let Object::Stream(stream) = object {
            bound_stream(*id, stream, budget);
        }
    }
}

/// Moves the budget into [`LOADING`] and back, also when lopdf panics.
struct Installed<'a> {
    budget: &'a mut Budget,
}

impl<'a> Installed<'a> {
    fn new(budget: &'a mut Budget) -> Self {
        let taken = std::mem::replace(budget, Budget::new(0));
        LOADING.set(Some(taken));
        Self { budget }
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        if let Some(budget) = LOADING.take() {
            *self.budget = budget;
        }
    }
}

/// lopdf's per-object load filter: decode a stream in place.
///
/// lopdf keeps the object as changed in place for top-level objects, but the returned
/// one for the members of an object stream (which are never streams themselves).
fn bound_while_loading(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    match object {
        Object::Stream(stream) => {
            LOADING.with_borrow_mut(|budget| match budget {
                Some(budget) => bound_stream(id, stream, budget),
                None => empty(stream),
            });
            Some((id, Object::Null))
        }
        other => Some((id, other.clone())),
    }
}

/// Decode `stream`'s filters in place, as far as lopdf could, charging `budget`.
fn bound_stream(id: ObjectId, stream: &mut Stream, budget: &mut Budget) {
    let dict = &stream.dict;
    let payload = dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image")
        || dict.has_type(b"EmbeddedFile")
        || dict.has_type(b"Metadata");
    if payload {
        return empty(stream);
    }
    let Ok(filters) = stream.filters() else {
        return;
    };
    let filters: Vec<Vec<u8>> = filters.into_iter().map(<[u8]>::to_vec).collect();
    if budget.exhausted_at.is_some() {
        return empty(stream);
    }
    let params = stream.dict.get(b"DecodeParms").and_then(Object::as_dict).ok();
    let predictor = params.map(png_predictor);
    let early_change = params
        .and_then(|p| p.get(b"EarlyChange").and_then(Object::as_i64).ok())
        .is_none_or(|v| v != 0);
    let mut data = std::mem::take(&mut stream.content);
    let mut decoded = 0;
    for filter in &filters {
        let remaining = usize::try_from(budget.remaining).unwrap_or(usize::MAX);
        let output = match filter.as_slice() {
            b"FlateDecode" => inflate(&data, remaining),
            b"LZWDecode" => lzw(&data, early_change, remaining),
            // At most 4 bytes out per byte in ('z'), so the input bounds it.
            b"ASCII85Decode" => ascii85(std::mem::take(&mut data)),
            // lopdf cannot decode the others either; the reader falls back to the bytes as they are.
            _ => break,
        };
        if !budget.charge(id, output.len()) {
            return empty(stream);
        }
        data = match (filter.as_slice(), predictor) {
            // A row longer than the data cannot decode; lopdf would allocate it anyway.
            (b"FlateDecode" | b"LZWDecode", Some(Some((bpp, columns))))
                if bpp.checked_mul(columns).is_some_and(|row| row < output.len()) =>
            {
                png::decode_frame(&output, bpp, columns).unwrap_or(output)
            }
            _ => output,
        };
        decoded += 1;
    }
    stream.set_content(data);
    let rest = &filters[decoded..];
    if rest.is_empty() {
        stream.dict.remove(b"Filter");
        stream.dict.remove(b"DecodeParms");
    } else {
        let names = rest.iter().map(|name| Object::Name(name.clone())).collect();
        stream.dict.set("Filter", Object::Array(names));
    }
}

/// Replace a stream's data with nothing (it is not needed for text, or did not fit).
fn empty(stream: &mut Stream) {
    stream.set_content(Vec::new());
    stream.dict.remove(b"Filter");
    stream.dict.remove(b"DecodeParms");
}

/// `(bytes per pixel, columns)` of a PNG predictor in `DecodeParms`, as lopdf reads them.
fn png_predictor(params: &pdf_extract::Dictionary) -> Option<(usize, usize)> {
    let int = |key: &[u8], default: i64| params.get(key).and_then(Object::as_i64).unwrap_or(default);
    if !(10..=15).contains(&int(b"Predictor", 1)) {
        return None;
    }
    let columns = usize::try_from(int(b"Columns", 1).max(1)).ok()?;
    let colors = usize::try_from(int(b"Colors", 1).max(1)).ok()?;
    let bits = usize::try_from(int(b"BitsPerComponent", 8).max(8)).ok()?;
    Some((colors.checked_mul(bits)? / 8, columns))
}

/// Inflate zlib data (or, as lopdf does when that yields nothing, raw deflate after the
/// two header bytes), keeping at most `limit + 1` bytes. A truncated stream keeps what
/// was decoded.
fn inflate(input: &[u8], limit: usize) -> Vec<u8> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut output = Vec::new();
    let zlib = ZlibDecoder::new(input).take(cap).read_to_end(&mut output);
    if zlib.is_err()
        && output.is_empty()
        && let Some(raw) = input.get(2..)
    {
        let _partial = DeflateDecoder::new(raw).take(cap).read_to_end(&mut output);
    }
    output
}

/// LZW-decode `input`, keeping at most `limit + 1` bytes.
fn lzw(input: &[u8], early_change: bool, limit: usize) -> Vec<u8> {
    use weezl::{BitOrder, decode::Decoder};
    let mut decoder = if early_change {
        Decoder::with_tiff_size_switch(BitOrder::Msb, 8)
    } else {
        Decoder::new(BitOrder::Msb, 8)
    };
    let mut output = Capped {
        data: Vec::new(),
        cap: limit.saturating_add(1),
    };
    // A full buffer ends decoding with an error; what was decoded is kept either way.
    let _status = decoder.into_stream(&mut output).decode_all(input).status;
    output.data
}

/// ASCII85-decode through lopdf (its decoder is private, but reachable through a stream).
fn ascii85(input: Vec<u8>) -> Vec<u8> {
    let mut dict = pdf_extract::Dictionary::new();
    dict.set("Filter", Object::Name(b"ASCII85Decode".to_vec()));
    Stream::new(dict, input).decompressed_content().unwrap_or_default()
}

/// A writer that accepts up to `cap` bytes, then fails.
struct Capped {
    data: Vec<u8>,
    cap: usize,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.data.len());
        if room == 0 && !buf.is_empty() {
            return Err(std::io::Error::other("output limit reached"));
        }
        let n = room.min(buf.len());
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Check the cross-reference streams that `bytes` points to (from `startxref`, then
/// `/Prev` and `/XRefStm`): lopdf inflates those while reading the file, before any
/// filter sees them. Only the first FlateDecode layer is measured, without keeping it.
///
/// # Errors
/// [`ParseError::LimitExceeded`] when one of them inflates past `limit`.
pub(super) fn check_xref_streams(bytes: &[u8], limit: u64) -> Result<(), ParseError> {
    let Some(start) = find(bytes, b"%PDF-") else {
        return Ok(());
    };
    let bytes = &bytes[start..];
    let mut pending: Vec<usize> = last_number_after(bytes, b"startxref").into_iter().collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(offset) = pending.pop() {
        if seen.len() >= MAX_XREF_SECTIONS || !seen.insert(offset) {
            continue;
        }
        let Some(section) = bytes.get(offset..) else {
            continue;
        };
        let section = &section[..section.len().min(MAX_XREF_HEAD_BYTES)];
        let (head, body) = if section.trim_ascii_start().starts_with(b"xref") {
            let trailer = find(section, b"trailer").map_or(section, |at| &section[at..]);
            (&trailer[..find(trailer, b"startxref").unwrap_or(trailer.len())], None)
        } else if let Some(keyword) = find(section, b"stream") {
            (&section[..keyword], bytes.get(offset + keyword + 6..))
        } else {
            continue;
        };
        for key in [b"/Prev".as_slice(), b"/XRefStm"] {
            pending.extend(last_number_after(head, key));
        }
        let Some(body) = body.filter(|_| find(head, b"XRef").is_some()) else {
            continue;
        };
        let body = body.strip_prefix(b"\r").unwrap_or(body);
        let body = body.strip_prefix(b"\n").unwrap_or(body);
        let mut inflated = Counter(0);
        // A broken stream still counts what it inflated to before breaking, as lopdf keeps that.
        let _partial = std::io::copy(&mut ZlibDecoder::new(body).take(limit.saturating_add(1)), &mut inflated);
        if inflated.0 > limit {
            return Err(ParseError::LimitExceeded(format!(
                "a cross-reference stream inflates past the limit of {limit} bytes"
            )));
        }
    }
    Ok(())
}

/// A writer that only counts.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(u64::try_from(buf.len()).unwrap_or(u64::MAX));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many cross-reference sections are followed through `/Prev` before giving up.
const MAX_XREF_SECTIONS: usize = 64;
/// How far past its offset a cross-reference section's dictionary may reach.
const MAX_XREF_HEAD_BYTES: usize = 64 * 1024;

/// The number after the last `key` in `haystack`.
fn last_number_after(haystack: &[u8], key: &[u8]) -> Option<usize> {
    let at = haystack.windows(key.len()).rposition(|w| w == key)? + key.len();
    let digits: Vec<u8> = haystack[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
