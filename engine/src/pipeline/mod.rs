//! Runtime pipelines: a [`Snapshot`] of every compiled pipeline behind one
//! `ArcSwap`, and the [`Engine`] that owns it plus the shared [`Resources`].
//! A request loads one snapshot and uses it to the end.

mod query;
mod resources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use query::{OneOrMany, QueryError, QueryRequest, QueryResponse, RouteInfo, Source, Usage};
pub use resources::Resources;

use crate::config::{self, ConfigError, Diagnostic, PipelineSpec};
use crate::ingest::{self, IngestError, IngestInput, IngestReport, IngestTarget};
use crate::providers::ProviderError;
use crate::providers::embed::Embedder;
use crate::store::{Index, IndexOptions, StoreError};

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

    /// The pipeline's index.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be opened.
    pub fn index(&self) -> Result<Arc<Index>, StoreError> {
        let r = &self.spec.retrieve;
        let options = IndexOptions {
            stemming: r.stemming,
            title_boost: r.title_boost,
            context_chunks: r.context_chunks,
            ..IndexOptions::default()
        };
        self.resources.index(&self.spec.index, &options)
    }

    /// The pipeline's embedder.
    ///
    /// # Errors
    /// [`ProviderError`] when the model cannot be loaded.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>, ProviderError> {
        self.resources.embedder(&self.spec.ingest.embed)
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
        let index = self.index()?;
        let embedder = self.embedder()?;
        let target = IngestTarget {
            stage: &self.spec.ingest,
            allowed: &self.spec.retrieve.filter,
            index: &index,
            embedder: embedder.as_ref(),
        };
        ingest::ingest(&target, inputs, on_file)
    }
}

/// Every pipeline of the config directory, compiled together.
pub struct Snapshot {
    pub pipelines: BTreeMap<String, Arc<Pipeline>>,
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
                let conflict = if b.ingest.embed != a.ingest.embed {
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
        Ok(Snapshot { pipelines })
    }
}

/// The running engine: config directory, shared resources, current snapshot.
pub struct Engine {
    pub config_dir: PathBuf,
    pub resources: Arc<Resources>,
    snapshot: ArcSwap<Snapshot>,
}

impl Engine {
    /// Load every pipeline of `config_dir`.
    ///
    /// # Errors
    /// Every problem in the config.
    pub fn load(config_dir: PathBuf, resources: Resources) -> Result<Engine, ConfigError> {
        let resources = Arc::new(resources);
        let snapshot = Snapshot::load(&config_dir, &resources)?;
        Ok(Engine {
            config_dir,
            resources,
            snapshot: ArcSwap::from_pointee(snapshot),
        })
    }

    /// The current snapshot; hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Rebuild the snapshot from disk and swap it in only if everything compiled.
    ///
    /// # Errors
    /// The problems found; the old snapshot keeps serving.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let snapshot = Snapshot::load(&self.config_dir, &self.resources)?;
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }
}
