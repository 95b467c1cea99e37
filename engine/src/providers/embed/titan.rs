//! Amazon Titan Text Embeddings V2 through Bedrock `InvokeModel`:
//! `{"inputText", "dimensions", "normalize"}` → `{"embedding", "inputTextTokenCount"}`,
//! one text per call, a few calls in flight, each under the retry policy.

use std::sync::Arc;

use aws_sdk_bedrockruntime::primitives::Blob;
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};

use super::blocking::BlockingRuntime;
use super::{Embedder, Embeddings, normalize};
use crate::providers::ProviderError;
use crate::providers::aws::{AwsTarget, LazyBedrockClient, PROVIDER, sdk_error};
use crate::providers::resilience::{RetryPolicy, with_retries};

/// The dimensions Titan V2 offers.
pub const TITAN_DIMS: [usize; 3] = [256, 512, 1024];
/// Calls in flight per batch.
const CONCURRENCY: usize = 4;

/// Titan Text Embeddings V2 (or a compatible model id).
pub struct TitanEmbedder {
    id: String,
    model_id: String,
    dims: usize,
    client: Arc<LazyBedrockClient>,
    policy: RetryPolicy,
    runtime: BlockingRuntime,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanRequest<'a> {
    input_text: &'a str,
    dimensions: usize,
    normalize: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResponse {
    embedding: Vec<f32>,
    #[serde(default)]
    input_text_token_count: u64,
}

impl TitanEmbedder {
    /// `model_id` with `dims` dimensions (256, 512 or 1024) in `target`.
    ///
    /// # Errors
    /// [`ProviderError::InvalidInput`] for other dimensions; [`ProviderError::ModelUnavailable`]
    /// when its runtime cannot start.
    pub fn new(model_id: String, dims: usize, target: AwsTarget, policy: RetryPolicy) -> Result<Self, ProviderError> {
        if !TITAN_DIMS.contains(&dims) {
            return Err(ProviderError::InvalidInput(format!(
                "Titan V2 embeds in 256, 512 or 1024 dimensions, not {dims}"
            )));
        }
        Ok(Self {
            id: format!("bedrock_titan/{model_id}"),
            model_id,
            dims,
            client: Arc::new(LazyBedrockClient::new(target)),
            policy,
            runtime: BlockingRuntime::new("titan-embed")?,
        })
    }
}

/// One InvokeModel call.
async fn invoke(
    client: &LazyBedrockClient,
    model_id: &str,
    text: &str,
    dims: usize,
) -> Result<(Vec<f32>, u64), ProviderError> {
    let body = serde_json::to_vec(&TitanRequest {
        input_text: text,
        dimensions: dims,
        normalize: true,
    })
    .map_err(|e| ProviderError::InvalidInput(e.to_string()))?;
    let output = client
        .get()
        .await?
        .invoke_model()
        .model_id(model_id)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(body))
        .send()
        .await
        .map_err(|e| sdk_error(&e))?;
    let response: TitanResponse =
        serde_json::from_slice(output.body().as_ref()).map_err(|e| ProviderError::Unavailable {
            provider: PROVIDER,
            message: format!("unreadable InvokeModel response: {e}"),
        })?;
    if response.embedding.len() != dims {
        return Err(ProviderError::Rejected {
            provider: PROVIDER,
            message: format!(
                "{model_id} returned {} dimensions, {dims} were asked for",
                response.embedding.len()
            ),
        });
    }
    Ok((response.embedding, response.input_text_token_count))
}

impl Embedder for TitanEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dims(&self) -> usize {
        self.dims
    }

    /// `tokens` is the sum of Titan's `inputTextTokenCount`.
    fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError> {
        if texts.is_empty() {
            return Ok(Embeddings {
                vectors: Vec::new(),
                tokens: 0,
            });
        }
        let texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        let (client, model_id, dims, policy) = (
            self.client.clone(),
            self.model_id.clone(),
            self.dims,
            self.policy.clone(),
        );
        self.runtime.run(async move {
            let calls = texts.into_iter().map(|text| {
                let (client, model_id, policy) = (client.clone(), model_id.clone(), policy.clone());
                async move { with_retries(&policy, PROVIDER, || invoke(&client, &model_id, &text, dims)).await }
            });
            let results: Vec<_> = stream::iter(calls).buffered(CONCURRENCY).collect().await;
            let mut out = Embeddings {
                vectors: Vec::with_capacity(results.len()),
                tokens: 0,
            };
            for r in results {
                let (mut vector, tokens) = r?;
                normalize(&mut vector);
                out.vectors.push(vector);
                out.tokens += usize::try_from(tokens).unwrap_or(usize::MAX);
            }
            Ok(out)
        })
    }
}
