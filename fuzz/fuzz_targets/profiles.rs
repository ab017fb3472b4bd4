//! The link-profile parser: any text parses or gives a located error, never a panic; what
//! parses is within the documented bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wirebench_netem::ProfileSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = ProfileSet::parse(text, "fuzz.toml") {
        for p in set.profiles.values() {
            assert!((0.0..=10_000.0).contains(&p.delay_ms));
            assert!(p.rate_mbit.is_none_or(|r| r >= 0.001));
        }
    }
});
