//! Streaming queries: the same stages as [`Pipeline::query`], with the answer as it
//! is generated.
//!
//! [`Pipeline::unguarded_query_stream`] does everything that can fail before the first token
//! (validation, retrieval, routing, prompt rendering, opening the generation with its
//! retries and fallback) and only then returns the stream, so those failures are
//! ordinary errors (an HTTP status), never a half-sent stream. The stream then yields
//!
//! 1. one [`QueryEvent::Route`]: the model and prompt that will answer, and the sources;
//! 2. zero or more [`QueryEvent::Delta`]: answer text, in order (concatenated they are the answer);
//! 3. exactly one of [`QueryEvent::Done`] (the whole [`QueryResponse`]: answer, sources,
//!    final route — which names the fallback model if one answered — usage and cost,
//!    latency) or [`QueryEvent::Error`] (the generation failed part-way);
//!
//! and ends. Dropping the stream stops the generation.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt, stream};

use super::Pipeline;
use super::query::{QueryError, QueryRequest, QueryResponse, RouteInfo, Source};
use crate::providers::llm::{GenerationEvent, Generator};

/// One event of a streamed answer; see the module docs for their order.
#[derive(Debug)]
pub enum QueryEvent {
    /// Retrieval and routing are done: who answers, from which sources.
    Route { route: RouteInfo, sources: Vec<Source> },
    /// The next piece of the answer.
    Delta(String),
    /// The answer is complete: the whole response, as [`Pipeline::query`] returns it.
    Done(Box<QueryResponse>),
    /// The generation failed after the stream began; nothing follows.
    Error(QueryError),
}

/// The events of one streamed answer.
pub type QueryStream = Pin<Box<dyn Stream<Item = QueryEvent> + Send>>;

impl Pipeline {
    /// Answer one question as a stream of [`QueryEvent`]s, without the guardrails:
    /// callers outside this module use [`Pipeline::query_stream`], which applies them.
    ///
    /// # Errors
    /// Everything [`Pipeline::query`] can fail with before the first piece of the
    /// answer, including a generation that fails before producing any text (after its
    /// retries and fallback).
    pub(super) async fn unguarded_query_stream(
        self: &Arc<Self>,
        request: QueryRequest,
    ) -> Result<QueryStream, QueryError> {
        let prepared = self.prepare(request).await?;
        let mut generation = prepared
            .model
            .generator
            .clone()
            .generate_stream(prepared.request.clone());
        // Wait for the first event, so a generation that cannot start is an error, not a stream.
        let first = match generation.next().await {
            Some(Ok(event)) => event,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(QueryError::Internal("the generation ended without an answer".into())),
        };
        let route = QueryEvent::Route {
            route: prepared.route_info(None),
            sources: prepared.hits.clone(),
        };
        let this = self.clone();
        // `None` marks the end of the generation, so a stream that stops without its
        // final event still ends with an error rather than silently.
        let items = stream::once(std::future::ready(Some(Ok(first))))
            .chain(generation.map(Some))
            .chain(stream::once(std::future::ready(None)));
        let events = items.scan(Some(prepared), move |state, item| {
            let out = match (state.take(), item) {
                (None, _) => None,
                (Some(p), Some(Ok(GenerationEvent::Delta(text)))) => {
                    *state = Some(p);
                    Some(QueryEvent::Delta(text))
                }
                (Some(p), Some(Ok(GenerationEvent::Done(g)))) => Some(QueryEvent::Done(Box::new(this.finish(p, g)))),
                (Some(_), Some(Err(e))) => Some(QueryEvent::Error(e.into())),
                (Some(_), None) => Some(QueryEvent::Error(QueryError::Internal(
                    "the generation stopped before it finished".into(),
                ))),
            };
            std::future::ready(out)
        });
        Ok(Box::pin(stream::once(std::future::ready(route)).chain(events)))
    }
}
