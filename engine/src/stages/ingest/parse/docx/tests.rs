use super::*;

/// (heading, text) of each section of a sample document.
fn sections(name: &str) -> Vec<(Option<String>, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/docs/docx/");
    let bytes = std::fs::read(format!("{path}{name}")).unwrap();
    let doc = parse(&bytes, &ParseLimits::default()).unwrap();
    doc.sections.into_iter().map(|s| (s.heading, s.text)).collect()
}

#[test]
fn notes_text_boxes_and_heading_styles() {
    let footnotes = sections("mammoth-footnotes.docx");
    let expected = (
        Some("Footnotes".to_owned()),
        " A tachyon walks into a bar.\n Fin.\n".to_owned(),
    );
    assert_eq!(footnotes[1], expected);
    let example = sections("docx2python-example.docx");
    let notes: Vec<(Option<&str>, &str)> = example[example.len() - 2..]
        .iter()
        .map(|(h, t)| (h.as_deref(), t.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            (Some("Footnotes"), " First footnote\n Second footnote\n"),
            (Some("Endnotes"), " First endnote\n Second endnote\n")
        ]
    );
    let text_box: String = sections("mammoth-text-box.docx").into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        text_box.trim(),
        "Datum plane",
        "the mc:Fallback copy of the text box is skipped"
    );
    let zen = sections("docx2python-zen_of_python.docx");
    assert_eq!(
        zen[0].1.trim_end(),
        "Contents\nBeautiful is better than ugly.\t1",
        "TOC text kept, field codes not"
    );
    assert_eq!(zen[1].0.as_deref(), Some("Beautiful is better than ugly."));
    assert!(
        zen[1]
            .1
            .starts_with("Beautiful is better than ugly.\nExplicit is better than implicit.\n")
    );
    // Style id "2" is named "Heading 2" in styles.xml.
    let chinese = sections("docx2python-libreoffice_conversion.docx");
    assert!(
        chinese
            .iter()
            .any(|(h, _)| h.as_deref() == Some("第一章 竞争性谈判采购公告"))
    );
}
