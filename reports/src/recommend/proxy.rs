//! What the network in between does to a transport, as caveats with the figures the FAQ
//! scenarios measured: a reverse proxy (`faq-proxy`: push p50 direct, through nginx's
//! defaults and through a streaming configuration), so `recommend` names the proxy settings a
//! transport needs; and NATs (`faq-nat`: WebRTC's relay p50 direct behind common NATs and
//! through TURN behind symmetric ones, and what the relay does to a bulk download), so
//! peer-to-peer advice names the TURN caveat.

use crate::figures::KeyCells;
use crate::format::value_with_unit;
use crate::metrics::{GOODPUT, LATENCY_P50};

/// The settings a transport needs behind nginx, in words (docs/proxy.md has the config).
fn needs(id: &str) -> Option<&'static str> {
    Some(match id {
        "sse" => {
            "proxy_buffering off (or the X-Accel-Buffering: no response header), HTTP/1.1 \
                  upstream and a read timeout above the heartbeat interval"
        }
        "websocket" => {
            "proxy_http_version 1.1 with the Upgrade and Connection headers, and a \
                        ping under proxy_read_timeout (60 s by default)"
        }
        "long-poll" => "a proxy_read_timeout above the poll hold (25 s here; nginx's default 60 s)",
        "poll" => "nothing special; upstream keep-alive saves a connection per poll",
        _ => return None,
    })
}

/// The median p50 of `transport` in `scenario`'s workload `name` (the fastest
/// implementation's), or why there is none.
fn p50_of(
    keys: &[KeyCells<'_>],
    scenario: &str,
    transport: &str,
    name: &str,
) -> Option<Result<f64, String>> {
    let mut found: Vec<Result<f64, String>> = keys
        .iter()
        .filter(|k| k.scenario == scenario && k.transport == transport && k.workload == name)
        .map(key_p50)
        .collect();
    found.sort_by(|a, b| match (a, b) {
        (Ok(x), Ok(y)) => x.total_cmp(y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    });
    found.into_iter().next()
}

/// The median p50 over a key's ok repeats, or why there is none.
fn key_p50(k: &KeyCells<'_>) -> Result<f64, String> {
    if let Some(c) = k.failed.first() {
        return Err(c.error.clone().unwrap_or_default());
    }
    let v: Vec<f64> =
        k.ok.iter()
            .filter_map(|c| LATENCY_P50.get_from(c))
            .collect();
    crate::stats::median(&v).ok_or_else(|| "no figure".to_string())
}

/// WebRTC peer to peer behind NATs, with faq-nat's relay p50s when the results have them.
pub(super) fn nat_caveat(keys: &[KeyCells<'_>]) -> String {
    let mut s = "peer to peer needs signalling, and a TURN relay where NAT traversal fails \
                 (symmetric NATs): then its latency is the relay's path"
        .to_string();
    let fig = |name: &str, t: &str| match p50_of(keys, "faq-nat", t, name) {
        Some(Ok(us)) => Some(value_with_unit(us, LATENCY_P50.unit)),
        _ => None,
    };
    if let (Some(direct), Some(beside), Some(near), Some(ws)) = (
        fig("nat-direct", "webrtc"),
        fig("turn-server", "webrtc"),
        fig("turn-near", "webrtc"),
        fig("server-reference", "websocket"),
    ) {
        s.push_str(&format!(
            "; faq-nat relay p50: behind common NATs (direct) {direct}, through TURN beside the \
             server {beside}, through TURN near the peers {near}, WebSocket through the server \
             {ws}"
        ));
    }
    let direct = bulk_of(keys, "direct-download");
    if let (Some((direct, _)), Some((relayed, cpu))) = (direct, bulk_of(keys, "turn-download")) {
        let fmt = |bps: f64| value_with_unit(bps, GOODPUT.unit);
        s.push_str(&format!(
            "; download {} direct, {} through TURN",
            fmt(direct),
            fmt(relayed)
        ));
        if let Some(cpu) = cpu {
            s.push_str(&format!(" (coturn {cpu:.2} CPU-s per Gbit relayed)"));
        }
    }
    s
}

/// faq-nat's WebRTC bulk workload `name`: the best implementation's median goodput over its ok
/// repeats, with its median coturn CPU per gigabit relayed where recorded.
fn bulk_of(keys: &[KeyCells<'_>], name: &str) -> Option<(f64, Option<f64>)> {
    let median_of = |k: &KeyCells<'_>, f: &dyn Fn(&crate::model::Cell) -> Option<f64>| {
        let v: Vec<f64> = k.ok.iter().filter_map(|c| f(c)).collect();
        crate::stats::median(&v)
    };
    keys.iter()
        .filter(|k| k.scenario == "faq-nat" && k.transport == "webrtc" && k.workload == name)
        .filter(|k| k.failed.is_empty())
        .filter_map(|k| {
            let goodput = median_of(k, &|c| GOODPUT.get_from(c))?;
            let cpu = median_of(k, &|c| c.params.get("turn_cpu_s_per_gbit")?.as_f64());
            Some((goodput, cpu))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// The proxy caveat of transport `id`, with faq-proxy's figures when the results have them.
pub(super) fn caveat(keys: &[KeyCells<'_>], id: &str) -> Option<String> {
    let need = needs(id)?;
    let mut s = format!("behind a reverse proxy it needs {need}");
    let show = |r: Option<Result<f64, String>>| match r {
        Some(Ok(us)) => Some(value_with_unit(us, LATENCY_P50.unit)),
        Some(Err(why)) if why.contains("timed out") || why.contains("no connection") => {
            Some("held: no event came through".to_string())
        }
        Some(Err(why)) => Some(format!("failed ({why})")),
        None => None,
    };
    let push = |name: &str| show(p50_of(keys, "faq-proxy", id, name));
    let (direct, default, streaming) = (
        push("push-direct"),
        push("push-nginx-default"),
        push("push-nginx-streaming"),
    );
    if let (Some(d), Some(x), Some(y)) = (direct, default, streaming) {
        s.push_str(&format!(
            "; faq-proxy push p50: direct {d}, nginx-default {x}, nginx-streaming {y}"
        ));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_cell, Cell, Throughput};

    fn bulk(name: &str, mbit: f64, cpu: Option<f64>) -> Cell {
        let mut c = test_cell(name, "webrtc", "loopback", 1);
        c.scenario = "faq-nat".into();
        c.throughput = Some(Throughput {
            msgs_per_s: None,
            goodput_bps: Some(mbit * 1e6),
        });
        if let Some(cpu) = cpu {
            c.params.insert("turn_cpu_s_per_gbit".into(), cpu.into());
        }
        c
    }

    fn key<'a>(name: &str, cells: &'a [Cell]) -> KeyCells<'a> {
        KeyCells {
            scenario: "faq-nat",
            workload: name.into(),
            transport: "webrtc",
            profile: "loopback",
            ok: cells.iter().collect(),
            failed: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// The caveat names the download's goodput direct and through TURN, and coturn's CPU per
    /// gigabit, when faq-nat's bulk cells are in the results; without them it says no figure.
    #[test]
    fn nat_caveat_names_the_relays_bulk_cost() {
        let direct = [bulk("direct-download", 350.0, None)];
        let relayed = [
            bulk("turn-download", 300.0, Some(0.6)),
            bulk("turn-download", 320.0, Some(0.7)),
        ];
        let keys = [
            key("direct-download", &direct),
            key("turn-download", &relayed),
        ];
        let s = nat_caveat(&keys);
        assert!(s.contains("download 350"), "{s}");
        assert!(s.contains("310"), "{s}");
        assert!(s.contains("coturn 0.65 CPU-s per Gbit relayed"), "{s}");
        assert!(!nat_caveat(&keys[..1]).contains("download"));
    }
}
