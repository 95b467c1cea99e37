//! Files in, chunks out: parse → chunk → tag → embed → store.

pub mod chunk;
pub mod parse;
pub mod run;

pub use run::{FileOutcome, FileReport, IngestError, IngestInput, IngestReport, IngestTarget, ingest};
