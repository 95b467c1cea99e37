//! The pipeline loader on any text: located errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ragline_fuzz::caught_panics_are_not_crashes();
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir = ragline_fuzz::scratch().join("pipeline");
    let file = dir.join("pipelines/fuzz.yaml");
    std::fs::create_dir_all(dir.join("pipelines")).expect("a scratch dir");
    std::fs::write(&file, text).expect("a scratch file");
    let _ = ragline::config::load(&file, &dir);
});
