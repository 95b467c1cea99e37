//! What happens when a provider call fails: errors classed transient, permanent or
//! context-too-long; transient ones retried with exponential backoff and jitter
//! within a bounded total time; every call under a timeout; and a fallback model
//! when the routed one cannot answer.
//!
//! Bounds: one attempt lasts at most `timeout`; retries stop at `max_attempts` or when
//! the next backoff would pass `max_elapsed` from the first attempt, and an attempt
//! never runs past that deadline either. So one model takes at most `max_elapsed`,
//! then its fallback gets its own budget.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use super::ProviderError;
use super::llm::{Fallback, GenerateFuture, GenerateRequest, Generation, GenerationEvent, GenerationStream, Generator};
use crate::telemetry::record;

/// How a failure can be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, dropped connections: retry, then fall back.
    Transient,
    /// Validation, access denied, unknown model: retrying cannot help; reported as is.
    Permanent,
    /// The prompt does not fit the model: not retried; a fallback model may take it.
    ContextTooLong,
}

/// Retry and timeout bounds for one model or embedder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// Longest single backoff.
    pub max_backoff: Duration,
    /// Longest time from the first attempt to giving up.
    pub max_elapsed: Duration,
    /// Longest single attempt (for a stream: longest wait for its next event).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_elapsed: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The backoff after failed attempt `attempt` (from 1): exponential, capped, with
    /// "equal jitter" (half fixed, half random) so clients that failed together spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(if jitter_ms == 0 {
            0
        } else {
            rand::random_range(0..=jitter_ms)
        })
    }
}

/// Run `call` under `policy`: each attempt under the timeout, transient failures
/// retried with backoff until the attempts or the time run out.
///
/// # Errors
/// A permanent or context-too-long error at once; a transient one when the policy
/// gives up (as [`ProviderError::RetriesExhausted`] after more than one attempt).
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    provider: &'static str,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let started = Instant::now();
    let deadline = started + policy.max_elapsed;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let limit = policy.timeout.min(remaining).max(Duration::from_millis(1));
        let error = match tokio::time::timeout(limit, call()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e,
            Err(_) => ProviderError::Timeout { provider, after: limit },
        };
        if error.class() != ErrorClass::Transient {
            return Err(error);
        }
        let backoff = policy.backoff(attempt);
        let give_up = attempt >= policy.max_attempts || Instant::now() + backoff >= deadline;
        if give_up {
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(provider, attempt, elapsed_ms, error = %error, "giving up on transient error");
            return Err(if attempt > 1 {
                ProviderError::RetriesExhausted {
                    attempts: attempt,
                    elapsed_ms,
                    last: Box::new(error),
                }
            } else {
                error
            });
        }
        tracing::info!(provider, attempt, backoff_ms = backoff.as_millis() as u64, error = %error, "retrying");
        record::provider_retry(provider, error.kind());
        tokio::time::sleep(backoff).await;
    }
}

/// Class an AWS error by its error code (`x-amzn-errortype`), HTTP status and message.
pub fn classify_aws(provider: &'static str, code: Option<&str>, status: Option<u16>, message: &str) -> ProviderError {
    let message = message.to_owned();
    match code.unwrap_or_default() {
        "ThrottlingException"
        | "TooManyRequestsException"
        | "ServiceQuotaExceededException"
        | "ModelNotReadyException" => ProviderError::Throttled { provider, message },
        "ServiceUnavailableException"
        | "InternalServerException"
        | "ModelErrorException"
        | "ModelStreamErrorException" => ProviderError::Unavailable { provider, message },
        "ModelTimeoutException" | "RequestTimeout" | "RequestTimeoutException" => ProviderError::Unavailable {
            provider,
            message: format!("model timed out: {message}"),
        },
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "ExpiredTokenException"
        | "InvalidSignatureException" => ProviderError::AccessDenied { provider, message },
        "ValidationException" if is_context_too_long(&message) => ProviderError::ContextTooLong { provider, message },
        "ValidationException" | "ResourceNotFoundException" | "ConflictException" => {
            ProviderError::Rejected { provider, message }
        }
        _ => classify_status(provider, status, message),
    }
}

/// Class an OpenAI-compatible server's error by HTTP status, its `error.code` /
/// `error.type` (when the body has one) and message.
pub fn classify_openai(provider: &'static str, status: u16, code: Option<&str>, message: &str) -> ProviderError {
    if code == Some("context_length_exceeded") || is_context_too_long(message) {
        return ProviderError::ContextTooLong {
            provider,
            message: message.to_owned(),
        };
    }
    classify_status(provider, Some(status), message.to_owned())
}

/// By HTTP status alone.
fn classify_status(provider: &'static str, status: Option<u16>, message: String) -> ProviderError {
    match status {
        Some(429) => ProviderError::Throttled { provider, message },
        Some(401 | 403) => ProviderError::AccessDenied { provider, message },
        Some(408) => ProviderError::Unavailable {
            provider,
            message: format!("request timeout: {message}"),
        },
        Some(500..=599) | None => ProviderError::Unavailable { provider, message },
        Some(_) => ProviderError::Rejected { provider, message },
    }
}

/// Whether a validation message says the input is too long for the model.
fn is_context_too_long(message: &str) -> bool {
    let m = message.to_lowercase();
    [
        "too long",
        "too many tokens",
        "too many input tokens",
        "context length",
        "context window",
        "maximum context",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// A model with its retry policy and fallback: what routes call. Its name is the
/// `generate.models` key.
pub struct Resilient {
    /// The `generate.models` name.
    pub model: String,
    inner: Arc<dyn Generator>,
    policy: RetryPolicy,
    fallback: Option<Arc<Resilient>>,
}

impl Resilient {
    pub fn new(
        model: String,
        inner: Arc<dyn Generator>,
        policy: RetryPolicy,
        fallback: Option<Arc<Resilient>>,
    ) -> Self {
        Self {
            model,
            inner,
            policy,
            fallback,
        }
    }

    /// The fallback to try after `error`, if the error allows one and there is one.
    fn fallback_for(&self, error: &ProviderError) -> Option<&Arc<Resilient>> {
        match error.class() {
            ErrorClass::Permanent => None,
            ErrorClass::Transient | ErrorClass::ContextTooLong => self.fallback.as_ref(),
        }
    }

    /// Record on `g` that `self` fell back to `fb` because of `error` (keeping the
    /// final answering model when the fallback itself fell back).
    fn mark(&self, fb: &Resilient, error: &ProviderError, g: &mut Generation) {
        let (to, provider) = match &g.fallback {
            Some(f) => (f.to.clone(), f.provider),
            None => (fb.model.clone(), fb.inner.name()),
        };
        g.fallback = Some(Fallback {
            from: self.model.clone(),
            to,
            provider,
            reason: error.to_string(),
        });
    }

    /// Open `inner`'s stream and wait for its first event, under the timeout.
    async fn open_once(
        inner: Arc<dyn Generator>,
        request: GenerateRequest,
    ) -> Result<(GenerationEvent, GenerationStream), ProviderError> {
        let provider = inner.name();
        let mut s = inner.generate_stream(request);
        match s.next().await {
            Some(Ok(event)) => Ok((event, s)),
            Some(Err(e)) => Err(e),
            None => Err(ProviderError::Unavailable {
                provider,
                message: "the stream ended before any event".into(),
            }),
        }
    }

    async fn open(self: Arc<Self>, request: GenerateRequest) -> GenerationStream {
        let provider = self.inner.name();
        let opened = with_retries(&self.policy, provider, || {
            Self::open_once(self.inner.clone(), request.clone())
        })
        .await;
        match opened {
            Ok((first, rest)) => {
                let rest = idle_timeout(rest, provider, self.policy.timeout);
                Box::pin(stream::once(std::future::ready(Ok(first))).chain(rest))
            }
            Err(error) => match self.fallback_for(&error).cloned() {
                Some(fb) => {
                    tracing::warn!(model = %self.model, fallback = %fb.model, error = %error, "falling back");
                    let this = self.clone();
                    let fb_for_mark = fb.clone();
                    Box::pin(fb.generate_stream(request).map(move |item| match item {
                        Ok(GenerationEvent::Done(mut g)) => {
                            this.mark(&fb_for_mark, &error, &mut g);
                            Ok(GenerationEvent::Done(g))
                        }
                        other => other,
                    }))
                }
                None => Box::pin(stream::once(std::future::ready(Err(error)))),
            },
        }
    }
}

impl Generator for Resilient {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> GenerateFuture<'a> {
        Box::pin(async move {
            let provider = self.inner.name();
            let error = match with_retries(&self.policy, provider, || self.inner.generate(request)).await {
                Ok(g) => return Ok(g),
                Err(e) => e,
            };
            let Some(fb) = self.fallback_for(&error) else {
                return Err(error);
            };
            tracing::warn!(model = %self.model, fallback = %fb.model, error = %error, "falling back");
            let mut g = fb.generate(request).await?;
            self.mark(fb, &error, &mut g);
            Ok(g)
        })
    }

    fn generate_stream(self: Arc<Self>, request: GenerateRequest) -> GenerationStream {
        Box::pin(stream::once(self.open(request)).flatten())
    }
}

/// `s`, ending with [`ProviderError::Timeout`] when no event arrives for `timeout`.
fn idle_timeout(s: GenerationStream, provider: &'static str, timeout: Duration) -> GenerationStream {
    Box::pin(stream::unfold(Some(s), move |state| async move {
        let mut s = state?;
        match tokio::time::timeout(timeout, s.next()).await {
            Ok(Some(item)) => Some((item, Some(s))),
            Ok(None) => None,
            Err(_) => Some((
                Err(ProviderError::Timeout {
                    provider,
                    after: timeout,
                }),
                None,
            )),
        }
    }))
}

#[cfg(test)]
mod tests;
