//! ragline: a declarative RAG engine.
//!
//! A pipeline is one YAML file. [`config`] reads it and compiles each of its
//! [`stages`] (one folder per kind, config and runtime side by side) into a checked
//! spec; [`pipeline`] is the executor that runs those stages in order for a query or
//! an ingest batch; [`providers`] are the models, guardrails and document stores
//! outside the process, [`store`] the embedded index (LMDB + arroy + tantivy), and
//! [`http`] serves it all. [`vocab`] is the vocabulary every layer shares.
//! `ARCHITECTURE.md` walks through the modules in data-flow order.

pub mod analytics;
pub mod bench;
pub mod cli;
pub mod config;
pub mod eval;
pub mod http;
pub mod pipeline;
pub mod prompts;
pub mod providers;
pub mod reload;
pub mod script;
pub mod stages;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod vocab;
