//! The scenario parser: any text parses or gives a located error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let profiles = ["loopback".to_string(), "broadband".to_string()];
    if let Err(e) = wirebench::runner::scenario::parse(text, "fuzz.toml", &profiles) {
        assert!(e.line >= 1);
    }
});
