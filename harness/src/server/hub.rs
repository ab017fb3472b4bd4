//! The server's shared state: per-client downstream routing, the HTTP downstream queue with
//! cursors, and the public behaviour (echo, broadcast) applied to every upstream frame, whatever
//! transport it came in on.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use super::outq::{FrameTx, QueueError};

use crate::clock::now_ns;
use crate::frame::{op_id, with_kind, FrameError, Header, Kind};

/// How many frames a client's HTTP downstream queue keeps for resume.
pub const RETAIN_FRAMES: usize = 65_536;
/// Bytes a client's HTTP downstream queue keeps at most (older frames become a gap).
pub const RETAIN_BYTES: usize = 32 << 20;
/// How long a client's HTTP downstream queue keeps frames for resume.
pub const RETAIN_AGE: Duration = Duration::from_secs(60);
/// Undelivered frames in a client's HTTP queue above which `POST /up` answers 503.
pub const BACKLOG_LIMIT: u64 = 16_384;
/// A client's state is dropped after this long with no request and no open downstream.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(300);
/// How long a client's HTTP queue stays its downstream after its last event stream or poll
/// ended: frames keep queueing for the next poll or resume, and after this the client gets
/// no more server-originated frames until it asks again (a client that stopped polling is
/// not copied every broadcast forever). Equal to [`RETAIN_AGE`]: older frames are not kept.
pub const HTTP_LINGER: Duration = RETAIN_AGE;
/// Client states the server keeps at most; an HTTP request from a new client beyond it is
/// answered `503` (idle states expire after [`IDLE_EXPIRY`]).
pub const MAX_CLIENT_STATES: usize = 262_144;

/// Where a reply goes: back on the connection the request came in on.
#[derive(Debug, Clone, Copy)]
pub enum Reply<'a> {
    /// A connection with its own writer (WebSocket, tcp, WebTransport stream, data channel).
    Channel(&'a FrameTx),
    /// The client's HTTP downstream queue (requests that came in by `POST /up`).
    Http,
}

/// A client's current downstream for server-originated frames.
#[derive(Debug, Clone)]
enum Downstream {
    Channel(FrameTx),
    Http,
}

/// Frames queued for one client's HTTP downstream (sse, long-poll, poll).
#[derive(Debug)]
pub struct HttpQueue {
    /// (cursor, frame, enqueued at ns); cursors are consecutive.
    frames: VecDeque<(u64, Bytes, u64)>,
    /// Cursor of the newest frame (0 = none yet).
    last: u64,
    /// Highest cursor the client has acknowledged or been sent.
    delivered: u64,
    /// Bytes of the frames kept.
    bytes: usize,
}

/// What a downstream reader gets from [`ClientState::take_after`].
#[derive(Debug, Default)]
pub struct Batch {
    /// (cursor, frame) in order.
    pub frames: Vec<(u64, Bytes)>,
    /// Frames after the requested cursor that are no longer kept.
    pub gap: u64,
    /// The cursor to resume from next (last delivered, or the request's `after`).
    pub cursor: u64,
}

/// Counters of bulk data received from a client (upload goodput is measured at the server).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct DataCount {
    /// First data frame's arrival, warm-up included, ns.
    pub seen_ns: u64,
    /// Data frames.
    pub frames: u64,
    /// Data bytes (whole frames).
    pub bytes: u64,
    /// First data frame's arrival, ns.
    pub first_ns: u64,
    /// Last data frame's arrival, ns.
    pub last_ns: u64,
}

/// One client's state.
#[derive(Debug)]
pub struct ClientState {
    queue: Mutex<HttpQueue>,
    /// Latest cursor in the HTTP queue; readers wait on it.
    pub latest: watch::Sender<u64>,
    /// Delivered cursor; bulk producers wait on it (backpressure).
    pub delivered: watch::Sender<u64>,
    /// The client's open downstreams, oldest first (generation, downstream): frames go to the
    /// newest, and when it closes, to the newest still open. A connection whose handshake
    /// completes late (a reconnect attempt given up by the client) and then closes does not
    /// leave the client without the connection it actually uses.
    downstream: Mutex<Vec<(u64, Downstream)>>,
    /// Bumped to end the client's open event streams (a server-side cut; the client resumes).
    pub kick: watch::Sender<u64>,
    data: Mutex<DataCount>,
    last_active_ns: AtomicU64,
    /// Event streams and polls open now.
    http_open: AtomicU64,
    /// When the last event stream or poll ended, ns.
    http_ended_ns: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated in a way that
    // matters for measurement, so a poisoned lock is simply taken over.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ClientState {
    fn new() -> Self {
        Self {
            queue: Mutex::new(HttpQueue {
                bytes: 0,
                frames: VecDeque::new(),
                last: 0,
                delivered: 0,
            }),
            latest: watch::channel(0).0,
            delivered: watch::channel(0).0,
            downstream: Mutex::new(Vec::new()),
            kick: watch::channel(0).0,
            data: Mutex::new(DataCount::default()),
            last_active_ns: AtomicU64::new(now_ns()),
            http_open: AtomicU64::new(0),
            http_ended_ns: AtomicU64::new(0),
        }
    }

    /// The newest open downstream. The HTTP queue counts while a request is open on it and
    /// for [`HTTP_LINGER`] after the last one ended; past that its marker is removed.
    fn live_downstream(&self) -> Option<Downstream> {
        let mut ds = lock(&self.downstream);
        let lingering = self.http_open.load(Ordering::Relaxed) > 0
            || now_ns().saturating_sub(self.http_ended_ns.load(Ordering::Relaxed))
                < HTTP_LINGER.as_nanos() as u64;
        if !lingering {
            ds.retain(|(_, d)| !matches!(d, Downstream::Http));
        }
        ds.last().map(|(_, d)| d.clone())
    }

    /// Drops frames past the retention limits (on enqueue, and from the server's sweep so
    /// a queue nobody writes to does not hold its frames forever).
    fn trim(q: &mut HttpQueue, now: u64) {
        let max_age = RETAIN_AGE.as_nanos() as u64;
        while q.frames.len() > RETAIN_FRAMES
            || q.bytes > RETAIN_BYTES
            || q.frames
                .front()
                .is_some_and(|(_, _, at)| now.saturating_sub(*at) > max_age)
        {
            match q.frames.pop_front() {
                Some((_, f, _)) => q.bytes -= f.len(),
                None => break,
            }
        }
    }

    fn touch(&self) {
        self.last_active_ns.store(now_ns(), Ordering::Relaxed);
    }

    /// Appends a frame to the HTTP queue, trimming what is past the retention limits.
    pub fn enqueue(&self, frame: Bytes) -> u64 {
        let now = now_ns();
        let cursor = {
            let mut q = lock(&self.queue);
            q.last += 1;
            let c = q.last;
            q.bytes += frame.len();
            q.frames.push_back((c, frame, now));
            Self::trim(&mut q, now);
            c
        };
        self.latest.send_replace(cursor);
        cursor
    }

    /// Frames after `after` (at most `max_frames` / `max_bytes`), marking them delivered when
    /// `mark_delivered`. An `after` beyond the newest cursor is treated as the newest.
    pub fn take_after(
        &self,
        after: u64,
        max_frames: usize,
        max_bytes: usize,
        mark_delivered: bool,
    ) -> Batch {
        let mut q = lock(&self.queue);
        let after = after.min(q.last);
        let mut b = Batch {
            cursor: after,
            ..Batch::default()
        };
        let first_kept = q.frames.front().map_or(q.last + 1, |(c, _, _)| *c);
        if after + 1 < first_kept {
            b.gap = first_kept - 1 - after;
        }
        let start = (after + 1).max(first_kept);
        let skip = (start - first_kept) as usize;
        let mut bytes = 0;
        for (c, f, _) in q.frames.iter().skip(skip) {
            if b.frames.len() >= max_frames || (bytes > 0 && bytes + f.len() > max_bytes) {
                break;
            }
            bytes += f.len();
            b.frames.push((*c, f.clone()));
            b.cursor = *c;
        }
        if mark_delivered && b.cursor > q.delivered {
            q.delivered = b.cursor;
            drop(q);
            self.delivered.send_replace(b.cursor);
        }
        b
    }

    /// Records that the client has everything up to `cursor` (a poll's `after`).
    pub fn acknowledge(&self, cursor: u64) {
        let mut q = lock(&self.queue);
        let c = cursor.min(q.last);
        if c > q.delivered {
            q.delivered = c;
            drop(q);
            self.delivered.send_replace(c);
        }
    }

    /// The newest cursor.
    pub fn last_cursor(&self) -> u64 {
        lock(&self.queue).last
    }

    /// Frames queued but not yet delivered.
    pub fn backlog(&self) -> u64 {
        let q = lock(&self.queue);
        q.last - q.delivered
    }

    /// Ends the client's open event streams (clients resume with `Last-Event-ID`).
    pub fn disconnect_streams(&self) {
        self.kick.send_modify(|k| *k += 1);
    }

    /// Bulk data received so far.
    pub fn data_count(&self) -> DataCount {
        *lock(&self.data)
    }
}

/// Keeps a downstream registered; dropping it unregisters it (frames go to the newest one left).
#[derive(Debug)]
pub struct Attachment {
    client: Arc<ClientState>,
    generation: u64,
    http: bool,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // A closed connection stops being the downstream. The HTTP queue stays the downstream
        // for HTTP_LINGER after its last request ends: frames keep queueing so the client can
        // resume (Last-Event-ID, the next poll) without loss.
        if self.http {
            let c = &self.client;
            c.http_ended_ns.store(now_ns(), Ordering::Relaxed);
            c.http_open.fetch_sub(1, Ordering::Relaxed);
        } else {
            lock(&self.client.downstream)
                .retain(|(g, d)| !(*g == self.generation && matches!(d, Downstream::Channel(_))));
        }
        self.client.touch();
    }
}

/// Error counters by kind (malformed frames, refused requests, ...).
#[derive(Debug, Default)]
pub struct ErrorCounts(Mutex<BTreeMap<String, u64>>);

impl ErrorCounts {
    /// Adds one to `key`. At most [`ErrorCounts::MAX_KEYS`] distinct keys are kept (some keys
    /// carry a reason); a new key beyond them is counted as `other`.
    pub fn add(&self, key: &str) {
        let mut m = lock(&self.0);
        if let Some(n) = m.get_mut(key) {
            *n += 1;
        } else if m.len() < Self::MAX_KEYS {
            m.insert(key.to_string(), 1);
        } else {
            *m.entry("other".to_string()).or_default() += 1;
        }
    }

    /// Distinct keys kept.
    pub const MAX_KEYS: usize = 64;
    /// A copy of the counts.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        lock(&self.0).clone()
    }
}

/// Keep-alive settings of the server's connections, changeable at run time (the `idle`
/// workload sets production values before its clients connect; see `docs/protocol.md`).
#[derive(Debug)]
pub struct KeepAlive {
    /// WebSocket ping interval, ms (0 = no pings, the default).
    pub ws_ping_ms: AtomicU64,
    /// SSE comment interval, ms (0 = none; default 15 s).
    pub sse_heartbeat_ms: AtomicU64,
    /// How long a long-poll is held, ms (0 = the server's `--poll-timeout`, the default).
    pub long_poll_hold_ms: AtomicU64,
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self {
            ws_ping_ms: AtomicU64::new(0),
            sse_heartbeat_ms: AtomicU64::new(15_000),
            long_poll_hold_ms: AtomicU64::new(0),
        }
    }
}

impl KeepAlive {
    /// An interval setting as a duration, `None` for 0 (off).
    pub fn interval(v: &AtomicU64) -> Option<Duration> {
        match v.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

/// The server's shared state.
#[derive(Debug, Default)]
pub struct Hub {
    clients: Mutex<HashMap<u32, Arc<ClientState>>>,
    generation: AtomicU64,
    /// Frames dropped and requests refused, by kind.
    pub errors: ErrorCounts,
    /// Notable events by kind (e.g. `sse_open`), for diagnostics and tests.
    pub events: ErrorCounts,
    /// Extra delay before each echo reply, µs (a hidden switch for testing regression checks).
    pub inject_delay_us: AtomicU64,
    /// Uploaded bytes are counted only this long after a client's first data frame, ns.
    pub upload_warmup_ns: AtomicU64,
    /// Relay pairs (sender → receiver): a paired sender's data frames go to the receiver.
    relay: Mutex<HashMap<u32, u32>>,
    /// Data frames forwarded to a relay peer.
    pub relayed: AtomicU64,
    /// Held while a broadcast goes out, so every client gets broadcasts in one global order.
    broadcast_order: Mutex<()>,
    /// The global order of broadcasts (op ids, see [`op_id`]), while
    /// recording.
    order_log: Mutex<Option<Vec<u64>>>,
    /// Keep-alive settings.
    pub keepalive: KeepAlive,
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The state of `client`, created on first use.
    pub fn client(&self, id: u32) -> Arc<ClientState> {
        let c = lock(&self.clients)
            .entry(id)
            .or_insert_with(|| Arc::new(ClientState::new()))
            .clone();
        c.touch();
        c
    }

    /// The state of `client` if it exists or there is room for one more
    /// ([`MAX_CLIENT_STATES`]); `None` when the server is full (counted `client_states_full`).
    pub fn admit(&self, id: u32) -> Option<Arc<ClientState>> {
        let full = {
            let clients = lock(&self.clients);
            clients.len() >= MAX_CLIENT_STATES && !clients.contains_key(&id)
        };
        if full {
            self.errors.add("client_states_full");
            return None;
        }
        Some(self.client(id))
    }

    /// Pairs relay clients: from now on `sender`'s data frames go, unchanged, to `receiver`'s
    /// downstream instead of being counted as upload.
    pub fn set_relay(&self, pairs: &[(u32, u32)]) {
        lock(&self.relay).extend(pairs.iter().copied());
    }

    /// Starts recording the global broadcast order (collab), from empty.
    pub fn record_order(&self) {
        *lock(&self.order_log) = Some(Vec::new());
    }

    /// The broadcast order recorded so far (empty when not recording).
    pub fn broadcast_order(&self) -> Vec<u64> {
        lock(&self.order_log).clone().unwrap_or_default()
    }

    /// Ids of every known client.
    pub fn client_ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = lock(&self.clients).keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// How many clients have a downstream open now.
    pub fn attached_count(&self) -> usize {
        let clients: Vec<Arc<ClientState>> = lock(&self.clients).values().cloned().collect();
        clients
            .iter()
            .filter(|c| c.live_downstream().is_some())
            .count()
    }

    /// Makes `tx` the client's downstream for server-originated frames, until the returned
    /// attachment is dropped or a newer downstream opens (and again when the newer one
    /// closes first).
    pub fn attach_channel(&self, client: u32, tx: FrameTx) -> Attachment {
        self.attach(client, Downstream::Channel(tx))
    }

    /// Makes the HTTP queue the client's downstream (an event stream or poll opened).
    pub fn attach_http(&self, client: u32) -> Attachment {
        self.attach(client, Downstream::Http)
    }

    fn attach(&self, client: u32, d: Downstream) -> Attachment {
        let c = self.client(client);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let http = matches!(d, Downstream::Http);
        let mut ds = lock(&c.downstream);
        if http {
            // One HTTP queue per client: it moves to the top.
            ds.retain(|(_, d)| !matches!(d, Downstream::Http));
            c.http_open.fetch_add(1, Ordering::Relaxed);
        }
        ds.push((generation, d));
        drop(ds);
        Attachment {
            client: c,
            generation,
            http,
        }
    }

    /// Waits until each of `clients` has a downstream open (a raw-TCP client's hello, say, may
    /// still be in flight when its agent reports it connected). Returns the ids still without
    /// one when `timeout` passes.
    pub async fn wait_attached(&self, clients: &[u32], timeout: Duration) -> Vec<u32> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let missing: Vec<u32> = clients
                .iter()
                .copied()
                .filter(|&c| self.client(c).live_downstream().is_none())
                .collect();
            if missing.is_empty() || tokio::time::Instant::now() >= deadline {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The client's state and its most recently opened downstream, if any.
    fn newest_downstream(&self, client: u32) -> (Arc<ClientState>, Option<Downstream>) {
        let c = self.client(client);
        let d = c.live_downstream();
        (c, d)
    }

    /// Sends a server-originated frame to the client's most recent downstream, waiting when a
    /// channel pushes back. Returns false if the client has no downstream.
    pub async fn send_to(&self, client: u32, frame: Bytes) -> bool {
        let (c, d) = self.newest_downstream(client);
        match d {
            Some(Downstream::Channel(tx)) => tx.send(frame).await.is_ok(),
            Some(Downstream::Http) => {
                c.enqueue(frame);
                true
            }
            None => false,
        }
    }

    /// Offers a server-originated frame to the client's most recent downstream without
    /// waiting: the client's own queue (its connection's bounded channel, drained by that
    /// connection's writer) takes it or is full. A push fan-out uses this so one slow client
    /// never delays the frames of the others; a full queue drops the frame for that client
    /// only, counted as `push_queue_full` (a reliable transport's cell then fails on the loss,
    /// with the count beside it).
    pub fn offer_to(&self, client: u32, frame: Bytes) -> bool {
        self.offer(&self.client(client), frame, "push")
    }

    /// [`Hub::offer_to`] to a client's state, with the counter prefix `what` (`push`,
    /// `broadcast`): a full queue counts `{what}_queue_full`, a closed connection
    /// `{what}_connection_closed`. Does not mark the client active.
    fn offer(&self, c: &ClientState, frame: Bytes, what: &'static str) -> bool {
        match c.live_downstream() {
            Some(Downstream::Channel(tx)) => match tx.try_send(frame) {
                Ok(()) => true,
                Err(QueueError::Full) => {
                    self.errors.add(&format!("{what}_queue_full"));
                    false
                }
                Err(QueueError::Closed) => {
                    self.errors.add(&format!("{what}_connection_closed"));
                    false
                }
            },
            Some(Downstream::Http) => {
                c.enqueue(frame);
                true
            }
            None => false,
        }
    }

    /// Handles one upstream frame from `client` per the public behaviour: echo-request →
    /// echo-reply on the same path; broadcast-request → broadcast to every client; data →
    /// counted. Anything else is dropped and counted.
    pub async fn on_frame(&self, client: u32, frame: Bytes, reply: Reply<'_>) {
        let h = match Header::parse(&frame) {
            Ok(h) => h,
            Err(e) => {
                self.errors.add(e.counter_key());
                return;
            }
        };
        match h.kind {
            Kind::EchoRequest => {
                let delay = self.inject_delay_us.load(Ordering::Relaxed);
                if delay > 0 {
                    spin_sleep_us(delay).await;
                }
                let out = with_kind(&frame, Kind::EchoReply);
                match reply {
                    Reply::Channel(tx) => {
                        if tx.send(out).await.is_err() {
                            self.errors.add("reply_connection_closed");
                        }
                    }
                    Reply::Http => {
                        self.client(client).enqueue(out);
                    }
                }
            }
            Kind::BroadcastRequest => {
                let out = with_kind(&frame, Kind::Broadcast);
                // One broadcast at a time: the order they take the lock in is the one order
                // every client sees them in (per downstream, frames stay in order). Nothing
                // under the lock waits on a client: a full queue drops that client's copy
                // (counted `broadcast_queue_full`), so one slow reader never delays the others.
                let _order = lock(&self.broadcast_order);
                if let Some(log) = lock(&self.order_log).as_mut() {
                    log.push(op_id(h.sender, h.seq));
                }
                let clients: Vec<Arc<ClientState>> =
                    lock(&self.clients).values().cloned().collect();
                for c in &clients {
                    self.offer(c, out.clone(), "broadcast");
                }
            }
            Kind::Data if lock(&self.relay).contains_key(&client) => {
                let to = lock(&self.relay).get(&client).copied();
                if let Some(to) = to {
                    if self.send_to(to, frame).await {
                        self.relayed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.errors.add("relay_peer_no_downstream");
                    }
                }
            }
            Kind::Data => {
                let now = now_ns();
                let warmup = self.upload_warmup_ns.load(Ordering::Relaxed);
                let c = self.client(client);
                let mut d = lock(&c.data);
                if d.seen_ns == 0 {
                    d.seen_ns = now;
                }
                if now < d.seen_ns + warmup {
                    return;
                }
                if d.frames == 0 {
                    d.first_ns = now;
                }
                d.frames += 1;
                d.bytes += frame.len() as u64;
                d.last_ns = now;
            }
            Kind::EchoReply | Kind::Broadcast | Kind::Push => {
                self.errors.add("frame_unexpected_kind");
            }
        }
    }

    /// Counts a malformed frame reported by a transport's own decoder.
    pub fn count_bad(&self, e: &FrameError) {
        self.errors.add(e.counter_key());
    }

    /// Drops clients idle for longer than [`IDLE_EXPIRY`] with no downstream open, and
    /// trims every HTTP queue to its retention limits.
    pub fn expire_idle(&self) {
        let now = now_ns();
        let cutoff = now.saturating_sub(IDLE_EXPIRY.as_nanos() as u64);
        lock(&self.clients).retain(|_, c| {
            ClientState::trim(&mut lock(&c.queue), now);
            c.live_downstream().is_some() || c.last_active_ns.load(Ordering::Relaxed) > cutoff
        });
    }
}

/// Waits `us` microseconds with µs precision (timerfd), for the injected-delay test switch.
async fn spin_sleep_us(us: u64) {
    if let Ok(mut t) = crate::clock::PreciseTimer::new() {
        let _ = t.sleep_until_ns(now_ns() + us * 1000).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::outq::channel;

    fn frame(seq: u64, kind: Kind) -> Bytes {
        Header {
            seq,
            sent_ns: 1,
            sender: 7,
            kind,
        }
        .encode(32)
    }

    /// Frames go to the newest downstream; when it closes, to the newest still open (a
    /// reconnect attempt that completed late and closed does not orphan the connection in use);
    /// an older one closing changes nothing.
    #[tokio::test]
    async fn frames_go_to_the_newest_open_downstream() {
        let hub = Hub::new();
        let (tx_a, mut rx_a) = channel(8);
        let (tx_b, mut rx_b) = channel(8);
        let (tx_c, mut rx_c) = channel(8);
        let a = hub.attach_channel(1, tx_a);
        let b = hub.attach_channel(1, tx_b);
        assert!(hub.send_to(1, frame(0, Kind::Push)).await);
        assert!(rx_b.try_recv().is_some() && rx_a.try_recv().is_none());
        let c = hub.attach_channel(1, tx_c);
        drop(c);
        assert!(hub.send_to(1, frame(1, Kind::Push)).await);
        assert!(rx_b.try_recv().is_some() && rx_c.try_recv().is_none());
        drop(a);
        assert!(hub.send_to(1, frame(2, Kind::Push)).await);
        assert!(rx_b.try_recv().is_some());
        drop(b);
        assert!(!hub.send_to(1, frame(3, Kind::Push)).await);
        assert_eq!(hub.attached_count(), 0);
    }

    /// A push fan-out to a client that stopped reading neither waits nor delays the others:
    /// that client's full queue drops the frame (counted), the fast client gets every frame at
    /// once.
    #[tokio::test]
    async fn a_stalled_client_does_not_hold_the_push_fan_out() {
        let hub = Arc::new(Hub::new());
        let (tx_slow, _rx_slow) = channel(2);
        let (tx_fast, mut rx_fast) = channel(64);
        let _s = hub.attach_channel(1, tx_slow);
        let _f = hub.attach_channel(2, tx_fast);
        let pushed = tokio::time::timeout(
            Duration::from_secs(5),
            crate::workload::server_push(&hub, &[1, 2], 10_000.0, 64, 20),
        )
        .await;
        assert!(
            matches!(pushed, Ok(Ok(()))),
            "push waited on the stalled client"
        );
        let mut got = 0;
        while rx_fast.try_recv().is_some() {
            got += 1;
        }
        assert_eq!(got, 20);
        assert_eq!(hub.errors.snapshot().get("push_queue_full"), Some(&18));
    }

    #[test]
    fn error_keys_are_bounded() {
        let e = ErrorCounts::default();
        for i in 0..1000 {
            e.add(&format!("rtc_peer_failed: reason {i}"));
        }
        let s = e.snapshot();
        assert!(s.len() <= ErrorCounts::MAX_KEYS + 1);
        assert_eq!(s.values().sum::<u64>(), 1000);
    }

    #[test]
    fn queue_cursors_gaps_and_resume() {
        let c = ClientState::new();
        for i in 0..10 {
            assert_eq!(c.enqueue(frame(i, Kind::Push)), i + 1);
        }
        let b = c.take_after(3, 4, usize::MAX, true);
        assert_eq!(
            b.frames.iter().map(|f| f.0).collect::<Vec<_>>(),
            [4, 5, 6, 7]
        );
        assert_eq!(b.cursor, 7);
        assert_eq!(b.gap, 0);
        assert_eq!(c.backlog(), 3);
        // An `after` from the future is treated as current.
        let b = c.take_after(99, 10, usize::MAX, false);
        assert!(b.frames.is_empty());
        assert_eq!(b.cursor, 10);
    }

    #[test]
    fn the_queue_keeps_at_most_its_byte_budget() {
        let c = ClientState::new();
        let big = Bytes::from(vec![0u8; 4 << 20]);
        for _ in 0..20 {
            c.enqueue(big.clone());
        }
        let q = lock(&c.queue);
        assert!(q.bytes <= RETAIN_BYTES, "{}", q.bytes);
        assert_eq!(q.frames.len(), RETAIN_BYTES / (4 << 20));
        drop(q);
        assert_eq!(c.take_after(0, 1, usize::MAX, false).gap, 12);
    }

    #[test]
    fn trimmed_frames_are_reported_as_a_gap() {
        let c = ClientState::new();
        for i in 0..(RETAIN_FRAMES as u64 + 5) {
            c.enqueue(frame(i, Kind::Push));
        }
        let b = c.take_after(0, 1, usize::MAX, false);
        assert_eq!(b.gap, 5);
        assert_eq!(b.frames[0].0, 6);
    }

    #[tokio::test]
    async fn echo_goes_back_on_the_request_path_and_bad_frames_are_counted() {
        let hub = Hub::new();
        let (tx, mut rx) = channel(4);
        hub.on_frame(1, frame(5, Kind::EchoRequest), Reply::Channel(&tx))
            .await;
        let got = rx.recv().await.unwrap();
        assert_eq!(Header::parse(&got).unwrap().kind, Kind::EchoReply);
        hub.on_frame(1, frame(6, Kind::EchoRequest), Reply::Http)
            .await;
        assert_eq!(hub.client(1).last_cursor(), 1);
        hub.on_frame(1, Bytes::from_static(b"short"), Reply::Http)
            .await;
        assert_eq!(hub.errors.snapshot().get("frame_short"), Some(&1));
    }

    #[tokio::test]
    async fn broadcast_reaches_every_attached_client() {
        let hub = Hub::new();
        let (tx1, mut rx1) = channel(4);
        let _a1 = hub.attach_channel(1, tx1.clone());
        let _a2 = hub.attach_http(2);
        hub.on_frame(1, frame(1, Kind::BroadcastRequest), Reply::Channel(&tx1))
            .await;
        assert_eq!(
            Header::parse(&rx1.recv().await.unwrap()).unwrap().kind,
            Kind::Broadcast
        );
        assert_eq!(hub.client(2).last_cursor(), 1);
    }

    #[tokio::test]
    async fn a_reader_that_never_reads_does_not_hold_broadcasts() {
        let hub = Hub::new();
        let (tx_slow, _rx_slow) = channel(2);
        let (tx_fast, mut rx_fast) = channel(64);
        let _s = hub.attach_channel(1, tx_slow.clone());
        let _f = hub.attach_channel(2, tx_fast);
        // The slow client asks for 20 broadcasts and reads none of them.
        let sent = tokio::time::timeout(Duration::from_secs(5), async {
            for seq in 0..20 {
                hub.on_frame(
                    1,
                    frame(seq, Kind::BroadcastRequest),
                    Reply::Channel(&tx_slow),
                )
                .await;
            }
        })
        .await;
        assert!(sent.is_ok(), "broadcast waited on the stalled client");
        let mut got = 0;
        while rx_fast.try_recv().is_some() {
            got += 1;
        }
        assert_eq!(got, 20);
        assert_eq!(hub.errors.snapshot().get("broadcast_queue_full"), Some(&18));
    }

    #[tokio::test]
    async fn an_http_client_that_stopped_asking_gets_no_more_frames_and_expires() {
        let hub = Hub::new();
        drop(hub.attach_http(7));
        // Just after its poll ended, frames still queue for the next one.
        assert!(hub.offer_to(7, frame(1, Kind::Push)));
        assert_eq!(hub.attached_count(), 1);
        // Past the linger time the marker goes: no copies, and idle expiry applies.
        let c = hub.client(7);
        let long_ago = now_ns() - HTTP_LINGER.as_nanos() as u64 - 1;
        c.http_ended_ns.store(long_ago, Ordering::Relaxed);
        assert_eq!(hub.attached_count(), 0);
        let (tx, _rx) = channel(4);
        hub.on_frame(1, frame(2, Kind::BroadcastRequest), Reply::Channel(&tx))
            .await;
        assert_eq!(
            c.last_cursor(),
            1,
            "a stale HTTP client was sent a broadcast"
        );
        c.last_active_ns.store(
            now_ns() - IDLE_EXPIRY.as_nanos() as u64 - 1,
            Ordering::Relaxed,
        );
        drop(c);
        hub.expire_idle();
        assert!(!hub.client_ids().contains(&7));
    }

    #[test]
    fn an_open_poll_keeps_the_http_queue_attached() {
        let hub = Hub::new();
        let a = hub.attach_http(3);
        hub.client(3).http_ended_ns.store(0, Ordering::Relaxed);
        assert_eq!(hub.attached_count(), 1);
        drop(a);
        assert_eq!(hub.attached_count(), 1, "lingers after the request ends");
    }
}
