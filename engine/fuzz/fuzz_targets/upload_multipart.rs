//! Any multipart body to `POST /v1/pipelines/hr/documents` of a real router: per-file
//! results or a 4xx, never a 500 or a panic. The boundary is fixed, so the fuzzer
//! shapes the parts.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ragline_fuzz::caught_panics_are_not_crashes();
    let request = Request::post("/v1/pipelines/hr/documents")
        .header("content-type", "multipart/form-data; boundary=FUZZ")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    ragline_fuzz::send(request);
});
