//! Sample documents: content, reading order and page numbers.

use super::*;

mod hostile;

fn parse_default(bytes: &[u8]) -> Result<Extracted, ParseError> {
    parse(bytes, &ParseLimits::default())
}

fn read(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/docs/pdf/");
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
fn ten_k_pages_numbered_and_timed() {
    let bytes = read("financebench-3M_2018_10K.pdf");
    let started = std::time::Instant::now();
    let doc = parse_default(&bytes).unwrap();
    eprintln!("3M 10-K: {} pages in {:?}", doc.sections.len(), started.elapsed());
    assert_eq!(doc.sections.len(), 160);
    let numbers: Vec<u32> = doc.sections.iter().filter_map(|s| s.page).collect();
    assert_eq!(numbers, (1..=160).collect::<Vec<_>>());
    assert_eq!(doc.title.as_deref(), Some("10-K - 02/07/2019 - 3M Company"));
    assert!(page(&doc, 1).contains("3M COMPANY"));
    assert!(page(&doc, 1).contains("For the fiscal year ended December 31, 2018"));
    // The table of contents (page 2) puts "Risk Factors" on page 10, the balance sheet on 58.
    assert!(page(&doc, 2).contains("ITEM 1A    Risk Factors   10"));
    assert!(page(&doc, 10).contains("Item 1A.  Risk Factors"));
    assert!(page(&doc, 58).contains("Total current assets     13,709     14,277"));
    // FinanceBench financebench_id_03029 cites page 59 (0-based): the cash flow statement.
    let cash_flows = page(&doc, 60);
    assert!(cash_flows.contains("Consolidated Statement of Cash Flow"));
    assert!(cash_flows.contains("Purchases of property, plant and equipment (PP&E)     (1,577)"));
    assert!(
        !page(&doc, 59).contains("(PP&E)     (1,577)"),
        "page numbers are not shifted"
    );
}

#[test]
fn unreadable_page_is_skipped_not_fatal() {
    // One GeoTopo page makes pdf-extract panic ("missing unicode map and encoding").
    let doc = parse_default(&read("pypdf-GeoTopo-komprimiert-117p.pdf")).unwrap();
    let missing: Vec<u32> = (1..=117)
        .filter(|n| !doc.sections.iter().any(|s| s.page == Some(*n)))
        .collect();
    assert_eq!(missing, [14], "the other pages keep their numbers");
    assert!(page(&doc, 1).contains("Geometrie und Topologie"));
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
