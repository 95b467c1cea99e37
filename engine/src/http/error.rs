//! The one API error, JSON `{"error": {"code", "message"}}`, and the one table that
//! maps every layer's typed error onto its HTTP status and `error.code`. Turning an
//! error into a response logs nothing; handlers decide what to log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::observe::ErrorCode;
use crate::analytics::drift::DriftError;
use crate::analytics::service::AnalyticsError;
use crate::pipeline::QueryError;
use crate::pipeline::ingest::IngestError;
use crate::providers::ProviderError;
use crate::providers::docstore::DocStoreError;
use crate::stages::cache::CacheError;
use crate::stages::ingest::FileError;
use crate::store::StoreError;
use crate::sync::{RemoveError, SyncError, UploadError};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra detail, e.g. per-file results of a failed upload.
    pub details: Option<serde_json::Value>,
}

/// The JSON body of every error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `pipeline_not_found`, `bad_request`, `forbidden`, ...
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn pipeline_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "pipeline_not_found",
            format!("no pipeline named `{name}`"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

// The table. Each layer's errors, by status: 4xx for what the client can fix, 502
// when an upstream refused, 503 when it is unavailable (try again), 500 for our faults.

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let (status, code) = match e {
            QueryError::Provider(p) => return p.into(),
            QueryError::Store(s) => return s.into(),
            QueryError::EmptyQuery | QueryError::QueryTooLong(_) | QueryError::BadTopK => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            QueryError::UnknownFilterField(_) => (StatusCode::BAD_REQUEST, "unknown_filter"),
            QueryError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            QueryError::DomainNotGranted { .. } | QueryError::NothingGranted { .. } => {
                (StatusCode::FORBIDDEN, "domain_forbidden")
            }
            QueryError::Route(_) => (StatusCode::INTERNAL_SERVER_ERROR, "script_error"),
            QueryError::Incomplete => (StatusCode::BAD_GATEWAY, "provider"),
            QueryError::Render(_) | QueryError::UnknownModel(_) | QueryError::Worker(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        Self::new(status, code, e.to_string())
    }
}

/// Provider failures. Transient ones (the provider is throttling, down or slow, after
/// every retry and fallback) are 503: try again later. Permanent ones (the provider
/// refused the request or the credentials) are 502: the gateway's upstream failed.
impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        let (status, code) = match e.root() {
            ProviderError::ModelUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "model_unavailable"),
            ProviderError::InvalidInput(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ProviderError::Inference(_) => (StatusCode::BAD_GATEWAY, "provider"),
            ProviderError::Throttled { .. } => (StatusCode::SERVICE_UNAVAILABLE, "provider_throttled"),
            ProviderError::Unavailable { .. } | ProviderError::RetriesExhausted { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable")
            }
            ProviderError::Timeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, "provider_timeout"),
            ProviderError::AccessDenied { .. } => (StatusCode::BAD_GATEWAY, "provider_access_denied"),
            ProviderError::Rejected { .. } => (StatusCode::BAD_GATEWAY, "provider_rejected"),
            ProviderError::ContextTooLong { .. } => (StatusCode::BAD_GATEWAY, "context_too_long"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<CacheError> for ApiError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Store(e) => e.into(),
            CacheError::Unavailable(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "cache_unavailable", e.to_string())
            }
            CacheError::Encode(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "cache", e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match e {
            StoreError::EmbedderMismatch { .. } | StoreError::Dimension { .. } => {
                (StatusCode::CONFLICT, "index_mismatch")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
        };
        Self::new(status, code, e.to_string())
    }
}

/// A document store: 503 when it cannot be reached, 502 when it refused, 500 for a
/// local I/O error. `message` is the whole error, which may say more than `e`.
fn store_error(e: &DocStoreError, message: String) -> ApiError {
    let (status, code) = match e {
        DocStoreError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        DocStoreError::AccessDenied { .. } | DocStoreError::Rejected { .. } => (StatusCode::BAD_GATEWAY, "store_error"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "store_error"),
    };
    ApiError::new(status, code, message)
}

/// A worker thread that panicked or was cancelled.
impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> Self {
        let e = match e {
            AnalyticsError::Embedder(p) => return p.into(),
            other => other,
        };
        let (status, code) = match &e {
            AnalyticsError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "analytics_unavailable"),
            AnalyticsError::AnswerNotFound { .. } => (StatusCode::NOT_FOUND, "answer_not_found"),
            AnalyticsError::CommentTooLong(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AnalyticsError::Drift(DriftError::NoSnapshot(_)) => (StatusCode::CONFLICT, "no_baseline"),
            AnalyticsError::Drift(DriftError::Period(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "invalid_config"),
            AnalyticsError::Store(_) | AnalyticsError::Drift(DriftError::Store(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "store")
            }
            AnalyticsError::Embedder(_) => (StatusCode::SERVICE_UNAVAILABLE, "model_unavailable"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("a worker stopped: {e}"))
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Store(s) => s.into(),
            IngestError::Provider(p) => p.into(),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        let message = e.to_string();
        match e {
            UploadError::Store(s) => store_error(&s, message),
            UploadError::Ingest(i) => i.into(),
            UploadError::Worker(_) => ApiError::internal(message),
        }
    }
}

impl From<RemoveError> for ApiError {
    fn from(e: RemoveError) -> Self {
        let message = e.to_string();
        match e {
            RemoveError::Store(s) => store_error(&s, message),
            RemoveError::Index(s) => s.into(),
            RemoveError::Worker(_) => ApiError::internal(message),
        }
    }
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        let message = e.to_string();
        match e {
            SyncError::Store(s) | SyncError::Interrupted { source: s, .. } => store_error(&s, message),
            SyncError::Index(s) => s.into(),
            SyncError::Ingest(i) => i.into(),
            SyncError::Worker(_) => ApiError::internal(message),
        }
    }
}

/// An upload none of whose files could be indexed: the status says why when they all
/// failed the same way (a type no parser reads, too large, metadata the pipeline may
/// not hold), else 422.
pub fn all_files_failed(errors: &[FileError], message: String) -> ApiError {
    let same = |e: FileError| !errors.is_empty() && errors.iter().all(|x| *x == e);
    let (status, code) = if same(FileError::UnsupportedType) {
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type")
    } else if same(FileError::TooLarge) {
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
    } else if same(FileError::ForbiddenMetadata) {
        (StatusCode::FORBIDDEN, "forbidden")
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, "unreadable")
    };
    ApiError::new(status, code, message)
}
