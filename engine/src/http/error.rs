//! The one API error: JSON `{"error": {"code", "message"}}` with the right status.
//! Turning it into a response logs nothing; handlers decide what to log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::pipeline::QueryError;
use crate::providers::ProviderError;
use crate::store::StoreError;

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
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::EmbedderMismatch { .. } | StoreError::Dimension { .. } => {
                Self::new(StatusCode::CONFLICT, "index_mismatch", e.to_string())
            }
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
        }
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
            QueryError::Route(_) => (StatusCode::INTERNAL_SERVER_ERROR, "script_error"),
            QueryError::Render(_) | QueryError::UnknownModel(_) | QueryError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        Self::new(status, code, e.to_string())
    }
}
