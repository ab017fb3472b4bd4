//! The wire frame header: any bytes parse to a header or an error, and a parsed header
//! re-encodes to the bytes it came from.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wirebench::frame::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::parse(data) {
        let again = h.encode(data.len());
        assert_eq!(&again[..24], &data[..24]);
    }
});
