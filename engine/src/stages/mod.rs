//! The stages of a pipeline, one folder per kind: its config types (1:1 with YAML, a
//! doc comment per field, which becomes the JSON Schema), its `compile()`, and the
//! runtime `compile` builds.
//!
//! - `ingest/`: the ingest sub-stages `sources`, `parse`, `chunk`, `tag`, `embed`, and
//!   the document `store`;
//! - query stages: `guard/` (the query, then the answer), `retrieve/`, `route/`, `generate/`,
//!   and `cache/` (answers served again, being built);
//! - `remote.rs`: what every stage that calls a remote service shares (`aws:`, `retry:`).
//!
//! Every stage says its name and the files it was compiled from ([`Stage`]), and runs
//! through [`Run`] (in place) or [`RunAsync`] (waiting on a remote service) with its
//! role's input and output. `pipeline/` runs them in order.

pub mod cache;
pub mod generate;
pub mod guard;
pub mod ingest;
pub mod remote;
pub mod retrieve;
pub mod route;

use std::future::Future;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::telemetry::spans;
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

/// A stage that works in place (the CPU, the index, a script): one input in, one
/// output out. Each role has its own input and output.
pub trait Run: Stage {
    type Input<'a>;
    type Output;
    type Error: std::fmt::Display;

    /// The span this run goes in: by default one named after the stage; retrieval
    /// names its index, an embedding batch its model.
    fn span(&self, pipeline: &str, _input: &Self::Input<'_>) -> tracing::Span {
        spans::stage(pipeline, self.name())
    }

    /// Run the stage once.
    ///
    /// # Errors
    /// The stage's own error type.
    fn run(&self, input: Self::Input<'_>) -> Result<Self::Output, Self::Error>;
}

/// A stage that waits on a remote service (a model, a guardrail).
pub trait RunAsync: Stage + Sync {
    type Input<'a>: Send
    where
        Self: 'a;
    type Output;
    type Error: std::fmt::Display;

    /// What this run is called in spans and metrics (by default the stage's name; the
    /// guard says which text it checks).
    fn label(&self, _input: &Self::Input<'_>) -> &'static str {
        self.name()
    }

    /// The span this run goes in: by default one named by [`RunAsync::label`]; a model
    /// call is a GenAI `chat {model}` span.
    fn span(&self, pipeline: &str, input: &Self::Input<'_>) -> tracing::Span {
        spans::stage(pipeline, self.label(input))
    }

    /// Run the stage once.
    ///
    /// # Errors
    /// The stage's own error type.
    fn run<'a>(&'a self, input: Self::Input<'a>)
    -> impl Future<Output = Result<Self::Output, Self::Error>> + Send + 'a;
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
