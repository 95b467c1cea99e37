//! The wire: every request and response body of the HTTP API, with its OpenAPI
//! schema. The core types carry no HTTP concern; each body here is built from them
//! (or turned into them) at the edge, so the JSON a client sees is defined in one place.

mod analytics;
mod answer;
mod documents;
mod guard;
mod listing;
mod query;
mod sync;

pub use analytics::{
    AnalyticsGroup, AnalyticsParams, AnalyticsReport, DriftList, DriftParams, DriftSignal, DriftStatus, EvalSummary,
    FeedbackRequest, FeedbackResponse, RatingDto,
};
pub use answer::{
    Assignment, CacheInfo, CacheStatus, FallbackInfo, PromptVersion, RouteInfo, Source, StageUsage, Usage,
};
pub use documents::{DocumentInfo, DocumentList, FileResult, FileStatus, UploadForm, UploadResponse};
pub use guard::{GuardAction, GuardReason, GuardSide, GuardrailReport, InterventionCounts};
pub use listing::{PromptInfo, PromptVersionInfo, ReloadFailure, ReloadState, ReloadStatus, VersionUsage};
pub use query::{AnswerEvent, ChatEvent, OneOrMany, QueryRequest, QueryResponse};
pub use sync::{ObjectReport, ObjectStatus, SyncReport, SyncRequest};
