//! The length-prefixed stream reader (raw tcp, WebTransport streams, `/up` and `/poll`
//! bodies), fed in chunks whose sizes come from the input: frames or a clean error, never a
//! panic, and never a frame over the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wirebench::frame::{LengthPrefixed, MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut dec = LengthPrefixed::new();
    for chunk in rest.chunks(step) {
        dec.buffer_mut().extend_from_slice(chunk);
        loop {
            match dec.next_frame() {
                Ok(Some(f)) => assert!(f.len() <= MAX_FRAME),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
