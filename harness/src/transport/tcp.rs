//! `tcp`: u32-LE length-prefixed frames on raw TCP at port P+1, no TLS. The floor every
//! TCP-based transport is judged against. The first frame a client sends is a `data` frame with
//! its id as `sender`, so the server knows who it is.

use std::time::Instant;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::api::{Connection, FrameSink, FrameStream, Setup, Target, Transport, TransportError};
use crate::frame::{put_prefixed, Header, Kind, LengthPrefixed};

/// The raw TCP transport.
#[derive(Debug)]
pub struct TcpTransport;

/// Port of the raw TCP listener for a server on `p`.
pub fn tcp_port(p: u16) -> u16 {
    p.wrapping_add(1)
}

#[async_trait]
impl Transport for TcpTransport {
    fn id(&self) -> &'static str {
        "tcp"
    }

    async fn connect(&self, target: &Target) -> Result<Connection, TransportError> {
        let t0 = Instant::now();
        let mut addr = target.addr;
        addr.set_port(tcp_port(addr.port()));
        let stream = super::net::tcp_connect(addr, target.local_ip).await?;
        let (r, w) = stream.into_split();
        let mut sink = TcpSink {
            w,
            buf: BytesMut::new(),
        };
        let hello = Header {
            seq: 0,
            sent_ns: crate::clock::now_ns(),
            sender: target.client_id,
            kind: Kind::Data,
        }
        .encode(crate::frame::HEADER_LEN);
        sink.send(hello).await?;
        let total = t0.elapsed();
        Ok(Connection {
            sink: Box::new(sink),
            stream: Box::new(TcpFrames::new(r)),
            setup: Setup {
                total,
                phases: vec![("tcp", total)],
                ice_path: None,
            },
        })
    }
}

/// Writes length-prefixed frames to a TCP stream.
pub struct TcpSink {
    w: OwnedWriteHalf,
    buf: BytesMut,
}

#[async_trait]
impl FrameSink for TcpSink {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.buf.clear();
        put_prefixed(&mut self.buf, &frame);
        self.w
            .write_all(&self.buf)
            .await
            .map_err(|e| TransportError::io("tcp send", e))
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.w
            .shutdown()
            .await
            .map_err(|e| TransportError::io("tcp shutdown", e))
    }
}

/// Reads length-prefixed frames from a TCP stream.
pub struct TcpFrames {
    r: OwnedReadHalf,
    dec: LengthPrefixed,
}

impl TcpFrames {
    /// Wraps the read half.
    pub fn new(r: OwnedReadHalf) -> Self {
        Self {
            r,
            dec: LengthPrefixed::new(),
        }
    }
}

#[async_trait]
impl FrameStream for TcpFrames {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            if let Some(f) = self.dec.next_frame()? {
                return Ok(Some(f));
            }
            let buf = self.dec.buffer_mut();
            buf.reserve(64 * 1024);
            let n = self
                .r
                .read_buf(buf)
                .await
                .map_err(|e| TransportError::io("tcp recv", e))?;
            if n == 0 {
                return if self.dec.pending() == 0 {
                    Ok(None)
                } else {
                    Err(TransportError::Protocol(
                        "connection closed inside a frame".into(),
                    ))
                };
            }
        }
    }
}
