//! Running one stage. Every stage of a query or an ingest batch runs through [`step`]
//! (in place) or [`step_async`] (waiting on a remote service), so this is the one place
//! where each gets its span, its timer and its duration metric.

use std::future::Future;
use std::time::Instant;

use tracing::Instrument as _;

use crate::stages::{Run, RunAsync};
use crate::telemetry::record;

/// Run `stage` of `pipeline` once on `input`.
///
/// # Errors
/// The stage's own error.
pub fn step<S: Run>(pipeline: &str, stage: &S, input: S::Input<'_>) -> Result<S::Output, S::Error> {
    let name = stage.name();
    let span = tracing::debug_span!("stage", pipeline, stage = name);
    let _entered = span.enter();
    let started = Instant::now();
    let out = stage.run(input);
    done(pipeline, name, started);
    out
}

/// Run `stage` of `pipeline` once on `input`, waiting for it.
///
/// # Errors
/// The stage's own error.
pub async fn step_async<'a, S: RunAsync>(
    pipeline: &str,
    stage: &'a S,
    input: S::Input<'a>,
) -> Result<S::Output, S::Error> {
    let name = stage.label(&input);
    timed(pipeline, name, stage.run(input)).await
}

/// `work` of the stage called `name` inside its span, timed: for what a stage does
/// beyond one run, such as opening a streamed answer, timed up to its first piece.
pub async fn timed<T>(pipeline: &str, name: &'static str, work: impl Future<Output = T>) -> T {
    let span = tracing::debug_span!("stage", pipeline, stage = name);
    let started = Instant::now();
    let out = work.instrument(span.clone()).await;
    span.in_scope(|| done(pipeline, name, started));
    out
}

fn done(pipeline: &str, name: &'static str, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    record::stage(pipeline, name, seconds);
    tracing::debug!(elapsed_ms = seconds * 1000.0, "stage done");
}

/// Milliseconds since `started`.
pub fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
