//! `ragline serve --watch`: a debounced notify watcher on the config directory's
//! `pipelines/`, `prompts/` and `scripts/`, and a thread that reloads the engine
//! when a file the config is made of changes.
//!
//! Directories are watched, not files, so an editor that saves by writing a new file
//! and renaming it over the old one is seen like any other save. The config
//! directory itself is watched too (not recursively): when one of the three
//! directories is created, removed or replaced, its watch is added again. Files a
//! pipeline uses outside them (a script elsewhere) get a watch on their directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use notify_debouncer_full::notify::event::{AccessKind, AccessMode, ModifyKind};
use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::pipeline::Engine;

/// The directories of a config directory that are watched recursively.
pub const WATCHED_DIRS: &[&str] = &["pipelines", "prompts", "scripts"];

type Inner = Debouncer<RecommendedWatcher, RecommendedCache>;

/// A running watcher; dropping it stops watching and ends the reload thread.
pub struct Watcher {
    _debouncer: Arc<Mutex<Inner>>,
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path}: {source}")]
    Watch {
        path: PathBuf,
        source: notify_debouncer_full::notify::Error,
    },
    #[error("cannot start the file watcher: {0}")]
    Start(#[from] notify_debouncer_full::notify::Error),
    #[error("cannot resolve the config directory {path}: {source}")]
    ConfigDir { path: PathBuf, source: std::io::Error },
    #[error("cannot start the reload thread: {0}")]
    Thread(std::io::Error),
}

/// Watch `engine`'s config directory and reload it `debounce` after files stop changing.
///
/// # Errors
/// [`WatchError`] when the config directory or the watcher cannot be set up.
pub fn watch(engine: Arc<Engine>, debounce: Duration) -> Result<Watcher, WatchError> {
    let root = std::fs::canonicalize(&engine.config_dir).map_err(|source| WatchError::ConfigDir {
        path: engine.config_dir.clone(),
        source,
    })?;
    let (tx, rx) = channel();
    let mut debouncer = new_debouncer(debounce, None, tx)?;
    debouncer
        .watch(&root, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError::Watch {
            path: root.clone(),
            source,
        })?;
    let mut state = State {
        root,
        extra: BTreeSet::new(),
        deps: BTreeSet::new(),
    };
    for dir in state.dirs() {
        if dir.is_dir() {
            debouncer
                .watch(&dir, RecursiveMode::Recursive)
                .map_err(|source| WatchError::Watch { path: dir, source })?;
        }
    }
    state.refresh(&engine, &mut debouncer);
    let debouncer = Arc::new(Mutex::new(debouncer));
    let weak = Arc::downgrade(&debouncer);
    tracing::info!(dir = %engine.config_dir.display(), debounce_ms = debounce.as_millis() as u64, "watching the config directory; files that change are reloaded");
    std::thread::Builder::new()
        .name("ragline-reload".to_owned())
        .spawn(move || run(&engine, &rx, &weak, state))
        .map_err(WatchError::Thread)?;
    Ok(Watcher { _debouncer: debouncer })
}

/// What the reload thread knows about the files.
struct State {
    /// The config directory, canonical.
    root: PathBuf,
    /// Directories outside [`WATCHED_DIRS`] watched for the files the config uses there.
    extra: BTreeSet<PathBuf>,
    /// Every file and prompt directory the served config was compiled from, canonical.
    deps: BTreeSet<PathBuf>,
}

impl State {
    fn dirs(&self) -> Vec<PathBuf> {
        WATCHED_DIRS.iter().map(|d| self.root.join(d)).collect()
    }

    /// Whether a change to `path` can change the config.
    fn matters(&self, path: &Path) -> bool {
        if self.deps.contains(path)
            || path == self.root.join(crate::vocab::pricing::PRICING_FILE)
            || path == self.root.join(crate::config::access::ACCESS_FILE)
        {
            return true;
        }
        let Some(dir) = self.dirs().into_iter().find(|d| path.starts_with(d)) else {
            return false;
        };
        if path == dir {
            return true;
        }
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if name.starts_with('.') || name.ends_with('~') {
            return false;
        }
        match path.extension().and_then(|e| e.to_str()) {
            // A directory (a prompt's versions) or an extension-less file.
            None => true,
            Some(ext) => ["yaml", "yml", "md", "rhai"].contains(&ext),
        }
    }

    /// Learn the served config's files, and watch directories outside the watched ones
    /// that hold some of them.
    fn refresh(&mut self, engine: &Engine, debouncer: &mut Inner) {
        self.deps = engine
            .snapshot()
            .files()
            .iter()
            .filter_map(|f| std::fs::canonicalize(f).ok())
            .collect();
        let dirs = self.dirs();
        for dep in &self.deps {
            if dirs.iter().any(|d| dep.starts_with(d)) {
                continue;
            }
            let Some(parent) = dep.parent().map(Path::to_path_buf) else {
                continue;
            };
            if self.extra.contains(&parent) {
                continue;
            }
            match debouncer.watch(&parent, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.extra.insert(parent);
                }
                Err(e) => {
                    tracing::warn!(dir = %parent.display(), error = %e, "cannot watch a directory the config uses")
                }
            }
        }
    }

    /// Watch one of [`WATCHED_DIRS`] again after it was created, removed or replaced.
    fn rewatch(&self, dir: &Path, debouncer: &mut Inner) {
        let _ = debouncer.unwatch(dir);
        if dir.is_dir()
            && let Err(e) = debouncer.watch(dir, RecursiveMode::Recursive)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the directory again");
        }
    }
}

/// Whether an event can mean new content (not a read, not a metadata change).
pub(super) fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

fn run(engine: &Engine, rx: &Receiver<DebounceEventResult>, debouncer: &Weak<Mutex<Inner>>, mut state: State) {
    while let Ok(first) = rx.recv() {
        let mut changed = BTreeSet::new();
        for batch in std::iter::once(first).chain(rx.try_iter()) {
            match batch {
                Ok(events) => {
                    for event in events.iter().filter(|e| is_change(&e.kind)) {
                        changed.extend(event.paths.iter().filter(|p| state.matters(p)).cloned());
                    }
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!(error = %e, "file watcher error");
                    }
                }
            }
        }
        if changed.is_empty() {
            continue;
        }
        let Some(debouncer) = debouncer.upgrade() else { return };
        let mut debouncer = debouncer.lock().unwrap_or_else(PoisonError::into_inner);
        for dir in state.dirs().iter().filter(|d| changed.contains(*d)) {
            state.rewatch(dir, &mut debouncer);
        }
        let files: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        tracing::debug!(?files, "config files changed; reloading");
        match engine.reload() {
            Ok(o) => {
                tracing::info!(
                    generation = o.generation,
                    duration_ms = o.duration_ms,
                    added = ?o.added,
                    removed = ?o.removed,
                    changed = ?files,
                    "config reloaded"
                );
                for prompt in &o.new_prompts {
                    tracing::info!(prompt = %prompt, "prompt version live");
                }
                state.refresh(engine, &mut debouncer);
            }
            Err(e) => {
                let generation = engine.reload_status().generation;
                for d in &e.diagnostics {
                    tracing::error!(error = %d, generation, "reload refused; the previous config keeps serving");
                }
            }
        }
    }
}
