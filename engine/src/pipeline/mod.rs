//! The executor: a [`Pipeline`] runs its compiled stages in order, for a query
//! ([`query`]: guard, retrieve, route, generate, guard) or an ingest batch
//! ([`ingest`]: sources, parse, chunk, tag, embed, store). A [`Snapshot`] holds every
//! compiled pipeline behind one `ArcSwap`, and the [`Engine`] owns it plus the shared
//! [`Resources`]. A request loads one snapshot and uses it to the end; a reload builds
//! a new one and swaps it in only when everything compiled.

mod engine;
pub mod ingest;
mod prompt_listing;
pub mod query;
mod reload_status;
mod resources;
pub mod spend;
mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use engine::{Engine, ReloadOutcome};
pub use prompt_listing::{PromptInfo, PromptVersionInfo, VersionUsage};
pub use query::{Answer, FallbackInfo, Query, QueryError, QueryEvent, QueryStream, RouteInfo, now_ms};
pub use reload_status::{ReloadFailure, ReloadState, ReloadStatus};
pub use resources::Resources;

use self::ingest::{IngestError, IngestReport, IngestTarget};
use crate::config::access::Access;
use crate::config::{self, PipelineSpec};
use crate::providers::ProviderError;
use crate::providers::docstore::DocStore;
use crate::providers::embed::Embedder;
use crate::stages::ingest::sources::IngestInput;
use crate::store::analytics::QueryLog;
use crate::store::{Index, IndexOptions, StoreError};
use crate::vocab::{ConfigError, Diagnostic, Filter};

/// A compiled pipeline with access to the shared resources.
pub struct Pipeline {
    pub spec: PipelineSpec,
    resources: Arc<Resources>,
}

impl Pipeline {
    /// A pipeline over `resources` (e.g. a temporary index for an evaluation).
    pub fn new(spec: PipelineSpec, resources: Arc<Resources>) -> Pipeline {
        Pipeline { spec, resources }
    }

    /// The query log its answers go to, when it could be opened.
    pub fn query_log(&self) -> Option<&Arc<QueryLog>> {
        self.resources.query_log()
    }

    /// The pipeline's index.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be opened.
    pub fn index(&self) -> Result<Arc<Index>, StoreError> {
        self.resources.index(&self.spec.index, &index_options(&self.spec))
    }

    /// The pipeline's embedder.
    ///
    /// # Errors
    /// [`ProviderError`] when the model cannot be loaded.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>, ProviderError> {
        self.resources.embedder(&self.spec.ingest.embed)
    }

    /// The pipeline's document store (`ingest.store`, or its default directory).
    pub fn docstore(&self) -> Arc<DocStore> {
        self.resources
            .docstores
            .get(&self.spec.ingest.store, &self.spec.name, self.resources.data_dir())
    }

    /// The files of the pipeline's `dir` sources, named relative to `base`: the sources
    /// sub-stage (blocking).
    ///
    /// # Errors
    /// A source that cannot be read, with its path.
    pub fn source_inputs(&self, base: &Path) -> Result<Vec<IngestInput>, std::io::Error> {
        step::step(&self.spec.name, &self.spec.ingest.sources, base)
    }

    /// Ingest files (blocking: call from a blocking thread in async code).
    ///
    /// # Errors
    /// [`IngestError`] when the store or embedder fails; per-file problems are in the report.
    pub fn ingest(
        &self,
        inputs: Vec<IngestInput>,
        on_file: &mut dyn FnMut(&ingest::FileReport),
    ) -> Result<IngestReport, IngestError> {
        self.ingest_within(&self.spec.retrieve.filter, inputs, on_file)
    }

    /// [`Pipeline::ingest`], refusing any file whose metadata, after tagging, is
    /// outside `allowed` (the pipeline's filter, narrowed by an API key's grant).
    ///
    /// # Errors
    /// As [`Pipeline::ingest`].
    pub fn ingest_within(
        &self,
        allowed: &Filter,
        inputs: Vec<IngestInput>,
        on_file: &mut dyn FnMut(&ingest::FileReport),
    ) -> Result<IngestReport, IngestError> {
        let index = self.index()?;
        let embedder = self.embedder()?;
        let target = IngestTarget {
            pipeline: &self.spec.name,
            stage: &self.spec.ingest,
            allowed,
            index: &index,
            embedder: embedder.as_ref(),
        };
        ingest::ingest(&target, inputs, on_file)
    }
}

/// The options a pipeline opens its index with.
pub fn index_options(spec: &PipelineSpec) -> IndexOptions {
    IndexOptions {
        stemming: spec.retrieve.stemming,
        title_boost: spec.retrieve.title_boost,
        context_chunks: spec.retrieve.context_chunks,
        ..IndexOptions::default()
    }
}

/// Every pipeline of the config directory, compiled together.
pub struct Snapshot {
    pub pipelines: BTreeMap<String, Arc<Pipeline>>,
    /// The roles of `access.yaml`; `None` without the file (the server runs open).
    pub access: Option<Arc<Access>>,
}

impl Snapshot {
    /// Every file the pipelines were compiled from.
    pub fn files(&self) -> BTreeSet<PathBuf> {
        let access = self.access.iter().map(|a| a.file.clone());
        self.pipelines
            .values()
            .flat_map(|p| p.spec.files_to_watch())
            .chain(access)
            .collect()
    }
}

impl Snapshot {
    /// Compile every pipeline of `config_dir`. Pipelines sharing an index must share an embedder.
    ///
    /// # Errors
    /// Every problem in every file.
    pub fn load(config_dir: &Path, resources: &Arc<Resources>) -> Result<Snapshot, ConfigError> {
        let specs = config::load_dir(config_dir)?;
        let mut diagnostics = Vec::new();
        for (i, a) in specs.iter().enumerate() {
            for b in specs[..i].iter().filter(|b| b.index == a.index) {
                let (ra, rb) = (&a.retrieve, &b.retrieve);
                let conflict = if !b.ingest.embed.same_vectors(&a.ingest.embed) {
                    Some("embeds with another model")
                } else if (ra.stemming, ra.title_boost, ra.context_chunks)
                    != (rb.stemming, rb.title_boost, rb.context_chunks)
                {
                    Some("has other retrieve.keyword settings")
                } else {
                    None
                };
                if let Some(what) = conflict {
                    diagnostics.push(Diagnostic::file(
                        &a.file,
                        format!("index `{}` is shared with pipeline `{}`, which {what}; pipelines sharing an index must agree", a.index, b.name),
                    ));
                }
            }
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics.into());
        }
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let access = Access::load(config_dir, &names)?.map(Arc::new);
        let pipelines = specs
            .into_iter()
            .map(|spec| {
                (
                    spec.name.clone(),
                    Arc::new(Pipeline {
                        spec,
                        resources: resources.clone(),
                    }),
                )
            })
            .collect();
        Ok(Snapshot { pipelines, access })
    }
}
