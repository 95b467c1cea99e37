//! One test per error mapping, and the retry, timeout and fallback behaviour with
//! fake generators (short, config-set durations; assertions on outcomes, not speed).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;

use super::*;
use crate::providers::llm::extractive::Extractive;
use crate::providers::llm::{ContextChunk, GenerationEvent};

const P: &str = "bedrock";

fn class_aws(code: &str, status: u16, message: &str) -> ErrorClass {
    classify_aws(P, Some(code), Some(status), message).class()
}

#[test]
fn throttling_is_transient() {
    assert_eq!(
        class_aws("ThrottlingException", 429, "Too many requests"),
        ErrorClass::Transient
    );
    assert!(matches!(
        classify_aws(P, Some("ThrottlingException"), Some(429), "x"),
        ProviderError::Throttled { .. }
    ));
}

#[test]
fn quota_and_model_not_ready_are_transient() {
    assert_eq!(
        class_aws("ServiceQuotaExceededException", 400, "quota"),
        ErrorClass::Transient
    );
    assert_eq!(
        class_aws("ModelNotReadyException", 429, "warming"),
        ErrorClass::Transient
    );
}

#[test]
fn service_unavailable_and_internal_errors_are_transient() {
    assert_eq!(
        class_aws("ServiceUnavailableException", 503, "down"),
        ErrorClass::Transient
    );
    assert_eq!(class_aws("InternalServerException", 500, "oops"), ErrorClass::Transient);
    assert_eq!(
        class_aws("ModelErrorException", 424, "model failed"),
        ErrorClass::Transient
    );
}

#[test]
fn model_timeout_is_transient() {
    assert_eq!(class_aws("ModelTimeoutException", 408, "slow"), ErrorClass::Transient);
}

#[test]
fn unknown_5xx_is_transient_and_unknown_4xx_permanent() {
    assert_eq!(
        classify_aws(P, None, Some(502), "bad gateway").class(),
        ErrorClass::Transient
    );
    assert_eq!(
        classify_aws(P, Some("Weird"), Some(418), "teapot").class(),
        ErrorClass::Permanent
    );
}

#[test]
fn validation_is_permanent() {
    let e = classify_aws(P, Some("ValidationException"), Some(400), "temperature out of range");
    assert!(matches!(e, ProviderError::Rejected { .. }), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Permanent);
}

#[test]
fn access_denied_is_permanent() {
    let e = classify_aws(P, Some("AccessDeniedException"), Some(403), "no model access");
    assert!(matches!(e, ProviderError::AccessDenied { .. }), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert_eq!(
        class_aws("UnrecognizedClientException", 403, "bad key"),
        ErrorClass::Permanent
    );
}

#[test]
fn unknown_model_is_permanent() {
    assert_eq!(
        class_aws("ResourceNotFoundException", 404, "no such model"),
        ErrorClass::Permanent
    );
}

#[test]
fn input_too_long_is_context_too_long() {
    for message in [
        "Input is too long for requested model.",
        "The model returned the following errors: too many input tokens",
        "prompt exceeds the maximum context length",
    ] {
        assert_eq!(
            class_aws("ValidationException", 400, message),
            ErrorClass::ContextTooLong,
            "{message}"
        );
    }
}

#[test]
fn openai_statuses() {
    let c = |status, code: Option<&str>, m| classify_openai("openai_compat", status, code, m).class();
    assert_eq!(c(429, None, "rate limited"), ErrorClass::Transient);
    assert_eq!(c(500, None, "boom"), ErrorClass::Transient);
    assert_eq!(c(503, None, "loading model"), ErrorClass::Transient);
    assert_eq!(c(401, None, "bad key"), ErrorClass::Permanent);
    assert_eq!(c(404, Some("model_not_found"), "no model"), ErrorClass::Permanent);
    assert_eq!(c(400, Some("context_length_exceeded"), "x"), ErrorClass::ContextTooLong);
    assert_eq!(
        c(400, None, "This model's maximum context length is 4096 tokens"),
        ErrorClass::ContextTooLong
    );
}

#[test]
fn timeouts_and_exhausted_retries_keep_their_class() {
    let timeout = ProviderError::Timeout {
        provider: P,
        after: Duration::from_secs(1),
    };
    assert_eq!(timeout.class(), ErrorClass::Transient);
    let exhausted = ProviderError::RetriesExhausted {
        attempts: 3,
        elapsed_ms: 10,
        last: Box::new(timeout),
    };
    assert_eq!(exhausted.class(), ErrorClass::Transient);
    assert!(matches!(exhausted.root(), ProviderError::Timeout { .. }));
}

#[test]
fn sdk_service_errors_are_classed_by_code() {
    use aws_sdk_bedrockruntime::config::http::HttpResponse;
    use aws_sdk_bedrockruntime::error::SdkError;
    use aws_sdk_bedrockruntime::operation::converse::ConverseError;
    use aws_sdk_bedrockruntime::types::error::{AccessDeniedException, ThrottlingException};
    use aws_smithy_types::body::SdkBody;

    let raw = |status: u16| HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
    let throttled = SdkError::service_error(
        ConverseError::ThrottlingException(ThrottlingException::builder().message("slow down").build()),
        raw(429),
    );
    let e = crate::providers::aws::sdk_error(&throttled);
    assert!(
        matches!(&e, ProviderError::Throttled { message, .. } if message.contains("slow down")),
        "{e:?}"
    );
    let denied = SdkError::service_error(
        ConverseError::AccessDeniedException(AccessDeniedException::builder().message("no").build()),
        raw(403),
    );
    assert_eq!(crate::providers::aws::sdk_error(&denied).class(), ErrorClass::Permanent);
}

#[test]
fn backoff_grows_is_capped_and_jittered() {
    let p = RetryPolicy {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(1000),
        ..RetryPolicy::default()
    };
    for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (30, 1000)] {
        let b = p.backoff(attempt).as_millis() as u64;
        assert!(
            (full / 2..=full).contains(&b),
            "attempt {attempt}: {b} ms not in [{}, {full}]",
            full / 2
        );
    }
}

/// Fails with `error()` for the first `failures` calls (all calls when `None`), then answers.
struct Flaky {
    calls: AtomicU32,
    failures: Option<u32>,
    error: fn() -> ProviderError,
    delay: Duration,
}

impl Flaky {
    fn new(failures: Option<u32>, error: fn() -> ProviderError) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU32::new(0),
            failures,
            error,
            delay: Duration::ZERO,
        })
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Generator for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn generate<'a>(&'a self, _: &'a GenerateRequest) -> GenerateFuture<'a> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if self.failures.is_none_or(|f| n < f) {
                return Err((self.error)());
            }
            Ok(Generation {
                text: "flaky answer [1]".into(),
                cited: vec![1],
                input_tokens: 10,
                output_tokens: 3,
                fallback: None,
            })
        })
    }
}

fn throttled() -> ProviderError {
    ProviderError::Throttled {
        provider: P,
        message: "slow down".into(),
    }
}

fn denied() -> ProviderError {
    ProviderError::AccessDenied {
        provider: P,
        message: "no".into(),
    }
}

fn fast(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(60),
        timeout: Duration::from_secs(60),
    }
}

fn request() -> GenerateRequest {
    GenerateRequest {
        question: "How many vacation days?".into(),
        prompt: "prompt".into(),
        context: vec![ContextChunk {
            n: 1,
            title: "Leave".into(),
            text: "Employees get 25 vacation days per year.".into(),
            score: 1.0,
        }],
    }
}

#[tokio::test]
async fn transient_errors_are_retried_until_success() {
    let flaky = Flaky::new(Some(2), throttled);
    let r = Resilient::new("lite".into(), flaky.clone(), fast(4), None);
    let g = r.generate(&request()).await.unwrap();
    assert_eq!(g.text, "flaky answer [1]");
    assert_eq!(flaky.calls(), 3);
    assert!(g.fallback.is_none());
}

#[tokio::test]
async fn permanent_errors_are_not_retried_and_not_fallen_back() {
    let flaky = Flaky::new(None, denied);
    let fallback = Arc::new(Resilient::new(
        "local".into(),
        Arc::new(Extractive::new(2)),
        fast(1),
        None,
    ));
    let r = Resilient::new("lite".into(), flaky.clone(), fast(4), Some(fallback));
    let e = r.generate(&request()).await.unwrap_err();
    assert!(matches!(e, ProviderError::AccessDenied { .. }), "{e:?}");
    assert_eq!(flaky.calls(), 1);
}

#[tokio::test]
async fn retries_stop_at_max_attempts() {
    let flaky = Flaky::new(None, throttled);
    let r = Resilient::new("lite".into(), flaky.clone(), fast(3), None);
    let e = r.generate(&request()).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::RetriesExhausted { attempts: 3, .. }),
        "{e:?}"
    );
    assert_eq!(flaky.calls(), 3);
}

#[tokio::test]
async fn retries_stop_within_max_elapsed() {
    let flaky = Flaky::new(None, throttled);
    let policy = RetryPolicy {
        max_attempts: 1000,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(40),
        max_elapsed: Duration::from_millis(300),
        timeout: Duration::from_secs(60),
    };
    let r = Resilient::new("lite".into(), flaky.clone(), policy, None);
    let started = std::time::Instant::now();
    let e = r.generate(&request()).await.unwrap_err();
    assert!(matches!(e, ProviderError::RetriesExhausted { .. }), "{e:?}");
    // Bounded: far fewer than 1000 attempts, and done long before a generous limit.
    assert!(flaky.calls() < 100, "{} calls", flaky.calls());
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn a_hung_call_times_out() {
    let hung = Arc::new(Flaky {
        calls: AtomicU32::new(0),
        failures: Some(0),
        error: throttled,
        delay: Duration::from_secs(3600),
    });
    let policy = RetryPolicy {
        timeout: Duration::from_millis(50),
        ..fast(2)
    };
    let r = Resilient::new("lite".into(), hung.clone(), policy, None);
    let e = r.generate(&request()).await.unwrap_err();
    assert!(matches!(e.root(), ProviderError::Timeout { .. }), "{e:?}");
    assert_eq!(hung.calls(), 2);
}

#[tokio::test]
async fn persistent_throttling_falls_back_and_says_so() {
    let flaky = Flaky::new(None, throttled);
    let lite = Arc::new(Resilient::new("lite".into(), flaky.clone(), fast(2), None));
    let local = Arc::new(Resilient::new(
        "local".into(),
        Arc::new(Extractive::new(2)),
        fast(1),
        None,
    ));
    let lite_to_local = Arc::new(Resilient::new("lite".into(), flaky.clone(), fast(2), Some(local)));
    let pro = Resilient::new("pro".into(), Flaky::new(None, throttled), fast(2), Some(lite_to_local));
    let g = pro.generate(&request()).await.unwrap();
    let f = g.fallback.unwrap();
    assert_eq!(
        (f.from.as_str(), f.to.as_str(), f.provider),
        ("pro", "local", "extractive")
    );
    assert!(f.reason.contains("throttled"), "{}", f.reason);
    assert!(g.text.contains("25 vacation days"), "{}", g.text);
    drop(lite);
}

#[tokio::test]
async fn streams_retry_before_the_first_event_and_fall_back() {
    // Retried, then answers: the default stream is one delta and Done.
    let flaky = Flaky::new(Some(1), throttled);
    let r = Arc::new(Resilient::new("lite".into(), flaky.clone(), fast(3), None));
    let events: Vec<_> = r.generate_stream(request()).map(Result::unwrap).collect().await;
    assert_eq!(events[0], GenerationEvent::Delta("flaky answer [1]".into()));
    assert!(matches!(&events[1], GenerationEvent::Done(g) if g.output_tokens == 3));
    assert_eq!(flaky.calls(), 2);

    // Throttled throughout: the fallback streams, and Done says so.
    let local = Arc::new(Resilient::new(
        "local".into(),
        Arc::new(Extractive::new(2)),
        fast(1),
        None,
    ));
    let r = Arc::new(Resilient::new(
        "lite".into(),
        Flaky::new(None, throttled),
        fast(2),
        Some(local),
    ));
    let events: Vec<_> = r.generate_stream(request()).map(Result::unwrap).collect().await;
    let GenerationEvent::Done(g) = events.last().unwrap() else {
        panic!("{events:?}")
    };
    assert_eq!(g.fallback.as_ref().map(|f| f.to.as_str()), Some("local"));

    // Permanent: one error, no fallback.
    let local = Arc::new(Resilient::new(
        "local".into(),
        Arc::new(Extractive::new(2)),
        fast(1),
        None,
    ));
    let r = Arc::new(Resilient::new(
        "lite".into(),
        Flaky::new(None, denied),
        fast(3),
        Some(local),
    ));
    let events: Vec<_> = r.generate_stream(request()).collect().await;
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Err(ProviderError::AccessDenied { .. })));
}
