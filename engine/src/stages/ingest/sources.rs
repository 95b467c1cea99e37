//! The sources sub-stage: where documents come from. A pipeline's `dir` sources are
//! walked recursively; uploads and synced objects arrive as bytes, dataset records as
//! text.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::stages::{CompileCx, Run, Stage};
use crate::vocab::{Diagnostic, Metadata};

/// One source of documents.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A directory, read recursively. Relative paths resolve against the pipeline file.
    Dir(#[schemars(with = "String")] Spanned<PathBuf>),
}

/// The checked sources: directories, resolved against the pipeline file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// Absolute, or relative to the working directory.
    pub dirs: Vec<PathBuf>,
}

impl Stage for Sources {
    fn name(&self) -> &'static str {
        "sources"
    }
}

/// Check `ingest.sources`: every directory must exist. Problems go to `cx`.
pub fn compile(cx: &mut CompileCx<'_>, sources: &[SourceConfig]) -> Sources {
    let mut dirs = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        match source {
            SourceConfig::Dir(dir) => {
                let path = cx.resolve(&dir.value);
                if !path.is_dir() {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        dir,
                        format!("ingest.sources[{i}].dir"),
                        format!("directory not found: {}", path.display()),
                    ));
                }
                dirs.push(path);
            }
        }
    }
    Sources { dirs }
}

/// Every file of the pipeline's directories, named relative to the given base (see
/// [`collect_inputs`]).
impl Run for Sources {
    type Input<'a> = &'a Path;
    type Output = Vec<IngestInput>;
    type Error = std::io::Error;

    fn run(&self, base: &Path) -> Result<Vec<IngestInput>, std::io::Error> {
        collect_inputs(&self.dirs, base)
    }
}

/// One file to ingest.
#[derive(Debug, Clone)]
pub enum IngestInput {
    /// A file on disk; `source` is how it is named in the index (stable across runs).
    File { path: PathBuf, source: String },
    /// Uploaded or downloaded bytes; `metadata` overrides the pipeline's defaults, and
    /// `origin` (see [`crate::store::DocumentRecord::origin`]) names the stored original they came from.
    Bytes {
        name: String,
        source: String,
        bytes: Vec<u8>,
        metadata: Option<Metadata>,
        origin: Option<String>,
    },
    /// Text that needs no parsing (e.g. a dataset record); `source` names it.
    Text {
        source: String,
        title: String,
        text: String,
        metadata: Option<Metadata>,
    },
}

impl IngestInput {
    /// The name used in reports.
    pub fn source(&self) -> &str {
        match self {
            IngestInput::File { source, .. } | IngestInput::Bytes { source, .. } | IngestInput::Text { source, .. } => {
                source
            }
        }
    }
}

/// The files under `paths` (files as given, directories walked recursively in
/// name order; hidden entries skipped). Sources are named relative to `base`
/// when inside it, so an index built from a checkout names files the same everywhere.
///
/// # Errors
/// A path that does not exist or cannot be read, with the path.
pub fn collect_inputs(paths: &[PathBuf], base: &Path) -> Result<Vec<IngestInput>, std::io::Error> {
    let base = base.canonicalize()?;
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(path) = stack.pop() {
        let meta =
            std::fs::metadata(&path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(&path)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                .collect();
            children.sort();
            stack.extend(children.into_iter().rev());
        } else {
            let canonical = path.canonicalize()?;
            let source = canonical
                .strip_prefix(&base)
                .unwrap_or(&canonical)
                .to_string_lossy()
                .into_owned();
            out.push(IngestInput::File { path, source });
        }
    }
    Ok(out)
}
