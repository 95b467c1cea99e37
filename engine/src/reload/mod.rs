//! Hot reload: a watcher on the config directory (`watch`) that rebuilds the engine's
//! snapshot when files change (the engine keeps the [`crate::pipeline::ReloadStatus`]
//! that `GET /v1/pipelines` shows), and the watcher of the `dir` sources. Their benchmark
//! is [`crate::bench::reload`] (`ragline bench-reload`).
//!
//! The reload itself is `Engine::reload`: prepare a whole snapshot (fallible), then
//! swap (infallible). A bad file never goes live.
//!
//! [`sources`] watches the pipelines' `dir` sources too, keeping their documents indexed.

pub mod sources;
pub mod watch;

pub use sources::{SourceWatcher, watch_sources};
pub use watch::{WatchError, Watcher, watch};
