//! The server's WebRTC offer path (`POST /rtc/offer`): any body is answered or refused with a
//! reason, never a panic. str0m's engine, as the server runs it by default.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wirebench::transport::rtc::{self, RtcImpl};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let (_close, close_rx) = tokio::sync::oneshot::channel();
        let ip = std::net::Ipv4Addr::LOCALHOST.into();
        let _ = rtc::accept(RtcImpl::Str0m, sdp, ip, close_rx, None).await;
    });
});
