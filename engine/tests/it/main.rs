//! Integration tests: one binary. Config fixtures, the CLI, and the real server on
//! 127.0.0.1:0.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod cli;
mod config_errors;
mod demo;
mod pytools;
mod eval;
mod reload;
mod rules;
mod server;
mod support;
