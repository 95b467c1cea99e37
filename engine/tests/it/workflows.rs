//! Every GitHub Actions workflow passes actionlint (offline; it also runs shellcheck on
//! `run:` scripts when shellcheck is installed).

use std::path::Path;
use std::process::Command;

use crate::pytools;

#[test]
fn every_workflow_passes_actionlint() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.iter().any(|f| f.ends_with("data-sync.yml")),
        "no data-sync.yml in {}",
        dir.display()
    );
    let out = Command::new(pytools::tool("actionlint"))
        .args(["-no-color", "-oneline"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The linter really lints: a broken workflow fails (so a pass above means something).
#[test]
fn actionlint_rejects_a_broken_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(
        &file,
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n",
    )
    .unwrap();
    let out = Command::new(pytools::tool("actionlint")).arg(&file).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nope"));
}
