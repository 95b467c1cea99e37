//! What analytics keep of a query, an evaluation and a drift baseline. No question or
//! answer text: ids, labels from config, numbers, and the query's embedding (for
//! drift).

use serde::{Deserialize, Serialize};

/// One query a pipeline answered or refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// The answer's id, as the response gave it.
    pub id: String,
    /// When it was answered: Unix time in milliseconds.
    pub at_ms: u64,
    pub pipeline: String,
    /// The domains the query was restricted to (empty: every domain the pipeline sees).
    pub domains: Vec<String>,
    /// The domain its cost counts under, as in the metrics (`hr`, `multi`, `all`).
    pub domain: String,
    /// The domain of the best source, when there was one.
    pub top_domain: Option<String>,
    /// The model that answered, as the pipeline names it (empty when refused first).
    pub model: String,
    /// The prompt version (`hr/answer@v2#1a2b3c4d5e6f`; empty when refused first).
    pub prompt_version: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub embedding_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    /// `miss`, or how the cache answered.
    pub cache: String,
    /// What the guards did: `none`, `masked` or `blocked`.
    pub guard: String,
    /// The best vector similarity among the retrieved chunks, when a vector search ran.
    pub best_similarity: Option<f32>,
    pub feedback: Option<Feedback>,
    /// The id of the API key that asked (never the key), when keys are checked.
    #[serde(default)]
    pub key_id: Option<String>,
    /// That key's role.
    #[serde(default)]
    pub role: Option<String>,
}

/// A user's rating of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub rating: Rating,
    pub comment: Option<String>,
    pub at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Up,
    Down,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// The latest retrieval evaluation of a pipeline (`ragline eval`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    pub pipeline: String,
    pub at_ms: u64,
    /// The dataset directory's name.
    pub dataset: String,
    /// `hybrid`, `keyword` or `vector`.
    pub mode: String,
    pub ndcg_at_10: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
}

/// A drift baseline taken by `ragline drift baseline`: the queries it compares with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub pipeline: String,
    pub taken_at_ms: u64,
    /// The embedder that made the vectors; a baseline from another is ignored.
    pub embedder: String,
    pub queries: Vec<WindowQuery>,
}

/// One query of a drift window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowQuery {
    pub vector: Vec<f32>,
    pub top_domain: Option<String>,
    pub best_similarity: Option<f32>,
}

/// What one API key (and its role) spent on one UTC day, summed as queries are logged.
/// Kept apart from the queries, so budgets stay exact when old queries are dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Days since the Unix epoch.
    pub day: u32,
    pub key_id: String,
    pub role: String,
    pub cost_usd: f64,
    pub tokens: u64,
}

/// How much the query log keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The most queries kept; past it the oldest are dropped at each write.
    pub max_queries: u64,
    /// Queries per minute and pipeline that keep their embedding for drift, after a
    /// first [`VECTOR_BURST`]; the others keep their record only.
    pub vectors_per_minute: u32,
}

/// How many embeddings a pipeline may keep at once before `vectors_per_minute` limits it.
pub const VECTOR_BURST: u32 = 1_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_queries: 2_000_000,
            vectors_per_minute: 60,
        }
    }
}
