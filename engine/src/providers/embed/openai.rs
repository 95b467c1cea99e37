//! Embeddings from an OpenAI-compatible `/embeddings` server (Ollama, vLLM,
//! llama.cpp, text-embeddings-inference, ...), batched, each request under the
//! retry policy.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::blocking::BlockingRuntime;
use super::{Embedder, Embeddings, normalize};
use crate::providers::ProviderError;
use crate::providers::openai_http::{OpenAiTarget, PROVIDER, http_client};
use crate::providers::resilience::{RetryPolicy, with_retries};

/// Texts per request.
const BATCH: usize = 64;

/// An embedding model on an OpenAI-compatible server.
pub struct OpenAiEmbedder {
    id: String,
    model: String,
    dims: usize,
    target: Arc<OpenAiTarget>,
    client: reqwest::Client,
    policy: RetryPolicy,
    runtime: BlockingRuntime,
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingData>,
    #[serde(default)]
    usage: Option<EmbeddingUsage>,
}

#[derive(Deserialize)]
struct EmbeddingData {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

#[derive(Deserialize)]
struct EmbeddingUsage {
    #[serde(default)]
    prompt_tokens: u64,
}

impl OpenAiEmbedder {
    /// `model`, whose vectors have `dims` dimensions, at `target`.
    ///
    /// # Errors
    /// [`ProviderError::ModelUnavailable`] when its runtime cannot start.
    pub fn new(model: String, dims: usize, target: OpenAiTarget, policy: RetryPolicy) -> Result<Self, ProviderError> {
        Ok(Self {
            id: format!("openai_compat/{model}"),
            model,
            dims,
            target: Arc::new(target),
            client: http_client(),
            policy,
            runtime: BlockingRuntime::new("openai-embed")?,
        })
    }
}

/// One request: the batch's vectors in input order, and the tokens it cost.
async fn request(
    client: &reqwest::Client,
    target: &OpenAiTarget,
    model: &str,
    batch: &[String],
    dims: usize,
) -> Result<(Vec<Vec<f32>>, u64), ProviderError> {
    let response = target
        .post(client, "/embeddings", &EmbeddingRequest { model, input: batch })
        .await?;
    let body: EmbeddingResponse = response.json().await.map_err(|e| ProviderError::Unavailable {
        provider: PROVIDER,
        message: format!("unreadable embeddings response: {e}"),
    })?;
    if body.data.len() != batch.len() {
        return Err(ProviderError::Rejected {
            provider: PROVIDER,
            message: format!("{} embeddings for {} inputs", body.data.len(), batch.len()),
        });
    }
    let mut data = body.data;
    data.sort_by_key(|d| d.index.unwrap_or(0));
    let mut vectors = Vec::with_capacity(data.len());
    for d in data {
        if d.embedding.len() != dims {
            return Err(ProviderError::Rejected {
                provider: PROVIDER,
                message: format!(
                    "{model} returned {} dimensions; the config says dims: {dims}",
                    d.embedding.len()
                ),
            });
        }
        vectors.push(d.embedding);
    }
    Ok((vectors, body.usage.map_or(0, |u| u.prompt_tokens)))
}

impl Embedder for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dims(&self) -> usize {
        self.dims
    }

    /// `tokens` is the server's `usage.prompt_tokens` (0 when it reports none).
    fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError> {
        let texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        let (client, target, model, dims, policy) = (
            self.client.clone(),
            self.target.clone(),
            self.model.clone(),
            self.dims,
            self.policy.clone(),
        );
        self.runtime.run(async move {
            let mut out = Embeddings {
                vectors: Vec::with_capacity(texts.len()),
                tokens: 0,
            };
            for batch in texts.chunks(BATCH) {
                let (vectors, tokens) =
                    with_retries(&policy, PROVIDER, || request(&client, &target, &model, batch, dims)).await?;
                for mut v in vectors {
                    normalize(&mut v);
                    out.vectors.push(v);
                }
                out.tokens += usize::try_from(tokens).unwrap_or(usize::MAX);
            }
            Ok(out)
        })
    }
}
