//! The span attribute keys ragline writes. The OpenTelemetry GenAI conventions are at
//! development status (and `opentelemetry-semantic-conventions` marks their constants
//! deprecated), so the keys are defined here, once, and follow the GenAI registry as of
//! its first standalone release (v0.1.0, on semantic conventions v1.45).

// GenAI: every model call, embedding batch and retrieval.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// The model that answered: the routed one or its fallback.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Sources asked of a retrieval. Older GenAI releases put it here; v0.1.0 moved it to
/// [`GEN_AI_RETRIEVAL_TOP_K`]. ragline writes both.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
pub const GEN_AI_RETRIEVAL_TOP_K: &str = "gen_ai.retrieval.top_k";
/// The index searched.
pub const GEN_AI_DATA_SOURCE_ID: &str = "gen_ai.data_source.id";
/// The retrieved chunks as a JSON array of `{"id", "score"}`.
pub const GEN_AI_RETRIEVAL_DOCUMENTS: &str = "gen_ai.retrieval.documents";
/// The question (only when content capture is on).
pub const GEN_AI_RETRIEVAL_QUERY_TEXT: &str = "gen_ai.retrieval.query.text";
/// The prompt and the answer as GenAI message JSON (only when content capture is on).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";

// General conventions.
pub const ERROR_TYPE: &str = "error.type";
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub const HTTP_ROUTE: &str = "http.route";
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";

// ragline's own.
pub const RAGLINE_PIPELINE: &str = "ragline.pipeline";
pub const RAGLINE_STAGE: &str = "ragline.stage";
/// Milliseconds of each search inside a retrieval, on its `retrieval {index}` span.
pub const RAGLINE_RETRIEVE_KEYWORD_MS: &str = "ragline.retrieve.keyword_ms";
pub const RAGLINE_RETRIEVE_VECTOR_MS: &str = "ragline.retrieve.vector_ms";
pub const RAGLINE_RETRIEVE_FUSION_MS: &str = "ragline.retrieve.fusion_ms";
pub const RAGLINE_ROUTE_MODEL: &str = "ragline.route.model";
pub const RAGLINE_ROUTE_REASON: &str = "ragline.route.reason";
pub const RAGLINE_PROMPT_VERSION: &str = "ragline.prompt.version";
pub const RAGLINE_GUARD_ACTION: &str = "ragline.guard.action";
pub const RAGLINE_FALLBACK_FROM: &str = "ragline.fallback.from";

/// `gen_ai.operation.name` values.
pub const OP_CHAT: &str = "chat";
pub const OP_EMBEDDINGS: &str = "embeddings";
pub const OP_RETRIEVAL: &str = "retrieval";
