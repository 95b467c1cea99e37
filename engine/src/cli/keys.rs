//! `ragline keys create|list|revoke`: API keys for the roles of `access.yaml`. A new key
//! is printed once, alone on stdout; only its hash is kept (`<data-dir>/keys`).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Cli;
use crate::config::access::{ACCESS_FILE, Access};
use crate::pipeline::now_ms;
use crate::store::keys::{KeyRecord, KeyStore, Revoked};
use crate::vocab::time::{parse_future, rfc3339};

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key with a role of `access.yaml`; the key is printed once, on stdout.
    Create {
        /// The role (`access.yaml` `roles:`).
        #[arg(long)]
        role: String,
        /// A name to recognise the key by (default: its id).
        #[arg(long)]
        name: Option<String>,
        /// When it stops working: an age from now (`90d`, `12h`) or an RFC 3339 time or
        /// date (default: never).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List the keys: id, name, role, created, expires, status (never the key).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (or its name, when only one key has it).
    Revoke { key: String },
}

pub fn run(cli: &Cli, args: &KeysArgs) -> anyhow::Result<ExitCode> {
    let store = || {
        let dir = cli.data_dir().join("keys");
        KeyStore::open(&dir).with_context(|| format!("cannot open the key store in {}", dir.display()))
    };
    let now = now_ms();
    match &args.command {
        KeysCommand::Create { role, name, expires } => {
            let access = access(cli)?;
            if !access.roles.contains_key(role) {
                let roles: Vec<_> = access.roles.keys().map(String::as_str).collect();
                anyhow::bail!(
                    "no role `{role}` in {} (roles: {})",
                    access.file.display(),
                    roles.join(", ")
                );
            }
            let expires_ms = expires.as_deref().map(|e| parse_future(e, now)).transpose()?;
            if let Some(at) = expires_ms
                && at <= now
            {
                anyhow::bail!(
                    "--expires {} is in the past ({})",
                    expires.as_deref().unwrap_or_default(),
                    rfc3339(at)
                );
            }
            let (key, record) = store()?.create(role, name.as_deref(), expires_ms, now)?;
            println!("{key}");
            eprintln!(
                "key {} ({}), role {}, expires {}: shown once, only its hash is kept",
                record.id,
                record.name,
                record.role,
                record.expires_ms.map_or_else(|| "never".to_owned(), rfc3339)
            );
        }
        KeysCommand::List { json } => {
            let records = store()?.list()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else {
                println!(
                    "{:<12} {:<20} {:<16} {:<24} {:<24} status",
                    "id", "name", "role", "created", "expires"
                );
                for r in &records {
                    println!(
                        "{:<12} {:<20} {:<16} {:<24} {:<24} {}",
                        r.id,
                        r.name,
                        r.role,
                        rfc3339(r.created_ms),
                        r.expires_ms.map_or_else(|| "never".to_owned(), rfc3339),
                        status(r, now)
                    );
                }
            }
        }
        KeysCommand::Revoke { key } => match store()?.revoke(key, now)? {
            Revoked::Key(r) => println!("revoked {} ({}, role {})", r.id, r.name, r.role),
            Revoked::NotFound => anyhow::bail!("no key with id or name `{key}` (see `ragline keys list`)"),
            Revoked::Ambiguous(ids) => {
                anyhow::bail!("{} keys are named `{key}`; revoke by id: {}", ids.len(), ids.join(", "))
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// The checked `access.yaml` (as the server loads it); an error when there is none.
fn access(cli: &Cli) -> anyhow::Result<Arc<Access>> {
    cli.engine()?.snapshot().access.clone().with_context(|| {
        format!(
            "no {} in {}: declare the roles keys can have first",
            ACCESS_FILE,
            cli.config_dir.display()
        )
    })
}

fn status(r: &KeyRecord, now: u64) -> &'static str {
    if r.revoked_ms.is_some() {
        "revoked"
    } else if r.expires_ms.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}
