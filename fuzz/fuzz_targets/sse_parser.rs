//! The client's SSE parser, fed in chunks whose sizes come from the input: events, never a
//! panic; the same bytes in one chunk give the same events.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wirebench::transport::sse::SseParser;

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut chunked = SseParser::default();
    let mut got = Vec::new();
    for chunk in rest.chunks(step) {
        got.extend(chunked.push(chunk));
    }
    let whole = SseParser::default().push(rest);
    assert_eq!(got, whole);
});
