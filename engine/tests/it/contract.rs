//! The API contract: schemathesis (PyPI, pinned in `pytools.rs`) generates requests
//! from `/openapi.json` of a real server with keys, with and without one, and checks
//! every response: no 5xx, every status documented, every body and content type as the
//! schema says. The server must log no panic.
//!
//! Two deliberate limits:
//! - `positive_data_acceptance` is off: some schema-valid requests are refused on
//!   purpose, each with a documented 400, 415 or 422 and a precise message (a file type
//!   no parser reads, an unknown filter field, a time that does not parse, `3.0` where a
//!   count is wanted, a chat without a user message).
//! - The fixtures' `strict` and `looping` pipelines are left out: their route rule
//!   never ends, which is a broken config answered with 500 `script_error` by design.

use std::path::Path;
use std::process::Command;

use crate::pytools::tool;
use crate::support::{SERVER_CONFIG, Server, copy_dir, create_key};

/// Real pipeline names for the OpenAI endpoint's `model`, which it cannot guess.
const ST_CONFIG: &str = "[dictionaries.models]\nvalues = [\"hr\", \"legal\", \"docs\"]\n\n[parameters]\n\"body.model\" = { dictionary = \"models\", probability = 1.0 }\n";

fn schemathesis(s: &Server, work: &Path, header: Option<&str>) {
    let config = work.join("schemathesis.toml");
    std::fs::write(&config, ST_CONFIG).unwrap();
    let mut command = Command::new(tool("st"));
    command
        .current_dir(work)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &s.url("/openapi.json")])
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args([
            "--max-examples",
            "25",
            "--seed",
            "20261203",
            "--continue-on-failure",
            "--no-color",
        ]);
    if let Some(h) = header {
        command.args(["-H", h]);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    for broken in ["strict", "looping"] {
        std::fs::remove_file(config.path().join(format!("pipelines/{broken}.yaml"))).unwrap();
    }
    std::fs::write(
        config.path().join("access.yaml"),
        "roles:\n  admin: { pipelines: [\"*\"], domains: [\"*\"], scopes: [\"*\"] }\n",
    )
    .unwrap();
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let key = create_key(dir, data.path(), &["--role", "admin"]);
    let s = Server::start_logged(dir, data, &["--ingest"], &[]);
    let work = tempfile::tempdir().unwrap();
    // With the key: every operation's real behaviour, including its stateful links.
    schemathesis(&s, work.path(), Some(&format!("Authorization: Bearer {key}")));
    // Without: every refusal is one the schema lists.
    schemathesis(&s, work.path(), None);
    let logs = s.logs.lock().unwrap();
    assert!(
        !logs.iter().any(|l| l.contains("panic")),
        "{}",
        logs.iter()
            .filter(|l| l.contains("panic"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
