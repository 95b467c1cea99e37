//! The text sink handed to `pdf-extract`: plain text of the visible glyphs, a count of
//! glyphs that had no Unicode mapping, and a deadline that stops a page mid-way.

use std::time::Instant;

use pdf_extract::{ColorSpace, MediaBox, OutputDev, OutputError, Path, PlainTextOutput, Transform};

/// How far outside the media box (in points) a glyph origin may lie and still count as visible.
const PAGE_MARGIN: f64 = 1.0;

/// Plain-text output that drops glyphs drawn outside the media box: they are invisible
/// (ImageMagick, for one, writes an off-page "Background" label on image-only pages).
pub(super) struct VisibleText<'a> {
    inner: PlainTextOutput<&'a mut String>,
    /// Media box as (min x, min y, max x, max y).
    page: (f64, f64, f64, f64),
    deadline: Instant,
    /// Set when the deadline stopped the page.
    pub(super) timed_out: bool,
    /// Visible glyphs that decoded to no text (a font without a Unicode mapping).
    pub(super) unmapped: usize,
}

impl<'a> VisibleText<'a> {
    pub(super) fn new(text: &'a mut String, deadline: Instant) -> Self {
        Self {
            inner: PlainTextOutput::new(text),
            page: (0.0, 0.0, 0.0, 0.0),
            deadline,
            timed_out: false,
            unmapped: 0,
        }
    }

    /// An error that ends `pdf-extract`'s walk once the deadline has passed.
    fn check_deadline(&mut self) -> Result<(), OutputError> {
        if Instant::now() >= self.deadline {
            self.timed_out = true;
            return Err(OutputError::FormatError(std::fmt::Error));
        }
        Ok(())
    }
}

impl OutputDev for VisibleText<'_> {
    fn begin_page(
        &mut self,
        number: u32,
        media: &MediaBox,
        art: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.check_deadline()?;
        self.page = (
            media.llx.min(media.urx),
            media.lly.min(media.ury),
            media.llx.max(media.urx),
            media.lly.max(media.ury),
        );
        self.inner.begin_page(number, media, art)
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.inner.end_page()
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        size: f64,
        ch: &str,
    ) -> Result<(), OutputError> {
        let (x0, y0, x1, y1) = self.page;
        let (x, y) = (trm.m31, trm.m32);
        if x < x0 - PAGE_MARGIN || x > x1 + PAGE_MARGIN || y < y0 - PAGE_MARGIN || y > y1 + PAGE_MARGIN {
            return Ok(());
        }
        if ch.is_empty() {
            self.unmapped += 1;
        }
        self.inner.output_character(trm, width, spacing, size, ch)
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.check_deadline()?;
        self.inner.begin_word()
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        self.inner.end_word()
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        self.inner.end_line()
    }

    fn stroke(&mut self, _: &Transform, _: &ColorSpace, _: &[f64], _: &Path) -> Result<(), OutputError> {
        self.check_deadline()
    }

    fn fill(&mut self, _: &Transform, _: &ColorSpace, _: &[f64], _: &Path) -> Result<(), OutputError> {
        self.check_deadline()
    }
}
