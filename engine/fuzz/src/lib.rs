//! What the fuzz targets share: the panic hook and a served engine over the test
//! fixtures.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock};

use ragline::http::{self, AppState, HttpSettings};
use ragline::pipeline::{Engine, Resources};

/// libfuzzer-sys makes every panic abort, even one the engine catches on purpose (a
/// parser's panic is turned into a per-file error). Put the default hook back, so only
/// a panic that escapes the code under test is a crash.
pub fn caught_panics_are_not_crashes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = std::panic::take_hook();
    });
}

/// `engine/tests/fixtures/server`: the `hr` and `legal` pipelines over one index.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/server")
}

/// A directory that lives as long as the process.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
}

/// The API over the fixtures' pipelines, their documents ingested, and a runtime to
/// drive it.
pub fn api() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static API: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    API.get_or_init(|| {
        let data = scratch().join("data");
        let resources = Resources::new(data.clone(), data.join("models"));
        let engine = Arc::new(Engine::load(fixtures(), resources).expect("the fixtures load"));
        let snapshot = engine.snapshot();
        for name in ["hr", "legal"] {
            let p = &snapshot.pipelines[name];
            let inputs = p.source_inputs(&fixtures().join("pipelines")).expect("fixture sources");
            p.ingest(inputs, &mut |_| {}).expect("fixture ingest");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let router = http::router(AppState::new(engine.clone(), HttpSettings::default(), None));
        (runtime, router)
    })
}

/// Send `request` to the API; a 500 is a bug (providers and stores are local here).
pub fn send(request: axum::http::Request<axum::body::Body>) -> u16 {
    use tower::ServiceExt;
    let (runtime, router) = api();
    let status = runtime
        .block_on(router.clone().oneshot(request))
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_ne!(status, 500, "internal server error");
    status
}
