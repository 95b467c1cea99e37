//! Run async provider calls from the synchronous [`super::Embedder`] trait.
//!
//! Embedding runs on blocking threads (ingest batches, `spawn_blocking` in queries,
//! the CLI). Blocking on the caller's runtime would panic on one of its worker
//! threads, and a runtime per call would re-open connections every time. So each
//! remote embedder owns one small runtime, keeps its HTTP connections there, and the
//! caller waits on a channel: this works from any thread, inside a runtime or not,
//! and never nests runtimes.

use std::future::Future;

use crate::providers::ProviderError;

/// A one-worker runtime that runs futures for synchronous callers.
pub struct BlockingRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl BlockingRuntime {
    /// A runtime whose thread is called `name`.
    ///
    /// # Errors
    /// [`ProviderError::ModelUnavailable`] when the runtime cannot start.
    pub fn new(name: &str) -> Result<Self, ProviderError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
            .map_err(|e| ProviderError::ModelUnavailable(format!("cannot start the {name} runtime: {e}")))?;
        Ok(Self { runtime: Some(runtime) })
    }

    /// Run `future` to completion on this runtime, blocking the calling thread.
    ///
    /// # Errors
    /// The future's error, or [`ProviderError::Unavailable`] if the runtime is gone.
    pub fn run<T, F>(&self, future: F) -> Result<T, ProviderError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, ProviderError>> + Send + 'static,
    {
        let gone = || ProviderError::Unavailable {
            provider: "embedder",
            message: "the embedder's runtime stopped".into(),
        };
        let runtime = self.runtime.as_ref().ok_or_else(gone)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for BlockingRuntime {
    /// Dropping a runtime from async code would panic; shutting it down in the
    /// background never does.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_from_a_plain_thread() {
        let rt = BlockingRuntime::new("test-embed").unwrap();
        assert_eq!(rt.run(async { Ok(7) }).unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_from_spawn_blocking_and_drops_inside_a_runtime() {
        let rt = std::sync::Arc::new(BlockingRuntime::new("test-embed").unwrap());
        let r = rt.clone();
        let value = tokio::task::spawn_blocking(move || r.run(async { Ok::<_, ProviderError>(3) }))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value, 3);
        drop(rt); // must not panic inside the runtime
    }
}
