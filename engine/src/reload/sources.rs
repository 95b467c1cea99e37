//! `ragline serve --watch`, documents side: a debounced watcher on every pipeline's
//! `dir` sources that indexes files added or changed there and removes the documents
//! of files (or directories) deleted from them.
//!
//! Files are named as `ragline ingest` names them (relative to the config directory),
//! so the watcher and a manual ingest agree on document ids. Unchanged content is
//! skipped by the ingest itself. The watched directories follow config reloads: the
//! thread compares them with the current snapshot's whenever it wakes (at least every
//! [`REFRESH`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::watch::{WatchError, is_change};
use crate::pipeline::ingest::FileOutcome;
use crate::pipeline::{Engine, Pipeline};
use crate::stages::ingest::parse::detect_format;
use crate::stages::ingest::sources::{IngestInput, collect_inputs};

/// How often the watched directories are compared with the config when nothing changes.
const REFRESH: Duration = Duration::from_secs(2);

type Inner = Debouncer<RecommendedWatcher, RecommendedCache>;

/// A running source watcher; dropping it stops watching and ends its thread.
pub struct SourceWatcher {
    _debouncer: Arc<Mutex<Inner>>,
}

/// Watch every pipeline's `dir` sources and keep the indexes in step with them,
/// `debounce` after files stop changing.
///
/// # Errors
/// [`WatchError`] when the config directory or the watcher cannot be set up.
pub fn watch_sources(engine: Arc<Engine>, debounce: Duration) -> Result<SourceWatcher, WatchError> {
    let root = std::fs::canonicalize(&engine.config_dir).map_err(|source| WatchError::ConfigDir {
        path: engine.config_dir.clone(),
        source,
    })?;
    let (tx, rx) = channel();
    let debouncer = Arc::new(Mutex::new(new_debouncer(debounce, None, tx)?));
    let mut watched = BTreeSet::new();
    refresh(&engine, &debouncer, &mut watched);
    tracing::info!(
        dirs = watched.len(),
        "watching the pipelines' source directories; changed files are re-indexed"
    );
    let weak = Arc::downgrade(&debouncer);
    std::thread::Builder::new()
        .name("ragline-sources".to_owned())
        .spawn(move || run(&engine, &root, &rx, &weak, watched))
        .map_err(WatchError::Thread)?;
    Ok(SourceWatcher { _debouncer: debouncer })
}

/// Every `dir` source of the current snapshot, canonical (those that exist).
fn source_dirs(engine: &Engine) -> BTreeSet<PathBuf> {
    engine
        .snapshot()
        .pipelines
        .values()
        .flat_map(|p| {
            p.spec
                .ingest
                .sources
                .dirs
                .iter()
                .filter_map(|d| std::fs::canonicalize(d).ok())
        })
        .collect()
}

/// Watch the source directories the config has now, and stop watching the others.
fn refresh(engine: &Engine, debouncer: &Mutex<Inner>, watched: &mut BTreeSet<PathBuf>) {
    let wanted = source_dirs(engine);
    if wanted == *watched {
        return;
    }
    let mut debouncer = debouncer.lock().unwrap_or_else(PoisonError::into_inner);
    for gone in watched.difference(&wanted) {
        let _ = debouncer.unwatch(gone);
    }
    for dir in wanted.difference(watched) {
        if let Err(e) = debouncer.watch(dir, RecursiveMode::Recursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch a source directory");
        }
    }
    *watched = wanted;
}

fn run(
    engine: &Engine,
    root: &Path,
    rx: &Receiver<DebounceEventResult>,
    debouncer: &Weak<Mutex<Inner>>,
    mut watched: BTreeSet<PathBuf>,
) {
    loop {
        let first = match rx.recv_timeout(REFRESH) {
            Ok(batch) => Some(batch),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut changed = BTreeSet::new();
        for batch in first.into_iter().chain(rx.try_iter()) {
            match batch {
                Ok(events) => {
                    for event in events.iter().filter(|e| is_change(&e.kind)) {
                        changed.extend(event.paths.iter().filter(|p| !ignored(p)).cloned());
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!(error = %e, "source watcher error");
                    }
                }
            }
        }
        if !changed.is_empty() {
            apply(engine, root, &changed);
        }
        let Some(debouncer) = debouncer.upgrade() else { return };
        refresh(engine, &debouncer, &mut watched);
    }
}

/// Hidden files, editor backups and swap files are not documents.
fn ignored(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") || name.ends_with(".tmp")
}

/// Bring each pipeline's index in step with the changed paths under its sources.
fn apply(engine: &Engine, root: &Path, changed: &BTreeSet<PathBuf>) {
    let snapshot = engine.snapshot();
    for pipeline in snapshot.pipelines.values() {
        let dirs: Vec<PathBuf> = pipeline
            .spec
            .ingest
            .sources
            .dirs
            .iter()
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .collect();
        let mine: Vec<&PathBuf> = changed
            .iter()
            .filter(|p| dirs.iter().any(|d| p.starts_with(d)))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut present = Vec::new();
        let mut gone = Vec::new();
        for path in mine {
            if path.exists() {
                present.push(path.clone());
            } else {
                gone.push(source_of(path, root));
            }
        }
        if let Err(e) = remove(pipeline, &gone) {
            tracing::error!(pipeline = %pipeline.spec.name, error = %e, "cannot remove deleted files from the index");
        }
        reindex(pipeline, root, &present);
    }
}

/// How `ragline ingest` names `path` (which may no longer exist): relative to the
/// config directory when inside it.
fn source_of(path: &Path, root: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}

/// Remove the documents of deleted files and of files under deleted directories.
fn remove(pipeline: &Pipeline, gone: &[String]) -> Result<(), crate::store::StoreError> {
    if gone.is_empty() {
        return Ok(());
    }
    let index = pipeline.index()?;
    let ids: BTreeMap<String, String> = index
        .documents(&pipeline.spec.retrieve.filter)?
        .into_iter()
        .filter(|d| {
            gone.iter()
                .any(|g| d.source == *g || d.source.strip_prefix(g.as_str()).is_some_and(|r| r.starts_with('/')))
        })
        .map(|d| (d.id, d.source))
        .collect();
    let Some(embedder) = index.embedder()? else {
        return Ok(());
    };
    if ids.is_empty() {
        return Ok(());
    }
    index.write(&embedder, Vec::new(), &ids.keys().cloned().collect::<Vec<_>>())?;
    for source in ids.values() {
        tracing::info!(pipeline = %pipeline.spec.name, source = %source, "file deleted; removed from the index");
    }
    Ok(())
}

/// Ingest changed files, and the files of new or moved-in directories.
fn reindex(pipeline: &Pipeline, root: &Path, present: &[PathBuf]) {
    if present.is_empty() {
        return;
    }
    let inputs: Vec<IngestInput> = match collect_inputs(present, root) {
        Ok(inputs) => inputs
            .into_iter()
            .filter(|i| match i {
                IngestInput::File { path, .. } => !ignored(path) && detect_format(&path.to_string_lossy()).is_some(),
                _ => true,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(pipeline = %pipeline.spec.name, error = %e, "cannot list changed files");
            return;
        }
    };
    if inputs.is_empty() {
        return;
    }
    let name = &pipeline.spec.name;
    let result = pipeline.ingest(inputs, &mut |file| match &file.outcome {
        FileOutcome::Ingested { chunks, .. } => {
            tracing::info!(pipeline = %name, source = %file.source, chunks, "file changed; re-indexed")
        }
        FileOutcome::Unchanged { .. } => {}
        FileOutcome::Failed { error, message } => {
            tracing::warn!(pipeline = %name, source = %file.source, code = %error.code(), "cannot index a changed file: {message}")
        }
    });
    if let Err(e) = result {
        tracing::error!(pipeline = %name, error = %e, "indexing changed files failed");
    }
}
