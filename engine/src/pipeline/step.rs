//! Running one stage. Every stage of a query or an ingest batch runs through [`step`]
//! (in place) or [`step_async`] (waiting on a remote service), so this is the one place
//! where each gets its span, its timer and its duration metric.

use std::future::Future;
use std::time::Instant;

use tracing::{Instrument as _, Span};

use crate::stages::{Run, RunAsync};
use crate::telemetry::{record, spans};

/// Run `stage` of `pipeline` once on `input`.
///
/// # Errors
/// The stage's own error.
pub fn step<S: Run>(pipeline: &str, stage: &S, input: S::Input<'_>) -> Result<S::Output, S::Error> {
    let name = stage.name();
    let span = stage.span(pipeline, &input);
    let _entered = span.enter();
    let started = Instant::now();
    let out = stage.run(input);
    done(&span, pipeline, name, started, out.as_ref().err());
    out
}

/// Run `stage` of `pipeline` once on `input`, waiting on its remote service.
///
/// # Errors
/// The stage's own error.
pub async fn step_async<'a, S: RunAsync>(
    pipeline: &str,
    stage: &'a S,
    input: S::Input<'a>,
) -> Result<S::Output, S::Error> {
    let name = stage.label(&input);
    let span = stage.span(pipeline, &input);
    let started = Instant::now();
    let out = stage.run(input).instrument(span.clone()).await;
    span.in_scope(|| done(&span, pipeline, name, started, out.as_ref().err()));
    out
}

/// `work` of the stage called `name` inside `span`, timed: for what a stage does
/// beyond one run, such as opening a streamed answer, timed up to its first piece.
pub async fn timed<T>(pipeline: &str, name: &'static str, span: &Span, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = work.instrument(span.clone()).await;
    span.in_scope(|| done(span, pipeline, name, started, None::<&String>));
    out
}

fn done(span: &Span, pipeline: &str, name: &'static str, started: Instant, error: Option<&impl std::fmt::Display>) {
    let seconds = started.elapsed().as_secs_f64();
    record::stage(pipeline, name, seconds);
    if let Some(e) = error {
        let kind = std::any::type_name_of_val(e).rsplit("::").next().unwrap_or(name);
        spans::failed(span, kind, e);
    }
    tracing::debug!(elapsed_ms = seconds * 1000.0, "stage done");
}

/// Milliseconds since `started`.
pub fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
