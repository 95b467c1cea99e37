use std::io::{Cursor, Write};

use super::*;
use crate::stages::ingest::FileError;

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docs/");

/// Every sample document and its outcome: `ok` and a text it must contain (`\n`, `\t`
/// escaped), or `err` and the error code.
const EXPECTED: &str = r"
docx/docx2python-240-DOP-1013A_Lay_Down_Tubulars.docx | ok | Lay Down Tubulars | Job Location: | Rig Floor
docx/docx2python-Weekly_Schedule.docx | ok | Week 1 | 1/5 | Tuesday | Math Lab
docx/docx2python-comments.docx | ok | Par2\nPar3\nPar4
docx/docx2python-created-in-pages-bulleted-lists.docx | ok | cross the road?\nJust because
docx/docx2python-example.docx | ok | Nested | Table A | B\nTab\tdelimited\ttext\n10 < 20 and 20 > 10
docx/docx2python-libreoffice_conversion.docx | ok | 招标编号：DYBWCG2021-JZ-019-1
docx/docx2python-merged_cells.docx | ok | 12-0 | 1-1 | 1-2 | 1-3
docx/docx2python-strict.docx | ok | Number2\nCellaa | Cellab\nCellba | Cellbb
docx/docx2python-test-docx2python-conversion-google_docs.docx | ok | Pop-up lomo waistcoat
docx/docx2python-zen_of_python.docx | ok | Beautiful is better than ugly.\nExplicit is better
docx/mammoth-footnotes.docx | ok | A tachyon walks into a bar.\n Fin.
docx/mammoth-tables.docx | ok | Above\nTop left | Top right\nBottom left | Bottom right\nBelow
docx/mammoth-text-box.docx | ok | Datum plane
docx/mammoth-utf8-bom.docx | ok | This XML has a byte order mark.
docx/python-docx-having-images.docx | err | empty
docx/python-docx-test.docx | ok | python-docx was here!\npython-docx was here too!
html/golang-effective_go.html | ok | Go is an open-source programming language that focuses on simplicity
html/golang-gc-guide.html | ok | This guide is intended to aid advanced Go users
html/pypdf-habibi.html | ok | حَبيبي habibi
md/golang-faq.md | ok | At the time of Go's inception in 2007
md/rust-book-ch04-01-what-is-ownership.md | ok | _Ownership_ is a set of rules
md/rust-book-ch04-02-references-and-borrowing.md | ok | A reference is like a pointer
pdf/pdfminer-aes-256-password-foo.pdf | err | encrypted
pdf/pdfminer-issue-449-vertical.pdf | ok | Vertical
pdf/pdfminer-jo-japanese.pdf | ok | わたくしといふ現象は假定された有機交流電燈のひとつの青い照明です
pdf/pdfminer-simple1.pdf | ok | Hello World
pdf/pdfminer-zen_of_python_corrupted.pdf | ok | Beautiful is better than ugly.
pdf/pypdf-GeoTopo-komprimiert-117p.pdf | ok | Geometrie und Topologie
pdf/pypdf-encrypted-openpassword.pdf | err | encrypted
pdf/pypdf-google-doc-document.pdf | ok | ugly.
pdf/pypdf-habibi-rotated-arabic.pdf | ok | habibi
pdf/pypdf-imagemagick-images-no-text.pdf | err | no_text
pdf/pypdf-libreoffice-writer.pdf | ok | Lorem ipsum dolor sit amet, consetetur sadipscing elitr
pdf/pypdf-multicolumn.pdf | ok | Two-Column Document with Lorem Ipsum
pdf/pypdf-pdflatex-4-pages.pdf | ok | Hello, here is some text without a meaning.
";

/// `jo-japanese.pdf` draws its text in a CID font (Identity-V, Adobe-Japan1) without a
/// ToUnicode map; the text comes from Adobe's CID table (see `pdf/cid.rs`).
#[test]
fn every_sample_document_has_a_pinned_outcome() {
    let mut on_disk = Vec::new();
    for dir in ["docx", "html", "md", "pdf"] {
        for entry in std::fs::read_dir(format!("{DOCS}{dir}")).unwrap() {
            on_disk.push(format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy()));
        }
    }
    on_disk.sort();
    let table: Vec<Vec<&str>> = EXPECTED.trim().lines().map(|l| l.splitn(3, " | ").collect()).collect();
    let pinned: Vec<&str> = table.iter().map(|row| row[0]).collect();
    assert_eq!(on_disk, pinned, "every sample file needs an expected outcome");
    for row in &table {
        let (name, outcome, detail) = (row[0], row[1], row[2].replace(r"\n", "\n").replace(r"\t", "\t"));
        let bytes = std::fs::read(format!("{DOCS}{name}")).unwrap();
        let doc = match parse(name, &bytes, &ParseLimits::default()) {
            Ok(doc) if outcome == "ok" => doc,
            Err(error) if outcome == "err" && FileError::from(&error).code() == detail => continue,
            other => panic!("{name}: expected {outcome} {detail}, got {:?}", other.map(|d| d.title)),
        };
        assert_eq!(Some(doc.format), detect_format(name));
        assert!(
            doc.sections.iter().all(|s| !s.text.trim().is_empty()),
            "{name}: blank section"
        );
        let text: Vec<&str> = doc.sections.iter().map(|s| s.text.as_str()).collect();
        assert!(text.concat().contains(&detail), "{name}: {detail:?} missing");
    }
}

#[test]
fn unsupported_too_large_and_empty() {
    let limits = ParseLimits::default();
    let error = |name, bytes: &[u8], limits| parse(name, bytes, limits).err();
    assert_eq!(
        error("sheet.XLSX", b"x", &limits),
        Some(ParseError::Unsupported(".XLSX".into()))
    );
    assert_eq!(
        error("README", b"x", &limits),
        Some(ParseError::Unsupported("README".into()))
    );
    let mut tiny = limits;
    tiny.max_file_bytes = 8;
    let too_large = Some(ParseError::TooLarge { size: 9, limit: 8 });
    assert_eq!(error("a.pdf", b"123456789", &tiny), too_large);
    assert_eq!(parse("a.TXT", b"\n\n  1234", &tiny).unwrap().sections[0].text, "  1234");
    assert_eq!(error("a.txt", b" \n\t\n", &limits), Some(ParseError::Empty));
    assert_eq!(
        error("a.md", b"---\ntitle: x\n---\n\n", &limits),
        Some(ParseError::Empty)
    );
    assert_eq!(
        error("a.html", b"<script>x()</script><!-- c -->", &limits),
        Some(ParseError::Empty)
    );
}

/// A zip holding `word/document.xml` with `xml`, deflated.
fn docx_with(xml: &[u8]) -> Vec<u8> {
    docx_with_parts(&[("word/document.xml", xml)])
}

/// A zip holding `parts` (name, content), deflated.
fn docx_with_parts(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in parts {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn docx_decompression_is_bounded() {
    let body = "a".repeat(1 << 20);
    let bytes = docx_with(format!("<document><body><p><r><t>{body}</t></r></p></body></document>").as_bytes());
    assert!(bytes.len() < 16 * 1024, "fixture should compress well");
    let limits = ParseLimits {
        max_decompressed_bytes: 64 * 1024,
        ..ParseLimits::default()
    };
    let expected = "decompressed parts exceed the limit of 65536 bytes (at word/document.xml)";
    let error = parse("bomb.docx", &bytes, &limits).err();
    assert_eq!(error, Some(ParseError::LimitExceeded(expected.into())));
    assert_eq!(error.map(|e| FileError::from(&e)), Some(FileError::LimitExceeded));
    let doc = parse("bomb.docx", &bytes, &ParseLimits::default()).unwrap();
    assert_eq!(doc.sections[0].text.len(), 1 << 20);
}

#[test]
fn docx_budget_covers_every_part_read() {
    let document = b"<document><body><p><r><t>short</t></r></p></body></document>".as_slice();
    let big = format!("<x>{}</x>", " ".repeat(1 << 20));
    let limits = ParseLimits {
        max_decompressed_bytes: 64 * 1024,
        ..ParseLimits::default()
    };
    for part in [
        "word/styles.xml",
        "word/footnotes.xml",
        "word/endnotes.xml",
        "docProps/core.xml",
    ] {
        let bytes = docx_with_parts(&[("word/document.xml", document), (part, big.as_bytes())]);
        let expected = format!("decompressed parts exceed the limit of 65536 bytes (at {part})");
        assert_eq!(
            parse("bomb.docx", &bytes, &limits).err(),
            Some(ParseError::LimitExceeded(expected))
        );
    }
    // Parts that are not read (headers, images) cost nothing.
    let ignored = docx_with_parts(&[("word/document.xml", document), ("word/header1.xml", big.as_bytes())]);
    assert_eq!(parse("a.docx", &ignored, &limits).unwrap().sections[0].text, "short");
}

#[test]
fn docx_nesting_is_bounded() {
    // Tables nested 50k deep (a cell's text is copied into every enclosing cell).
    let depth = 50_000;
    let xml = format!(
        "<document><body>{}<p><r><t>deep</t></r></p>{}</body></document>",
        "<tbl><tr><tc>".repeat(depth),
        "</tc></tr></tbl>".repeat(depth)
    );
    let expected = "XML elements nested deeper than 256 levels (in word/document.xml)";
    assert_eq!(
        parse("deep.docx", &docx_with(xml.as_bytes()), &ParseLimits::default()).err(),
        Some(ParseError::LimitExceeded(expected.into()))
    );
    // Within the limit, nested tables keep their text.
    let xml = format!(
        "<document><body>{}<p><r><t>deep</t></r></p>{}</body></document>",
        "<tbl><tr><tc>".repeat(20),
        "</tc></tr></tbl>".repeat(20)
    );
    let doc = parse("nested.docx", &docx_with(xml.as_bytes()), &ParseLimits::default()).unwrap();
    assert_eq!(doc.sections[0].text, "deep");
}

#[test]
fn docx_that_is_not_a_package_is_corrupt() {
    let limits = ParseLimits::default();
    assert!(matches!(
        parse("a.docx", b"plain text", &limits),
        Err(ParseError::Corrupt(_))
    ));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("other.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    let no_document = zip.finish().unwrap().into_inner();
    let missing = ParseError::Corrupt("missing part: word/document.xml".into());
    assert_eq!(parse("a.docx", &no_document, &limits).err(), Some(missing));
    let mut cfb = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 legacy .doc".to_vec();
    assert!(matches!(parse("a.docx", &cfb, &limits), Err(ParseError::Corrupt(_))));
    cfb.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(parse("a.docx", &cfb, &limits).err(), Some(ParseError::Encrypted));
    let only_images = docx_with(b"<document><body><p><r><drawing/></r></p></body></document>");
    assert_eq!(parse("a.docx", &only_images, &limits).err(), Some(ParseError::Empty));
}

#[test]
fn docx_markup_headings_and_tables() {
    let xml = br#"<w:document xmlns:w="urn:w"><w:body>
        <w:p><w:pPr><w:pStyle w:val="Heading1"/><w:tabs><w:tab w:val="left"/></w:tabs></w:pPr><w:r><w:t>Intro</w:t></w:r></w:p>
        <w:p><w:r><w:t xml:space="preserve">a &amp; b</w:t><w:tab/><w:t>c</w:t><w:br/><w:t>d&#233;</w:t></w:r></w:p>
        <w:p><w:r><w:delText>gone</w:delText></w:r><w:del><w:r><w:t>deleted</w:t></w:r></w:del></w:p><w:p/>
        <w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Sub</w:t></w:r></w:p><w:p><w:r><w:t>x</w:t></w:r></w:p>
        <w:tbl><w:tr><w:tc><w:p><w:r><w:t>c1</w:t></w:r></w:p><w:p><w:r><w:t>more</w:t></w:r></w:p></w:tc>
        <w:tc><w:p><w:r><w:t>c2</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
        </w:body></w:document>"#;
    let doc = parse("a.docx", &docx_with(xml), &ParseLimits::default()).unwrap();
    assert_eq!(
        doc.title.as_deref(),
        Some("Intro"),
        "first level-1 heading when core.xml has no title"
    );
    let got: Vec<_> = doc.sections.into_iter().map(|s| (s.heading, s.text)).collect();
    let expected = [
        ("Intro", "Intro\na & b\tc\ndé"),
        ("Intro > Sub", "Sub\nx\nc1 more | c2"),
    ];
    assert_eq!(got, expected.map(|(h, t)| (Some(h.to_owned()), t.to_owned())));
}
