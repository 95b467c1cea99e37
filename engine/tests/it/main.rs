//! Integration tests: one binary. Config fixtures, the CLI, and the real server on
//! 127.0.0.1:0.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod analytics;
mod auth;
mod bedrock;
mod budgets;
mod cache;
mod cache_redis;
mod cli;
mod config_errors;
mod contract;
mod crash;
mod debian;
mod demo;
mod drift;
mod edge;
mod eval;
mod fake_bedrock;
mod fake_guardrail;
mod fake_openai;
mod guardrails;
mod keys;
mod layering;
mod leaks;
mod limits;
mod monitoring;
mod openai_endpoint;
mod openai_provider;
mod pytools;
mod reload;
mod rules;
mod s3;
mod server;
mod support;
mod telemetry;
mod traces;
mod watch_sources;
mod workflows;
