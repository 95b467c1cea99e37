//! The cache stage: answers to earlier questions, served again when a new question in
//! the same scope asks the same thing, and never when it asks something else.
//!
//! - `config`: the `cache:` section and its checked form, [`CacheStage`];
//! - `entry`: the scope and epoch an entry is keyed by, and what it stores;
//! - `lookup`: the exact level, then the nearest cached questions by embedding, each
//!   put through `verify` (negation and polarity, numbers, entities, sources) before
//!   it may be served;
//! - the [`Backend`] that holds the entries: the index's LMDB environment or Redis.

mod config;
pub mod entry;
mod lexicon;
mod lookup;
#[cfg(test)]
mod partition;
mod redis;
pub mod verify;

pub use self::config::{
    Backend as BackendSpec, BackendKind, CacheConfig, CacheStage, RedisSpec, RedisUrl, VerifyConfig,
};
pub use self::lookup::{Found, Lookup};
pub use self::redis::{RedisBackend, RedisBackends};
use crate::store::{Collected, Index, QuestionKey, Slot, StoreError};

/// How a query met the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The same question (normalized) was answered in this scope.
    Exact,
    /// A question close enough, that passed every check, was answered in this scope.
    Semantic,
    /// Nothing to serve; the answer is generated (and stored).
    Miss,
    /// The cache was not consulted: the pipeline has none, the request opted out,
    /// the guards refused the query, or the backend is unavailable.
    Bypass,
}

impl Status {
    /// `exact`, `semantic`, `miss`, `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Exact => "exact",
            Status::Semantic => "semantic",
            Status::Miss => "miss",
            Status::Bypass => "bypass",
        }
    }

    /// Whether the answer came from the cache.
    pub fn is_hit(self) -> bool {
        matches!(self, Status::Exact | Status::Semantic)
    }
}

/// How an answer met the cache, as it reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub status: Status,
    /// Cosine similarity of the served question, or on a miss the nearest cached one's.
    pub similarity: Option<f32>,
    /// Age of the served entry, in seconds.
    pub age_s: Option<f64>,
    /// What this answer did not spend: the cached answer's generation and answer guards.
    pub saved_usd: f64,
}

impl Outcome {
    /// Not consulted.
    pub const BYPASS: Outcome = Outcome {
        status: Status::Bypass,
        similarity: None,
        age_s: None,
        saved_usd: 0.0,
    };
}

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backend did not answer (Redis down, timed out, refused).
    #[error("cache backend unavailable: {0}")]
    Unavailable(String),
    #[error("cache entry could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Where entries live. Every method may block (LMDB, a socket).
pub trait Backend: Send + Sync {
    /// The entry for `question` in `slot`.
    ///
    /// # Errors
    /// [`CacheError`] when the backend fails.
    fn get(&self, slot: &Slot, question: &QuestionKey) -> Result<Option<Vec<u8>>, CacheError>;

    /// Every entry of `slot`, each passed to `visit`.
    ///
    /// # Errors
    /// [`CacheError`] when the backend fails.
    fn scan(&self, slot: &Slot, visit: &mut dyn FnMut(&[u8])) -> Result<(), CacheError>;

    /// Store `value` for `question` in `slot`, kept at least `ttl_ms`.
    ///
    /// # Errors
    /// [`CacheError`] when the backend fails.
    fn put(&self, slot: &Slot, question: &QuestionKey, value: &[u8], ttl_ms: u64) -> Result<(), CacheError>;

    /// Remove `group`'s entries of other epochs than `live`, created before
    /// `expired_before_ms`, and the oldest beyond `max_entries`.
    ///
    /// # Errors
    /// [`CacheError`] when the backend fails.
    fn collect(
        &self,
        group: &[u8; 8],
        live: &[u8; 8],
        expired_before_ms: u64,
        max_entries: usize,
    ) -> Result<Collected, CacheError>;

    /// Remove every entry of `group`; how many.
    ///
    /// # Errors
    /// [`CacheError`] when the backend fails.
    fn clear(&self, group: &[u8; 8]) -> Result<u64, CacheError>;
}

/// The embedded backend: the index's own LMDB environment.
impl Backend for Index {
    fn get(&self, slot: &Slot, question: &QuestionKey) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self.answers().get(slot, question)?)
    }

    fn scan(&self, slot: &Slot, visit: &mut dyn FnMut(&[u8])) -> Result<(), CacheError> {
        Ok(self.answers().scan(slot, visit)?)
    }

    fn put(&self, slot: &Slot, question: &QuestionKey, value: &[u8], _ttl_ms: u64) -> Result<(), CacheError> {
        Ok(self.answers().put(slot, question, value)?)
    }

    fn collect(
        &self,
        group: &[u8; 8],
        live: &[u8; 8],
        expired_before_ms: u64,
        max_entries: usize,
    ) -> Result<Collected, CacheError> {
        Ok(self.answers().collect(group, live, expired_before_ms, max_entries)?)
    }

    fn clear(&self, group: &[u8; 8]) -> Result<u64, CacheError> {
        Ok(self.answers().clear(group)?)
    }
}
