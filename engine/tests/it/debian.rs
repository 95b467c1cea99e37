//! Debian packages some tests run (Prometheus and promtool). `cargo test` installs them
//! itself with apt-get when they are missing, once per test binary, so a fresh machine
//! needs nothing by hand. The package mirror is the only network this touches.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The path of `program`, installing Debian `package` first when it is not on `PATH`.
///
/// Panics (it is test support) when apt-get cannot install it, with its output.
pub fn program(program: &str, package: &str) -> PathBuf {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _one_at_a_time = LOCK
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(path) = which(program) {
        return path;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .unwrap_or_else(|e| panic!("cannot run apt-get to install {package}: {e}"))
    };
    let mut out = install();
    if !out.status.success() {
        // A fresh machine may have no package lists yet.
        let _ = Command::new("apt-get").arg("update").output();
        out = install();
    }
    assert!(
        out.status.success(),
        "apt-get install {package} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    which(program).unwrap_or_else(|| panic!("{package} is installed but {program} is not on PATH"))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}
