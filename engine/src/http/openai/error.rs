//! Errors in the OpenAI shape: `{"error": {"message", "type", "param", "code"}}`, with
//! the status ragline's own error would have.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::observe::ErrorCode;

/// An error of the OpenAI-compatible endpoints.
#[derive(Debug)]
pub struct OpenAiError {
    pub status: StatusCode,
    /// ragline's error code (also `body.code`), for the error metric.
    pub code: &'static str,
    pub body: OpenAiErrorDetail,
}

/// The JSON body of an OpenAI error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `permission_error`, `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault, when one is.
    pub param: Option<String>,
    /// ragline's error code, e.g. `model_not_found`, `bad_request`, `provider_throttled`.
    pub code: String,
}

impl OpenAiError {
    /// `model` names no pipeline: 404 `model_not_found`.
    pub fn model_not_found(model: &str) -> Self {
        let mut e = Self::from(ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("The model `{model}` does not exist: no pipeline has that name (see GET /v1/models)"),
        ));
        e.body.param = Some("model".to_owned());
        e
    }

    /// A bad request about `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        let mut e = Self::from(ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message));
        e.body.param = Some(param.to_owned());
        e
    }
}

/// OpenAI's error type for a status.
fn kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

impl From<ApiError> for OpenAiError {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status,
            code: e.code,
            body: OpenAiErrorDetail {
                message: e.message,
                kind: kind(e.status).to_owned(),
                param: None,
                code: e.code.to_owned(),
            },
        }
    }
}

impl From<crate::pipeline::QueryError> for OpenAiError {
    fn from(e: crate::pipeline::QueryError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(OpenAiErrorBody { error: self.body })).into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_openai_types() {
        let e = OpenAiError::model_not_found("nope");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.body.kind, "invalid_request_error");
        assert_eq!(e.body.code, "model_not_found");
        assert_eq!(e.body.param.as_deref(), Some("model"));
        let e = OpenAiError::from(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_throttled",
            "slow down",
        ));
        assert_eq!(e.body.kind, "api_error");
        assert_eq!(kind(StatusCode::FORBIDDEN), "permission_error");
        let json = serde_json::to_value(OpenAiErrorBody { error: e.body }).unwrap();
        assert_eq!(json["error"]["type"], "api_error");
        assert_eq!(json["error"]["message"], "slow down");
        assert!(json["error"]["param"].is_null());
    }
}
