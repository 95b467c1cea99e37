//! Hostile PDFs built in code: each stops with a precise error, within bounds. Memory is
//! bounded by construction (decoders stop at the budget) and time by the content,
//! nesting and page limits, so no test here measures time.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::*;

/// A PDF file holding `objects` (number → body), with object 1 as the catalog.
fn pdf_file(objects: &BTreeMap<u32, Vec<u8>>) -> Vec<u8> {
    let mut out = b"%PDF-1.5\n".to_vec();
    let mut offsets = BTreeMap::new();
    for (number, body) in objects {
        offsets.insert(*number, out.len());
        out.extend_from_slice(format!("{number} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let size = objects.keys().next_back().map_or(1, |n| n + 1);
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {size}\n").as_bytes());
    for number in 0..size {
        let entry = match offsets.get(&number) {
            Some(offset) => format!("{offset:010} 00000 n\r\n"),
            None => "0000000000 65535 f\r\n".to_owned(),
        };
        out.extend_from_slice(entry.as_bytes());
    }
    let trailer = format!("trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n");
    out.extend_from_slice(trailer.as_bytes());
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// ASCII85 (Adobe's `~>`-terminated form) of `data`.
fn ascii85(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(4) {
        let mut group = [0_u8; 4];
        group[..chunk.len()].copy_from_slice(chunk);
        let mut value = u32::from_be_bytes(group);
        let mut digits = [0_u8; 5];
        for digit in digits.iter_mut().rev() {
            *digit = b'!' + u8::try_from(value % 85).unwrap();
            value /= 85;
        }
        out.extend_from_slice(&digits[..chunk.len() + 1]);
    }
    out.extend_from_slice(b"~>");
    out
}

/// Objects of a one-page document: catalog 1, pages 2, page 3 with `resources`, content 4,
/// Helvetica as font 5.
fn one_page(content: &[u8], resources: &str) -> BTreeMap<u32, Vec<u8>> {
    BTreeMap::from([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>".to_vec()),
        (
            2,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 612 792] >>".to_vec(),
        ),
        (
            3,
            format!("<< /Type /Page /Parent 2 0 R /Resources {resources} /Contents 4 0 R >>").into_bytes(),
        ),
        (4, stream("", content)),
        (5, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec()),
    ])
}

const HELLO: &[u8] = b"BT /F1 12 Tf 72 700 Td (Hello hostile world) Tj ET";
const FONTS: &str = "<< /Font << /F1 5 0 R >> >>";

fn limited(max_decompressed_bytes: u64) -> ParseLimits {
    ParseLimits {
        max_decompressed_bytes,
        ..ParseLimits::default()
    }
}

fn limit_error(bytes: &[u8], limits: &ParseLimits) -> String {
    match parse(bytes, limits) {
        Err(ParseError::LimitExceeded(reason)) => reason,
        other => panic!("expected a limit error, got {:?}", other.map(|d| d.sections)),
    }
}

#[test]
fn builder_makes_a_readable_file() {
    let doc = parse_default(&pdf_file(&one_page(HELLO, FONTS))).unwrap();
    assert_eq!(doc.sections[0].text.trim(), "Hello hostile world");
    let mut compressed = one_page(b"", FONTS);
    compressed.insert(4, stream("/Filter /FlateDecode", &zlib(HELLO)));
    let doc = parse(&pdf_file(&compressed), &limited(1024)).unwrap();
    assert_eq!(doc.sections[0].text.trim(), "Hello hostile world", "within the budget");
}

#[test]
fn flate_bomb_in_a_content_stream_stops_at_the_budget() {
    let mut bomb = one_page(b"", FONTS);
    let zeros = zlib(&vec![b' '; 16 << 20]);
    assert!(zeros.len() < 64 * 1024, "16 MiB compress to {} bytes", zeros.len());
    bomb.insert(4, stream("/Filter /FlateDecode", &zeros));
    let reason = limit_error(&pdf_file(&bomb), &limited(1 << 20));
    assert_eq!(
        reason,
        "decompressed streams exceed the limit of 1048576 bytes (at object 4 0)"
    );
    // Chained filters are measured layer by layer: the outer layers are small.
    bomb.insert(4, stream("/Filter [/FlateDecode /FlateDecode]", &zlib(&zeros)));
    assert!(limit_error(&pdf_file(&bomb), &limited(1 << 20)).starts_with("decompressed streams exceed"));
    bomb.insert(4, stream("/Filter [/ASCII85Decode /FlateDecode]", &ascii85(&zeros)));
    assert!(limit_error(&pdf_file(&bomb), &limited(1 << 20)).starts_with("decompressed streams exceed"));
    let mut text = one_page(b"", FONTS);
    text.insert(
        4,
        stream("/Filter [/ASCII85Decode /FlateDecode]", &ascii85(&zlib(HELLO))),
    );
    assert_eq!(
        parse_default(&pdf_file(&text)).unwrap().sections[0].text.trim(),
        "Hello hostile world"
    );
    // A PNG predictor row of 16 GiB is not allocated (lopdf would reserve and zero it).
    let params = "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4294967296 /Colors 4 >>";
    text.insert(4, stream(params, &zlib(HELLO)));
    let doc = parse_default(&pdf_file(&text)).unwrap();
    assert_eq!(doc.sections[0].text.trim(), "Hello hostile world");
}

/// `bytes` encrypted with an empty user password (RC4, 128 bits): readers open it without asking.
fn encrypted(bytes: &[u8]) -> Vec<u8> {
    use pdf_extract::encryption::{EncryptionState, EncryptionVersion, Permissions};
    let mut doc = Document::load_mem(bytes).unwrap();
    let id = Object::String(b"ragline-test-id!".to_vec(), pdf_extract::StringFormat::Hexadecimal);
    doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    let version = EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password: "",
        key_length: 128,
        permissions: Permissions::default(),
    };
    let state = EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn encrypted_files_are_bounded_too() {
    // lopdf skips its load filter for encrypted files; their streams are decoded after loading.
    let plain = encrypted(&pdf_file(&one_page(HELLO, FONTS)));
    assert_eq!(
        parse_default(&plain).unwrap().sections[0].text.trim(),
        "Hello hostile world"
    );
    let mut bomb = one_page(b"", FONTS);
    bomb.insert(4, stream("/Filter /FlateDecode", &zlib(&vec![b' '; 16 << 20])));
    assert!(limit_error(&encrypted(&pdf_file(&bomb)), &limited(1 << 20)).starts_with("decompressed streams exceed"));
}

#[test]
fn lzw_bomb_stops_at_the_budget() {
    let mut bomb = one_page(b"", FONTS);
    let data = vec![b' '; 8 << 20];
    let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        .encode(&data)
        .unwrap();
    bomb.insert(4, stream("/Filter /LZWDecode", &lzw));
    let reason = limit_error(&pdf_file(&bomb), &limited(1 << 20));
    assert_eq!(
        reason,
        "decompressed streams exceed the limit of 1048576 bytes (at object 4 0)"
    );
}

#[test]
fn huge_object_stream_stops_at_the_budget() {
    // An object stream is expanded while the file loads, before any page is read.
    let mut objects = one_page(HELLO, FONTS);
    let mut members = b"6 0 ".to_vec();
    members.extend(std::iter::repeat_n(b' ', 32 << 20));
    members.extend_from_slice(b"<< /Junk true >>");
    objects.insert(
        6,
        stream("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", &zlib(&members)),
    );
    let reason = limit_error(&pdf_file(&objects), &limited(1 << 20));
    assert_eq!(
        reason,
        "decompressed streams exceed the limit of 1048576 bytes (at object 6 0)"
    );
}

#[test]
fn cross_reference_stream_bomb_is_refused_before_loading() {
    let data = zlib(&vec![0; 8 << 20]);
    let mut file = b"%PDF-1.5\n".to_vec();
    let offset = file.len();
    file.extend_from_slice(b"1 0 obj\n");
    file.extend(stream(
        "/Type /XRef /Size 2 /W [1 2 1] /Root 1 0 R /Filter /FlateDecode",
        &data,
    ));
    file.extend_from_slice(format!("\nendobj\nstartxref\n{offset}\n%%EOF\n").as_bytes());
    assert_eq!(
        limit_error(&file, &limited(1 << 20)),
        "a cross-reference stream inflates past the limit of 1048576 bytes"
    );
}

#[test]
fn form_that_draws_itself_is_corrupt_not_a_stack_overflow() {
    let mut objects = one_page(b"/X0 Do", "<< /XObject << /X0 6 0 R >> >>");
    objects.insert(
        6,
        stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X0 6 0 R >> >>",
            b"/X0 Do",
        ),
    );
    let error = parse_default(&pdf_file(&objects)).err();
    assert_eq!(error, Some(ParseError::Corrupt("XObject 6 0 draws itself".into())));
}

#[test]
fn forms_drawing_forms_are_bounded() {
    // Form 10 + k draws form 10 + k - 1 ten times: 10^8 draws of form 10 from a tiny file.
    let mut objects = one_page(b"/X0 Do", "<< /XObject << /X0 18 0 R >> >>");
    objects.insert(10, stream("/Type /XObject /Subtype /Form /BBox [0 0 1 1]", b"0 0 m"));
    for number in 11..=18 {
        let resources = format!("/Resources << /XObject << /X0 {} 0 R >> >>", number - 1);
        let draws = "/X0 Do ".repeat(10);
        let dict = format!("/Type /XObject /Subtype /Form /BBox [0 0 1 1] {resources}");
        objects.insert(number, stream(&dict, draws.as_bytes()));
    }
    assert_eq!(
        limit_error(&pdf_file(&objects), &ParseLimits::default()),
        "page content (with the forms it draws) exceeds the limit of 8388608 bytes"
    );
    // Nested past the depth limit: each form draws the next once.
    let mut deep = one_page(b"/X0 Do", "<< /XObject << /X0 10 0 R >> >>");
    for number in 10..40 {
        let dict = format!(
            "/Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /X0 {} 0 R >> >>",
            number + 1
        );
        deep.insert(number, stream(&dict, b"/X0 Do"));
    }
    assert_eq!(
        limit_error(&pdf_file(&deep), &ParseLimits::default()),
        "XObject forms nested deeper than 12 levels"
    );
}

#[test]
fn graphics_state_bomb_is_refused() {
    let content = "q ".repeat(100_000);
    let reason = limit_error(&pdf_file(&one_page(content.as_bytes(), FONTS)), &ParseLimits::default());
    assert_eq!(reason, "graphics state saved (q) more than 4096 levels deep");
}

#[test]
fn deeply_nested_arrays_in_content_are_corrupt() {
    // lopdf's parser stops at 100 levels instead of recursing 100k deep.
    let content = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let error = parse_default(&pdf_file(&one_page(content.as_bytes(), FONTS))).err();
    assert!(
        matches!(&error, Some(ParseError::Corrupt(reason)) if reason.contains("InvalidContentStream")),
        "{error:?}"
    );
    // The same in an object: the file still loads, the broken object is skipped.
    let mut objects = one_page(HELLO, FONTS);
    objects.insert(
        6,
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
    );
    assert_eq!(
        parse_default(&pdf_file(&objects)).unwrap().sections[0].text.trim(),
        "Hello hostile world"
    );
}

#[test]
fn too_many_pages() {
    let count = 10_001;
    let kids: String = (0..count).map(|i| format!("{} 0 R ", 10 + i)).collect();
    let mut objects = BTreeMap::from([
        (1, b"<< /Type /Catalog /Pages 2 0 R >>".to_vec()),
        (
            2,
            format!("<< /Type /Pages /Kids [{kids}] /Count {count} /MediaBox [0 0 612 792] >>").into_bytes(),
        ),
        (4, stream("", HELLO)),
        (5, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec()),
    ]);
    for i in 0..count {
        let page = format!("<< /Type /Page /Parent 2 0 R /Resources {FONTS} /Contents 4 0 R >>");
        objects.insert(10 + i, page.into_bytes());
    }
    let bytes = pdf_file(&objects);
    assert_eq!(
        limit_error(&bytes, &ParseLimits::default()),
        "10001 pages exceed the limit of 10000"
    );
    let few = ParseLimits {
        max_pdf_pages: 3,
        ..ParseLimits::default()
    };
    assert_eq!(limit_error(&bytes, &few), "10001 pages exceed the limit of 3");
}

#[test]
fn deadline_stops_extraction() {
    let no_time = ParseLimits {
        max_duration: Duration::ZERO,
        ..ParseLimits::default()
    };
    assert_eq!(
        limit_error(&pdf_file(&one_page(HELLO, FONTS)), &no_time),
        "text extraction ran out of time at page 1"
    );
}

#[test]
fn parent_loop_without_media_box_is_read() {
    // Neither the page nor its parents have a media box, and the parents form a loop:
    // the reader would recurse around it forever looking for one.
    let mut objects = one_page(HELLO, FONTS);
    objects.insert(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 6 0 R >>".to_vec());
    objects.insert(6, b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>".to_vec());
    let doc = parse_default(&pdf_file(&objects)).unwrap();
    assert_eq!(doc.sections[0].text.trim(), "Hello hostile world");
}

/// A page showing `<00410042>` in a Type0 font whose CIDs follow `ordering`, without a ToUnicode map.
fn cid_font_page(ordering: &str) -> Vec<u8> {
    let mut objects = one_page(b"BT /F1 12 Tf 72 700 Td <0041004200430044> Tj ET", FONTS);
    objects.insert(
        5,
        b"<< /Type /Font /Subtype /Type0 /BaseFont /Mystery /Encoding /Identity-H /DescendantFonts [6 0 R] >>".to_vec(),
    );
    let descendant = format!(
        "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /Mystery /FontDescriptor 7 0 R \
         /CIDSystemInfo << /Registry (Adobe) /Ordering ({ordering}) /Supplement 0 >> >>"
    );
    objects.insert(6, descendant.into_bytes());
    objects.insert(7, b"<< /Type /FontDescriptor /FontName /Mystery /Flags 4 >>".to_vec());
    pdf_file(&objects)
}

#[test]
fn cid_font_without_to_unicode_is_unsupported_or_mapped() {
    let error = parse_default(&cid_font_page("Identity")).err();
    let reason = "CID font without ToUnicode map (Mystery): 4 glyphs cannot be turned into text";
    assert_eq!(error, Some(ParseError::UnsupportedContent(reason.into())));
    assert_eq!(
        error.map(|e| crate::stages::ingest::FileError::from(&e)),
        Some(crate::stages::ingest::FileError::UnsupportedContent)
    );
    // The same CIDs in Adobe-Japan1 are known: CIDs 0x41..0x44 are "`", "a", "b", "c".
    let doc = parse_default(&cid_font_page("Japan1")).unwrap();
    assert_eq!(doc.sections[0].text.trim(), "`abc");
}
