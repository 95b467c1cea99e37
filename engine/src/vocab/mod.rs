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

/// The longest question a query may have, in characters (`limits.max_query_chars` in
/// `ragline.yaml` may lower it).
pub const MAX_QUERY_CHARS: usize = 4000;

pub use diagnostic::{ConfigError, Diagnostic};
pub use metadata::{Filter, Metadata, MetadataField};
pub use pricing::PriceTable;
pub use usage::{StageUsage, Usage};
pub use yaml::from_yaml;
