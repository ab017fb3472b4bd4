//! The workloads' parameters: one [`Params`] shared by every workload (each uses the ones that
//! apply), as the scenario parser resolves them and the cell records them.
//!
//! Each scenario key is declared once, as a [`ParamDecl`]: its TOML type, default, bounds, doc,
//! whether `[quick]` may override it and which workloads take it. The keys every workload takes
//! are in [`COMMON`] here; a workload's own keys live with it (`idle::PARAMS`, `flap::PARAMS`,
//! `relay::PARAMS`), as do the defaults it gives shared keys (`*::SHARED_DEFAULTS`).
//! [`super::catalogue`] gives them all: the scenario parser takes ownership rules, defaults and
//! bounds from it, `wirebench list` prints it, and a test keeps the README's table in step.

use serde::{Deserialize, Serialize};
use wirebench_netem::profile::MAX_DELAY_MS;

use crate::network::{
    Choice, IcePolicy, NatKind, RtcChannelMode, RtcSignalling, TurnPlace, TurnTransport,
};
use crate::proxy::ProxyKind;

/// Parameters shared by the workloads (each uses the ones that apply).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Params {
    /// Messages per second per client (echo, push).
    pub rate: f64,
    /// Message size in bytes, including the 24-byte header.
    pub size: usize,
    /// Measured duration, ms (after warm-up).
    pub duration_ms: u64,
    /// Warm-up, ms, excluded from the figures.
    pub warmup_ms: u64,
    /// Concurrent clients.
    pub clients: u32,
    /// Connections to open one after another (connect).
    pub connects: u32,
    /// Short-poll interval, ms (poll transport).
    pub poll_interval_ms: u64,
    /// relay: a frame arriving later than this after its intended send time counts as lost
    /// (media-like traffic); none = every arrival counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// relay on a topology: extra one-way delay between the two peers' hosts, ms, on top of
    /// both access links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair_delay_ms: Option<f64>,
    /// One-way delay on the server's access link, ms (the server far away); none = unshaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_delay_ms: Option<f64>,
    /// The HTTP version the server offers (scenario key `http`); recorded in the cell's params
    /// only when not the default HTTP/1.1.
    #[serde(default, skip_serializing_if = "HttpVersion::is_http1")]
    pub http: HttpVersion,
    /// The reverse proxy in front of the server (scenario key `proxy`); recorded only when
    /// there is one.
    #[serde(default, skip_serializing_if = "ProxyKind::is_none")]
    pub proxy: ProxyKind,
    /// Bulk TCP uploads from the first client host to the server's host over the same shaped
    /// link, for the whole cell (competing traffic sharing the bottleneck's queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_traffic: Option<u32>,
    /// idle: a notification goes to every client this often, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_interval_ms: Option<u64>,
    /// idle: length of the keep-alive-only window (no notifications) after the warm-up, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_ms: Option<u64>,
    /// idle: interval of the server's WebSocket pings, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_ping_ms: Option<u64>,
    /// idle: interval of the server's SSE comment heartbeats, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_heartbeat_ms: Option<u64>,
    /// idle: how long a long-poll is held before the server answers `204`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_poll_hold_ms: Option<u64>,
    /// idle: the WebTransport client's QUIC keep-alive (PING) interval, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic_keepalive_ms: Option<u64>,
    /// flap: when the link is cut, ms after the warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_at_ms: Option<u64>,
    /// flap: how long the link stays cut, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_ms: Option<u64>,
    /// flap: silence after which a client gives its connection up and resumes or reconnects,
    /// ms (0 = never: only an error or a close makes it reconnect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_ms: Option<u64>,
    /// The NAT in front of every client host (scenario key `nat`); recorded when there is one.
    #[serde(default, skip_serializing_if = "Choice::is_default")]
    pub nat: NatKind,
    /// WebRTC clients' ICE transport policy (scenario key `ice`).
    #[serde(default, skip_serializing_if = "Choice::is_default")]
    pub ice: IcePolicy,
    /// Where the TURN server runs (scenario key `turn`); none by default.
    #[serde(default, skip_serializing_if = "Choice::is_default")]
    pub turn: TurnPlace,
    /// How clients reach the TURN server (scenario key `turn_transport`).
    #[serde(default, skip_serializing_if = "Choice::is_default")]
    pub turn_transport: TurnTransport,
    /// turn = near-peers: one-way delay on the TURN host's access link, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_delay_ms: Option<f64>,
    /// How WebRTC clients open their data channel (scenario key `rtc_channel`).
    #[serde(default, skip_serializing_if = "Choice::is_default")]
    pub rtc_channel: RtcChannelMode,
    /// How WebRTC clients send their offer (scenario key `rtc_signalling`).
    #[serde(default, skip_serializing_if = "Choice::is_default")]
    pub rtc_signalling: RtcSignalling,
}

/// Which HTTP versions the server under test offers on TCP P.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpVersion {
    /// HTTP/1.1 only (ALPN `http/1.1`): the default.
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    /// HTTP/2 offered first (ALPN `h2`, then `http/1.1`; TLS only). Browsers take it; the Rust
    /// clients offer only `http/1.1` and keep speaking HTTP/1.1.
    #[serde(rename = "2")]
    Http2,
}

impl HttpVersion {
    /// Parses a scenario's `http` value: `"1.1"` or `"2"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1.1" => Some(Self::Http1),
            "2" => Some(Self::Http2),
            _ => None,
        }
    }

    /// The scenario's spelling: `"1.1"` or `"2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "1.1",
            Self::Http2 => "2",
        }
    }

    /// Whether this is the default, HTTP/1.1 only.
    pub fn is_http1(&self) -> bool {
        *self == Self::Http1
    }
}

/// A scenario key's TOML type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A float (an integer is taken too).
    F64,
    /// A non-negative integer.
    U64,
    /// A non-negative integer below 2^32.
    U32,
    /// A string.
    Str,
}

impl ParamType {
    /// The type as `wirebench list` and the README name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::F64 => "f64",
            Self::U64 => "u64",
            Self::U32 => "u32",
            Self::Str => "string",
        }
    }
}

/// A value of a declared parameter: a default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamValue {
    /// A float.
    F64(f64),
    /// An integer.
    U64(u64),
    /// A small integer.
    U32(u32),
    /// A string.
    Str(&'static str),
}

impl ParamValue {
    /// The float, if this is one.
    pub fn f64(self) -> Option<f64> {
        match self {
            Self::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn u64(self) -> Option<u64> {
        match self {
            Self::U64(v) => Some(v),
            Self::U32(v) => Some(u64::from(v)),
            _ => None,
        }
    }

    /// The small integer, if this is one.
    pub fn u32(self) -> Option<u32> {
        match self {
            Self::U32(v) => Some(v),
            _ => None,
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::F64(v) => write!(f, "{v}"),
            Self::U64(v) => write!(f, "{v}"),
            Self::U32(v) => write!(f, "{v}"),
            Self::Str(v) => write!(f, "{v:?}"),
        }
    }
}

/// An hour, in the unit of the `*_ms` keys.
pub const HOUR_MS: u64 = 3_600_000;
/// A day, in the unit of the `*_ms` keys.
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// The bounds a parameter's value must meet; each check gives the scenario parser's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A message rate: in (0, 1000000] per second.
    Rate,
    /// A message size: from the frame header to the largest frame.
    Size,
    /// A one-way delay: in [0, 10000] ms.
    DelayMs,
    /// An integer in [lo, hi] of `unit` (ms, clients, …).
    Range {
        /// Smallest value allowed.
        lo: u64,
        /// Largest value allowed.
        hi: u64,
        /// What it counts, for messages.
        unit: &'static str,
    },
    /// An HTTP version: `"1.1"` or `"2"` (see [`HttpVersion::parse`]).
    Http,
    /// A reverse-proxy variant (see [`ProxyKind::parse`]).
    Proxy,
    /// One of these spellings (the network keys' enumerations, see [`super::network`]).
    Choice(&'static [&'static str]),
}

impl Check {
    /// Milliseconds in [lo, hi].
    pub const fn ms(lo: u64, hi: u64) -> Self {
        Self::Range { lo, hi, unit: "ms" }
    }

    /// The bounds in words, for `wirebench list` and the README.
    pub fn describe(self) -> String {
        match self {
            Self::Rate => "(0, 1000000]".into(),
            Self::Size => format!(
                "[{}, {}]",
                crate::frame::HEADER_LEN,
                crate::frame::MAX_FRAME
            ),
            Self::DelayMs => format!("[0, {MAX_DELAY_MS}]"),
            Self::Range { lo, hi, unit } => format!("[{lo}, {hi}] {unit}"),
            Self::Http => "\"1.1\" or \"2\"".into(),
            Self::Proxy => ProxyKind::choices(),
            Self::Choice(names) => quoted(names),
        }
    }

    /// Checks a float: `Err` holds the scenario parser's message.
    pub fn f64(self, v: f64) -> Result<(), String> {
        match self {
            Self::Rate if !(v > 0.0 && v <= 1_000_000.0) => {
                Err(format!("{v} is out of range (0, 1000000] messages/s"))
            }
            Self::DelayMs if !(0.0..=MAX_DELAY_MS).contains(&v) => {
                Err(format!("{v} is out of range [0, {MAX_DELAY_MS}] ms"))
            }
            _ => Ok(()),
        }
    }

    /// Checks an integer: `Err` holds the scenario parser's message.
    pub fn u64(self, v: u64) -> Result<(), String> {
        let (lo, hi) = (crate::frame::HEADER_LEN, crate::frame::MAX_FRAME);
        match self {
            Self::Range { lo, hi, unit } if !(lo..=hi).contains(&v) => {
                Err(format!("{v} is out of range [{lo}, {hi}] {unit}"))
            }
            Self::Size if !(lo as u64..=hi as u64).contains(&v) => Err(format!(
                "{v} bytes is out of range: a message is at least the {lo}-byte header and at \
                 most {hi} bytes"
            )),
            _ => Ok(()),
        }
    }

    /// Checks a string: `Err` holds the scenario parser's message.
    pub fn str(self, v: &str) -> Result<(), String> {
        match self {
            Self::Http if HttpVersion::parse(v).is_none() => Err(format!(
                "{v:?}: use \"1.1\" (HTTP/1.1 only, the default) or \"2\" (the server offers \
                 HTTP/2 too)"
            )),
            Self::Proxy if ProxyKind::parse(v).is_none() => Err(format!(
                "{v:?} is not a proxy: use one of {}",
                ProxyKind::choices()
            )),
            Self::Choice(names) if !names.contains(&v) => {
                Err(format!("{v:?}: use one of {}", quoted(names)))
            }
            _ => Ok(()),
        }
    }

    /// The canonical spelling of a string value this check accepts ("" for any other).
    pub fn canonical(self, v: &str) -> &'static str {
        match self {
            Self::Http => HttpVersion::parse(v).map_or("", HttpVersion::as_str),
            Self::Proxy => ProxyKind::parse(v).map_or("", ProxyKind::as_str),
            Self::Choice(names) => names.iter().find(|n| **n == v).copied().unwrap_or(""),
            _ => "",
        }
    }
}

/// A network key's value from its spelling (the default for anything else: the parser has
/// checked it).
fn choice<T: Choice>(v: Option<ParamValue>) -> T {
    match v {
        Some(ParamValue::Str(s)) => T::parse(s).unwrap_or_default(),
        _ => T::default(),
    }
}

/// `names`, quoted and joined with commas.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One scenario key: everything the parser, `wirebench list` and the README need to know.
#[derive(Debug, Clone, Copy)]
pub struct ParamDecl {
    /// The key, as in a scenario file and as the [`Params`] field.
    pub key: &'static str,
    /// Its TOML type.
    pub ty: ParamType,
    /// Its default (`None`: unset unless the workload gives one, see [`default_for`]).
    pub default: Option<ParamValue>,
    /// Bounds its value must meet.
    pub check: Check,
    /// What it means, in one line.
    pub doc: &'static str,
    /// Whether `[quick]` and a workload's `quick = { … }` may override it.
    pub quick: bool,
    /// The one workload that takes it (`None`: every workload).
    pub only: Option<&'static str>,
    /// Why another workload refuses it, when the generic "only the … workload takes …" does not
    /// say enough.
    pub refusal: Option<&'static str>,
}

impl ParamDecl {
    /// Whether workload `kind` takes this key.
    pub fn taken_by(&self, kind: &str) -> bool {
        self.only.is_none_or(|w| w == kind)
    }
}

/// The keys every workload takes (each uses those that apply), in [`Params`]' field order.
pub const COMMON: &[ParamDecl] = &[
    ParamDecl {
        key: "rate",
        ty: ParamType::F64,
        default: Some(ParamValue::F64(1000.0)),
        check: Check::Rate,
        doc: "messages (or ops) per second per client",
        quick: true,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "size",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(64)),
        check: Check::Size,
        doc: "message size in bytes, the 24-byte header included",
        quick: true,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "duration_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(3000)),
        check: Check::ms(1, DAY_MS),
        doc: "measured duration, after the warm-up",
        quick: true,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "warmup_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(500)),
        check: Check::ms(0, HOUR_MS),
        doc: "warm-up, excluded from the figures",
        quick: true,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "clients",
        ty: ParamType::U32,
        default: Some(ParamValue::U32(1)),
        check: Check::Range {
            lo: 1,
            hi: 200_000,
            unit: "clients",
        },
        doc: "concurrent clients (relay: in pairs, client k sends to client k + clients/2)",
        quick: true,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "connects",
        ty: ParamType::U32,
        default: Some(ParamValue::U32(20)),
        check: Check::Range {
            lo: 1,
            hi: 1_000_000,
            unit: "connections",
        },
        doc: "connections opened one after another (connect)",
        quick: true,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "poll_interval_ms",
        ty: ParamType::U64,
        default: Some(ParamValue::U64(50)),
        check: Check::ms(1, HOUR_MS),
        doc: "short-poll interval (poll transport); N clients' polls are staggered by interval / N; `run` warns when it is a multiple or fraction of the send period",
        quick: true,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "server_delay_ms",
        ty: ParamType::F64,
        default: None,
        check: Check::DelayMs,
        doc: "one-way delay on the server's access link (the server far away); none = unshaped",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "http",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("1.1")),
        check: Check::Http,
        doc: "HTTP versions the server offers: \"1.1\" only, or \"2\" first (browsers take it)",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "proxy",
        ty: ParamType::Str,
        default: Some(ParamValue::Str("none")),
        check: Check::Proxy,
        doc: "reverse proxy in front of the server: a real nginx terminating TLS (HTTP transports; the others bypass it)",
        quick: false,
        only: None,
        refusal: None,
    },
    ParamDecl {
        key: "cross_traffic",
        ty: ParamType::U32,
        default: None,
        check: Check::Range {
            lo: 1,
            hi: 16,
            unit: "flows",
        },
        doc: "bulk TCP uploads sharing the client's shaped uplink for the whole cell (competing traffic); needs a profile with a rate",
        quick: false,
        only: None,
        refusal: None,
    },
];

impl Params {
    /// Interval between one client's frames at `rate`, ns: the open-loop period every schedule
    /// and the clients' stagger use.
    pub fn period_ns(&self) -> u64 {
        (1e9 / self.rate.max(0.001)) as u64
    }

    /// Sets the field of scenario key `key` (a [`ParamDecl::key`]) to `v`, converted to the
    /// field's type; `None` unsets an optional field. Unknown keys and mismatched values are
    /// ignored (the catalogue's test keeps every key settable).
    pub fn set(&mut self, key: &str, v: Option<ParamValue>) {
        let int = v.and_then(ParamValue::u64);
        let float = v.and_then(ParamValue::f64);
        match key {
            "rate" => self.rate = float.unwrap_or(self.rate),
            "size" => self.size = int.map_or(self.size, |s| s as usize),
            "duration_ms" => self.duration_ms = int.unwrap_or(self.duration_ms),
            "warmup_ms" => self.warmup_ms = int.unwrap_or(self.warmup_ms),
            "clients" => self.clients = v.and_then(ParamValue::u32).unwrap_or(self.clients),
            "connects" => self.connects = v.and_then(ParamValue::u32).unwrap_or(self.connects),
            "poll_interval_ms" => self.poll_interval_ms = int.unwrap_or(self.poll_interval_ms),
            "deadline_ms" => self.deadline_ms = int,
            "pair_delay_ms" => self.pair_delay_ms = float,
            "server_delay_ms" => self.server_delay_ms = float,
            "http" => {
                self.http = match v {
                    Some(ParamValue::Str(s)) => HttpVersion::parse(s).unwrap_or_default(),
                    _ => HttpVersion::default(),
                }
            }
            "proxy" => {
                self.proxy = match v {
                    Some(ParamValue::Str(s)) => ProxyKind::parse(s).unwrap_or_default(),
                    _ => ProxyKind::default(),
                }
            }
            "cross_traffic" => self.cross_traffic = v.and_then(ParamValue::u32),
            "notify_interval_ms" => self.notify_interval_ms = int,
            "quiet_ms" => self.quiet_ms = int,
            "ws_ping_ms" => self.ws_ping_ms = int,
            "sse_heartbeat_ms" => self.sse_heartbeat_ms = int,
            "long_poll_hold_ms" => self.long_poll_hold_ms = int,
            "quic_keepalive_ms" => self.quic_keepalive_ms = int,
            "cut_at_ms" => self.cut_at_ms = int,
            "cut_ms" => self.cut_ms = int,
            "stall_ms" => self.stall_ms = int,
            "nat" => self.nat = choice(v),
            "ice" => self.ice = choice(v),
            "turn" => self.turn = choice(v),
            "turn_transport" => self.turn_transport = choice(v),
            "turn_delay_ms" => self.turn_delay_ms = float,
            "rtc_channel" => self.rtc_channel = choice(v),
            "rtc_signalling" => self.rtc_signalling = choice(v),
            _ => {}
        }
    }
}
