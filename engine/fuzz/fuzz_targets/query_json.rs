//! Any body to `POST /v1/pipelines/hr/query` of a real router: a 4xx or an answer,
//! never a 500 or a panic.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ragline_fuzz::caught_panics_are_not_crashes();
    let request = Request::post("/v1/pipelines/hr/query")
        .header("content-type", "application/json")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    ragline_fuzz::send(request);
});
