//! FQ-CoDel (RFC 8290): flow queues, deficit round robin, CoDel per flow.
//!
//! A packet's flow key (a hash of its 5-tuple, computed by the caller) picks one of `flows`
//! queues (`key mod flows`; no perturbation, so a run is reproducible). The scheduler keeps two
//! lists of active queues: *new* flows (which just became active) are served before *old*
//! ones, so a sparse flow — one that never builds a queue — has its packet sent next, ahead of
//! any bulk flow's backlog. Each queue may send `quantum` bytes per round (deficit round robin);
//! a queue that used its deficit moves to the tail of the old list with a fresh quantum. A new
//! queue that empties moves to the old list when other old queues wait (so it cannot starve
//! them by returning as "new"), otherwise it leaves the lists. Each queue runs its own CoDel
//! ([`super::codel`]), with the whole scheduler's backlog as CoDel's "less than an MTU"
//! exemption (as Linux does).
//!
//! On overflow (more than the packet limit, or the byte limit, queued in all) the fattest queue
//! (most bytes) loses packets from its head, as Linux's `fq_codel_drop`: a batch of up to 64
//! packets or until half of its bytes are gone, in one go.

use std::collections::VecDeque;
use std::time::Duration;

use super::codel::{Codel, CodelConfig, Fifo, Queued, Source};

/// Most packets one overflow drops from the fattest flow (Linux's `drop_batch`).
pub(crate) const DROP_BATCH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    None,
    New,
    Old,
}

#[derive(Debug)]
struct Flow<P> {
    fifo: Fifo<P>,
    deficit: i64,
    codel: Codel,
    list: List,
}

/// The FQ-CoDel scheduler's queues and lists.
#[derive(Debug)]
pub(crate) struct FqCodel<P> {
    flows: Vec<Flow<P>>,
    new_flows: VecDeque<usize>,
    old_flows: VecDeque<usize>,
    packets: usize,
    bytes: u64,
    codel: CodelConfig,
    quantum: u32,
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enqueued {
    /// The arriving packet is queued (false: the overflow drop took it too).
    pub kept: bool,
    /// Packets the overflow dropped (the arriving one included when not kept).
    pub dropped: u64,
}

/// A flow queue seen by CoDel: its FIFO, with the scheduler's totals kept in step.
struct FlowSource<'a, P> {
    fifo: &'a mut Fifo<P>,
    packets: &'a mut usize,
    bytes: &'a mut u64,
}

impl<P> Source<P> for FlowSource<'_, P> {
    fn pop(&mut self) -> Option<Queued<P>> {
        let p = self.fifo.pop()?;
        *self.packets -= 1;
        *self.bytes -= p.len as u64;
        Some(p)
    }

    fn backlog(&self) -> u64 {
        *self.bytes
    }
}

impl<P> FqCodel<P> {
    /// `flows` queues (at least one), CoDel with `codel`, DRR with `quantum` bytes.
    pub fn new(flows: u32, quantum: u32, codel: CodelConfig) -> Self {
        let flows = (0..flows.max(1))
            .map(|_| Flow {
                fifo: Fifo::default(),
                deficit: 0,
                codel: Codel::default(),
                list: List::None,
            })
            .collect();
        Self {
            flows,
            new_flows: VecDeque::new(),
            old_flows: VecDeque::new(),
            packets: 0,
            bytes: 0,
            codel,
            quantum,
        }
    }

    /// Number of flow queues.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Updates CoDel's parameters and the quantum (the queues stay).
    pub fn configure(&mut self, quantum: u32, codel: CodelConfig) {
        self.quantum = quantum;
        self.codel = codel;
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.packets
    }

    /// The queue a flow key maps to.
    pub fn bucket(&self, key: u64) -> usize {
        (key % self.flows.len() as u64) as usize
    }

    /// Queues a packet (in its flow's queue); over `limit_packets` or `limit_bytes` in all,
    /// drops from the fattest flow's head until within both.
    pub fn enqueue(&mut self, p: Queued<P>, limit_packets: usize, limit_bytes: u64) -> Enqueued {
        let idx = self.bucket(p.flow);
        let id = p.id;
        self.packets += 1;
        self.bytes += p.len as u64;
        let flow = &mut self.flows[idx];
        flow.fifo.push(p);
        if flow.list == List::None {
            flow.list = List::New;
            flow.deficit = i64::from(self.quantum);
            self.new_flows.push_back(idx);
        }
        let mut dropped = 0;
        while self.packets > limit_packets || self.bytes > limit_bytes {
            let n = self.drop_from_fattest();
            if n == 0 {
                break;
            }
            dropped += n;
        }
        let kept = self.flows[idx].fifo.q.back().is_some_and(|b| b.id == id);
        Enqueued { kept, dropped }
    }

    /// Linux's `fq_codel_drop`: from the flow with the most bytes, drops head packets until
    /// half its bytes or [`DROP_BATCH`] packets are gone. Returns the packets dropped.
    fn drop_from_fattest(&mut self) -> u64 {
        let Some((idx, fattest)) = self
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.fifo.bytes))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        else {
            return 0;
        };
        let threshold = fattest / 2;
        let mut freed = 0u64;
        let mut n = 0u64;
        let flow = &mut self.flows[idx];
        while let Some(p) = flow.fifo.pop() {
            self.packets -= 1;
            self.bytes -= p.len as u64;
            freed += p.len as u64;
            n += 1;
            if n as usize >= DROP_BATCH || freed >= threshold {
                break;
            }
        }
        n
    }

    /// The packet to send at `now` (RFC 8290 §4.2, Linux's `fq_codel_dequeue`); CoDel's drops
    /// are added to `drops`.
    pub fn dequeue(&mut self, now: Duration, drops: &mut u64) -> Option<Queued<P>> {
        loop {
            let from_new = !self.new_flows.is_empty();
            let list = if from_new {
                &mut self.new_flows
            } else {
                &mut self.old_flows
            };
            let idx = *list.front()?;
            let flow = &mut self.flows[idx];
            if flow.deficit <= 0 {
                flow.deficit += i64::from(self.quantum);
                flow.list = List::Old;
                list.pop_front();
                self.old_flows.push_back(idx);
                continue;
            }
            let mut src = FlowSource {
                fifo: &mut flow.fifo,
                packets: &mut self.packets,
                bytes: &mut self.bytes,
            };
            if let Some(p) = flow.codel.dequeue(&mut src, now, &self.codel, drops) {
                flow.deficit -= p.len as i64;
                return Some(p);
            }
            // Empty: a new flow goes behind the old ones (if any) so it cannot starve them.
            list.pop_front();
            if from_new && !self.old_flows.is_empty() {
                flow.list = List::Old;
                self.old_flows.push_back(idx);
            } else {
                flow.list = List::None;
            }
        }
    }

    /// Takes every queued packet out (oldest arrival first), leaving the scheduler empty.
    pub fn drain(&mut self) -> Vec<Queued<P>> {
        let mut all: Vec<Queued<P>> = Vec::with_capacity(self.packets);
        for f in &mut self.flows {
            all.extend(f.fifo.q.drain(..));
            f.fifo.bytes = 0;
            f.list = List::None;
            f.codel = Codel::default();
        }
        self.new_flows.clear();
        self.old_flows.clear();
        self.packets = 0;
        self.bytes = 0;
        all.sort_by_key(|p| (p.arrival, p.id));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(id: u64, len: usize, flow: u64) -> Queued<u64> {
        Queued {
            arrival: Duration::ZERO,
            len,
            id,
            flow,
            pkt: id,
        }
    }

    fn fq() -> FqCodel<u64> {
        FqCodel::new(1024, 1514, CodelConfig::from_ms(5.0, 100.0))
    }

    #[test]
    fn a_new_flow_is_served_before_the_backlog_of_an_old_one() {
        let mut q = fq();
        let mut drops = 0;
        for i in 0..10 {
            q.enqueue(pkt(i, 1500, 1), 10_240, u64::MAX);
        }
        // Flow 1 sends one packet (its quantum) and moves to the old list.
        assert_eq!(
            q.dequeue(Duration::ZERO, &mut drops).map(|p| p.pkt),
            Some(0)
        );
        assert_eq!(
            q.dequeue(Duration::ZERO, &mut drops).map(|p| p.pkt),
            Some(1)
        );
        q.enqueue(pkt(100, 100, 2), 10_240, u64::MAX);
        assert_eq!(
            q.dequeue(Duration::ZERO, &mut drops).map(|p| p.pkt),
            Some(100)
        );
        assert_eq!(
            q.dequeue(Duration::ZERO, &mut drops).map(|p| p.pkt),
            Some(2)
        );
    }

    #[test]
    fn two_backlogged_flows_alternate_by_bytes() {
        let mut q = fq();
        let mut drops = 0;
        for i in 0..100 {
            // Flow 1: 1500-byte packets; flow 2: 500-byte packets.
            q.enqueue(pkt(i, 1500, 1), 10_240, u64::MAX);
            q.enqueue(pkt(1000 + i, 500, 2), 10_240, u64::MAX);
        }
        let mut bytes = [0u64; 2];
        for _ in 0..80 {
            let p = q.dequeue(Duration::ZERO, &mut drops).map(|p| (p.id, p.len));
            let Some((id, len)) = p else { break };
            bytes[usize::from(id >= 1000)] += len as u64;
        }
        let share = bytes[0] as f64 / (bytes[0] + bytes[1]) as f64;
        assert!((share - 0.5).abs() < 0.05, "{bytes:?}");
    }

    #[test]
    fn overflow_drops_from_the_fattest_flows_head() {
        let mut q = fq();
        for i in 0..200 {
            q.enqueue(pkt(i, 1000, 1), 300, u64::MAX);
        }
        for i in 0..100 {
            q.enqueue(pkt(1000 + i, 1000, 2), 300, u64::MAX);
        }
        // The 301st packet overflows: flow 1 (200 packets) loses its head, half its bytes
        // capped at 64 packets; flow 2 is untouched and the arriving packet is kept.
        let e = q.enqueue(pkt(5000, 100, 3), 300, u64::MAX);
        assert_eq!(
            e,
            Enqueued {
                kept: true,
                dropped: 64
            }
        );
        assert_eq!(q.flows[1].fifo.q.front().map(|p| p.id), Some(64));
        assert_eq!(q.flows[2].fifo.q.len(), 100);
        assert_eq!(q.len(), 237);
        // A byte limit drops from the fattest too, until within it.
        let e = q.enqueue(pkt(6000, 1000, 2), 10_000, 200_000);
        assert!(e.kept && e.dropped > 0, "{e:?}");
        assert!(q.bytes <= 200_000);
    }

    #[test]
    fn an_overflowing_packet_of_the_fattest_flow_can_be_the_one_dropped() {
        let mut q = fq();
        q.enqueue(pkt(1, 1000, 1), 1, u64::MAX);
        let e = q.enqueue(pkt(2, 1500, 2), 1, u64::MAX);
        assert_eq!(
            e,
            Enqueued {
                kept: false,
                dropped: 1
            }
        );
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn drain_returns_everything_in_arrival_order() {
        let mut q = fq();
        for i in 0..10u64 {
            let mut p = pkt(i, 100, i % 3);
            p.arrival = Duration::from_millis(10 - i);
            q.enqueue(p, 100, u64::MAX);
        }
        let ids: Vec<u64> = q.drain().iter().map(|p| p.id).collect();
        assert_eq!(ids, (0..10).rev().collect::<Vec<_>>());
        assert_eq!(q.len(), 0);
        assert!(q.dequeue(Duration::ZERO, &mut 0).is_none());
    }
}
