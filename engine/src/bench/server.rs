//! A `ragline serve` child process for the benchmarks that measure the real server
//! over HTTP (`ragline bench-reload`, `ragline bench-telemetry`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot start {exe}: {source}")]
    Spawn { exe: PathBuf, source: std::io::Error },
    #[error("the server did not start (its log: {0})")]
    NotListening(PathBuf),
}

/// A `ragline serve` process on 127.0.0.1:0, killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
}

impl ServerProcess {
    /// Run `exe --config-dir config --data-dir data serve --addr 127.0.0.1:0 extra...`
    /// with its stderr in `log`, and wait until it listens. `OTEL_*` variables are not
    /// passed on, so only the config directory's `ragline.yaml` decides the telemetry.
    ///
    /// # Errors
    /// [`ServerError`] when it cannot be started or exits before listening.
    pub fn start(exe: &Path, config: &Path, data: &Path, extra: &[&str], log: &Path) -> Result<Self, ServerError> {
        let spawn_error = |source| ServerError::Spawn {
            exe: exe.to_path_buf(),
            source,
        };
        let stderr = std::fs::File::create(log).map_err(spawn_error)?;
        let mut command = Command::new(exe);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .arg("--config-dir")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(spawn_error)?;
        let not_listening = || ServerError::NotListening(log.to_path_buf());
        let stdout = child.stdout.take().ok_or_else(not_listening)?;
        let mut server = ServerProcess {
            base: String::new(),
            child,
        };
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("ragline listening on ") {
                server.base = rest.split_whitespace().next().unwrap_or_default().to_owned();
                break;
            }
        }
        if server.base.is_empty() {
            return Err(not_listening());
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(server)
    }
}

impl ServerProcess {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Ingest `pipeline`'s sources into `data` with a `ragline ingest` process, its output
/// in `log`; whether it succeeded.
///
/// # Errors
/// I/O errors starting it or writing the log.
pub fn ingest(exe: &Path, config: &Path, data: &Path, pipeline: &str, log: &Path) -> std::io::Result<bool> {
    let out = std::fs::File::create(log)?;
    let status = Command::new(exe)
        .arg("--config-dir")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(["ingest", pipeline])
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()?;
    Ok(status.success())
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
