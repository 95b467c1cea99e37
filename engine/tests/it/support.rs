//! Start the real `ragline` binary and talk to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SERVER_CONFIG: &str = "tests/fixtures/server";

/// A `ragline serve` process on 127.0.0.1:0, killed on drop.
pub struct Server {
    pub base: String,
    /// The server's stderr lines, when started with [`Server::start_logged`].
    pub logs: Arc<Mutex<Vec<String>>>,
    child: Child,
    /// Kept so the index outlives the server.
    data_dir: Option<tempfile::TempDir>,
    launch: Launch,
}

/// How a server was started, so it can be started again.
#[derive(Clone)]
struct Launch {
    config_dir: String,
    extra: Vec<String>,
    envs: Vec<(String, String)>,
    logged: bool,
}

impl Server {
    /// Serve `config_dir` with a fresh data dir.
    pub fn start(config_dir: &str, extra: &[&str]) -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        Self::start_with(config_dir, data_dir, extra)
    }

    /// Serve `config_dir` with the given data dir (e.g. one a CLI ingest filled).
    pub fn start_with(config_dir: &str, data_dir: tempfile::TempDir, extra: &[&str]) -> Server {
        Self::start_env(config_dir, data_dir, extra, &[])
    }

    /// Like [`Server::start_with`], with extra environment variables for the server
    /// (e.g. static AWS test credentials).
    pub fn start_env(config_dir: &str, data_dir: tempfile::TempDir, extra: &[&str], envs: &[(&str, &str)]) -> Server {
        Self::spawn(config_dir, data_dir, extra, envs, false)
    }

    /// Like [`Server::start_env`], keeping the server's stderr in [`Server::logs`].
    pub fn start_logged(
        config_dir: &str,
        data_dir: tempfile::TempDir,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Server {
        Self::spawn(config_dir, data_dir, extra, envs, true)
    }

    fn spawn(
        config_dir: &str,
        data_dir: tempfile::TempDir,
        extra: &[&str],
        envs: &[(&str, &str)],
        logged: bool,
    ) -> Server {
        let launch = Launch {
            config_dir: config_dir.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            envs: envs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            logged,
        };
        Self::launch(launch, data_dir)
    }

    /// Kill the server (as a crash would) and start it again on the same data dir.
    pub fn restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data_dir = self.data_dir.take().unwrap();
        Self::launch(self.launch.clone(), data_dir)
    }

    fn launch(launch: Launch, data_dir: tempfile::TempDir) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ragline"))
            .envs(launch.envs.iter().map(|(k, v)| (k, v)))
            .args(["--config-dir", &launch.config_dir, "--data-dir"])
            .arg(data_dir.path())
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(&launch.extra)
            .stdout(Stdio::piped())
            .stderr(if launch.logged {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("server exited before listening").unwrap();
            if let Some(rest) = line.strip_prefix("ragline listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            base,
            logs,
            child,
            data_dir: Some(data_dir),
            launch,
        }
    }

    /// The server's data dir.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.as_ref().unwrap().path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// Run the CLI with a config and data dir; returns (exit code, stdout).
pub fn cli(config_dir: &str, data_dir: &Path, args: &[&str]) -> (i32, String) {
    cli_env(config_dir, data_dir, args, &[])
}

/// [`cli`] with extra environment variables.
pub fn cli_env(config_dir: &str, data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ragline"))
        .envs(envs.iter().copied())
        .args(["--config-dir", config_dir, "--data-dir"])
        .arg(data_dir)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap())
}

/// A new API key made by `ragline keys create <args>` (e.g. `--role admin`).
pub fn create_key(config_dir: &str, data_dir: &Path, args: &[&str]) -> String {
    let (code, key, err) = cli_split(config_dir, data_dir, &[&["keys", "create"], args].concat());
    assert_eq!(code, 0, "{err}");
    key.trim().to_owned()
}

/// Run the CLI: exit code, stdout and stderr.
pub fn cli_split(config_dir: &str, data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ragline"))
        .args(["--config-dir", config_dir, "--data-dir"])
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

/// A sample document (`tests/fixtures/docs`, licences in its `SOURCES.md`).
pub fn fixture_doc(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/docs")
        .join(rel)
}

/// Copy the tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
