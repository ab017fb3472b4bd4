//! The parameter catalogue: every scenario key's declaration, the shared ones from
//! [`params`](super::params) and each workload's own from its module, gathered in one list. The
//! scenario parser, `wirebench list` and the README's scenario-keys table are derived from it.

use super::params::{ParamDecl, ParamValue, COMMON};
use super::{flap, idle, network, relay};

/// Every scenario key, in [`Params`]' field order: [`COMMON`] with relay's keys before
/// `server_delay_ms`, then idle's and flap's, then the network keys (NAT, TURN, ICE).
pub fn catalogue() -> impl Iterator<Item = &'static ParamDecl> {
    let split = COMMON
        .iter()
        .position(|d| d.key == "server_delay_ms")
        .unwrap_or(COMMON.len());
    let (head, tail) = COMMON.split_at(split);
    head.iter()
        .chain(relay::PARAMS)
        .chain(tail)
        .chain(idle::PARAMS)
        .chain(flap::PARAMS)
        .chain(network::PARAMS)
}

/// The declaration of `key`, if it is a scenario key.
pub fn decl(key: &str) -> Option<&'static ParamDecl> {
    catalogue().find(|d| d.key == key)
}

/// The defaults workload `kind` gives shared keys instead of their declared ones.
pub fn shared_defaults(kind: &str) -> &'static [(&'static str, ParamValue)] {
    match kind {
        "relay" => relay::SHARED_DEFAULTS,
        "idle" => idle::SHARED_DEFAULTS,
        "flap" => flap::SHARED_DEFAULTS,
        _ => &[],
    }
}

/// The default of `d` for workload `kind`: the workload's own if it gives one, else the
/// declared one.
pub fn default_for(kind: &str, d: &ParamDecl) -> Option<ParamValue> {
    shared_defaults(kind)
        .iter()
        .find(|(k, _)| *k == d.key)
        .map(|(_, v)| *v)
        .or(d.default)
}

/// A default as `wirebench list` and the README show it.
fn default_text(v: Option<ParamValue>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// The parameters each workload takes, with type, default, bounds and meaning (`q`: `[quick]`
/// may override it): the `parameters` section of `wirebench list`.
pub fn list_text() -> String {
    use std::fmt::Write as _;
    let mut o = String::from("parameters (per workload; q: [quick] may override it):\n");
    for (kind, _) in super::spec::ALL_IDS {
        let _ = writeln!(o, "  {kind}:");
        for d in catalogue().filter(|d| d.taken_by(kind)) {
            let _ = writeln!(
                o,
                "    {:<20} {:<6} {:<8} {:<14} {:<1}  {}",
                d.key,
                d.ty.name(),
                default_text(default_for(kind, d)),
                d.check.describe(),
                if d.quick { "q" } else { "" },
                d.doc
            );
        }
    }
    o
}

/// The parameters each workload takes, as `wirebench list --format json` gives them: per
/// workload id, `{key, type, default, bounds, quick, doc}` (`quick`: `[quick]` may override it).
pub fn list_json() -> serde_json::Value {
    let mut o = serde_json::Map::new();
    for (kind, _) in super::spec::ALL_IDS {
        let params: serde_json::Value = catalogue()
            .filter(|d| d.taken_by(kind))
            .map(|d| {
                serde_json::json!({
                    "key": d.key,
                    "type": d.ty.name(),
                    "default": default_text(default_for(kind, d)),
                    "bounds": d.check.describe(),
                    "quick": d.quick,
                    "doc": d.doc,
                })
            })
            .collect();
        o.insert(kind.to_string(), params);
    }
    serde_json::Value::Object(o)
}

/// The README's scenario-keys table, from the catalogue (a unit test keeps the README equal).
pub fn readme_table() -> String {
    use std::fmt::Write as _;
    let mut o = String::from(
        "| key | type | default | bounds | `[quick]` | workloads | meaning |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for d in catalogue() {
        let mut default = default_text(d.default);
        for (kind, _) in super::spec::ALL_IDS {
            if let Some((_, v)) = shared_defaults(kind).iter().find(|(k, _)| *k == d.key) {
                let _ = write!(default, "; {kind}: {v}");
            }
        }
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            d.key,
            d.ty.name(),
            default,
            d.check.describe(),
            if d.quick { "yes" } else { "no" },
            d.only.map_or("any".to_string(), |w| format!("`{w}`")),
            d.doc
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::params::{HttpVersion, ParamType, Params};

    /// Every catalogue key is a `Params` field (its serde name) that [`Params::set`] sets, and
    /// every field is declared.
    #[test]
    fn catalogue_covers_params() {
        let mut p = Params {
            deadline_ms: Some(1),
            pair_delay_ms: Some(1.0),
            server_delay_ms: Some(1.0),
            http: HttpVersion::Http2,
            proxy: crate::proxy::ProxyKind::NginxDefault,
            cross_traffic: Some(1),
            notify_interval_ms: Some(1),
            quiet_ms: Some(1),
            ws_ping_ms: Some(1),
            sse_heartbeat_ms: Some(1),
            long_poll_hold_ms: Some(1),
            quic_keepalive_ms: Some(1),
            cut_at_ms: Some(1),
            cut_ms: Some(1),
            stall_ms: Some(1),
            nat: crate::network::NatKind(wirebench_netem::Nat::Symmetric),
            ice: crate::network::IcePolicy::Relay,
            turn: crate::network::TurnPlace::Server,
            turn_transport: crate::network::TurnTransport::Tls,
            turn_delay_ms: Some(1.0),
            rtc_channel: crate::network::RtcChannelMode::Snap,
            rtc_signalling: crate::network::RtcSignalling::Reused,
            ..Params::default()
        };
        let json = serde_json::to_value(&p).unwrap();
        let fields: Vec<&String> = json.as_object().unwrap().keys().collect();
        let keys: Vec<&str> = catalogue().map(|d| d.key).collect();
        assert_eq!(fields.len(), keys.len(), "{fields:?} vs {keys:?}");
        for d in catalogue() {
            assert!(fields.iter().any(|f| *f == d.key), "{} is no field", d.key);
            let v = match d.ty {
                ParamType::F64 => ParamValue::F64(7.0),
                ParamType::U64 => ParamValue::U64(7),
                ParamType::U32 => ParamValue::U32(7),
                ParamType::Str => ParamValue::Str("1.1"),
            };
            let before = serde_json::to_value(&p).unwrap();
            p.set(d.key, Some(v));
            assert_ne!(
                serde_json::to_value(&p).unwrap(),
                before,
                "{} not set",
                d.key
            );
        }
    }

    /// The README's scenario-keys table is the catalogue's.
    #[test]
    fn readme_table_matches_the_catalogue() {
        let readme = include_str!("../../../README.md");
        let table = readme_table();
        assert!(
            readme.contains(&table),
            "README.md's scenario-keys table is out of date; replace it with:\n{table}"
        );
    }
}
