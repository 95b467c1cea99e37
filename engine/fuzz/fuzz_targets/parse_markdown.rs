//! The markdown parser on any bytes: an error is fine, a panic or a hang is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragline::stages::ingest::parse::{ParseLimits, parse};

fuzz_target!(|data: &[u8]| {
    ragline_fuzz::caught_panics_are_not_crashes();
    let _ = parse("fuzz.md", data, &ParseLimits::default());
});
