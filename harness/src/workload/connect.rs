//! `connect`: cold connection setup, repeated; each connection proven by one round trip.

use std::time::Duration;

use super::params::Params;
use super::report::{encode, new_histogram, ClientReport};
use crate::clock::now_ns;
use crate::frame::{Header, Kind, HEADER_LEN};
use crate::transport::{Target, Transport, TransportError};

/// The client half: `connects` connections one after another, each timed and probed.
pub(crate) async fn connect_workload(
    transport: &dyn Transport,
    target: &Target,
    p: &Params,
    rep: &mut ClientReport,
) {
    let mut hist = new_histogram();
    for i in 0..p.connects.max(1) {
        let t0 = now_ns();
        let mut conn = match super::schedule::bounded_connect(transport.connect(target)).await {
            Ok(c) => c,
            Err(e) => {
                rep.error = Some(format!("connect #{}: {e}", i + 1));
                return;
            }
        };
        let setup_us = conn.setup.total.as_micros() as u64;
        if let Some(path) = &conn.setup.ice_path {
            *rep.ice_paths.entry(path.clone()).or_default() += 1;
        }
        let phases: Vec<(&'static str, u64)> = conn
            .setup
            .phases
            .iter()
            .map(|(k, v)| (*k, v.as_micros() as u64))
            .collect();
        // One round trip proves the connection carries frames both ways.
        let probe = Header {
            seq: i as u64,
            sent_ns: t0,
            sender: target.client_id,
            kind: Kind::EchoRequest,
        }
        .encode(p.size.max(HEADER_LEN));
        let ok = async {
            conn.sink.send(probe).await?;
            loop {
                match conn.stream.recv().await? {
                    Some(f) => {
                        if Header::parse(&f).is_ok_and(|h| h.kind == Kind::EchoReply) {
                            return Ok::<_, TransportError>(());
                        }
                    }
                    None => return Err(TransportError::Closed),
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), ok).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                rep.error = Some(format!("connect #{}: first echo: {e}", i + 1));
                return;
            }
            Err(_) => {
                rep.error = Some(format!("connect #{}: first echo timed out", i + 1));
                return;
            }
        }
        let _ = conn.sink.close().await;
        drop(conn);
        let warm = i == 0 && p.warmup_ms > 0; // the first connect warms caches when a warm-up is asked for
        if warm {
            rep.warmup_samples += 1;
        } else {
            let _ = hist.record(setup_us.max(1));
            rep.setup_us.push(setup_us);
            // Where the round trips go (tcp, tls, upgrade, ice, dtls, …): the cell keeps the
            // mean of each phase over the timed connections.
            for (k, us) in phases {
                *rep.setup_phases_us.entry(k.to_string()).or_default() += us;
            }
        }
    }
    rep.sent = hist.len();
    rep.received = hist.len();
    match encode(&hist) {
        Ok(s) => rep.latency_hdr = Some(s),
        Err(e) => rep.error = Some(e.to_string()),
    }
}
