//! `ragline keys`: keys for the roles of `access.yaml`, shown once, stored as hashes,
//! listed and revoked; bad roles, expiries and access files get precise errors.

use std::path::Path;

use crate::support::{SERVER_CONFIG, cli_split, copy_dir};

/// Exit code and stdout and stderr together.
fn cli(config: &str, data: &Path, args: &[&str]) -> (i32, String) {
    let (code, out, err) = cli_split(config, data, args);
    (code, format!("{out}{err}"))
}

const ACCESS: &str = "roles:\n  hr-reader: { pipelines: [hr], domains: [hr], scopes: [query] }\n  admin: { pipelines: [\"*\"], domains: [\"*\"], scopes: [\"*\"] }\n";

#[test]
fn keys_are_created_once_listed_and_revoked() {
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();

    // No access.yaml yet: nothing to grant.
    let (code, out) = cli(dir, data.path(), &["keys", "create", "--role", "admin"]);
    assert_eq!(code, 1);
    assert!(out.contains("no access.yaml in"), "{out}");

    std::fs::write(config.path().join("access.yaml"), ACCESS).unwrap();
    let (code, out) = cli(dir, data.path(), &["keys", "create", "--role", "hr-reeder"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("no role `hr-reeder`") && out.contains("(roles: admin, hr-reader)"),
        "{out}"
    );
    let (code, out) = cli(
        dir,
        data.path(),
        &["keys", "create", "--role", "admin", "--expires", "2020-01-01"],
    );
    assert_eq!(code, 1);
    assert!(out.contains("is in the past"), "{out}");

    let (code, out, err) = cli_split(
        dir,
        data.path(),
        &[
            "keys",
            "create",
            "--role",
            "hr-reader",
            "--name",
            "hr app",
            "--expires",
            "90d",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // The key alone on stdout, so `KEY=$(ragline keys create ...)` works.
    let key = out.trim().to_owned();
    assert!(key.starts_with("rgl_") && key.len() == 4 + 64, "{out}");
    assert!(err.contains("shown once") && !err.contains(&key), "{err}");
    let (_, second) = cli(dir, data.path(), &["keys", "create", "--role", "admin"]);
    assert!(!second.contains(&key));

    // Only hashes on disk.
    let store = std::fs::read(data.path().join("keys/data.mdb")).unwrap();
    assert!(!store.windows(key.len()).any(|w| w == key.as_bytes()));

    let (code, list) = cli(dir, data.path(), &["keys", "list", "--json"]);
    assert_eq!(code, 0, "{list}");
    let json = &list[list.find('[').unwrap()..=list.rfind(']').unwrap()];
    let listed: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["name"], "hr app");
    assert!(listed[0]["expires_ms"].as_u64().unwrap() > listed[0]["created_ms"].as_u64().unwrap() + 89 * 86_400_000);
    assert!(!list.contains(&key));

    let (code, out) = cli(dir, data.path(), &["keys", "revoke", "hr app"]);
    assert_eq!(code, 0, "{out}");
    let (_, table) = cli(dir, data.path(), &["keys", "list"]);
    let line = table.lines().find(|l| l.contains("hr app")).unwrap();
    assert!(line.ends_with("revoked"), "{table}");
    let (code, out) = cli(dir, data.path(), &["keys", "revoke", "nobody"]);
    assert_eq!(code, 1);
    assert!(out.contains("no key with id or name `nobody`"), "{out}");

    // A broken access file is located.
    std::fs::write(
        config.path().join("access.yaml"),
        "roles:\n  r: { pipelines: [payroll], domains: [hr], scopes: [query] }\n",
    )
    .unwrap();
    let (code, out) = cli(dir, data.path(), &["keys", "create", "--role", "r"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("access.yaml:2:20: roles.r.pipelines: no pipeline named `payroll`"),
        "{out}"
    );
}
