//! Sample documents: content, reading order and page numbers.

use super::*;

mod hostile;

fn parse_default(bytes: &[u8]) -> Result<Extracted, ParseError> {
    parse(bytes, &ParseLimits::default())
}

fn read(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docs/pdf/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

fn page(doc: &Extracted, number: u32) -> &str {
    &doc.sections.iter().find(|s| s.page == Some(number)).unwrap().text
}

#[test]
fn simple1_hello_world() {
    let doc = parse_default(&read("pdfminer-simple1.pdf")).unwrap();
    assert_eq!(doc.sections.len(), 1);
    assert_eq!(doc.sections[0].page, Some(1));
    // No xref table and a wrong stream /Length: read through the repair path.
    let text = &doc.sections[0].text;
    assert!(text.contains("\nHello World\n"), "{text:?}");
}

#[test]
fn long_pdf_pages_numbered_and_timed() {
    // 117 pages of German lecture notes; one page makes pdf-extract panic ("missing
    // unicode map and encoding"): it is skipped, and every other page keeps its number.
    let bytes = read("pypdf-GeoTopo-komprimiert-117p.pdf");
    let started = std::time::Instant::now();
    let doc = parse_default(&bytes).unwrap();
    eprintln!("GeoTopo: {} pages in {:?}", doc.sections.len(), started.elapsed());
    let numbers: Vec<u32> = doc.sections.iter().filter_map(|s| s.page).collect();
    let expected: Vec<u32> = (1..=117).filter(|&n| n != 14).collect();
    assert_eq!(numbers, expected, "the other pages keep their numbers");
    assert_eq!(doc.title.as_deref(), Some("Geometrie und Topologie"));
    assert!(page(&doc, 1).contains("Geometrie und Topologie"));
    // The table of contents (page 4) puts 2.1 on printed page 24 and 2.2 on 29; the
    // printed numbers run 4 behind the PDF's (checked with poppler's pdftotext).
    assert!(page(&doc, 4).contains("Topologische Mannigfaltigkeiten"));
    assert!(page(&doc, 28).contains("2.1 Topologische Mannigfaltigkeiten"));
    // Section 2.2 starts on page 33, whose running head names it; page 32's does not.
    assert!(page(&doc, 33).contains("2.2. DIFFERENZIERBARE MANNIGFALTIGKEITEN"));
    assert!(
        !page(&doc, 32).contains("DIFFERENZIERBARE MANNIGFALTIGKEITEN"),
        "page numbers are not shifted"
    );
}

#[test]
fn off_page_text_is_invisible() {
    // ImageMagick draws a "Background" label outside the 3.84pt media box.
    let expected = ParseError::NoText("none of the 6 pages has extractable text".into());
    assert_eq!(
        parse_default(&read("pypdf-imagemagick-images-no-text.pdf")).err(),
        Some(expected)
    );
}

#[test]
fn garbage_is_corrupt() {
    assert!(matches!(
        parse_default(b"%PDF-1.4\nnot a pdf"),
        Err(ParseError::Corrupt(_))
    ));
    assert!(matches!(parse_default(b"hello"), Err(ParseError::Corrupt(_))));
}

#[test]
fn japanese_vertical_text_from_a_cid_font_without_to_unicode() {
    // Identity-V, Adobe-Japan1-2, no ToUnicode map: mapped through Adobe's CID table.
    let doc = parse_default(&read("pdfminer-jo-japanese.pdf")).unwrap();
    let text = page(&doc, 1);
    let first = text
        .find("わたくしといふ現象は假定された有機交流電燈のひとつの青い照明です")
        .unwrap();
    let title = text.find("序").unwrap();
    let signature = text.find("大正十三年一月廿日").unwrap();
    // Columns run right to left; each column is read top to bottom, in order.
    assert!(title < first && first < signature, "reading order: {text}");
    assert!(text.contains("（ひかりはたもち、その電燈は失はれ）"));
    assert!(text.trim_end().ends_with("宮澤賢治"));
}

#[test]
fn two_columns_read_column_by_column() {
    let doc = parse_default(&read("pypdf-multicolumn.pdf")).unwrap();
    let text = page(&doc, 1);
    // Consecutive lines of the left column stay together (not interleaved with the right one).
    assert!(text.contains("sectetuer id, vulputate a, magna. Donec vehicula\naugue eu neque."));
    assert!(
        text.contains(
            "Quisque ullamcorper placerat ipsum. Cras nibh.\nMorbi vel justo vitae lacus tincidunt ultrices."
        )
    );
    let left_end = text.find("Vestibulum pellentesque felis eu\nmassa.").unwrap();
    let right_start = text.find("Quisque ullamcorper").unwrap();
    assert!(left_end < right_start, "the right column follows the whole left column");
    assert!(
        page(&doc, 2)
            .trim_start()
            .starts_with("lacus vel est. Curabitur consectetuer.")
    );
}

#[test]
fn page_numbers_are_kept() {
    let doc = parse_default(&read("pypdf-pdflatex-4-pages.pdf")).unwrap();
    let numbers: Vec<Option<u32>> = doc.sections.iter().map(|s| s.page).collect();
    assert_eq!(numbers, [Some(1), Some(2), Some(3), Some(4)]);
    for number in 1..=4 {
        // Each page ends with its printed page number.
        let text = page(&doc, number);
        assert!(
            text.trim_end().ends_with(&format!("\n{number}")),
            "page {number}: {text:?}"
        );
        assert!(text.contains("Hello, here is some text without a meaning."));
    }
}

#[test]
fn rotated_arabic_and_vertical_layouts() {
    let doc = parse_default(&read("pypdf-habibi-rotated-arabic.pdf")).unwrap();
    for number in 1..=4 {
        // Right-to-left text comes out in logical order (as typed), on every rotated page.
        assert_eq!(page(&doc, number).trim(), "حَبيبي habibi حَبيبي");
    }
    let doc = parse_default(&read("pdfminer-issue-449-vertical.pdf")).unwrap();
    let words: Vec<&str> = page(&doc, 1).split_whitespace().collect();
    assert_eq!(words, ["Test", "Vertical", "Layout"]);
}
