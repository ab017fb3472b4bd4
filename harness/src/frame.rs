//! The wire frame (see `docs/protocol.md`): a 24-byte little-endian header plus filler.
//!
//! ```text
//! 0  u64 seq       per-sender sequence number
//! 8  u64 sent_ns   sender's CLOCK_MONOTONIC in ns (the *intended* send time on open-loop schedules)
//! 16 u32 sender    client id (0 = server)
//! 20 u32 kind      1 echo-request, 2 echo-reply, 3 broadcast-request, 4 broadcast, 5 push, 6 data
//! ```
//! Where frames are concatenated, each is preceded by its length as u32 LE (not counting the
//! prefix): see [`LengthPrefixed`].

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Size of the frame header; a workload's message size includes it.
pub const HEADER_LEN: usize = 24;

/// Largest frame any transport accepts (16 MiB); bigger is a protocol error.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// What a frame means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Kind {
    /// Client asks the server to send the frame back.
    EchoRequest = 1,
    /// The server's answer to an echo request (all other fields unchanged).
    EchoReply = 2,
    /// Client asks the server to send the frame to every client of the session.
    BroadcastRequest = 3,
    /// A broadcast, as delivered to each client.
    Broadcast = 4,
    /// Server-originated notification.
    Push = 5,
    /// Bulk data (upload/download); counted, not answered.
    Data = 6,
}

impl Kind {
    /// Decodes a kind number; unknown numbers are `None`.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::EchoRequest,
            2 => Self::EchoReply,
            3 => Self::BroadcastRequest,
            4 => Self::Broadcast,
            5 => Self::Push,
            6 => Self::Data,
            _ => return None,
        })
    }
}

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer than 24 bytes.
    #[error("frame shorter than the 24-byte header ({0} bytes)")]
    Short(usize),
    /// Kind number not defined by the protocol.
    #[error("unknown frame kind {0}")]
    UnknownKind(u32),
    /// Larger than [`MAX_FRAME`] or a length prefix that runs past the data.
    #[error("frame length {0} out of range")]
    Length(usize),
    /// A text message where binary frames are expected.
    #[error("text message where a binary frame was expected")]
    Text,
}

impl FrameError {
    /// Short stable name, used as the key when counting errors by kind.
    pub fn counter_key(&self) -> &'static str {
        match self {
            Self::Short(_) => "frame_short",
            Self::UnknownKind(_) => "frame_unknown_kind",
            Self::Length(_) => "frame_bad_length",
            Self::Text => "frame_text",
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Per-sender sequence number.
    pub seq: u64,
    /// Sender's monotonic clock, ns.
    pub sent_ns: u64,
    /// Sender's client id (0 = server).
    pub sender: u32,
    /// Meaning.
    pub kind: Kind,
}

impl Header {
    /// Parses the header of `frame`, checking length and kind.
    pub fn parse(frame: &[u8]) -> Result<Self, FrameError> {
        if frame.len() < HEADER_LEN {
            return Err(FrameError::Short(frame.len()));
        }
        if frame.len() > MAX_FRAME {
            return Err(FrameError::Length(frame.len()));
        }
        let mut b = &frame[..HEADER_LEN];
        let seq = b.get_u64_le();
        let sent_ns = b.get_u64_le();
        let sender = b.get_u32_le();
        let k = b.get_u32_le();
        let kind = Kind::from_u32(k).ok_or(FrameError::UnknownKind(k))?;
        Ok(Self {
            seq,
            sent_ns,
            sender,
            kind,
        })
    }

    /// Builds a frame of `size` bytes (at least the header) with this header and zero filler.
    pub fn encode(&self, size: usize) -> Bytes {
        let size = size.max(HEADER_LEN);
        let mut b = BytesMut::with_capacity(size);
        b.put_u64_le(self.seq);
        b.put_u64_le(self.sent_ns);
        b.put_u32_le(self.sender);
        b.put_u32_le(self.kind as u32);
        b.resize(size, 0);
        b.freeze()
    }
}

/// A broadcast op's id: its sender in the high 32 bits, its sequence number in the low 32. The
/// server logs broadcasts by it and the collab workload matches arrivals with it, so it lives
/// here, beside the header fields it is made of.
pub fn op_id(sender: u32, seq: u64) -> u64 {
    (u64::from(sender) << 32) | (seq & 0xffff_ffff)
}

/// Returns a copy of `frame` with its kind replaced (echo-request → echo-reply, etc.).
pub fn with_kind(frame: &[u8], kind: Kind) -> Bytes {
    let mut b = BytesMut::from(frame);
    if b.len() >= HEADER_LEN {
        b[20..24].copy_from_slice(&(kind as u32).to_le_bytes());
    }
    b.freeze()
}

/// What [`LengthPrefixed`] reserves ahead of a frame's bytes at most.
const RESERVE_AHEAD: usize = 1 << 20;

/// Incremental decoder for u32-LE length-prefixed frames (tcp, `/up` bodies, `/poll` bodies,
/// WebTransport streams): push bytes in, take whole frames out.
#[derive(Debug, Default)]
pub struct LengthPrefixed {
    buf: BytesMut,
}

impl LengthPrefixed {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The internal buffer, for reading straight into it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Takes the next whole frame, `Ok(None)` when more bytes are needed, or an error for a
    /// length prefix over [`MAX_FRAME`] (the stream cannot be resynchronised after that).
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::Length(len));
        }
        if self.buf.len() < 4 + len {
            // A large frame's buffer grows as its bytes arrive, not on its prefix's word.
            self.buf
                .reserve((4 + len - self.buf.len()).min(RESERVE_AHEAD));
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Appends `frame` to `out` with its u32-LE length prefix.
pub fn put_prefixed(out: &mut BytesMut, frame: &[u8]) {
    out.reserve(4 + frame.len());
    out.put_u32_le(frame.len() as u32);
    out.put_slice(frame);
}

/// Splits a complete length-prefixed body into frames (an `/up` body or a `/poll` response).
pub fn split_prefixed(body: &[u8]) -> Result<Vec<Bytes>, FrameError> {
    let mut d = LengthPrefixed::new();
    d.extend(body);
    let mut out = Vec::new();
    while let Some(f) = d.next_frame()? {
        out.push(f);
    }
    if d.pending() != 0 {
        return Err(FrameError::Length(d.pending()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_size() {
        let h = Header {
            seq: 7,
            sent_ns: 123_456_789,
            sender: 42,
            kind: Kind::EchoRequest,
        };
        let f = h.encode(64);
        assert_eq!(f.len(), 64);
        assert_eq!(Header::parse(&f).unwrap(), h);
        let r = with_kind(&f, Kind::EchoReply);
        let rh = Header::parse(&r).unwrap();
        assert_eq!(rh.kind, Kind::EchoReply);
        assert_eq!((rh.seq, rh.sent_ns, rh.sender), (7, 123_456_789, 42));
        assert_eq!(&r[24..], &f[24..]);
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(Header::parse(&[0u8; 23]), Err(FrameError::Short(23)));
        let mut f = Header {
            seq: 0,
            sent_ns: 0,
            sender: 1,
            kind: Kind::Data,
        }
        .encode(24)
        .to_vec();
        f[20] = 99;
        assert_eq!(Header::parse(&f), Err(FrameError::UnknownKind(99)));
    }

    #[test]
    fn length_prefixed_handles_partial_input() {
        let mut body = BytesMut::new();
        put_prefixed(&mut body, b"hello");
        put_prefixed(&mut body, b"");
        put_prefixed(&mut body, &[1u8; 300]);
        let mut d = LengthPrefixed::new();
        let mut got = Vec::new();
        for chunk in body.chunks(3) {
            d.extend(chunk);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(&got[0][..], b"hello");
        assert_eq!(got[2].len(), 300);
        assert_eq!(split_prefixed(&body).unwrap().len(), 3);
        assert!(split_prefixed(&body[..body.len() - 1]).is_err());
    }

    #[test]
    fn oversized_prefix_is_refused() {
        let mut d = LengthPrefixed::new();
        d.extend(&(u32::MAX).to_le_bytes());
        assert!(matches!(d.next_frame(), Err(FrameError::Length(_))));
    }
}
