//! Answers from an OpenAI-compatible `/chat/completions` server (Ollama, vLLM,
//! llama.cpp, ...): one user message with the rendered prompt; streaming through
//! server-sent events with `stream_options.include_usage`, so usage is exact when
//! the server reports it.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};

use super::{
    GenerateFuture, GenerateRequest, Generation, GenerationEvent, GenerationStream, Generator, InferenceSettings,
    citations_in,
};
use crate::providers::ProviderError;
pub use crate::providers::openai_http::OpenAiTarget;
use crate::providers::openai_http::{PROVIDER, http_client, transport};

/// A chat model on an OpenAI-compatible server.
pub struct OpenAiChat {
    model: String,
    target: OpenAiTarget,
    inference: InferenceSettings,
    client: reqwest::Client,
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: [ChatMessage<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChatUsage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ChoiceMessage>,
    #[serde(default)]
    delta: Option<ChoiceMessage>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Clone, Copy, Default)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl OpenAiChat {
    pub fn new(model: String, target: OpenAiTarget, inference: InferenceSettings) -> Self {
        Self {
            model,
            target,
            inference,
            client: http_client(),
        }
    }

    fn body<'a>(&'a self, prompt: &'a str, stream: bool) -> ChatRequest<'a> {
        ChatRequest {
            model: &self.model,
            messages: [ChatMessage {
                role: "user",
                content: prompt,
            }],
            max_tokens: self.inference.max_tokens,
            temperature: self.inference.temperature,
            top_p: self.inference.top_p,
            stop: &self.inference.stop_sequences,
            stream,
            stream_options: stream.then_some(StreamOptions { include_usage: true }),
        }
    }
}

fn bad_response(what: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable {
        provider: PROVIDER,
        message: format!("unreadable response: {what}"),
    }
}

impl Generator for OpenAiChat {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn generate<'a>(&'a self, request: &'a GenerateRequest) -> GenerateFuture<'a> {
        Box::pin(async move {
            let response = self
                .target
                .post(&self.client, "/chat/completions", &self.body(&request.prompt, false))
                .await?;
            let body: ChatResponse = response.json().await.map_err(bad_response)?;
            let text = body
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.message)
                .and_then(|m| m.content)
                .ok_or_else(|| bad_response("no choices[0].message.content"))?;
            let usage = body.usage.unwrap_or_default();
            Ok(Generation {
                cited: citations_in(&text, &request.context),
                text,
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
                fallback: None,
            })
        })
    }

    fn generate_stream(self: Arc<Self>, request: GenerateRequest) -> GenerationStream {
        let opened = async move {
            let response = self
                .target
                .post(&self.client, "/chat/completions", &self.body(&request.prompt, true))
                .await?;
            Ok::<_, ProviderError>(chat_events(sse_data(response.bytes_stream()), request))
        };
        Box::pin(
            stream::once(opened).flat_map(|r: Result<GenerationStream, ProviderError>| match r {
                Ok(s) => s,
                Err(e) => Box::pin(stream::once(std::future::ready(Err(e)))),
            }),
        )
    }
}

/// Longest server-sent-event line accepted. A server that sends more without a
/// newline is broken, and buffering it would grow without bound.
const MAX_LINE_BYTES: usize = 1 << 20;

/// The `data:` payloads of a server-sent event stream, up to `[DONE]`.
fn sse_data(
    bytes: impl Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static,
) -> impl Stream<Item = Result<String, ProviderError>> + Send {
    // State: the byte stream, the unread bytes, how many of them hold no newline,
    // and whether the byte stream has ended.
    let lines = stream::unfold(
        (Box::pin(bytes), Vec::<u8>::new(), 0usize, false),
        |(mut bytes, mut buf, mut scanned, mut done)| async move {
            loop {
                let unscanned = buf.get(scanned..).unwrap_or_default();
                if let Some(pos) = unscanned.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=scanned + pos).collect();
                    let line = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned();
                    return Some((Ok(line), (bytes, buf, 0, done)));
                }
                scanned = buf.len();
                if done {
                    return None;
                }
                if buf.len() > MAX_LINE_BYTES {
                    let e = bad_response(format!("an event line longer than {MAX_LINE_BYTES} bytes"));
                    return Some((Err(e), (bytes, Vec::new(), 0, true)));
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => return Some((Err(transport(e)), (bytes, Vec::new(), 0, true))),
                    None => {
                        if buf.is_empty() {
                            return None;
                        }
                        // A last line without its newline.
                        buf.push(b'\n');
                        done = true;
                    }
                }
            }
        },
    );
    lines
        .filter_map(|line| {
            std::future::ready(match line {
                Ok(l) => l.strip_prefix("data:").map(|d| Ok(d.trim().to_owned())),
                Err(e) => Some(Err(e)),
            })
        })
        .take_while(|d| std::future::ready(!matches!(d, Ok(d) if d == "[DONE]")))
}

/// Chat-completion chunks as generation events: a delta per content piece, then `Done`.
fn chat_events(
    data: impl Stream<Item = Result<String, ProviderError>> + Send + 'static,
    request: GenerateRequest,
) -> GenerationStream {
    struct Acc {
        text: String,
        usage: Option<ChatUsage>,
        request: GenerateRequest,
    }
    let acc = Acc {
        text: String::new(),
        usage: None,
        request,
    };
    let events = data
        .map(Some)
        .chain(stream::once(std::future::ready(None)))
        .scan(Some(acc), |state, item| {
            let out = match (state.as_mut(), item) {
                (None, _) => None,
                (Some(_), Some(Err(e))) => {
                    *state = None;
                    Some(vec![Err(e)])
                }
                (Some(acc), Some(Ok(data))) => match serde_json::from_str::<ChatResponse>(&data) {
                    Err(e) => {
                        *state = None;
                        Some(vec![Err(bad_response(e))])
                    }
                    Ok(chunk) => {
                        if chunk.usage.is_some() {
                            acc.usage = chunk.usage;
                        }
                        let piece: String = chunk
                            .choices
                            .into_iter()
                            .filter_map(|c| c.delta.and_then(|d| d.content))
                            .collect();
                        acc.text.push_str(&piece);
                        Some(if piece.is_empty() {
                            vec![]
                        } else {
                            vec![Ok(GenerationEvent::Delta(piece))]
                        })
                    }
                },
                (Some(_), None) => state.take().map(|acc| {
                    let usage = acc.usage.unwrap_or_default();
                    vec![Ok(GenerationEvent::Done(Generation {
                        cited: citations_in(&acc.text, &acc.request.context),
                        text: acc.text,
                        input_tokens: usage.prompt_tokens,
                        output_tokens: usage.completion_tokens,
                        fallback: None,
                    }))]
                }),
            };
            std::future::ready(out)
        })
        .flat_map(stream::iter);
    Box::pin(events)
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn sse_chunks_become_deltas_then_done_with_usage() {
        let body = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hello \"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"[1]\"}}]}\r\n\r\n",
            ": keep-alive comment\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        );
        // Split mid-line, as a network would.
        let parts: Vec<Result<Bytes, reqwest::Error>> = body
            .as_bytes()
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let request = GenerateRequest {
            question: "q".into(),
            prompt: "p".into(),
            context: vec![super::super::ContextChunk {
                n: 1,
                title: "t".into(),
                text: "x".into(),
                score: 1.0,
            }],
        };
        let events: Vec<_> = chat_events(sse_data(stream::iter(parts)), request).collect().await;
        let events: Vec<GenerationEvent> = events.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            events[..2],
            [
                GenerationEvent::Delta("Hello ".into()),
                GenerationEvent::Delta("[1]".into())
            ]
        );
        let GenerationEvent::Done(g) = &events[2] else {
            panic!("{events:?}")
        };
        assert_eq!((g.text.as_str(), g.input_tokens, g.output_tokens), ("Hello [1]", 9, 2));
        assert_eq!(g.cited, [1]);
        assert_eq!(events.len(), 3);
    }

    #[tokio::test]
    async fn an_endless_line_is_an_error_not_unbounded_memory() {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let parts = stream::iter(std::iter::repeat_n(chunk, 64).map(Ok::<_, reqwest::Error>));
        let items: Vec<_> = sse_data(parts).collect().await;
        assert_eq!(items.len(), 1, "one error, then the end");
        assert!(
            matches!(&items[0], Err(ProviderError::Unavailable { message, .. }) if message.contains("longer than")),
            "{:?}",
            items[0].as_ref().err()
        );
    }
}
