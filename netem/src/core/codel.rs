//! CoDel (RFC 8289), the AQM state machine of one queue, and the packets it manages.
//!
//! CoDel looks at each packet's *sojourn time* (how long it waited) when it is dequeued. Once
//! sojourn times have stayed above `target` for a whole `interval`, it enters the dropping
//! state: it drops a packet, then the next one `interval / √count` later, and so on, until a
//! dequeued packet's sojourn falls below the target (or less than one MTU is queued). Entering
//! again within 16 intervals of the last drop resumes near the previous drop rate (`count`
//! reuse). It drops; it never ECN-marks (netem-like links carry no ECN here).
//!
//! The state machine is the RFC's pseudocode (§5.4–5.7); the queue it takes packets from is
//! a [`Source`], so the same code serves one FIFO (`codel`) and each flow queue of FQ-CoDel.

use std::collections::VecDeque;
use std::time::Duration;

/// A packet waiting at the bottleneck.
#[derive(Debug)]
pub(crate) struct Queued<P> {
    /// When it arrived at the bottleneck.
    pub arrival: Duration,
    /// IP packet length, bytes.
    pub len: usize,
    /// A number unique within the core, to tell packets apart.
    pub id: u64,
    /// Its flow key (FQ-CoDel's classifier input; 0 when the caller gave none).
    pub flow: u64,
    /// The packet.
    pub pkt: P,
}

/// CoDel's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CodelConfig {
    /// Acceptable standing sojourn time.
    pub target: Duration,
    /// How long sojourn must stay above the target before dropping; also the control law's
    /// base period.
    pub interval: Duration,
    /// Below this backlog (bytes) CoDel never drops: one packet cannot be a standing queue.
    pub mtu: u64,
}

impl CodelConfig {
    /// From milliseconds, with an IP MTU of 1500 bytes (RFC 8289's MAXPACKET).
    pub fn from_ms(target_ms: f64, interval_ms: f64) -> Self {
        Self {
            target: Duration::from_secs_f64(target_ms.max(0.0) / 1000.0),
            interval: Duration::from_secs_f64(interval_ms.max(0.0) / 1000.0),
            mtu: 1500,
        }
    }
}

/// Where CoDel takes packets from.
pub(crate) trait Source<P> {
    /// Removes and returns the head packet.
    fn pop(&mut self) -> Option<Queued<P>>;
    /// Bytes still queued (after the pop), for the "less than an MTU queued" exemption.
    fn backlog(&self) -> u64;
}

/// A FIFO of packets with its byte count.
#[derive(Debug)]
pub(crate) struct Fifo<P> {
    /// The packets, oldest first.
    pub q: VecDeque<Queued<P>>,
    /// Their total length, bytes.
    pub bytes: u64,
}

impl<P> Default for Fifo<P> {
    fn default() -> Self {
        Self {
            q: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<P> Fifo<P> {
    /// Appends a packet.
    pub fn push(&mut self, p: Queued<P>) {
        self.bytes += p.len as u64;
        self.q.push_back(p);
    }
}

impl<P> Source<P> for Fifo<P> {
    fn pop(&mut self) -> Option<Queued<P>> {
        let p = self.q.pop_front()?;
        self.bytes -= p.len as u64;
        Some(p)
    }

    fn backlog(&self) -> u64 {
        self.bytes
    }
}

/// The state of one CoDel instance (RFC 8289's variables).
#[derive(Debug, Clone, Default)]
pub(crate) struct Codel {
    /// When sojourn will have been above target for an interval (None: it is below).
    first_above_time: Option<Duration>,
    /// When the next drop is due while dropping.
    drop_next: Duration,
    /// Drops since entering the dropping state (the control law's input).
    count: u32,
    /// `count` when the dropping state was last entered.
    lastcount: u32,
    /// In the dropping state.
    dropping: bool,
}

/// `t + interval / √count`: when the next drop is due.
fn control_law(t: Duration, interval: Duration, count: u32) -> Duration {
    t + interval.div_f64(f64::from(count.max(1)).sqrt())
}

impl Codel {
    /// Pops the head packet and says whether CoDel may drop it (RFC 8289 `dodequeue`).
    fn do_dequeue<P>(
        &mut self,
        src: &mut impl Source<P>,
        now: Duration,
        cfg: &CodelConfig,
    ) -> (Option<Queued<P>>, bool) {
        let Some(p) = src.pop() else {
            self.first_above_time = None;
            return (None, false);
        };
        let sojourn = now.saturating_sub(p.arrival);
        let mut ok_to_drop = false;
        if sojourn < cfg.target || src.backlog() <= cfg.mtu {
            self.first_above_time = None;
        } else {
            match self.first_above_time {
                None => self.first_above_time = Some(now + cfg.interval),
                Some(t) if now >= t => ok_to_drop = true,
                Some(_) => {}
            }
        }
        (Some(p), ok_to_drop)
    }

    /// Dequeues the packet to send at `now`, dropping as CoDel decides (RFC 8289 `dequeue`);
    /// `drops` counts the packets dropped. None when the queue is (or was drained) empty.
    pub fn dequeue<P>(
        &mut self,
        src: &mut impl Source<P>,
        now: Duration,
        cfg: &CodelConfig,
        drops: &mut u64,
    ) -> Option<Queued<P>> {
        let (mut p, mut ok_to_drop) = self.do_dequeue(src, now, cfg);
        if p.is_none() {
            self.dropping = false;
            return None;
        }
        if self.dropping {
            if !ok_to_drop {
                // Sojourn fell below the target: leave the dropping state.
                self.dropping = false;
            }
            while self.dropping && now >= self.drop_next {
                *drops += 1;
                self.count = self.count.saturating_add(1);
                (p, ok_to_drop) = self.do_dequeue(src, now, cfg);
                if ok_to_drop {
                    self.drop_next = control_law(self.drop_next, cfg.interval, self.count);
                } else {
                    self.dropping = false;
                }
            }
        } else if ok_to_drop {
            *drops += 1;
            (p, _) = self.do_dequeue(src, now, cfg);
            self.dropping = true;
            // Dropping again soon after the last episode: resume near its drop rate.
            let delta = self.count.saturating_sub(self.lastcount);
            let recent = now.saturating_sub(self.drop_next) < cfg.interval * 16;
            self.count = if delta > 1 && recent { delta } else { 1 };
            self.drop_next = control_law(now, cfg.interval, self.count);
            self.lastcount = self.count;
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn fifo(arrivals_ms: &[u64], len: usize) -> Fifo<u64> {
        let mut f = Fifo::default();
        for (i, a) in arrivals_ms.iter().enumerate() {
            f.push(Queued {
                arrival: ms(*a),
                len,
                id: i as u64,
                flow: 0,
                pkt: i as u64,
            });
        }
        f
    }

    fn cfg() -> CodelConfig {
        CodelConfig::from_ms(5.0, 100.0)
    }

    #[test]
    fn no_drop_below_target() {
        let mut c = Codel::default();
        let mut f = fifo(&[0; 100], 1000);
        let mut drops = 0;
        // Dequeued 4 ms after arrival: under the 5 ms target.
        for _ in 0..100 {
            assert!(c.dequeue(&mut f, ms(4), &cfg(), &mut drops).is_some());
        }
        assert_eq!(drops, 0);
    }

    #[test]
    fn drops_only_after_a_full_interval_above_target() {
        let mut c = Codel::default();
        let mut f = fifo(&[0; 1000], 1000);
        let mut drops = 0;
        // First sojourn above target at 10 ms: no drop until 110 ms.
        c.dequeue(&mut f, ms(10), &cfg(), &mut drops);
        c.dequeue(&mut f, ms(109), &cfg(), &mut drops);
        assert_eq!(drops, 0);
        // At 110 ms: one drop, then the next is due interval/√1 later.
        let p = c.dequeue(&mut f, ms(110), &cfg(), &mut drops);
        assert_eq!((drops, p.map(|p| p.pkt)), (1, Some(3)));
        assert!(c.dropping);
        assert_eq!(c.drop_next, ms(210));
        c.dequeue(&mut f, ms(209), &cfg(), &mut drops);
        assert_eq!(drops, 1);
        // At 210 ms the second drop, then 100/√2 ms later the third.
        c.dequeue(&mut f, ms(210), &cfg(), &mut drops);
        assert_eq!(drops, 2);
        assert_eq!(c.drop_next, ms(210) + ms(100).div_f64(2f64.sqrt()));
    }

    #[test]
    fn leaves_dropping_when_sojourn_falls_and_reuses_count_soon_after() {
        let mut c = Codel::default();
        let mut drops = 0;
        let mut f = fifo(&[0; 50], 1000);
        c.dequeue(&mut f, ms(10), &cfg(), &mut drops);
        for t in [110, 210, 281, 339] {
            c.dequeue(&mut f, ms(t), &cfg(), &mut drops);
        }
        assert_eq!(c.count, 4);
        // A fresh packet (sojourn 1 ms) ends the dropping state.
        let mut f = fifo(&[400; 50], 1000);
        c.dequeue(&mut f, ms(401), &cfg(), &mut drops);
        assert!(!c.dropping);
        // Above target again within 16 intervals: count resumes at count − lastcount = 3.
        c.dequeue(&mut f, ms(420), &cfg(), &mut drops);
        c.dequeue(&mut f, ms(520), &cfg(), &mut drops);
        assert!(c.dropping);
        assert_eq!(c.count, 3);
        assert_eq!(c.drop_next, ms(520) + ms(100).div_f64(3f64.sqrt()));
    }

    #[test]
    fn less_than_an_mtu_queued_is_never_dropped() {
        let mut c = Codel::default();
        let mut f = fifo(&[0; 3], 1500);
        let mut drops = 0;
        for t in [10, 200, 400] {
            assert!(c.dequeue(&mut f, ms(t), &cfg(), &mut drops).is_some());
        }
        assert_eq!(drops, 0);
    }
}
