//! `websocket`: RFC 6455 over TLS (`wss://HOST:P/ws?client=<id>`), one frame per binary message.

use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::api::{Connection, FrameSink, FrameStream, Setup, Target, Transport, TransportError};
use super::net::{connect_stream, ByteStream};
use crate::frame::MAX_FRAME;

/// Read buffer of a WebSocket connection (both ends), bytes: one TLS record's plaintext, so a
/// read never asks for less than a record holds, and larger frames grow the buffer as they
/// need. tungstenite's default, 128 KiB, is zero-filled on the first read of every connection:
/// it made a quiet WebSocket cost 146 KB of server memory against SSE's 25 KB, a library
/// default rather than a property of the protocol.
pub const READ_BUFFER: usize = 16 * 1024;

/// The WebSocket transport.
#[derive(Debug)]
pub struct WebSocketTransport;

type Ws = WebSocketStream<Box<dyn ByteStream>>;

#[async_trait]
impl Transport for WebSocketTransport {
    fn id(&self) -> &'static str {
        "websocket"
    }

    async fn connect(&self, target: &Target) -> Result<Connection, TransportError> {
        let t0 = Instant::now();
        let mut setup = Setup::default();
        let stream =
            connect_stream(target, target.addr, target.tls, &[b"http/1.1"], &mut setup).await?;
        let scheme = if target.tls { "wss" } else { "ws" };
        let url = format!("{scheme}://{}/ws?client={}", target.addr, target.client_id);
        let t1 = Instant::now();
        let cfg = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let (ws, _resp) = tokio_tungstenite::client_async_with_config(url, stream, Some(cfg))
            .await
            .map_err(|e| TransportError::Protocol(format!("WebSocket upgrade: {e}")))?;
        setup.phases.push(("upgrade", t1.elapsed()));
        setup.total = t0.elapsed();
        let (w, r) = ws.split();
        Ok(Connection {
            sink: Box::new(WsSink { w }),
            stream: Box::new(WsFrames { r, dropped: 0 }),
            setup,
        })
    }
}

struct WsSink {
    w: SplitSink<Ws, Message>,
}

#[async_trait]
impl FrameSink for WsSink {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.w
            .send(Message::Binary(frame))
            .await
            .map_err(|e| TransportError::Protocol(format!("WebSocket send: {e}")))
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.w
            .close()
            .await
            .map_err(|e| TransportError::Protocol(format!("WebSocket close: {e}")))
    }
}

struct WsFrames {
    r: SplitStream<Ws>,
    dropped: u64,
}

#[async_trait]
impl FrameStream for WsFrames {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            match self.r.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Binary(b))) => return Ok(Some(b)),
                Some(Ok(Message::Text(_))) => {
                    // Not a frame: dropped and counted, never fatal.
                    self.dropped += 1;
                    continue;
                }
                Some(Ok(_)) => continue, // ping/pong are answered by tungstenite
                Some(Err(e)) => {
                    return Err(TransportError::Protocol(format!("WebSocket recv: {e}")))
                }
            }
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }
}
