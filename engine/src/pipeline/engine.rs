//! The running engine: config directory, shared resources, the current snapshot,
//! prompt statistics and the reload status.
//!
//! A reload prepares a whole new snapshot off to the side (fallible: compile every
//! pipeline, prompt and script; check it against the indexes already open; open its
//! indexes and embedders), then swaps it in (infallible). On failure the old
//! snapshot keeps serving and the status records the error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use arc_swap::ArcSwap;

use super::reload_status::ReloadStatus;
use super::{Resources, Snapshot, index_options};
use crate::stages::ingest::embed::EmbedSpec;
use crate::telemetry::record;
use crate::vocab::{ConfigError, Diagnostic};

/// The running engine.
pub struct Engine {
    pub config_dir: PathBuf,
    pub resources: Arc<Resources>,
    snapshot: ArcSwap<Snapshot>,
    status: Mutex<ReloadStatus>,
    /// The embedder each index has served with, by index name. Held for the whole of a
    /// reload, so reloads never overlap.
    embedders: Mutex<HashMap<String, EmbedSpec>>,
}

/// What a successful reload changed.
#[derive(Debug, Clone, Default)]
pub struct ReloadOutcome {
    pub generation: u64,
    pub duration_ms: f64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Prompt versions that went live, as `pipeline: hr/answer@v2#hash`.
    pub new_prompts: Vec<String>,
}

impl Engine {
    /// Load every pipeline of `config_dir`.
    ///
    /// # Errors
    /// Every problem in the config.
    pub fn load(config_dir: PathBuf, resources: Resources) -> Result<Engine, ConfigError> {
        let resources = Arc::new(resources);
        let snapshot = Snapshot::load(&config_dir, &resources)?;
        let embedders = embedders_of(&snapshot);
        Ok(Engine {
            config_dir,
            resources,
            snapshot: ArcSwap::from_pointee(snapshot),
            status: Mutex::new(ReloadStatus::default()),
            embedders: Mutex::new(embedders),
        })
    }

    /// The current snapshot; hold it for the whole request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The reload status as of now.
    pub fn reload_status(&self) -> ReloadStatus {
        lock(&self.status).clone()
    }

    /// Say whether a watcher reloads this engine (shown in the status).
    pub fn set_watching(&self, watching: bool) {
        lock(&self.status).watching = watching;
    }

    /// Rebuild the snapshot from disk and swap it in only if everything compiled and
    /// agrees with the indexes already open. Reloads run one at a time.
    ///
    /// # Errors
    /// Every problem found; the old snapshot keeps serving and the status records them.
    pub fn reload(&self) -> Result<ReloadOutcome, ConfigError> {
        let mut embedders = lock(&self.embedders);
        let started = Instant::now();
        let prepared = self.prepare(&embedders);
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let snapshot = match prepared {
            Ok(s) => s,
            Err(e) => {
                lock(&self.status).failed(&e, duration_ms);
                record::reload(false);
                return Err(e);
            }
        };
        embedders.extend(embedders_of(&snapshot));
        let old = self.snapshot.swap(Arc::new(snapshot));
        let mut status = lock(&self.status);
        status.succeeded(duration_ms);
        record::reload(true);
        let mut outcome = diff(&old, &self.snapshot());
        outcome.generation = status.generation;
        outcome.duration_ms = duration_ms;
        Ok(outcome)
    }

    /// Everything fallible of a reload.
    fn prepare(&self, embedders: &HashMap<String, EmbedSpec>) -> Result<Snapshot, ConfigError> {
        let snapshot = Snapshot::load(&self.config_dir, &self.resources)?;
        let mut diagnostics = Vec::new();
        for p in snapshot.pipelines.values() {
            let spec = &p.spec;
            let wanted = index_options(spec);
            if let Some(open) = self.resources.opened_with(&spec.index)
                && open != wanted
            {
                diagnostics.push(Diagnostic {
                    key_path: "retrieve.keyword".to_owned(),
                    ..Diagnostic::file(
                        &spec.file,
                        format!(
                            "index `{}` is open with stemming {}, title_boost {} and context_chunks {}; this change (stemming {}, title_boost {}, context_chunks {}) rebuilds its BM25 index, which a reload cannot do: restart the server to apply it",
                            spec.index,
                            lower(&open.stemming),
                            open.title_boost,
                            open.context_chunks,
                            lower(&wanted.stemming),
                            wanted.title_boost,
                            wanted.context_chunks
                        ),
                    )
                });
            }
            if let Some(bound) = embedders.get(&spec.index)
                && !bound.same_vectors(&spec.ingest.embed)
            {
                diagnostics.push(Diagnostic {
                    key_path: "ingest.embed".to_owned(),
                    ..Diagnostic::file(
                        &spec.file,
                        format!(
                            "index `{}` holds vectors from embedder {} ({} dims); a reload cannot switch it to {} ({} dims): restart the server and re-ingest",
                            spec.index,
                            bound.provider(),
                            bound.dims(),
                            spec.ingest.embed.provider(),
                            spec.ingest.embed.dims()
                        ),
                    )
                });
            }
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics.into());
        }
        // Open what the new pipelines need now, so the swap cannot leave them unable to serve.
        for p in snapshot.pipelines.values() {
            if let Err(e) = p.index() {
                diagnostics.push(Diagnostic {
                    key_path: "index".to_owned(),
                    ..Diagnostic::file(&p.spec.file, format!("cannot open index `{}`: {e}", p.spec.index))
                });
            }
            if let Err(e) = p.embedder() {
                diagnostics.push(Diagnostic {
                    key_path: "ingest.embed".to_owned(),
                    ..Diagnostic::file(&p.spec.file, format!("cannot load the embedder: {e}"))
                });
            }
        }
        if diagnostics.is_empty() {
            Ok(snapshot)
        } else {
            Err(diagnostics.into())
        }
    }
}

/// A setting's variant name as the YAML spells it (`English` → `english`).
fn lower(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}").to_lowercase()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn embedders_of(snapshot: &Snapshot) -> HashMap<String, EmbedSpec> {
    snapshot
        .pipelines
        .values()
        .map(|p| (p.spec.index.clone(), p.spec.ingest.embed.clone()))
        .collect()
}

/// Pipelines added and removed, and prompt versions that went live.
fn diff(old: &Snapshot, new: &Snapshot) -> ReloadOutcome {
    let live = |s: &Snapshot| -> BTreeMap<String, BTreeSet<String>> {
        s.pipelines
            .iter()
            .map(|(name, p)| {
                let ids = p
                    .spec
                    .route
                    .prompts
                    .values()
                    .flat_map(|c| c.live().into_iter().map(|(prompt, _)| prompt.id.to_string()))
                    .collect();
                (name.clone(), ids)
            })
            .collect()
    };
    let (before, after) = (live(old), live(new));
    let mut outcome = ReloadOutcome::default();
    for (name, ids) in &after {
        match before.get(name) {
            None => outcome.added.push(name.clone()),
            Some(old_ids) => outcome
                .new_prompts
                .extend(ids.difference(old_ids).map(|id| format!("{name}: {id}"))),
        }
    }
    outcome.removed = before.keys().filter(|n| !after.contains_key(*n)).cloned().collect();
    outcome
}
