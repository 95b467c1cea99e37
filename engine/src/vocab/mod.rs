//! The shared vocabulary every layer speaks: config diagnostics and YAML loading with
//! positions, document metadata and filters, ids and fingerprints, the price table
//! and usage. It imports nothing else of the crate, so any module may use it.

pub mod diagnostic;
pub mod ids;
pub mod metadata;
pub mod pricing;
pub mod time;
pub mod usage;
pub mod yaml;

pub use diagnostic::{ConfigError, Diagnostic};
pub use metadata::{Filter, Metadata, MetadataField};
pub use pricing::PriceTable;
pub use usage::{StageUsage, Usage};
pub use yaml::from_yaml;
