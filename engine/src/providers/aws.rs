//! The AWS SDK set-up every Bedrock provider shares (Converse, InvokeModel,
//! ApplyGuardrail): one config builder, one lazily built client, and the mapping of
//! SDK errors onto [`ProviderError`].
//!
//! Credentials come from the standard AWS chain only (environment, profile, SSO, web
//! identity, container or instance metadata); a pipeline file names a region and
//! optionally an endpoint, never a key. The SDK's own retries are disabled: retry
//! and timeout bounds belong to [`super::resilience`], so they are the ones configured.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

use super::ProviderError;
use super::resilience::classify_aws;

/// Provider name used in errors and logs.
pub const PROVIDER: &str = "bedrock";

/// How long to wait for a TCP/TLS connection to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to reach AWS: the parts of a pipeline file that say so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AwsTarget {
    /// AWS region, e.g. `us-east-1`; `None` takes the standard chain's (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// Endpoint override, e.g. a VPC endpoint or a local test server.
    pub endpoint_url: Option<String>,
}

/// SDK config from the standard chain, with `region` and `endpoint_url` overriding it
/// when given, the SDK's retries disabled and a connect timeout set.
pub async fn sdk_config(region: Option<&str>, endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// A Bedrock Runtime client for `target`.
///
/// # Errors
/// [`ProviderError::ModelUnavailable`] when no region is configured anywhere.
pub async fn bedrock_client(target: &AwsTarget) -> Result<Client, ProviderError> {
    let config = sdk_config(target.region.as_deref(), target.endpoint_url.as_deref()).await;
    if config.region().is_none() {
        return Err(ProviderError::ModelUnavailable(
            "no AWS region: set `aws.region` in the model, embedder or guardrail config, or AWS_REGION".to_owned(),
        ));
    }
    Ok(Client::new(&config))
}

/// A Bedrock Runtime client built on first use, so compiling or validating a pipeline
/// never touches the credential chain.
#[derive(Debug)]
pub struct LazyBedrockClient {
    target: AwsTarget,
    client: OnceCell<Client>,
}

impl LazyBedrockClient {
    pub fn new(target: AwsTarget) -> Self {
        Self {
            target,
            client: OnceCell::new(),
        }
    }

    /// The client, built on the first call.
    ///
    /// # Errors
    /// As [`bedrock_client`].
    pub async fn get(&self) -> Result<&Client, ProviderError> {
        self.client.get_or_try_init(|| bedrock_client(&self.target)).await
    }
}

/// An SDK error as a [`ProviderError`], classed by its error code and HTTP status.
pub fn sdk_error<E>(err: &SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    classify_sdk(err, status)
}

/// An error received inside an event stream (ConverseStream) as a [`ProviderError`].
pub fn stream_error<E, R>(err: &SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    classify_sdk(err, None)
}

fn classify_sdk<E, R>(err: &SdkError<E, R>, status: Option<u16>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = || DisplayErrorContext(err).to_string();
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let message = e.message().map_or_else(|| e.to_string(), str::to_owned);
            classify_aws(PROVIDER, e.code(), status, &message)
        }
        SdkError::DispatchFailure(d) if d.is_user() => ProviderError::Rejected {
            provider: PROVIDER,
            message: detail(),
        },
        SdkError::ConstructionFailure(_) => ProviderError::ModelUnavailable(format!("bedrock: {}", detail())),
        // Timeouts, connection failures and unreadable responses: worth a retry.
        _ => ProviderError::Unavailable {
            provider: PROVIDER,
            message: detail(),
        },
    }
}
