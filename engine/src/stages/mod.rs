//! The stages of a pipeline. Each file holds one stage kind: its config type (1:1 with
//! YAML, a doc comment per field, which becomes the JSON Schema) and the runtime type
//! that `compile` builds from it.

pub mod generate;
pub mod guard;
pub mod ingest;
pub mod remote;
pub mod retrieve;
pub mod route;

use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::vocab::diagnostic::Diagnostic;

/// What every stage says about itself, whatever its role.
pub trait Stage {
    /// As logs, spans and metrics name it.
    fn name(&self) -> &'static str;

    /// The files it was compiled from (scripts, prompts), which a reload watches.
    fn files_to_watch(&self) -> Vec<PathBuf> {
        Vec::new()
    }
}

/// What every stage's compile step gets: the pipeline file (for locations and
/// relative paths), the config directory (for prompts) and the price table.
pub struct CompileCx<'a> {
    pub file: &'a Path,
    pub config_dir: &'a Path,
    /// The price table (`pricing.yaml`), for the models' and embedder's prices.
    pub pricing: &'a crate::vocab::pricing::PriceTable,
    pub diagnostics: Vec<Diagnostic>,
}

impl CompileCx<'_> {
    /// Directory the pipeline file is in; relative paths resolve against it.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// `path` relative to the pipeline file, with `a/../` folded away (lexically, so
    /// messages name the file the way a person would).
    pub fn resolve(&self, path: &Path) -> std::path::PathBuf {
        use std::path::Component;
        let mut out = std::path::PathBuf::new();
        for c in self.base_dir().join(path).components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }

    /// `url` without a trailing slash; a diagnostic at `key_path` unless it is http(s).
    pub fn http_url(&mut self, key_path: String, url: &Spanned<String>) -> String {
        if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
            self.push(Diagnostic::spanned(
                self.file,
                url,
                key_path,
                format!("`{}` is not an http:// or https:// URL", url.value),
            ));
        }
        url.value.trim_end_matches('/').to_owned()
    }

    /// Record a problem and go on, so all problems are reported at once.
    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }
}
