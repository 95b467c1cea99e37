//! The `ragline` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ragline::cli::run(ragline::cli::Cli::parse())
}
