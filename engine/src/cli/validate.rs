//! `ragline validate [FILE...]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Cli;
use crate::config;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Pipeline files to check (default: every file in `<config-dir>/pipelines/`).
    pub files: Vec<PathBuf>,
}

/// Print every problem as `file:line:col: key.path: message`; exit 1 if there is any.
pub fn run(cli: &Cli, args: &ValidateArgs) -> ExitCode {
    let result = if args.files.is_empty() {
        config::load_dir(&cli.config_dir).map(|specs| specs.len())
    } else {
        let mut diagnostics = Vec::new();
        for f in &args.files {
            if let Err(e) = config::load(f, &cli.config_dir) {
                diagnostics.extend(e.diagnostics);
            }
        }
        if diagnostics.is_empty() {
            Ok(args.files.len())
        } else {
            Err(diagnostics.into())
        }
    };
    match result {
        Ok(n) => {
            println!("ok: {n} pipeline(s) valid");
            ExitCode::SUCCESS
        }
        Err(e) => {
            for d in &e.diagnostics {
                println!("{d}");
            }
            eprintln!("{} error(s)", e.diagnostics.len());
            ExitCode::FAILURE
        }
    }
}
