//! What a reverse proxy in front of the server does to a transport, as a caveat with the
//! figures `faq-proxy` measured (push p50 direct, through nginx's defaults and through a
//! streaming configuration), so `recommend` names the proxy settings a transport needs.

use crate::figures::KeyCells;
use crate::format::value_with_unit;
use crate::metrics::LATENCY_P50;

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

/// The median push p50 of `transport` in faq-proxy's workload `name`, or why there is none.
fn push_p50(keys: &[KeyCells<'_>], transport: &str, name: &str) -> Option<Result<f64, String>> {
    let k = keys
        .iter()
        .find(|k| k.scenario == "faq-proxy" && k.transport == transport && k.workload == name)?;
    if let Some(c) = k.failed.first() {
        return Some(Err(c.error.clone().unwrap_or_default()));
    }
    let v: Vec<f64> =
        k.ok.iter()
            .filter_map(|c| LATENCY_P50.get_from(c))
            .collect();
    Some(crate::stats::median(&v).ok_or_else(|| "no figure".to_string()))
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
    let direct = show(push_p50(keys, id, "push-direct"));
    let default = show(push_p50(keys, id, "push-nginx-default"));
    let streaming = show(push_p50(keys, id, "push-nginx-streaming"));
    if let (Some(d), Some(x), Some(y)) = (direct, default, streaming) {
        s.push_str(&format!(
            "; faq-proxy push p50: direct {d}, nginx-default {x}, nginx-streaming {y}"
        ));
    }
    Some(s)
}
