//! Reverse proxies in front of the server (scenario key `proxy`): which transports go through
//! one. The variants, their nginx configurations and the nginx process are the network's
//! (`wirebench_netem::proxy`).
//!
//! Only the HTTP transports (WebSocket, SSE, long-poll, poll) can go through it; WebTransport
//! (QUIC on UDP), WebRTC (its media path is UDP; only signalling is HTTP) and raw `tcp` bypass
//! it, and their cells say so (`params.proxy_bypassed`).

pub use wirebench_netem::proxy::ProxyKind;

/// Whether `transport`'s traffic can go through an HTTP reverse proxy: the HTTP transports.
/// WebTransport (QUIC), WebRTC (UDP media path) and raw `tcp` bypass it.
pub fn goes_through(transport: &str) -> bool {
    matches!(transport, "websocket" | "sse" | "long-poll" | "poll")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_transports_go_through() {
        assert!(goes_through("sse") && goes_through("websocket"));
        assert!(!goes_through("webtransport") && !goes_through("webrtc") && !goes_through("tcp"));
    }
}
