//! A streamed answer as OpenAI `chat.completion.chunk` server-sent events: a first chunk
//! with the role, one chunk per piece of the answer, a last chunk with `finish_reason`
//! and the `ragline` extension, an optional usage chunk, then `data: [DONE]`. A failure
//! part-way is sent as `data: {"error": {...}}` (the OpenAI clients raise it).

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt, stream};
use serde::Serialize;

use super::error::{OpenAiError, OpenAiErrorBody};
use super::types::{ChatCompletionChunk, ChunkChoice, ChunkDelta, CompletionUsage, RaglineExtension, finish_reason};
use crate::pipeline::{QueryEvent, QueryStream};

/// What every chunk of one completion repeats.
#[derive(Debug, Clone)]
pub struct ChunkMeta {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub include_usage: bool,
}

impl ChunkMeta {
    fn chunk(&self, delta: ChunkDelta, finish: Option<String>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
                logprobs: None,
            }],
            usage: None,
            ragline: None,
        }
    }

    /// The chunks for one event of the answer.
    fn events(&self, event: QueryEvent) -> Vec<Event> {
        match event {
            QueryEvent::Route { .. } => vec![data(&self.chunk(
                ChunkDelta {
                    role: Some("assistant".to_owned()),
                    content: Some(String::new()),
                },
                None,
            ))],
            QueryEvent::Delta(text) if text.is_empty() => Vec::new(),
            QueryEvent::Delta(text) => vec![data(&self.chunk(
                ChunkDelta {
                    role: None,
                    content: Some(text),
                },
                None,
            ))],
            QueryEvent::Done(response) => {
                let mut last = self.chunk(ChunkDelta::default(), Some(finish_reason(&response)));
                last.ragline = Some(RaglineExtension::from(response.as_ref()));
                let mut out = vec![data(&last)];
                if self.include_usage {
                    let mut usage = self.chunk(ChunkDelta::default(), None);
                    usage.choices.clear();
                    usage.usage = Some(CompletionUsage::from(response.as_ref()));
                    out.push(data(&usage));
                }
                out
            }
            QueryEvent::Error(e) => {
                tracing::warn!(pipeline = %self.model, error = %e, "streamed chat completion failed");
                let e = OpenAiError::from(e);
                vec![data(&OpenAiErrorBody { error: e.body })]
            }
        }
    }
}

/// The SSE response for `events`.
pub fn sse(meta: ChunkMeta, events: QueryStream) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let chunks = events
        .flat_map(move |event| stream::iter(meta.events(event)))
        .chain(stream::once(async { Event::default().data("[DONE]") }))
        .map(Ok);
    Sse::new(chunks).keep_alive(KeepAlive::default())
}

/// A data-only event (no `event:` line, as the OpenAI clients expect).
fn data(value: &impl Serialize) -> Event {
    Event::default().data(serde_json::to_string(value).unwrap_or_else(|e| {
        format!(
            "{{\"error\":{{\"message\":\"cannot serialize chunk: {e}\",\"type\":\"api_error\",\"code\":\"internal\"}}}}"
        )
    }))
}
