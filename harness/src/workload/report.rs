//! What a client agent measures and reports: the latency histogram, sequence accounting and
//! counters of its clients ([`ClientReport`]), merged over clients and agents.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::frame::Header;
use crate::transport::{FrameStream, TransportError};

/// Highest latency the histograms track: 60 s in µs.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// A new latency histogram (µs, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; failure would be a programming error.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// What a client agent reports for its clients, merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientReport {
    /// Why the workload failed, if it did.
    pub error: Option<String>,
    /// Latency histogram (base64 V2+deflate), warm-up excluded.
    pub latency_hdr: Option<String>,
    /// Samples recorded during warm-up.
    pub warmup_samples: u64,
    /// Setup time of each connection, µs.
    pub setup_us: Vec<u64>,
    /// Setup phases summed over connections, µs (divide by `setup_us.len()` for the mean).
    pub setup_phases_us: BTreeMap<String, u64>,
    /// Frames sent (after warm-up, for the delivery figures).
    pub sent: u64,
    /// Distinct frames received (after warm-up).
    pub received: u64,
    /// Extra copies received.
    pub duplicated: u64,
    /// Frames received after a higher sequence number.
    pub reordered: u64,
    /// Bytes received after warm-up.
    pub bytes_received: u64,
    /// Frames received after warm-up.
    pub frames_received: u64,
    /// Time span of the bytes counted in `bytes_received`, ns (summed per client).
    pub recv_span_ns: u64,
    /// Bytes sent (every frame, warm-up included).
    pub bytes_sent: u64,
    /// Bytes received (every frame, warm-up included).
    pub bytes_received_total: u64,
    /// Errors counted by kind (not fatal).
    pub errors: BTreeMap<String, u64>,
    /// How late sends left against their schedule: p50, p99, max in µs (open-loop senders).
    pub send_lateness_us: Option<[u64; 3]>,
    /// CPU seconds of the agent process.
    pub cpu_s: Option<f64>,
    /// Peak RSS of the agent process, bytes.
    pub rss_peak_bytes: Option<u64>,
    /// relay with a deadline: frames that arrived after it (counted as lost, not received).
    #[serde(default)]
    pub late: u64,
    /// collab: ops delivered to each client after warm-up, in client-id order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_client_received: Vec<u64>,
    /// collab: each client's arrival order of the ops after warm-up (op id = sender << 32 |
    /// seq), compared by the orchestrator with the server's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrival_orders: Vec<Vec<u64>>,
    /// The agent's open-file limit, after raising it.
    #[serde(default)]
    pub nofile_limit: Option<u64>,
    /// RSS of the agent before its clients connected (idle), bytes.
    #[serde(default)]
    pub rss_before_connect_bytes: Option<u64>,
    /// RSS of the agent once every client was connected (idle), bytes.
    #[serde(default)]
    pub rss_connected_bytes: Option<u64>,
    /// Downstreams resumed in place after a lost or silent connection (flap: SSE with
    /// `Last-Event-ID`, long-poll and poll from their cursor).
    #[serde(default)]
    pub resumes: u64,
    /// New connections opened after a lost or silent one (flap).
    #[serde(default)]
    pub reconnects: u64,
    /// Resume or reconnect attempts that failed or timed out (flap).
    #[serde(default)]
    pub failed_attempts: u64,
    /// Start of the longest silence between two frames a client saw (flap), monotonic ns;
    /// the earliest over the agent's clients.
    #[serde(default)]
    pub gap_start_ns: Option<u64>,
    /// End of that silence: arrival of the frame that ended it, monotonic ns; the latest over
    /// the agent's clients.
    #[serde(default)]
    pub gap_end_ns: Option<u64>,
    /// Connections lost while idle (idle: a proxy's or a server's idle timeout), whether
    /// the transport then reopened them underneath (SSE) or not.
    #[serde(default)]
    pub dropped_connections: u64,
    /// When the first of them was lost, monotonic ns; the earliest over the agent's clients.
    #[serde(default)]
    pub first_drop_ns: Option<u64>,
    /// WebRTC: the path each connection's selected ICE candidate pair took (`host`, `srflx`,
    /// `prflx`, `relay/<transport>`), counted, as the stack reported it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ice_paths: BTreeMap<String, u64>,
}

impl ClientReport {
    /// Stores what a receiving loop measured: the histogram, warm-up count, sequence
    /// accounting and frames the transport dropped.
    pub(crate) fn record_receipt(
        &mut self,
        hist: &Histogram<u64>,
        warm: u64,
        seqs: &SeqTracker,
        stream: &dyn FrameStream,
    ) -> Result<(), TransportError> {
        self.latency_hdr = Some(encode(hist)?);
        self.warmup_samples = warm;
        self.received = hist.len();
        self.duplicated = seqs.duplicated;
        self.reordered = seqs.reordered;
        if stream.dropped() > 0 {
            *self.errors.entry("frame_dropped".into()).or_default() += stream.dropped();
        }
        Ok(())
    }

    /// The frame's header if it parses and `wanted` accepts it; otherwise counts it
    /// (`frame_unexpected`, or the parse error's key) and returns None.
    pub(crate) fn accept(
        &mut self,
        frame: &[u8],
        wanted: impl Fn(&Header) -> bool,
    ) -> Option<Header> {
        match Header::parse(frame) {
            Ok(h) if wanted(&h) => Some(h),
            Ok(_) => {
                self.count_error("frame_unexpected");
                None
            }
            Err(e) => {
                self.count_error(e.counter_key());
                None
            }
        }
    }

    pub(crate) fn count_error(&mut self, key: &str) {
        *self.errors.entry(key.to_string()).or_default() += 1;
    }

    /// Adds another report (another client, or another client agent) to this one (histograms
    /// merged, counts summed).
    pub fn merge(&mut self, other: ClientReport) -> Result<(), TransportError> {
        if self.error.is_none() {
            self.error = other.error;
        }
        self.latency_hdr = match (self.latency_hdr.take(), other.latency_hdr) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => {
                let mut ha = decode(&a)?;
                ha.add(decode(&b)?)
                    .map_err(|e| TransportError::Protocol(format!("histogram merge: {e}")))?;
                Some(encode(&ha)?)
            }
        };
        self.warmup_samples += other.warmup_samples;
        for (k, v) in other.ice_paths {
            *self.ice_paths.entry(k).or_default() += v;
        }
        self.setup_us.extend(other.setup_us);
        for (k, v) in other.setup_phases_us {
            *self.setup_phases_us.entry(k).or_default() += v;
        }
        self.sent += other.sent;
        self.received += other.received;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.bytes_received += other.bytes_received;
        self.frames_received += other.frames_received;
        self.recv_span_ns = self.recv_span_ns.max(other.recv_span_ns);
        self.bytes_sent += other.bytes_sent;
        self.bytes_received_total += other.bytes_received_total;
        self.send_lateness_us = match (self.send_lateness_us, other.send_lateness_us) {
            (Some(a), Some(b)) => Some([a[0].max(b[0]), a[1].max(b[1]), a[2].max(b[2])]),
            (a, b) => a.or(b),
        };
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        // Several client agents: their processes' CPU time and memory (peak, and before and
        // after connecting: idle's memory per connection) add up; the open-file limit in force
        // is the lowest.
        self.cpu_s = match (self.cpu_s, other.cpu_s) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.rss_peak_bytes = opt(
            self.rss_peak_bytes,
            other.rss_peak_bytes,
            u64::saturating_add,
        );
        self.rss_before_connect_bytes = opt(
            self.rss_before_connect_bytes,
            other.rss_before_connect_bytes,
            u64::saturating_add,
        );
        self.rss_connected_bytes = opt(
            self.rss_connected_bytes,
            other.rss_connected_bytes,
            u64::saturating_add,
        );
        self.nofile_limit = opt(self.nofile_limit, other.nofile_limit, u64::min);
        self.late += other.late;
        self.per_client_received.extend(other.per_client_received);
        self.arrival_orders.extend(other.arrival_orders);
        self.resumes += other.resumes;
        self.reconnects += other.reconnects;
        self.failed_attempts += other.failed_attempts;
        self.gap_start_ns = opt(self.gap_start_ns, other.gap_start_ns, u64::min);
        self.gap_end_ns = opt(self.gap_end_ns, other.gap_end_ns, u64::max);
        self.dropped_connections += other.dropped_connections;
        self.first_drop_ns = opt(self.first_drop_ns, other.first_drop_ns, u64::min);
        Ok(())
    }
}

/// Combines two optional values with `f`, or takes whichever is there.
fn opt(a: Option<u64>, b: Option<u64>, f: fn(u64, u64) -> u64) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn encode(h: &Histogram<u64>) -> Result<String, TransportError> {
    wirebench_reports::encode_histogram(h).map_err(|e| TransportError::Protocol(e.to_string()))
}

fn decode(s: &str) -> Result<Histogram<u64>, TransportError> {
    wirebench_reports::decode_histogram(s).map_err(|e| TransportError::Protocol(e.to_string()))
}

/// Tracks sequence numbers: distinct, duplicated and reordered arrivals.
#[derive(Debug, Default)]
pub struct SeqTracker {
    seen: Vec<u64>,
    max_seen: Option<u64>,
    /// Distinct sequence numbers seen.
    pub distinct: u64,
    /// Repeats of a sequence number already seen.
    pub duplicated: u64,
    /// Arrivals below the highest sequence number seen so far.
    pub reordered: u64,
}

impl SeqTracker {
    /// Sequence numbers below the highest one seen that never came.
    pub fn missing(&self) -> u64 {
        self.max_seen
            .map_or(0, |m| (m + 1).saturating_sub(self.distinct))
    }

    /// Records `seq`; returns true if it is new.
    pub fn record(&mut self, seq: u64) -> bool {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if w >= self.seen.len() {
            if w > 1 << 26 {
                // Absurd sequence number from a peer: count it, don't allocate for it.
                self.duplicated += 1;
                return false;
            }
            self.seen.resize(w + 1, 0);
        }
        if self.seen[w] & (1 << b) != 0 {
            self.duplicated += 1;
            return false;
        }
        self.seen[w] |= 1 << b;
        self.distinct += 1;
        match self.max_seen {
            Some(m) if seq < m => self.reordered += 1,
            _ => self.max_seen = Some(seq),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_tracker_counts_dups_and_reorders() {
        let mut t = SeqTracker::default();
        for s in [0, 1, 3, 2, 3, 5, 4] {
            t.record(s);
        }
        assert_eq!(t.distinct, 6);
        assert_eq!(t.duplicated, 1);
        assert_eq!(t.reordered, 2);
    }

    /// The orchestrator merges its client agents' reports into an empty one: the idle
    /// workload's memory before and after connecting adds up over agents, the open-file limit
    /// is the lowest, the flap silence spans the earliest start to the latest end.
    #[test]
    fn merged_agent_reports_keep_idle_and_flap_figures() {
        let agent = |before, connected, nofile, gap: (u64, u64)| ClientReport {
            rss_before_connect_bytes: Some(before),
            rss_connected_bytes: Some(connected),
            nofile_limit: Some(nofile),
            gap_start_ns: Some(gap.0),
            gap_end_ns: Some(gap.1),
            resumes: 1,
            ..ClientReport::default()
        };
        let mut r = ClientReport::default();
        r.merge(agent(10, 30, 1024, (5, 50))).unwrap();
        assert_eq!(
            (
                r.rss_before_connect_bytes,
                r.rss_connected_bytes,
                r.nofile_limit
            ),
            (Some(10), Some(30), Some(1024))
        );
        r.merge(agent(20, 25, 512, (3, 40))).unwrap();
        assert_eq!(
            (
                r.rss_before_connect_bytes,
                r.rss_connected_bytes,
                r.nofile_limit
            ),
            (Some(30), Some(55), Some(512))
        );
        assert_eq!(
            (r.gap_start_ns, r.gap_end_ns, r.resumes),
            (Some(3), Some(50), 2)
        );
    }
}
