//! `sse`: Server-Sent Events down (`GET /sse`), `POST /up` up.
//!
//! Each event carries `id: <cursor>` and `data: <base64 frame>`. When the stream breaks, the
//! client reconnects with `Last-Event-ID` (as EventSource does) and the server resumes after that
//! cursor, so no frame is lost or duplicated across a reconnect; a gap the server could not
//! fill arrives as `event: gap` and is counted.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};

use super::api::{Connection, FrameStream, Setup, Target, Transport, TransportError};
use super::http::{HttpConn, UpSink};

/// How often the client reconnects a broken event stream before giving up.
const MAX_RECONNECTS: u32 = 20;

/// The SSE transport.
#[derive(Debug)]
pub struct SseTransport;

#[async_trait]
impl Transport for SseTransport {
    fn id(&self) -> &'static str {
        "sse"
    }

    async fn connect(&self, target: &Target) -> Result<Connection, TransportError> {
        let t0 = Instant::now();
        let mut down_setup = Setup::default();
        let mut up_setup = Setup::default();
        let (down, up) = tokio::join!(
            SseFrames::open(target.clone(), None, &mut down_setup),
            UpSink::for_target(target, &mut up_setup)
        );
        let (down, up) = (down?, up?);
        let mut setup = down_setup;
        setup.total = t0.elapsed();
        Ok(Connection {
            sink: Box::new(up),
            stream: Box::new(down),
            setup,
        })
    }
}

/// Incremental `text/event-stream` parser (the subset of the WHATWG rules the protocol uses:
/// `id`, `data`, `event`, comments, blank-line dispatch; CRLF, LF or CR line ends).
#[derive(Debug, Default)]
pub struct SseParser {
    buf: BytesMut,
    id: Option<String>,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// Bytes at the front of `buf` already searched for a line end (none found): a long line
    /// arriving in many chunks is scanned once, not once per chunk.
    scanned: usize,
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:` field, if any.
    pub id: Option<String>,
    /// `event:` field (`None` = the default `message`).
    pub event: Option<String>,
    /// Joined `data:` lines.
    pub data: String,
}

impl SseParser {
    /// Feeds bytes; returns the events completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let from = self.scanned.min(self.buf.len());
            let Some(pos) = self.buf[from..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map(|p| p + from)
            else {
                self.scanned = self.buf.len();
                break;
            };
            // A lone CR at the end may be the first half of CRLF: wait for more bytes.
            if self.buf[pos] == b'\r' && pos + 1 == self.buf.len() {
                self.scanned = pos;
                break;
            }
            self.scanned = 0;
            let line = self.buf.split_to(pos);
            let skip = if self.buf[0] == b'\r' && self.buf.get(1) == Some(&b'\n') {
                2
            } else {
                1
            };
            self.buf.advance(skip);
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                if self.has_data || self.id.is_some() || self.event.is_some() {
                    out.push(SseEvent {
                        id: self.id.take(),
                        event: self.event.take(),
                        data: std::mem::take(&mut self.data),
                    });
                }
                self.has_data = false;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
                None => (line.clone(), String::new()),
            };
            match field.as_str() {
                "id" => self.id = Some(value),
                "event" => self.event = Some(value),
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(&value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        out
    }
}

/// Appends one event carrying `frame` to `out` in the format of `GET /sse`: `id: <cursor>`,
/// `data: <standard padded base64 of the frame>`, blank line (see `docs/protocol.md`).
pub fn encode_event(out: &mut BytesMut, cursor: u64, frame: &[u8]) {
    out.extend_from_slice(format!("id: {cursor}\ndata: ").as_bytes());
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(frame)
            .as_bytes(),
    );
    out.extend_from_slice(b"\n\n");
}

/// The downstream half: an event stream that reconnects with `Last-Event-ID`.
pub struct SseFrames {
    target: Target,
    body: Incoming,
    parser: SseParser,
    ready: VecDeque<Bytes>,
    last_id: Option<String>,
    reconnects: u32,
    /// Resumes asked for by the caller ([`FrameStream::resume`]).
    pub resumes: u64,
    dropped: u64,
    /// Frames the server reported it could no longer deliver (`event: gap`).
    pub gaps: u64,
    /// When the event stream was first lost (then reopened underneath), monotonic ns.
    lost_at_ns: Option<u64>,
}

impl SseFrames {
    /// Opens `GET /sse`, resuming after `last_id` when given.
    pub async fn open(
        target: Target,
        last_id: Option<String>,
        setup: &mut Setup,
    ) -> Result<Self, TransportError> {
        let body = Self::request(&target, last_id.as_deref(), setup).await?;
        Ok(Self {
            target,
            body,
            parser: SseParser::default(),
            ready: VecDeque::new(),
            last_id,
            reconnects: 0,
            resumes: 0,
            dropped: 0,
            gaps: 0,
            lost_at_ns: None,
        })
    }

    async fn request(
        target: &Target,
        last_id: Option<&str>,
        setup: &mut Setup,
    ) -> Result<Incoming, TransportError> {
        let mut conn = HttpConn::open(target, setup).await?;
        let t = Instant::now();
        let path = format!("/sse?client={}", target.client_id);
        let mut headers = vec![("accept", "text/event-stream")];
        if let Some(id) = last_id {
            headers.push(("last-event-id", id));
        }
        let resp = conn
            .request(Method::GET, &path, &headers, Bytes::new())
            .await?;
        if resp.status() != StatusCode::OK {
            return Err(TransportError::Protocol(format!(
                "GET /sse answered {}",
                resp.status()
            )));
        }
        setup.phases.push(("request", t.elapsed()));
        // The connection task lives as long as the body is read.
        drop(conn);
        Ok(resp.into_body())
    }

    fn take_events(&mut self, bytes: &[u8]) {
        for ev in self.parser.push(bytes) {
            if let Some(id) = ev.id {
                self.last_id = Some(id);
            }
            match ev.event.as_deref() {
                None | Some("message") => {
                    match base64::engine::general_purpose::STANDARD.decode(ev.data.trim()) {
                        Ok(f) => self.ready.push_back(Bytes::from(f)),
                        Err(_) => self.dropped += 1,
                    }
                }
                Some("gap") => self.gaps += ev.data.trim().parse::<u64>().unwrap_or(1),
                Some(_) => {}
            }
        }
    }

    async fn reconnect(&mut self, why: String) -> Result<(), TransportError> {
        loop {
            self.reconnects += 1;
            if self.reconnects > MAX_RECONNECTS {
                return Err(TransportError::Protocol(format!(
                    "event stream lost {MAX_RECONNECTS} times; last: {why}"
                )));
            }
            self.parser = SseParser::default();
            let mut setup = Setup::default();
            match Self::request(&self.target, self.last_id.as_deref(), &mut setup).await {
                Ok(body) => {
                    self.body = body;
                    return Ok(());
                }
                // EventSource's default reconnection time is a few seconds; a benchmark wants
                // recovery measured, so retry quickly with a short backoff.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50 * self.reconnects as u64)).await
                }
            }
        }
    }
}

#[async_trait]
impl FrameStream for SseFrames {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            if let Some(f) = self.ready.pop_front() {
                return Ok(Some(f));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.take_events(&data);
                    }
                }
                Some(Err(e)) => {
                    self.lost_at_ns.get_or_insert_with(crate::clock::now_ns);
                    self.reconnect(e.to_string()).await?
                }
                None => {
                    self.lost_at_ns.get_or_insert_with(crate::clock::now_ns);
                    self.reconnect("server ended the stream".into()).await?
                }
            }
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }

    fn lost_at_ns(&self) -> Option<u64> {
        self.lost_at_ns
    }

    /// A new `GET /sse` with `Last-Event-ID` = the last event received: the server sends what
    /// came after it, so nothing is lost or repeated.
    async fn resume(&mut self) -> Result<bool, TransportError> {
        let body =
            Self::request(&self.target, self.last_id.as_deref(), &mut Setup::default()).await?;
        // A partly received event is dropped with the old stream; its id is not `last_id`
        // yet, so the server sends it again.
        self.parser = SseParser::default();
        self.body = body;
        self.resumes += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_handles_split_lines_comments_and_crlf() {
        let mut p = SseParser::default();
        let mut evs = p.push(b":ok\n\nid: 1\ndata: QUJD\n");
        assert!(evs.is_empty());
        evs = p.push(b"\r\nid: 2\r\nevent: gap\r\ndata: 5\r\n\r");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].id.as_deref(), Some("1"));
        assert_eq!(evs[0].data, "QUJD");
        evs = p.push(b"\n");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].event.as_deref(), Some("gap"));
        assert_eq!(evs[0].data, "5");
    }

    #[test]
    fn a_long_line_in_small_chunks_parses_once_complete() {
        let mut p = SseParser::default();
        let data = "x".repeat(300_000);
        let text = format!("id: 7\r\ndata: {data}\r\n\r\n");
        let mut events = Vec::new();
        for chunk in text.as_bytes().chunks(997) {
            events.extend(p.push(chunk));
        }
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id.as_deref(), Some("7"));
        assert_eq!(events[0].data.len(), 300_000);
        // A CR split from its LF across chunks is still one line end.
        let mut p = SseParser::default();
        assert!(p.push(b"data: a\r").is_empty());
        let got = p.push(b"\n\r\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].data, "a");
    }

    #[test]
    fn multi_line_data_is_joined() {
        let mut p = SseParser::default();
        let evs = p.push(b"data:a\ndata: b\n\n");
        assert_eq!(evs[0].data, "a\nb");
    }

    #[test]
    fn encoded_event_parses_back() {
        let frame = [0u8, 1, 2, 250, 251, 252, 7];
        let mut out = BytesMut::new();
        encode_event(&mut out, 42, &frame);
        assert_eq!(&out[..], b"id: 42\ndata: AAEC+vv8Bw==\n\n");
        let evs = SseParser::default().push(&out);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].id.as_deref(), Some("42"));
        let back = base64::engine::general_purpose::STANDARD
            .decode(&evs[0].data)
            .unwrap();
        assert_eq!(back, frame);
    }
}
