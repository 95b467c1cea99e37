//! The stages of a pipeline. Each file holds one stage kind: its config type (1:1 with
//! YAML, a doc comment per field, which becomes the JSON Schema) and the runtime type
//! that `compile` builds from it.

pub mod features;
pub mod fusion;
pub mod generate;
pub mod ingest;
pub mod retrieve;
pub mod route;

use std::path::Path;

use crate::config::Diagnostic;

/// What every stage's compile step gets: the pipeline file (for locations and
/// relative paths) and the config directory (for prompts).
pub struct CompileCx<'a> {
    pub file: &'a Path,
    pub config_dir: &'a Path,
    pub diagnostics: Vec<Diagnostic>,
}

impl CompileCx<'_> {
    /// Directory the pipeline file is in; relative paths resolve against it.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// Record a problem and go on, so all problems are reported at once.
    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }
}
