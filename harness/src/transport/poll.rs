//! `long-poll` and `poll`: `GET /poll?client=<id>&after=<cursor>` down (hanging until frames
//! exist, or `&wait=0` answered at once on a fixed interval), `POST /up` up.
//!
//! The client keeps the cursor from `Wirebench-Cursor` and asks for frames after it, so a
//! lost response is fetched again and nothing is delivered twice.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use hyper::{Method, StatusCode};

use super::api::{Connection, FrameStream, Setup, Target, Transport, TransportError};
use super::http::{read_body, HttpConn, UpSink};
use crate::clock::{now_ns, PreciseTimer};
use crate::frame::split_prefixed;

/// Long polling (`long == true`) or short polling at `Target::poll_interval`.
#[derive(Debug)]
pub struct PollTransport {
    /// Hang until frames exist (long-poll) or return at once (poll).
    pub long: bool,
}

#[async_trait]
impl Transport for PollTransport {
    fn id(&self) -> &'static str {
        if self.long {
            "long-poll"
        } else {
            "poll"
        }
    }

    async fn connect(&self, target: &Target) -> Result<Connection, TransportError> {
        let t0 = Instant::now();
        let mut down_setup = Setup::default();
        let mut up_setup = Setup::default();
        let (down, up) = tokio::join!(
            HttpConn::open(target, &mut down_setup),
            UpSink::for_target(target, &mut up_setup)
        );
        let (down, up) = (down?, up?);
        let mut setup = down_setup;
        setup.total = t0.elapsed();
        let interval_ns = target.poll_interval.as_nanos().max(1) as u64;
        let mut frames = PollFrames {
            conn: down,
            target: target.clone(),
            client: target.client_id,
            long: self.long,
            cursor: 0,
            ready: VecDeque::new(),
            interval_ns,
            next_poll_ns: first_poll_ns(now_ns(), interval_ns, target.client_id, target.poll_slots),
            timer: None,
            gaps: 0,
        };
        // A first, immediate poll opens the client's HTTP downstream on the server (so
        // server-originated frames queue for it) and is part of setup, as SSE's first response is.
        let t = Instant::now();
        frames.poll_now().await?;
        setup.phases.push(("request", t.elapsed()));
        setup.total = t0.elapsed();
        Ok(Connection {
            sink: Box::new(up),
            stream: Box::new(frames),
            setup,
        })
    }
}

/// The downstream half: repeated GETs that advance a cursor.
pub struct PollFrames {
    conn: HttpConn,
    target: Target,
    client: u32,
    long: bool,
    cursor: u64,
    ready: VecDeque<Bytes>,
    interval_ns: u64,
    next_poll_ns: u64,
    timer: Option<PreciseTimer>,
    /// Frames the server reported as no longer available (`Wirebench-Gap`).
    pub gaps: u64,
}

impl PollFrames {
    /// This client's first scheduled poll at or after `now` ([`first_poll_ns`]).
    fn first_tick_from(&self, now: u64) -> u64 {
        first_poll_ns(now, self.interval_ns, self.client, self.target.poll_slots)
    }

    async fn poll_now(&mut self) -> Result<(), TransportError> {
        let long = std::mem::replace(&mut self.long, false);
        let r = self.poll_once().await;
        self.long = long;
        r
    }

    async fn poll_once(&mut self) -> Result<(), TransportError> {
        let path = if self.long {
            format!("/poll?client={}&after={}", self.client, self.cursor)
        } else {
            format!("/poll?client={}&after={}&wait=0", self.client, self.cursor)
        };
        let resp = self
            .conn
            .request(Method::GET, &path, &[], Bytes::new())
            .await?;
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let cursor = header("wirebench-cursor");
        if let Some(g) = header("wirebench-gap") {
            self.gaps += g;
        }
        let body = read_body(resp).await?;
        match status {
            StatusCode::OK => {
                self.ready.extend(split_prefixed(&body)?);
            }
            StatusCode::NO_CONTENT => {}
            s => {
                return Err(TransportError::Protocol(format!(
                    "GET /poll answered {s}: {}",
                    String::from_utf8_lossy(&body)
                )))
            }
        }
        match cursor {
            Some(c) => self.cursor = c,
            None => {
                return Err(TransportError::Protocol(
                    "GET /poll response without Wirebench-Cursor".into(),
                ))
            }
        }
        Ok(())
    }
}

#[async_trait]
impl FrameStream for PollFrames {
    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            if let Some(f) = self.ready.pop_front() {
                return Ok(Some(f));
            }
            if !self.long {
                // Fixed-rate schedule: poll at t0, t0+i, t0+2i ... regardless of response time.
                // Short intervals get a timerfd (µs precision); long ones tokio's 1 ms timer,
                // so thousands of idle pollers don't hold a descriptor each.
                if self.interval_ns < PRECISE_BELOW_NS {
                    if self.timer.is_none() {
                        self.timer = Some(
                            PreciseTimer::new().map_err(|e| TransportError::io("timerfd", e))?,
                        );
                    }
                    if let Some(t) = self.timer.as_mut() {
                        t.sleep_until_ns(self.next_poll_ns)
                            .await
                            .map_err(|e| TransportError::io("timerfd", e))?;
                    }
                } else {
                    let wait = self.next_poll_ns.saturating_sub(now_ns());
                    tokio::time::sleep(Duration::from_nanos(wait)).await;
                }
                let now = now_ns();
                self.next_poll_ns += self.interval_ns;
                if self.next_poll_ns < now {
                    // Fell behind (slow responses): skip missed ticks rather than burst,
                    // keeping this client's phase.
                    self.next_poll_ns = self.first_tick_from(now);
                }
            }
            self.poll_once().await?;
        }
    }

    /// A new connection, polling from the same cursor: what was queued meanwhile arrives,
    /// nothing twice.
    async fn resume(&mut self) -> Result<bool, TransportError> {
        self.conn = HttpConn::open(&self.target, &mut Setup::default()).await?;
        // Poll at once on the new connection, then keep this client's phase.
        self.poll_now().await?;
        self.next_poll_ns = self.first_tick_from(now_ns());
        Ok(true)
    }
}

/// The first tick at or after `now_ns` of client `id`'s short-poll schedule: the multiples of
/// `interval_ns` on the host's monotonic clock, offset by `(id mod slots) · interval / slots`.
/// Every client's schedule is on one grid whenever it connected, so `slots` pollers are evenly
/// spread over the interval and a server event finds them at every phase, as it finds
/// independent browsers; phases that follow connection times bunch up (1,000 clients
/// connected within a second poll within a second of one another) and bias poll's latency.
pub fn first_poll_ns(now_ns: u64, interval_ns: u64, id: u32, slots: u32) -> u64 {
    let interval = interval_ns.max(1);
    let slots = u128::from(slots.max(1));
    let offset = (u128::from(interval) * (u128::from(id) % slots) / slots) as u64;
    let tick = now_ns - now_ns % interval + offset;
    if tick >= now_ns {
        tick
    } else {
        tick + interval
    }
}

/// Poll intervals below this use a timerfd for their schedule.
const PRECISE_BELOW_NS: u64 = 100_000_000;

/// Default short-poll interval when a workload does not set one.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollers_spread_evenly_over_the_interval_whenever_they_connect() {
        let interval = 5_000_000_000;
        // Four clients connecting within a millisecond of one another, and one much later.
        let phases: Vec<u64> = (1..=4)
            .map(|id| {
                let now = 1_000_000_000_000 + u64::from(id) * 250_000;
                let t = first_poll_ns(now, interval, id, 4);
                assert!(t >= now && t < now + interval, "{id}: {t} vs {now}");
                t % interval
            })
            .collect();
        assert_eq!(
            phases,
            [1_250_000_000, 2_500_000_000, 3_750_000_000, 0],
            "one slot each, a quarter interval apart"
        );
        // The same client connecting at another time keeps its phase.
        let late = first_poll_ns(7_777_777_777_777, interval, 2, 4);
        assert_eq!(late % interval, 2_500_000_000);
        // One slot: every client on the interval's multiples; an exact tick is not skipped.
        assert_eq!(first_poll_ns(10_000, 5_000, 9, 1), 10_000);
        assert_eq!(first_poll_ns(10_001, 5_000, 9, 1), 15_000);
    }
}
