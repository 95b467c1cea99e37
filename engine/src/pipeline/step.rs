//! Running one stage. Every stage of a query or an ingest batch runs through [`step`]
//! (in place) or [`step_async`] (waiting on a remote service), so this is the one place
//! where each gets its span and its timer.

use std::future::Future;
use std::time::Instant;

use tracing::Instrument as _;

use crate::stages::{Run, RunAsync, Stage};

/// Run `stage` of `pipeline` once on `input`.
///
/// # Errors
/// The stage's own error.
pub fn step<S: Run>(pipeline: &str, stage: &S, input: S::Input<'_>) -> Result<S::Output, S::Error> {
    let span = tracing::debug_span!("stage", pipeline, stage = stage.name());
    let _entered = span.enter();
    let started = Instant::now();
    let out = stage.run(input);
    tracing::debug!(elapsed_ms = elapsed_ms(started), "stage done");
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
    timed(pipeline, stage, stage.run(input)).await
}

/// `work` of `stage` inside its span, timed: for what a stage does beyond one run,
/// such as opening a streamed answer, timed up to its first piece.
pub async fn timed<S: Stage, T>(pipeline: &str, stage: &S, work: impl Future<Output = T>) -> T {
    let span = tracing::debug_span!("stage", pipeline, stage = stage.name());
    let started = Instant::now();
    let out = work.instrument(span.clone()).await;
    tracing::debug!(parent: &span, elapsed_ms = elapsed_ms(started), "stage done");
    out
}

/// Milliseconds since `started`.
pub fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
