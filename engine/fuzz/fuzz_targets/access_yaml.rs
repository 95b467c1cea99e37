//! The `access.yaml` loader on any text: located errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragline::config::access::{ACCESS_FILE, Access};

fuzz_target!(|data: &[u8]| {
    ragline_fuzz::caught_panics_are_not_crashes();
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir = ragline_fuzz::scratch().join("access");
    std::fs::create_dir_all(&dir).expect("a scratch dir");
    std::fs::write(dir.join(ACCESS_FILE), text).expect("a scratch file");
    let _ = Access::load(&dir, &["hr", "legal"]);
});
