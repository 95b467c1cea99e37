//! Streaming queries: the same stages as [`Pipeline::query`], with the answer as it
//! is generated.
//!
//! [`Pipeline::query_stream`] does everything that can fail before the first token
//! (validation, the query's guards, retrieval, routing, prompt rendering, opening the
//! generation with its retries and fallback) and only then returns the stream, so those
//! failures are ordinary errors (an HTTP status), never a half-sent stream. The stream
//! then yields
//!
//! 1. one [`QueryEvent::Route`]: the model and prompt that will answer, and the sources
//!    (masked by the guards);
//! 2. zero or more [`QueryEvent::Delta`]: answer text, in order (concatenated they are
//!    the answer). When a guard checks answers, the answer is held back until it is
//!    complete and checked, then sent as one delta (PII can span deltas, and Bedrock
//!    checks whole texts);
//! 3. exactly one of [`QueryEvent::Done`] (the whole [`Answer`], as [`Pipeline::query`]
//!    returns it) or [`QueryEvent::Error`] (the generation failed part-way);
//!
//! and ends. A query the guards refuse streams as route, the refusal as one delta, done.
//! Dropping the stream stops the generation.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt, stream};
use tracing::{Instrument as _, Span};

use super::run::Prepared;
use super::{Answer, Query, QueryError, RouteInfo};
use crate::pipeline::Pipeline;
use crate::pipeline::step::timed;
use crate::providers::llm::GenerationEvent;
use crate::stages::retrieve::Hit;
use crate::stages::{RunAsync as _, Stage as _};
use crate::telemetry::spans;

/// One event of a streamed answer; see the module docs for their order.
#[derive(Debug)]
pub enum QueryEvent {
    /// Retrieval and routing are done: who answers, from which sources.
    Route { route: RouteInfo, sources: Vec<Hit> },
    /// The next piece of the answer.
    Delta(String),
    /// The answer is complete: the whole answer, as [`Pipeline::query`] returns it.
    Done(Box<Answer>),
    /// The generation failed after the stream began; nothing follows.
    Error(QueryError),
}

/// The events of one streamed answer.
pub type QueryStream = Pin<Box<dyn Stream<Item = QueryEvent> + Send>>;

impl Pipeline {
    /// Answer one question as a stream of [`QueryEvent`]s.
    ///
    /// # Errors
    /// Everything [`Pipeline::query`] can fail with before the first piece of the
    /// answer, including a generation that fails before producing any text (after its
    /// retries and fallback).
    pub async fn query_stream(self: &Arc<Self>, query: Query) -> Result<QueryStream, QueryError> {
        let ready = match self.prepare(query, true).await? {
            Prepared::Answered(answer) => return Ok(answered(*answer)),
            Prepared::Ready(ready) => ready,
        };
        let generate = &self.spec.generate;
        // The request's span, for what runs as the stream is read (the answer guard),
        // and the model call's, which lasts until the answer is complete.
        let request = Span::current();
        let call = generate.span(&self.spec.name, &&ready.call);
        let mut generation = generate.run_stream(&ready.call);
        // Wait for the first event, so a generation that cannot start is an error, not a stream.
        let first = match timed(&self.spec.name, generate.name(), &call, generation.next()).await {
            Some(Ok(event)) => event,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(QueryError::Incomplete),
        };
        let mut sources = ready.hits.clone();
        self.spec.guardrails.mask_hits(&mut sources);
        let route = QueryEvent::Route {
            route: ready.route(None),
            sources,
        };
        let hold = self.spec.guardrails.checks_answers();
        // `None` marks the end of the generation, so a stream that stops without its
        // final event still ends with an error rather than silently.
        let items = stream::once(std::future::ready(Some(Ok(first))))
            .chain(generation.map(Some))
            .chain(stream::once(std::future::ready(None)));
        let state = (Box::pin(items), Some(ready), self.clone(), call);
        let events = stream::unfold(state, move |(mut items, mut ready, this, call)| {
            let request = request.clone();
            async move {
                // After the answer or an error, nothing follows.
                let current = ready.take()?;
                let out = match items.next().instrument(call.clone()).await? {
                    Some(Ok(GenerationEvent::Delta(text))) => {
                        ready = Some(current);
                        if hold {
                            Vec::new()
                        } else {
                            vec![QueryEvent::Delta(text)]
                        }
                    }
                    Some(Ok(GenerationEvent::Done(g))) => {
                        let generated = call.in_scope(|| this.spec.generate.finish(&current.call, g));
                        match this.release(*current, generated).await {
                            Ok(answer) if hold => {
                                vec![
                                    QueryEvent::Delta(answer.text.clone()),
                                    QueryEvent::Done(Box::new(answer)),
                                ]
                            }
                            Ok(answer) => vec![QueryEvent::Done(Box::new(answer))],
                            Err(e) => vec![QueryEvent::Error(e)],
                        }
                    }
                    Some(Err(e)) => {
                        spans::failed(&call, "ProviderError", &e);
                        vec![QueryEvent::Error(e.into())]
                    }
                    None => vec![QueryEvent::Error(QueryError::Incomplete)],
                };
                Some((stream::iter(out), (items, ready, this, call)))
            }
            .instrument(request)
        });
        Ok(Box::pin(
            stream::once(std::future::ready(route)).chain(events.flatten()),
        ))
    }
}

/// A query answered before generation (refused, or served from the cache) as a
/// stream: route with the sources, the answer as one delta, done.
fn answered(answer: Answer) -> QueryStream {
    let events = vec![
        QueryEvent::Route {
            route: answer.route.clone(),
            sources: answer.sources.clone(),
        },
        QueryEvent::Delta(answer.text.clone()),
        QueryEvent::Done(Box::new(answer)),
    ];
    Box::pin(stream::iter(events))
}
