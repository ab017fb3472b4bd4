//! Open-loop timing shared by the workloads: send schedules stamped with their intended send
//! times (coordinated-omission correct), bounded receives, and the drain and connect bounds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;

use super::params::Params;
use super::report::{new_histogram, MAX_LATENCY_US};
use crate::clock::{now_ns, PreciseTimer};
use crate::frame::{Header, Kind};
use crate::transport::{Connection, FrameSink, FrameStream, TransportError};

/// The next frame if one arrives before `deadline_ns` (monotonic); `None` at the deadline or
/// when the stream ends.
pub(crate) async fn recv_before(
    stream: &mut dyn FrameStream,
    deadline_ns: u64,
) -> Result<Option<Bytes>, TransportError> {
    let wait = Duration::from_nanos(deadline_ns.saturating_sub(now_ns()));
    match tokio::time::timeout(wait, stream.recv()).await {
        Err(_) => Ok(None),
        Ok(r) => r,
    }
}

/// How long to wait for stragglers after the last scheduled send.
pub const DRAIN: Duration = Duration::from_secs(3);

/// How long one client's connect may take before the workload gives up on it (TCP's SYN
/// retransmits alone reach 15 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// In how many of [`POLL_PHASE_BINS`] equal parts of a poll interval the frames fall, over
/// `frames` sends `period_ns` apart from each client, client `i`'s schedule `offsets[i]` ns
/// past its polls (the two staggers): the phases between the send and poll schedules a cell
/// samples, pooled over its clients. Ten means they walk through the whole interval; fewer
/// means every frame meets the polls at a few points only (the interval a multiple or a
/// fraction of the period), so a cell measures those phases shifted by one random offset and
/// poll's figures scatter between repeats, as `setInterval` polling a metronome would.
pub fn poll_phase_bins(period_ns: u64, interval_ns: u64, frames: u64, offsets: &[u64]) -> u32 {
    if period_ns == 0 || interval_ns == 0 {
        return POLL_PHASE_BINS;
    }
    let mut hit = [false; POLL_PHASE_BINS as usize];
    let step = period_ns % interval_ns;
    for &offset in offsets {
        let start = offset % interval_ns;
        let mut phase = start;
        for _ in 0..frames.clamp(1, 100_000) {
            let bin = u128::from(phase) * u128::from(POLL_PHASE_BINS) / u128::from(interval_ns);
            hit[usize::try_from(bin).unwrap_or(0).min(hit.len() - 1)] = true;
            phase = (phase + step) % interval_ns;
            // A locked schedule cycles in a few frames: the rest would revisit the same bins.
            if phase == start || hit.iter().all(|&h| h) {
                break;
            }
        }
        if hit.iter().all(|&h| h) {
            break;
        }
    }
    hit.iter().map(|&h| u32::from(h)).sum()
}

/// The parts of a poll interval [`poll_phase_bins`] tells apart.
pub const POLL_PHASE_BINS: u32 = 10;

/// An open-loop send schedule: frame `seq` is due at `start_ns + seq * period_ns`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// When frame 0 is due (monotonic ns).
    pub start_ns: u64,
    /// Interval between frames, ns.
    pub period_ns: u64,
    /// Frames in all, warm-up included.
    pub total_n: u64,
}

impl Schedule {
    /// The schedule of `p` (rate, warm-up, duration) from `start_ns`, and the warm-up's frames.
    pub fn of(p: &Params, start_ns: u64) -> (Self, u64) {
        let (warm_n, total_n) = Self::counts(p);
        let s = Self {
            start_ns,
            period_ns: p.period_ns(),
            total_n,
        };
        (s, warm_n)
    }

    /// Frames of the warm-up and frames in all (warm-up included) at `p`'s rate: the one count
    /// every sender and receiver uses (server push, client receive, flap, the browser page's
    /// `scheduleCounts`), so a fractional `rate × warm-up` can't make a phantom loss.
    pub fn counts(p: &Params) -> (u64, u64) {
        let frames = |ms: u64| (p.rate * ms as f64 / 1000.0).ceil() as u64;
        let warm_n = frames(p.warmup_ms);
        (warm_n, warm_n + frames(p.duration_ms))
    }

    /// When the last frame is due.
    pub fn end_ns(&self) -> u64 {
        self.start_ns + self.total_n * self.period_ns
    }
}

/// Sends the schedule's frames of `kind` from `id`, each stamped with its intended send time;
/// `sent` counts frames handed to the transport. Returns the sink and how late each send left
/// (µs histogram). Runs in a task of its own, apart from the receiver's: the sender's waiting
/// (timerfd, then a yielding spin) and its sends never run inside the receiver's poll.
pub(crate) async fn send_schedule(
    mut sink: Box<dyn FrameSink>,
    sched: Schedule,
    id: u32,
    kind: Kind,
    size: usize,
    sent: Arc<AtomicU64>,
) -> Result<(Box<dyn FrameSink>, Histogram<u64>), TransportError> {
    let task = async move {
        let mut timer = PreciseTimer::new().map_err(|e| TransportError::io("timerfd", e))?;
        let mut late = new_histogram();
        for seq in 0..sched.total_n {
            let t = sched.start_ns + seq * sched.period_ns;
            timer
                .sleep_until_ns(t)
                .await
                .map_err(|e| TransportError::io("timerfd", e))?;
            record_lateness(&mut late, t);
            let f = Header {
                seq,
                sent_ns: t,
                sender: id,
                kind,
            }
            .encode(size);
            sink.send(f).await?;
            sent.store(seq + 1, Ordering::Release);
        }
        Ok::<_, TransportError>((sink, late))
    };
    tokio::spawn(task)
        .await
        .map_err(|e| TransportError::io("sender task", std::io::Error::other(e)))?
}

/// A connection attempt bounded by [`CONNECT_TIMEOUT`]: a peer or proxy that never completes
/// the handshake (nginx holding an SSE response in its buffers) fails the attempt with the
/// reason instead of leaving the cell to its time limit.
pub(crate) async fn bounded_connect(
    connect: impl std::future::Future<Output = Result<Connection, TransportError>>,
) -> Result<Connection, TransportError> {
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .unwrap_or_else(|_| {
            Err(TransportError::Timeout(format!(
                "no connection after {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        })
}

/// Records how late, in µs, a wake-up meant for `deadline_ns` came: one expression for the
/// senders and the settle probe, so the probe's bound reads what the senders' flag reads.
pub(crate) fn record_lateness(h: &mut Histogram<u64>, deadline_ns: u64) {
    let _ = h.record((now_ns().saturating_sub(deadline_ns) / 1000).clamp(1, MAX_LATENCY_US));
}

/// p50, p99 and max of a send-lateness histogram.
pub(crate) fn lateness(h: &Histogram<u64>) -> [u64; 3] {
    [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::control::ServerCommand;
    use crate::workload::{flap, push};

    /// 7.2 frames of warm-up and 150.3 measured: the server once sent ceil(157.5) = 158 frames
    /// while the client expected ceil(7.2) + ceil(150.3) = 159, a phantom loss on a reliable
    /// transport. Every side now uses one count.
    #[test]
    fn every_side_counts_the_same_frames_with_a_fractional_warmup() {
        let p = Params {
            rate: 12.0,
            warmup_ms: 600,
            duration_ms: 12_525,
            ..Params::default()
        };
        let (warm, total) = Schedule::counts(&p);
        assert_eq!(warm, 8, "ceil(7.2)");
        assert_eq!(total, 8 + 151, "ceil(7.2) + ceil(150.3)");
        let (s, w) = Schedule::of(&p, 0);
        assert_eq!((w, s.total_n), (warm, total));
        assert_eq!((flap::warmup_frames(&p), flap::frames(&p)), (warm, total));
        match push::server_command(&p, vec![1]) {
            ServerCommand::Push { count, .. } => assert_eq!(count, total),
            other => panic!("not a push command: {other:?}"),
        }
    }

    /// N clients at rate r start period/N apart (wrk2's stagger): distinct, evenly spaced
    /// offsets within one period; one client and push are not staggered.
    #[test]
    fn clients_are_staggered_across_one_period() {
        use crate::workload::WorkloadSpec;
        let p = Params {
            rate: 100.0,
            clients: 4,
            ..Params::default()
        };
        let spec = WorkloadSpec::Collab(p.clone());
        assert_eq!(spec.phase_step_ns(), Some(2_500_000));
        let starts: Vec<u64> = (0..4).map(|id| spec.client_start_ns(1_000, id)).collect();
        assert_eq!(starts, vec![1_000, 2_501_000, 5_001_000, 7_501_000]);
        // Ids beyond N wrap (a second agent's clients continue the same ring).
        assert_eq!(spec.client_start_ns(1_000, 5), starts[1]);
        assert_eq!(WorkloadSpec::Push(p.clone()).phase_step_ns(), None);
        let one = Params { clients: 1, ..p };
        assert_eq!(WorkloadSpec::Echo(one).phase_step_ns(), None);
    }

    /// A 50 ms poll against a 50 ms send period samples one phase; 53 ms walks through all;
    /// a fraction (25 ms) or a slow rate (one frame a second) locks too, as does a 60 ms
    /// interval partly (6 of 10 parts); staggered clients fill in each other's gaps.
    #[test]
    fn poll_phases_show_an_interval_locked_to_the_period() {
        let ms = 1_000_000;
        let one = [0];
        assert_eq!(poll_phase_bins(50 * ms, 50 * ms, 200, &one), 1);
        assert_eq!(
            poll_phase_bins(50 * ms, 53 * ms, 200, &one),
            POLL_PHASE_BINS
        );
        assert_eq!(poll_phase_bins(50 * ms, 25 * ms, 200, &one), 1);
        assert_eq!(poll_phase_bins(1_000 * ms, 50 * ms, 30, &one), 1);
        assert_eq!(poll_phase_bins(50 * ms, 60 * ms, 200, &one), 6);
        assert_eq!(poll_phase_bins(ms, 50 * ms, 1_000, &one), POLL_PHASE_BINS);
        // Too few frames to walk far is said too: 3 sends sample 3 parts.
        assert_eq!(poll_phase_bins(50 * ms, 53 * ms, 3, &one), 3);
        // Ten clients whose polls are 5 ms apart against a shared 10 ms push: each sees 5
        // points 10 ms apart, together all ten parts.
        assert_eq!(poll_phase_bins(10 * ms, 50 * ms, 100, &one), 5);
        let ten: Vec<u64> = (0..10).map(|i| (50 - 5 * i) * ms).collect();
        assert_eq!(
            poll_phase_bins(10 * ms, 50 * ms, 100, &ten),
            POLL_PHASE_BINS
        );
        assert_eq!(poll_phase_bins(0, 50 * ms, 10, &one), POLL_PHASE_BINS);
    }
}
