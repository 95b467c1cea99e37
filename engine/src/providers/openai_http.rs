//! What the OpenAI-compatible chat and embedding providers share: the server's
//! address and key, one HTTP client, and error mapping.

use std::time::Duration;

use serde::Serialize;

use super::ProviderError;
use super::resilience::classify_openai;

/// Provider name used in errors and logs.
pub const PROVIDER: &str = "openai_compat";

/// Where an OpenAI-compatible server is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpenAiTarget {
    /// API base without a trailing slash, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// Environment variable holding the API key, if the server wants one. It is a
    /// credential, so it is read where it is used, never stored in config.
    pub api_key_env: Option<String>,
}

/// An HTTP client for OpenAI-compatible servers. Per-call timeouts are the
/// resilience layer's; this only bounds connecting.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

impl OpenAiTarget {
    /// POST `body` as JSON to `base_url` + `path`; a non-2xx answer becomes a classed error.
    ///
    /// # Errors
    /// [`ProviderError::ModelUnavailable`] when the key's variable is unset; transport
    /// failures as [`ProviderError::Unavailable`]; error statuses per [`classify_openai`].
    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &impl Serialize,
    ) -> Result<reqwest::Response, ProviderError> {
        let mut request = client.post(format!("{}{path}", self.base_url)).json(body);
        if let Some(var) = &self.api_key_env {
            let key = std::env::var(var).map_err(|_| {
                ProviderError::ModelUnavailable(format!(
                    "openai_compat: environment variable {var} (api_key_env) is not set"
                ))
            })?;
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let (code, message) = error_parts(&text);
        Err(classify_openai(PROVIDER, status.as_u16(), code.as_deref(), &message))
    }
}

/// A transport error (connect, reset, body) as a transient error.
pub fn transport(e: reqwest::Error) -> ProviderError {
    ProviderError::Unavailable {
        provider: PROVIDER,
        message: e.to_string(),
    }
}

/// `error.code` (or `error.type`) and `error.message` of an OpenAI error body, or the
/// raw text.
fn error_parts(body: &str) -> (Option<String>, String) {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return (None, body.chars().take(500).collect());
    };
    let error = &json["error"];
    let code = error["code"]
        .as_str()
        .or_else(|| error["type"].as_str())
        .map(str::to_owned);
    let message = error["message"]
        .as_str()
        .or_else(|| error.as_str())
        .map_or_else(|| body.chars().take(500).collect(), str::to_owned);
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::error_parts;

    #[test]
    fn error_body_code_and_message() {
        let (code, message) = error_parts(
            r#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
        );
        assert_eq!(code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(message, "too long");
        let (code, message) = error_parts(r#"{"error":"model not found"}"#);
        assert_eq!((code, message.as_str()), (None, "model not found"));
        assert_eq!(error_parts("Bad Gateway").1, "Bad Gateway");
    }
}
