//! `push`: the server sends to N clients at a fixed rate; one-way latency on the host's shared
//! monotonic clock. The client half is [`super::receive`]; the server half is [`server_push`].

use bytes::Bytes;
use wirebench_reports::model::Cell;

use super::params::Params;
use super::report::ClientReport;
use super::schedule::Schedule;
use super::score::{delivery, paced_throughput, require_arrivals};
use crate::agent::control::ServerCommand;
use crate::clock::{now_ns, PreciseTimer};
use crate::frame::{Header, Kind};

/// Sends `count` push frames to each client at `rate`, stamped with their intended send time.
pub async fn server_push(
    hub: &crate::server::hub::Hub,
    clients: &[u32],
    rate: f64,
    size: usize,
    count: u64,
) -> std::io::Result<()> {
    let period = (1e9 / rate.max(0.001)) as u64;
    let start = now_ns() + 2_000_000;
    let mut timer = PreciseTimer::new()?;
    for seq in 0..count {
        let t = start + seq * period;
        timer.sleep_until_ns(t).await?;
        let f: Bytes = Header {
            seq,
            sent_ns: t,
            sender: 0,
            kind: Kind::Push,
        }
        .encode(size);
        // Each client's queue takes the frame or drops it (counted): no client waits on
        // another's (issue 15 item 11).
        for &c in clients {
            hub.offer_to(c, f.clone());
        }
    }
    Ok(())
}

/// The server command that starts a push schedule once `clients` are connected: the warm-up's
/// and the measured duration's frames at `rate`.
pub(crate) fn server_command(p: &Params, clients: Vec<u32>) -> ServerCommand {
    let (_, count) = Schedule::counts(p);
    ServerCommand::Push {
        clients,
        rate: p.rate,
        size: p.size,
        count,
    }
}

/// Scores a push cell: paced throughput, at least one frame after the warm-up, delivery.
pub(crate) fn score(p: &Params, cell: &mut Cell, r: &ClientReport) {
    cell.throughput = Some(paced_throughput(p, r));
    require_arrivals(cell, r);
    cell.delivery = Some(delivery(r));
}
