//! The ingest executor: one batch through the ingest sub-stages, file by file —
//! read, parse, chunk, tag (`prepare`), then embed and write in groups — with a report
//! per file. A file that fails is reported and skipped; it never aborts the batch.
//! Each group is one store transaction, so a crash loses at most the group in flight
//! and never corrupts what was committed.

mod prepare;
mod report;

use std::time::Instant;

use self::prepare::{Failed, Pending, Prepared, prepare, title_of};
pub use self::report::{FileOutcome, FileReport, IngestError, IngestReport};
use crate::pipeline::Pipeline;
use crate::pipeline::step::step;
use crate::providers::ProviderError;
use crate::providers::embed::Embedder;
use crate::stages::ingest::IngestStage;
use crate::stages::ingest::embed::embedding_text;
use crate::stages::ingest::parse::ParseError;
use crate::stages::ingest::sources::IngestInput;
use crate::stages::ingest::tag::{TagError, TagInput};
use crate::store::{EmbedderInfo, Index, NewChunk, NewDocument};
use crate::telemetry::record;
use crate::vocab::Filter;
use crate::vocab::Metadata;

/// Chunks per embedding call and store transaction.
const WRITE_BATCH: usize = 256;

/// Why a dry run of the tag rule gave no metadata.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Tag(#[from] TagError),
}

impl Pipeline {
    /// The metadata the tag rule gives the file `file_name` (named `source`) with
    /// `bytes`, without indexing it: what `ragline tag` prints.
    ///
    /// # Errors
    /// [`DryRunError`] when the file cannot be parsed or its metadata is refused.
    pub fn dry_run_tag(&self, source: &str, file_name: &str, bytes: &[u8]) -> Result<Metadata, DryRunError> {
        let stage = &self.spec.ingest;
        let parsed = step(&self.spec.name, &stage.limits, (file_name, bytes))?;
        let title = title_of(&parsed, file_name);
        let input = TagInput::new(source, file_name, &title, &parsed, stage.defaults.clone());
        Ok(step(&self.spec.name, &stage.tag, (&input, &self.spec.retrieve.filter))?)
    }
}

/// Where a batch goes.
pub struct IngestTarget<'a> {
    /// The pipeline's name, for logs.
    pub pipeline: &'a str,
    pub stage: &'a IngestStage,
    /// What the pipeline may hold: documents outside it are refused.
    pub allowed: &'a Filter,
    pub index: &'a Index,
    pub embedder: &'a dyn Embedder,
}

/// Ingest `inputs` into `target`, calling `on_file` after each file.
///
/// # Errors
/// [`IngestError`] when the store or the embedder fails; per-file problems are in the report.
pub fn ingest(
    target: &IngestTarget<'_>,
    inputs: Vec<IngestInput>,
    on_file: &mut dyn FnMut(&FileReport),
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let mut report = IngestReport::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut pending_chunks = 0;
    for input in inputs {
        let file_report = match prepare(target, input) {
            Ok(Prepared::Changed(doc)) => {
                pending_chunks += doc.chunks.len();
                pending.push(*doc);
                if pending_chunks >= WRITE_BATCH {
                    flush(target, &mut pending, &mut report, on_file)?;
                    pending_chunks = 0;
                }
                continue;
            }
            Ok(Prepared::Unchanged(r)) | Err(Failed(r)) => r,
        };
        report_file(target, &mut report, file_report, on_file);
    }
    flush(target, &mut pending, &mut report, on_file)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Count one file's result and hand it to `on_file`.
fn report_file(
    target: &IngestTarget<'_>,
    report: &mut IngestReport,
    file: FileReport,
    on_file: &mut dyn FnMut(&FileReport),
) {
    let outcome = match &file.outcome {
        FileOutcome::Ingested { .. } => "ingested",
        FileOutcome::Unchanged { .. } => "unchanged",
        FileOutcome::Failed { error, .. } => error.code(),
    };
    record::ingest_file(target.pipeline, outcome);
    on_file(&file);
    report.files.push(file);
}

/// Embed the pending documents' chunks in one call (so the model can batch by length
/// across documents), then write them in one store transaction.
fn flush(
    target: &IngestTarget<'_>,
    pending: &mut Vec<Pending>,
    report: &mut IngestReport,
    on_file: &mut dyn FnMut(&FileReport),
) -> Result<(), IngestError> {
    if pending.is_empty() {
        return Ok(());
    }
    let pending = std::mem::take(pending);
    let texts: Vec<String> = pending
        .iter()
        .flat_map(|d| {
            d.chunks
                .iter()
                .map(|c| embedding_text(&d.record.title, c.section.as_deref(), &c.text))
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let started = Instant::now();
    let embedded = step(target.pipeline, &target.stage.embed, (target.embedder, &refs))?;
    let seconds = started.elapsed().as_secs_f64();
    record::embeddings(target.pipeline, target.embedder.id(), seconds, embedded.tokens as u64);
    if embedded.vectors.len() != texts.len() {
        return Err(
            ProviderError::Inference(format!("{} vectors for {} chunks", embedded.vectors.len(), texts.len())).into(),
        );
    }
    report.embedding_tokens += embedded.tokens;
    report.chunks += texts.len();
    let mut vectors = embedded.vectors.into_iter();
    let mut reports = Vec::with_capacity(pending.len());
    let docs: Vec<NewDocument> = pending
        .into_iter()
        .map(|Pending { record, chunks }| {
            reports.push(FileReport {
                source: record.source.clone(),
                outcome: FileOutcome::Ingested {
                    document_id: record.id.clone(),
                    chunks: chunks.len(),
                },
            });
            let chunks = chunks
                .into_iter()
                .zip(vectors.by_ref())
                .map(|(c, vector)| NewChunk {
                    text: c.text,
                    page: c.page,
                    section: c.section,
                    vector,
                })
                .collect();
            NewDocument { record, chunks }
        })
        .collect();
    let info = EmbedderInfo {
        id: target.embedder.id().to_owned(),
        dims: target.embedder.dims(),
    };
    target.index.write(&info, docs, &[])?;
    for r in reports {
        report_file(target, report, r, on_file);
    }
    Ok(())
}
