//! ragline: a declarative RAG engine.
//!
//! A pipeline is one YAML file. [`config`] turns it into a checked spec,
//! [`pipeline`] builds the runtime stages from that spec and runs queries,
//! [`ingest`] turns files into chunks, [`store`] keeps them (LMDB + arroy +
//! tantivy), [`providers`] embed and generate, and [`http`] serves it all.
//! `ARCHITECTURE.md` walks through the modules in data-flow order.

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
pub mod vocab;
