//! Amazon Bedrock answers through the Converse API (`Converse`, `ConverseStream`):
//! one user message holding the rendered prompt, the model's inference settings,
//! token usage read from the response. Retries, timeouts and fallback are the
//! [`crate::providers::resilience::Resilient`] wrapper's job.

use std::sync::Arc;

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseOutput, ConverseStreamOutput, InferenceConfiguration,
    Message, TokenUsage,
};
use futures_util::stream;

use super::{
    GenerateFuture, GenerateRequest, Generation, GenerationEvent, GenerationStream, Generator, InferenceSettings,
    citations_in,
};
use crate::providers::ProviderError;
use crate::providers::aws::{AwsTarget, LazyBedrockClient, PROVIDER, sdk_error, stream_error};

/// A Bedrock model, called through Converse.
pub struct Bedrock {
    model_id: String,
    inference: InferenceSettings,
    client: Arc<LazyBedrockClient>,
}

impl Bedrock {
    /// Model `model_id` in `target`; the client is built on the first call.
    pub fn new(model_id: String, target: AwsTarget, inference: InferenceSettings) -> Self {
        Self {
            model_id,
            inference,
            client: Arc::new(LazyBedrockClient::new(target)),
        }
    }

    fn message(prompt: &str) -> Result<Message, ProviderError> {
        Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(prompt.to_owned()))
            .build()
            .map_err(|e| ProviderError::InvalidInput(format!("bedrock message: {e}")))
    }

    fn inference_config(&self) -> InferenceConfiguration {
        let s = &self.inference;
        InferenceConfiguration::builder()
            .set_max_tokens(s.max_tokens.map(|t| i32::try_from(t).unwrap_or(i32::MAX)))
            .set_temperature(s.temperature)
            .set_top_p(s.top_p)
            .set_stop_sequences((!s.stop_sequences.is_empty()).then(|| s.stop_sequences.clone()))
            .build()
    }
}

/// Token counts from a usage block (0 when absent or negative).
fn tokens(usage: Option<&TokenUsage>) -> (u64, u64) {
    usage.map_or((0, 0), |u| {
        (
            u64::try_from(u.input_tokens()).unwrap_or(0),
            u64::try_from(u.output_tokens()).unwrap_or(0),
        )
    })
}

impl Generator for Bedrock {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> GenerateFuture<'a> {
        Box::pin(async move {
            let client = self.client.get().await?;
            let output = client
                .converse()
                .model_id(&self.model_id)
                .messages(Self::message(&request.prompt)?)
                .inference_config(self.inference_config())
                .send()
                .await
                .map_err(|e| sdk_error(&e))?;
            let text = match output.output() {
                Some(ConverseOutput::Message(m)) => m
                    .content()
                    .iter()
                    .filter_map(|b| b.as_text().ok())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(""),
                _ => {
                    return Err(ProviderError::Unavailable {
                        provider: PROVIDER,
                        message: "the response holds no message".into(),
                    });
                }
            };
            let (input_tokens, output_tokens) = tokens(output.usage());
            tracing::debug!(model = %self.model_id, input_tokens, output_tokens, stop_reason = ?output.stop_reason(), "bedrock answered");
            Ok(Generation {
                cited: citations_in(&text, &request.context),
                text,
                input_tokens,
                output_tokens,
                fallback: None,
            })
        })
    }

    fn generate_stream(self: Arc<Self>, request: GenerateRequest) -> GenerationStream {
        let opened = async move {
            let client = self.client.get().await?;
            let output = client
                .converse_stream()
                .model_id(&self.model_id)
                .messages(Self::message(&request.prompt)?)
                .inference_config(self.inference_config())
                .send()
                .await
                .map_err(|e| sdk_error(&e))?;
            Ok::<_, ProviderError>((output.stream, request))
        };
        Box::pin(stream::unfold(State::Opening(Box::pin(opened)), next_event))
    }
}

type Receiver = aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver<
    ConverseStreamOutput,
    aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError,
>;
type Opening =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(Receiver, GenerateRequest), ProviderError>> + Send>>;

/// Where a ConverseStream is.
enum State {
    Opening(Opening),
    Reading(Box<Reading>),
    Ended,
}

struct Reading {
    receiver: Receiver,
    request: GenerateRequest,
    text: String,
    usage: (u64, u64),
}

/// The next event of a ConverseStream: deltas as they come, `Done` after the
/// metadata event (which carries usage) or the end of the stream.
async fn next_event(state: State) -> Option<(Result<GenerationEvent, ProviderError>, State)> {
    let mut r = match state {
        State::Ended => return None,
        State::Opening(opening) => match opening.await {
            Ok((receiver, request)) => Box::new(Reading {
                receiver,
                request,
                text: String::new(),
                usage: (0, 0),
            }),
            Err(e) => return Some((Err(e), State::Ended)),
        },
        State::Reading(r) => r,
    };
    loop {
        match r.receiver.recv().await {
            Ok(Some(ConverseStreamOutput::ContentBlockDelta(d))) => {
                if let Some(ContentBlockDelta::Text(t)) = d.delta()
                    && !t.is_empty()
                {
                    r.text.push_str(t);
                    let delta = t.clone();
                    return Some((Ok(GenerationEvent::Delta(delta)), State::Reading(r)));
                }
            }
            Ok(Some(ConverseStreamOutput::Metadata(m))) => r.usage = tokens(m.usage()),
            Ok(Some(_)) => {}
            Ok(None) => {
                let Reading {
                    request, text, usage, ..
                } = *r;
                let g = Generation {
                    cited: citations_in(&text, &request.context),
                    text,
                    input_tokens: usage.0,
                    output_tokens: usage.1,
                    fallback: None,
                };
                return Some((Ok(GenerationEvent::Done(g)), State::Ended));
            }
            Err(e) => return Some((Err(stream_error(&e)), State::Ended)),
        }
    }
}
