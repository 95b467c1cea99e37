//! Prompts: versioned minijinja templates under `prompts/` in the config directory.
//!
//! - [`catalog`]: where versions live (`prompts/hr/answer/v2.md`, or one file
//!   `prompts/hr/answer.md`) and how a pipeline names them (`hr/answer`, `hr/answer@v2`).
//! - [`front_matter`]: a version's description, declared variables and model.
//! - [`template`]: one compiled version and its [`PromptVersion`] (name, version,
//!   content hash), which every response and log line names.
//! - [`split`]: A/B splits by weight, sticky per user or session.
//! - [`stats`]: what each version served, persisted in the data dir.

pub mod catalog;
pub mod front_matter;
pub mod split;
pub mod stats;
mod template;

pub use catalog::{PromptFamily, PromptRef};
pub use split::{Assignment, PromptChoice, Split};
pub use stats::PromptStats;
pub use template::{Prompt, PromptSource, PromptVersion, RenderError, VARIABLES};
