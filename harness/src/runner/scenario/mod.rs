//! Scenario files: TOML that names workloads, parameters, transports, profiles and repeats.
//!
//! Parsing is strict (`deny_unknown_fields`) and every error names the file, the line and the
//! key at fault, so a typo never silently changes what is measured.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::transport;
use crate::workload::{HttpVersion, Params, WorkloadSpec};

/// The default suite, embedded so `wirebench run` works anywhere.
pub const DEFAULT_SUITE: &str = include_str!("../../../scenarios/default.toml");
/// The shipped network profiles, embedded.
pub const DEFAULT_PROFILES: &str = include_str!("../../../scenarios/profiles.toml");
/// The FAQ scenarios (`scenarios/faq/`), embedded so `wirebench recommend` can run them
/// anywhere: (file name, text). Each file's scenario name is `faq-` + its stem.
pub const FAQ_SCENARIOS: &[(&str, &str)] = &[
    (
        "collab.toml",
        include_str!("../../../scenarios/faq/collab.toml"),
    ),
    ("hol.toml", include_str!("../../../scenarios/faq/hol.toml")),
    (
        "peer.toml",
        include_str!("../../../scenarios/faq/peer.toml"),
    ),
    (
        "quiet.toml",
        include_str!("../../../scenarios/faq/quiet.toml"),
    ),
    (
        "refresh.toml",
        include_str!("../../../scenarios/faq/refresh.toml"),
    ),
    (
        "setup.toml",
        include_str!("../../../scenarios/faq/setup.toml"),
    ),
];

/// An error in a scenario file, located.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {key}: {msg}")]
pub struct ScenarioError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Key at fault (dotted path).
    pub key: String,
    /// What is wrong.
    pub msg: String,
}

/// A parsed, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (from the file, or its stem).
    pub name: String,
    /// What it tests.
    pub description: String,
    /// Workloads with their transports and profiles.
    pub workloads: Vec<WorkloadPlan>,
    /// Repeats of each cell.
    pub repeat: u32,
    /// Whether the file was read at its CI scale (`wirebench run --quick`: its `[quick]`
    /// overrides applied).
    pub quick: bool,
}

/// Which client runs the client side of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientKind {
    /// The Rust client agent (`wirebench drive`).
    Rust,
    /// Headless Chromium running the page served at `/client/`.
    Browser,
}

impl ClientKind {
    /// Parses a scenario's or the CLI's `client` value: `rust`, `browser` or `both`.
    pub fn parse_choice(s: &str) -> Option<Vec<ClientKind>> {
        Some(match s {
            "rust" => vec![ClientKind::Rust],
            "browser" => vec![ClientKind::Browser],
            "both" => vec![ClientKind::Rust, ClientKind::Browser],
            _ => return None,
        })
    }
}

/// One workload of a scenario and where it runs.
#[derive(Debug, Clone)]
pub struct WorkloadPlan {
    /// Its name in the scenario (the workload id unless the file names it).
    pub name: String,
    /// The workload and its parameters.
    pub spec: WorkloadSpec,
    /// Transport ids.
    pub transports: Vec<String>,
    /// Profile names.
    pub profiles: Vec<String>,
    /// Which clients run it (`client = "rust" | "browser" | "both"`; default rust).
    pub client: Vec<ClientKind>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    client: Option<Spanned<String>>,
    transports: Option<Vec<Spanned<String>>>,
    profiles: Option<Vec<Spanned<String>>>,
    repeat: Option<Spanned<u32>>,
    #[serde(default)]
    defaults: RawParams,
    /// CI scale: overrides applied by `wirebench run --quick`.
    #[serde(default)]
    quick: RawQuick,
    #[serde(default)]
    workload: Vec<RawWorkload>,
}

/// A `[quick]` table (scenario-wide) or a workload's `quick = { … }`: what `--quick` changes.
/// A workload's own `quick` wins over the scenario's `[quick]`, which wins over the normal
/// values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuick {
    repeat: Option<Spanned<u32>>,
    profiles: Option<Vec<Spanned<String>>>,
    transports: Option<Vec<Spanned<String>>>,
    rate: Option<Spanned<f64>>,
    size: Option<Spanned<u64>>,
    duration_ms: Option<Spanned<u64>>,
    warmup_ms: Option<Spanned<u64>>,
    clients: Option<Spanned<u32>>,
    connects: Option<Spanned<u32>>,
    poll_interval_ms: Option<Spanned<u64>>,
    quiet_ms: Option<Spanned<u64>>,
    notify_interval_ms: Option<Spanned<u64>>,
}

impl RawQuick {
    /// The parameter overrides, as parameters (workload-specific keys are not overridden).
    // The update keeps this total when workloads add keys of their own.
    #[allow(clippy::needless_update)]
    fn params(&self) -> RawParams {
        RawParams {
            rate: self.rate.clone(),
            size: self.size.clone(),
            duration_ms: self.duration_ms.clone(),
            warmup_ms: self.warmup_ms.clone(),
            clients: self.clients.clone(),
            connects: self.connects.clone(),
            poll_interval_ms: self.poll_interval_ms.clone(),
            quiet_ms: self.quiet_ms.clone(),
            notify_interval_ms: self.notify_interval_ms.clone(),
            ..RawParams::default()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    rate: Option<Spanned<f64>>,
    size: Option<Spanned<u64>>,
    duration_ms: Option<Spanned<u64>>,
    warmup_ms: Option<Spanned<u64>>,
    clients: Option<Spanned<u32>>,
    connects: Option<Spanned<u32>>,
    poll_interval_ms: Option<Spanned<u64>>,
    deadline_ms: Option<Spanned<u64>>,
    pair_delay_ms: Option<Spanned<f64>>,
    server_delay_ms: Option<Spanned<f64>>,
    http: Option<Spanned<String>>,
    notify_interval_ms: Option<Spanned<u64>>,
    quiet_ms: Option<Spanned<u64>>,
    ws_ping_ms: Option<Spanned<u64>>,
    sse_heartbeat_ms: Option<Spanned<u64>>,
    long_poll_hold_ms: Option<Spanned<u64>>,
    quic_keepalive_ms: Option<Spanned<u64>>,
    cut_at_ms: Option<Spanned<u64>>,
    cut_ms: Option<Spanned<u64>>,
    stall_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    kind: Spanned<String>,
    name: Option<Spanned<String>>,
    client: Option<Spanned<String>>,
    transports: Option<Vec<Spanned<String>>>,
    profiles: Option<Vec<Spanned<String>>>,
    // The parameters again (serde's `flatten` cannot be combined with `deny_unknown_fields`
    // nor keep spans).
    rate: Option<Spanned<f64>>,
    size: Option<Spanned<u64>>,
    duration_ms: Option<Spanned<u64>>,
    warmup_ms: Option<Spanned<u64>>,
    clients: Option<Spanned<u32>>,
    connects: Option<Spanned<u32>>,
    poll_interval_ms: Option<Spanned<u64>>,
    http: Option<Spanned<String>>,
    notify_interval_ms: Option<Spanned<u64>>,
    quiet_ms: Option<Spanned<u64>>,
    ws_ping_ms: Option<Spanned<u64>>,
    sse_heartbeat_ms: Option<Spanned<u64>>,
    long_poll_hold_ms: Option<Spanned<u64>>,
    quic_keepalive_ms: Option<Spanned<u64>>,
    cut_at_ms: Option<Spanned<u64>>,
    cut_ms: Option<Spanned<u64>>,
    stall_ms: Option<Spanned<u64>>,
    #[serde(default)]
    quick: RawQuick,
    deadline_ms: Option<Spanned<u64>>,
    pair_delay_ms: Option<Spanned<f64>>,
    server_delay_ms: Option<Spanned<f64>>,
}

impl RawWorkload {
    fn params(&self) -> RawParams {
        RawParams {
            rate: self.rate.clone(),
            size: self.size.clone(),
            duration_ms: self.duration_ms.clone(),
            warmup_ms: self.warmup_ms.clone(),
            clients: self.clients.clone(),
            connects: self.connects.clone(),
            poll_interval_ms: self.poll_interval_ms.clone(),
            deadline_ms: self.deadline_ms.clone(),
            pair_delay_ms: self.pair_delay_ms.clone(),
            server_delay_ms: self.server_delay_ms.clone(),
            http: self.http.clone(),
            notify_interval_ms: self.notify_interval_ms.clone(),
            quiet_ms: self.quiet_ms.clone(),
            ws_ping_ms: self.ws_ping_ms.clone(),
            sse_heartbeat_ms: self.sse_heartbeat_ms.clone(),
            long_poll_hold_ms: self.long_poll_hold_ms.clone(),
            quic_keepalive_ms: self.quic_keepalive_ms.clone(),
            cut_at_ms: self.cut_at_ms.clone(),
            cut_ms: self.cut_ms.clone(),
            stall_ms: self.stall_ms.clone(),
        }
    }
}

impl RawParams {
    /// Each overridable parameter (those of [`RawQuick`]) from `self` where set, else from
    /// `under`; every other key from `under`.
    // The update keeps this total when workloads add keys of their own.
    #[allow(clippy::needless_update)]
    fn over(self, under: RawParams) -> RawParams {
        RawParams {
            rate: self.rate.or(under.rate),
            size: self.size.or(under.size),
            duration_ms: self.duration_ms.or(under.duration_ms),
            warmup_ms: self.warmup_ms.or(under.warmup_ms),
            clients: self.clients.or(under.clients),
            connects: self.connects.or(under.connects),
            poll_interval_ms: self.poll_interval_ms.or(under.poll_interval_ms),
            quiet_ms: self.quiet_ms.or(under.quiet_ms),
            notify_interval_ms: self.notify_interval_ms.or(under.notify_interval_ms),
            ..under
        }
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        msg: impl Into<String>,
    ) -> Result<T, ScenarioError> {
        Err(ScenarioError {
            file: self.file.to_string(),
            line: line_of(self.text, span.start),
            key: key.to_string(),
            msg: msg.into(),
        })
    }
}

/// Parses and validates a scenario at its full scale. `file` names it in errors; `profiles`
/// lists the known profile names.
pub fn parse(text: &str, file: &str, profiles: &[String]) -> Result<Scenario, ScenarioError> {
    parse_scaled(text, file, profiles, false)
}

/// Parses and validates a scenario; with `quick`, its `[quick]` overrides (and each workload's
/// `quick = { … }`) are applied: the CI scale of `wirebench run --quick`. The overrides are
/// validated either way, so a typo in `[quick]` is found by a full-scale run too.
pub fn parse_scaled(
    text: &str,
    file: &str,
    profiles: &[String],
    quick: bool,
) -> Result<Scenario, ScenarioError> {
    let profiles_known = profiles;
    let ctx = Ctx { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        let msg = e.message().to_string();
        let key = msg
            .split('`')
            .nth(1)
            .map(str::to_string)
            .unwrap_or_else(|| "(document)".into());
        ScenarioError {
            file: file.to_string(),
            line,
            key,
            msg,
        }
    })?;
    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario")
        .to_string();
    if let Some(r) = &raw.quick.repeat {
        if *r.get_ref() == 0 {
            return ctx.err(r.span(), "quick.repeat", "must be at least 1");
        }
    }
    let repeat = match raw.repeat {
        Some(r) if *r.get_ref() == 0 => return ctx.err(r.span(), "repeat", "must be at least 1"),
        _ if quick && raw.quick.repeat.is_some() => {
            raw.quick.repeat.as_ref().map_or(1, |r| *r.get_ref())
        }
        Some(r) => r.into_inner(),
        None => 3,
    };
    let all_transports = transport::ALL_IDS
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    let top_transports = match &raw.transports {
        Some(v) => check_names(&ctx, v, "transports", &all_transports, "transport")?,
        None => all_transports.clone(),
    };
    let top_profiles = match &raw.profiles {
        Some(v) => check_names(&ctx, v, "profiles", profiles, "profile")?,
        None => vec!["loopback".to_string()],
    };
    let quick_transports = match &raw.quick.transports {
        Some(v) => Some(check_names(
            &ctx,
            v,
            "quick.transports",
            &all_transports,
            "transport",
        )?),
        None => None,
    };
    let quick_profiles = match &raw.quick.profiles {
        Some(v) => Some(check_names(&ctx, v, "quick.profiles", profiles, "profile")?),
        None => None,
    };
    // The overrides are checked at every scale; they apply only with `quick`.
    merge_params(&ctx, &raw.quick.params(), &RawParams::default(), &|k| {
        format!("quick.{k}")
    })?;
    let client_of = |v: &Option<Spanned<String>>, key: &str, default: Vec<ClientKind>| match v {
        None => Ok(default),
        Some(c) => match ClientKind::parse_choice(c.get_ref()) {
            Some(k) => Ok(k),
            None => ctx.err(
                c.span(),
                key,
                format!("{:?}: use \"rust\", \"browser\" or \"both\"", c.get_ref()),
            ),
        },
    };
    let top_client = client_of(&raw.client, "client", vec![ClientKind::Rust])?;
    if raw.workload.is_empty() {
        return ctx.err(
            0..0,
            "workload",
            "a scenario needs at least one [[workload]]",
        );
    }
    let mut workloads = Vec::new();
    for (i, w) in raw.workload.iter().enumerate() {
        let key = |k: &str| format!("workload[{}].{k}", i + 1);
        let mut transports = match &w.transports {
            Some(v) => check_names(&ctx, v, &key("transports"), &all_transports, "transport")?,
            None => top_transports.clone(),
        };
        let mut profiles = match &w.profiles {
            Some(v) => check_names(&ctx, v, &key("profiles"), profiles, "profile")?,
            None => top_profiles.clone(),
        };
        let qkey = |k: &str| format!("workload[{}].quick.{k}", i + 1);
        if let Some(r) = &w.quick.repeat {
            return ctx.err(
                r.span(),
                &qkey("repeat"),
                "repeats are per scenario: set it in the scenario's [quick] table",
            );
        }
        let wq_transports = match &w.quick.transports {
            Some(v) => Some(check_names(
                &ctx,
                v,
                &qkey("transports"),
                &all_transports,
                "transport",
            )?),
            None => None,
        };
        let wq_profiles = match &w.quick.profiles {
            Some(v) => Some(check_names(
                &ctx,
                v,
                &qkey("profiles"),
                profiles_known,
                "profile",
            )?),
            None => None,
        };
        merge_params(&ctx, &w.quick.params(), &RawParams::default(), &qkey)?;
        let quick_params = w.quick.params().over(raw.quick.params());
        let raw_params = if quick {
            if let Some(t) = wq_transports.or_else(|| quick_transports.clone()) {
                transports = t;
            }
            if let Some(p) = wq_profiles.or_else(|| quick_profiles.clone()) {
                profiles = p;
            }
            quick_params.over(w.params())
        } else {
            w.params()
        };
        let mut params = merge_params(&ctx, &raw_params, &raw.defaults, &key)?;
        let kind = w.kind.get_ref().as_str();
        kind_params(&ctx, kind, &mut params, &raw_params, &raw.defaults, &key)?;
        let client = client_of(&w.client, &key("client"), top_client.clone())?;
        // The key that set `clients`, for relay's pairing check.
        let clients_key = [
            quick.then(|| w.quick.clients.clone()).flatten(),
            quick.then(|| raw.quick.clients.clone()).flatten(),
            w.clients.clone(),
            raw.defaults.clients.clone(),
        ]
        .into_iter()
        .flatten()
        .next();
        check_relay_keys(&ctx, kind, &w.params(), clients_key, &key, &mut params)?;
        let spec = match kind {
            "echo" => WorkloadSpec::Echo(params),
            "push" => WorkloadSpec::Push(params),
            "download" => WorkloadSpec::Download(params),
            "upload" => WorkloadSpec::Upload(params),
            "connect" => WorkloadSpec::Connect(params),
            "origin-limit" => WorkloadSpec::OriginLimit(params),
            "relay" => WorkloadSpec::Relay(params),
            "collab" => WorkloadSpec::Collab(params),
            "idle" => WorkloadSpec::Idle(params),
            "flap" => WorkloadSpec::Flap(params),
            other => {
                let known: Vec<&str> = crate::workload::ALL_IDS.iter().map(|(id, _)| *id).collect();
                return ctx.err(
                    w.kind.span(),
                    &key("kind"),
                    format!("unknown workload {other:?} (known: {})", known.join(", ")),
                );
            }
        };
        let name = match &w.name {
            Some(n) => {
                let v = n.get_ref();
                if v.is_empty()
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return ctx.err(
                        n.span(),
                        &key("name"),
                        format!("{v:?}: use letters, digits, '-' and '_'"),
                    );
                }
                v.clone()
            }
            None => spec.id().to_string(),
        };
        if let Some(prev) = workloads.iter().position(|p: &WorkloadPlan| p.name == name) {
            let span = w.name.as_ref().map_or(w.kind.span(), |n| n.span());
            return ctx.err(
                span,
                &key("name"),
                format!(
                    "workload[{}] is already named {name:?}; cells are keyed by workload name, so give each a distinct `name = \"…\"`",
                    prev + 1
                ),
            );
        }
        workloads.push(WorkloadPlan {
            name,
            spec,
            transports,
            profiles,
            client,
        });
    }
    Ok(Scenario {
        name: raw.name.unwrap_or(stem),
        description: raw.description.unwrap_or_default(),
        workloads,
        repeat,
        quick,
    })
}

/// The relay's keys: clients come in pairs (default one pair), and `deadline_ms` /
/// `pair_delay_ms` mean something only for relay.
fn check_relay_keys(
    ctx: &Ctx<'_>,
    kind: &str,
    w: &RawParams,
    clients_key: Option<Spanned<u32>>,
    key: &dyn Fn(&str) -> String,
    params: &mut Params,
) -> Result<(), ScenarioError> {
    if kind == "relay" {
        match clients_key {
            None => params.clients = 2,
            Some(c) => {
                if let Err(e) = crate::workload::relay::check_pairs(params.clients) {
                    return ctx.err(c.span(), &key("clients"), e);
                }
            }
        }
        return Ok(());
    }
    // Set on the workload itself (a [defaults] value may serve other workloads).
    if let Some(v) = &w.deadline_ms {
        return ctx.err(
            v.span(),
            &key("deadline_ms"),
            "only the relay workload has a deadline",
        );
    }
    if let Some(v) = &w.pair_delay_ms {
        return ctx.err(
            v.span(),
            &key("pair_delay_ms"),
            "only the relay workload has peers (pair_delay_ms is the delay between them)",
        );
    }
    params.deadline_ms = None;
    params.pair_delay_ms = None;
    Ok(())
}

fn check_names(
    ctx: &Ctx<'_>,
    v: &[Spanned<String>],
    key: &str,
    known: &[String],
    what: &str,
) -> Result<Vec<String>, ScenarioError> {
    if v.is_empty() {
        return ctx.err(0..0, key, format!("needs at least one {what}"));
    }
    let mut out = Vec::new();
    for s in v {
        if !known.iter().any(|k| k == s.get_ref()) {
            return ctx.err(
                s.span(),
                key,
                format!(
                    "unknown {what} {:?} (known: {})",
                    s.get_ref(),
                    known.join(", ")
                ),
            );
        }
        if !out.contains(s.get_ref()) {
            out.push(s.get_ref().clone());
        }
    }
    Ok(out)
}

fn merge_params(
    ctx: &Ctx<'_>,
    w: &RawParams,
    d: &RawParams,
    key: &dyn Fn(&str) -> String,
) -> Result<Params, ScenarioError> {
    fn pick<T: Clone>(a: &Option<Spanned<T>>, b: &Option<Spanned<T>>) -> Option<Spanned<T>> {
        a.clone().or_else(|| b.clone())
    }
    let rate = pick(&w.rate, &d.rate);
    if let Some(r) = &rate {
        let v = *r.get_ref();
        if !(v > 0.0 && v <= 1_000_000.0) {
            return ctx.err(
                r.span(),
                &key("rate"),
                format!("{v} is out of range (0, 1000000] messages/s"),
            );
        }
    }
    let size = pick(&w.size, &d.size);
    if let Some(s) = &size {
        let v = *s.get_ref();
        if !(crate::frame::HEADER_LEN as u64..=crate::frame::MAX_FRAME as u64).contains(&v) {
            return ctx.err(
                s.span(),
                &key("size"),
                format!(
                    "{v} bytes is out of range: a message is at least the {}-byte header and at most {} bytes",
                    crate::frame::HEADER_LEN,
                    crate::frame::MAX_FRAME
                ),
            );
        }
    }
    let positive = |v: &Option<Spanned<u64>>, name: &str| -> Result<Option<u64>, ScenarioError> {
        match v {
            Some(s) if *s.get_ref() == 0 => ctx.err(s.span(), &key(name), "must be greater than 0"),
            Some(s) => Ok(Some(*s.get_ref())),
            None => Ok(None),
        }
    };
    let positive32 = |v: &Option<Spanned<u32>>, name: &str| -> Result<Option<u32>, ScenarioError> {
        match v {
            Some(s) if *s.get_ref() == 0 => ctx.err(s.span(), &key(name), "must be greater than 0"),
            Some(s) => Ok(Some(*s.get_ref())),
            None => Ok(None),
        }
    };
    let delay = |v: &Option<Spanned<f64>>, name: &str| -> Result<Option<f64>, ScenarioError> {
        match v {
            Some(s) if !(0.0..=10_000.0).contains(s.get_ref()) => ctx.err(
                s.span(),
                &key(name),
                format!("{} is out of range [0, 10000] ms", s.get_ref()),
            ),
            Some(s) => Ok(Some(*s.get_ref())),
            None => Ok(None),
        }
    };
    let http = match pick(&w.http, &d.http) {
        None => HttpVersion::default(),
        Some(h) => match HttpVersion::parse(h.get_ref()) {
            Some(v) => v,
            None => {
                return ctx.err(
                    h.span(),
                    &key("http"),
                    format!(
                        "{:?}: use \"1.1\" (HTTP/1.1 only, the default) or \"2\" (the server offers HTTP/2 too)",
                        h.get_ref()
                    ),
                )
            }
        },
    };
    Ok(Params {
        deadline_ms: positive(&pick(&w.deadline_ms, &d.deadline_ms), "deadline_ms")?,
        pair_delay_ms: delay(&pick(&w.pair_delay_ms, &d.pair_delay_ms), "pair_delay_ms")?,
        server_delay_ms: delay(
            &pick(&w.server_delay_ms, &d.server_delay_ms),
            "server_delay_ms",
        )?,
        rate: rate.map_or(1000.0, |r| *r.get_ref()),
        size: size.map_or(64, |s| *s.get_ref() as usize),
        duration_ms: positive(&pick(&w.duration_ms, &d.duration_ms), "duration_ms")?
            .unwrap_or(3000),
        warmup_ms: pick(&w.warmup_ms, &d.warmup_ms).map_or(500, |s| *s.get_ref()),
        clients: positive32(&pick(&w.clients, &d.clients), "clients")?.unwrap_or(1),
        connects: positive32(&pick(&w.connects, &d.connects), "connects")?.unwrap_or(20),
        poll_interval_ms: positive(
            &pick(&w.poll_interval_ms, &d.poll_interval_ms),
            "poll_interval_ms",
        )?
        .unwrap_or(50),
        http,
        notify_interval_ms: positive(
            &pick(&w.notify_interval_ms, &d.notify_interval_ms),
            "notify_interval_ms",
        )?,
        quiet_ms: pick(&w.quiet_ms, &d.quiet_ms).map(|s| *s.get_ref()),
        ws_ping_ms: pick(&w.ws_ping_ms, &d.ws_ping_ms).map(|s| *s.get_ref()),
        sse_heartbeat_ms: pick(&w.sse_heartbeat_ms, &d.sse_heartbeat_ms).map(|s| *s.get_ref()),
        long_poll_hold_ms: positive(
            &pick(&w.long_poll_hold_ms, &d.long_poll_hold_ms),
            "long_poll_hold_ms",
        )?,
        quic_keepalive_ms: pick(&w.quic_keepalive_ms, &d.quic_keepalive_ms).map(|s| *s.get_ref()),
        cut_at_ms: pick(&w.cut_at_ms, &d.cut_at_ms).map(|s| *s.get_ref()),
        cut_ms: positive(&pick(&w.cut_ms, &d.cut_ms), "cut_ms")?,
        stall_ms: pick(&w.stall_ms, &d.stall_ms).map(|s| *s.get_ref()),
    })
}

/// Keys only the `idle` workload takes.
pub const IDLE_KEYS: &[&str] = &[
    "notify_interval_ms",
    "quiet_ms",
    "ws_ping_ms",
    "sse_heartbeat_ms",
    "long_poll_hold_ms",
    "quic_keepalive_ms",
];
/// Keys only the `flap` workload takes.
pub const FLAP_KEYS: &[&str] = &["cut_at_ms", "cut_ms", "stall_ms"];

/// Applies the defaults of `kind` to its own keys, refuses the keys of other workloads given
/// on the workload itself (keys in `[defaults]` apply only where they mean something), and
/// checks what only makes sense together.
fn kind_params(
    ctx: &Ctx<'_>,
    kind: &str,
    p: &mut Params,
    w: &RawParams,
    d: &RawParams,
    key: &dyn Fn(&str) -> String,
) -> Result<(), ScenarioError> {
    let given: [(&str, &Option<Spanned<u64>>); 9] = [
        ("notify_interval_ms", &w.notify_interval_ms),
        ("quiet_ms", &w.quiet_ms),
        ("ws_ping_ms", &w.ws_ping_ms),
        ("sse_heartbeat_ms", &w.sse_heartbeat_ms),
        ("long_poll_hold_ms", &w.long_poll_hold_ms),
        ("quic_keepalive_ms", &w.quic_keepalive_ms),
        ("cut_at_ms", &w.cut_at_ms),
        ("cut_ms", &w.cut_ms),
        ("stall_ms", &w.stall_ms),
    ];
    if !crate::workload::ALL_IDS.iter().any(|(id, _)| *id == kind) {
        return Ok(()); // the caller names the unknown workload
    }
    let own: &[&str] = match kind {
        "idle" => IDLE_KEYS,
        "flap" => FLAP_KEYS,
        _ => &[],
    };
    for (name, v) in given {
        if let Some(v) = v {
            if !own.contains(&name) {
                let for_kind = if IDLE_KEYS.contains(&name) {
                    "idle"
                } else {
                    "flap"
                };
                return ctx.err(
                    v.span(),
                    &key(name),
                    format!("only the {for_kind} workload takes {name} (this one is {kind:?})"),
                );
            }
        }
    }
    // `[defaults]` keys of another workload don't apply to this one.
    let fields: [(&str, &mut Option<u64>); 9] = [
        ("notify_interval_ms", &mut p.notify_interval_ms),
        ("quiet_ms", &mut p.quiet_ms),
        ("ws_ping_ms", &mut p.ws_ping_ms),
        ("sse_heartbeat_ms", &mut p.sse_heartbeat_ms),
        ("long_poll_hold_ms", &mut p.long_poll_hold_ms),
        ("quic_keepalive_ms", &mut p.quic_keepalive_ms),
        ("cut_at_ms", &mut p.cut_at_ms),
        ("cut_ms", &mut p.cut_ms),
        ("stall_ms", &mut p.stall_ms),
    ];
    for (name, v) in fields {
        if !own.contains(&name) {
            *v = None;
        }
    }
    match kind {
        "idle" => {
            use crate::workload::idle::defaults as D;
            let notify = *p.notify_interval_ms.get_or_insert(D::NOTIFY_INTERVAL_MS);
            p.quiet_ms.get_or_insert(D::QUIET_MS);
            p.ws_ping_ms.get_or_insert(D::WS_PING_MS);
            p.sse_heartbeat_ms.get_or_insert(D::SSE_HEARTBEAT_MS);
            p.long_poll_hold_ms.get_or_insert(D::LONG_POLL_HOLD_MS);
            p.quic_keepalive_ms.get_or_insert(D::QUIC_KEEPALIVE_MS);
            if w.poll_interval_ms.is_none() && d.poll_interval_ms.is_none() {
                p.poll_interval_ms = D::POLL_INTERVAL_MS;
            }
            if p.duration_ms < notify {
                let span = w
                    .duration_ms
                    .as_ref()
                    .or(d.duration_ms.as_ref())
                    .or(w.notify_interval_ms.as_ref())
                    .or(d.notify_interval_ms.as_ref())
                    .map_or(0..0, |s| s.span());
                return ctx.err(
                    span,
                    &key("duration_ms"),
                    format!(
                        "idle sends one notification every notify_interval_ms ({notify} ms): \
                         duration_ms ({}) must be at least that",
                        p.duration_ms
                    ),
                );
            }
        }
        "flap" => {
            use crate::workload::flap::defaults as D;
            if w.rate.is_none() && d.rate.is_none() {
                p.rate = D::RATE;
            }
            let at = *p.cut_at_ms.get_or_insert(D::CUT_AT_MS);
            let cut = *p.cut_ms.get_or_insert(D::CUT_MS);
            let stall = *p.stall_ms.get_or_insert(D::STALL_MS);
            if at + cut >= p.duration_ms {
                let span = w
                    .cut_ms
                    .as_ref()
                    .or(w.cut_at_ms.as_ref())
                    .or(w.duration_ms.as_ref())
                    .or(d.duration_ms.as_ref())
                    .map_or(w.rate.as_ref().map_or(0..0, |r| r.span()), |s| s.span());
                return ctx.err(
                    span,
                    &key("cut_ms"),
                    format!(
                        "the cut (cut_at_ms {at} + cut_ms {cut}) must end before the push stream \
                         does (duration_ms {})",
                        p.duration_ms
                    ),
                );
            }
            let period_ms = 1000.0 / p.rate;
            if stall > 0 && (stall as f64) < 3.0 * period_ms {
                let span = w
                    .stall_ms
                    .as_ref()
                    .or(d.stall_ms.as_ref())
                    .map_or(0..0, |s| s.span());
                return ctx.err(
                    span,
                    &key("stall_ms"),
                    format!(
                        "{stall} ms is under three push periods ({:.0} ms at rate {}): a quiet \
                         stream would look dead",
                        3.0 * period_ms,
                        p.rate
                    ),
                );
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles() -> Vec<String> {
        vec!["loopback".into()]
    }

    #[test]
    fn default_suite_parses() {
        let set = wirebench_netem::ProfileSet::parse(DEFAULT_PROFILES, "profiles.toml").unwrap();
        let names: Vec<String> = set.profiles.keys().cloned().collect();
        let s = parse(DEFAULT_SUITE, "default.toml", &names).unwrap();
        assert!(!s.workloads.is_empty());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "name = \"x\"\n[[workload]]\nkind = \"echo\"\nrat = 5\n";
        let e = parse(text, "x.toml", &profiles()).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.to_string().starts_with("x.toml:4: rat:"), "{e}");
    }

    #[test]
    fn the_same_workload_twice_needs_names() {
        let text = "[[workload]]\nkind = \"echo\"\n[[workload]]\nkind = \"echo\"\n";
        let e = parse(text, "d.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (4, "workload[2].name"), "{e}");
        let ok =
            "[[workload]]\nkind = \"echo\"\n[[workload]]\nkind = \"echo\"\nname = \"echo-1k\"\n";
        let s = parse(ok, "d.toml", &profiles()).unwrap();
        assert_eq!(s.workloads[1].name, "echo-1k");
    }

    #[test]
    fn relay_and_collab_keys_parse_and_are_checked() {
        let text = "[[workload]]\nkind = \"relay\"\nrate = 30\nsize = 1024\ndeadline_ms = 150\n\
                    pair_delay_ms = 5\nserver_delay_ms = 60\n\
                    [[workload]]\nkind = \"collab\"\nclients = 5\nrate = 20\n";
        let s = parse(text, "r.toml", &profiles()).unwrap();
        let p = s.workloads[0].spec.params();
        assert_eq!(s.workloads[0].spec.id(), "relay");
        assert_eq!(
            (p.clients, p.deadline_ms, p.pair_delay_ms, p.server_delay_ms),
            (2, Some(150), Some(5.0), Some(60.0))
        );
        assert_eq!(s.workloads[1].spec.id(), "collab");
        assert_eq!(s.workloads[1].spec.params().clients, 5);
        let cases = [
            ("kind = \"relay\"\nclients = 3\n", "workload[1].clients"),
            (
                "kind = \"echo\"\ndeadline_ms = 150\n",
                "workload[1].deadline_ms",
            ),
            (
                "kind = \"collab\"\npair_delay_ms = 5\n",
                "workload[1].pair_delay_ms",
            ),
            (
                "kind = \"relay\"\npair_delay_ms = -1.0\n",
                "workload[1].pair_delay_ms",
            ),
            (
                "kind = \"relay\"\nserver_delay_ms = 1e9\n",
                "workload[1].server_delay_ms",
            ),
        ];
        for (body, key) in cases {
            let text = format!("[[workload]]\n{body}");
            let e = parse(&text, "r.toml", &profiles()).unwrap_err();
            assert_eq!((e.line, e.key.as_str()), (3, key), "{e}");
        }
    }

    #[test]
    fn idle_and_flap_take_their_keys_with_production_defaults() {
        let text = "[defaults]\ncut_ms = 2000\n[[workload]]\nkind = \"idle\"\nclients = 1000\nduration_ms = 30000\n[[workload]]\nkind = \"flap\"\nduration_ms = 5000\n[[workload]]\nkind = \"echo\"\n";
        let s = parse(text, "i.toml", &profiles()).unwrap();
        let idle = s.workloads[0].spec.params();
        assert_eq!(s.workloads[0].spec.id(), "idle");
        assert_eq!(idle.ws_ping_ms, Some(30_000));
        assert_eq!(idle.sse_heartbeat_ms, Some(15_000));
        assert_eq!(idle.long_poll_hold_ms, Some(25_000));
        assert_eq!(idle.quic_keepalive_ms, Some(15_000));
        assert_eq!(idle.poll_interval_ms, 5_000);
        assert_eq!(idle.notify_interval_ms, Some(10_000));
        assert_eq!(
            idle.cut_ms, None,
            "a [defaults] key of another workload does not apply"
        );
        let flap = s.workloads[1].spec.params();
        assert_eq!(
            (flap.cut_ms, flap.cut_at_ms, flap.stall_ms),
            (Some(2000), Some(1000), Some(1000))
        );
        assert_eq!(flap.rate, 100.0);
        assert_eq!(s.workloads[2].spec.params().ws_ping_ms, None);
    }

    #[test]
    fn idle_and_flap_keys_are_checked_and_located() {
        let text = "[[workload]]\nkind = \"echo\"\n\nws_ping_ms = 5\n";
        let e = parse(text, "k.toml", &profiles()).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_str()),
            (4, "workload[1].ws_ping_ms"),
            "{e}"
        );
        assert!(e.msg.contains("only the idle workload"), "{e}");
        let text = "[[workload]]\nkind = \"flap\"\nduration_ms = 3000\ncut_ms = 2500\n";
        let e = parse(text, "c.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (4, "workload[1].cut_ms"), "{e}");
        let text = "[[workload]]\nkind = \"flap\"\nrate = 10\nduration_ms = 9000\nstall_ms = 100\n";
        let e = parse(text, "s.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (5, "workload[1].stall_ms"), "{e}");
        let text = "[[workload]]\nkind = \"idle\"\nnotify_interval_ms = 60000\n";
        let e = parse(text, "n.toml", &profiles()).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_str()),
            (3, "workload[1].duration_ms"),
            "{e}"
        );
        let text = "[[workload]]\nkind = \"idle\"\nduration_ms = 1000\nnotify_interval_ms = 0\n";
        let e = parse(text, "z.toml", &profiles()).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_str()),
            (4, "workload[1].notify_interval_ms"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_located() {
        let text = "[[workload]]\nkind = \"echo\"\n\n[[workload]]\nkind = \"echo\"\nsize = 3\n";
        let e = parse(text, "y.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (6, "workload[2].size"), "{e}");
        let text = "transports = [\"tcp\", \"carrier-pigeon\"]\n[[workload]]\nkind = \"echo\"\n";
        let e = parse(text, "z.toml", &profiles()).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.msg.contains("carrier-pigeon"));
        let text = "[[workload]]\nkind = \"teleport\"\n";
        let e = parse(text, "w.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "workload[1].kind"));
    }

    const QUICK: &str = "repeat = 3\nprofiles = [\"loopback\", \"broadband\"]\n\
[defaults]\nduration_ms = 5000\n\
[quick]\nrepeat = 1\nprofiles = [\"loopback\"]\nduration_ms = 500\nclients = 20\n\
[[workload]]\nkind = \"push\"\nclients = 1000\n\
[[workload]]\nkind = \"echo\"\nclients = 4\nquick = { clients = 2, transports = [\"tcp\"] }\n";

    fn all_profiles() -> Vec<String> {
        let set = wirebench_netem::ProfileSet::parse(DEFAULT_PROFILES, "profiles.toml").unwrap();
        set.profiles.keys().cloned().collect()
    }

    #[test]
    fn quick_overrides_apply_only_with_quick() {
        let full = parse_scaled(QUICK, "q.toml", &all_profiles(), false).unwrap();
        assert_eq!((full.repeat, full.quick), (3, false));
        let push = &full.workloads[0];
        assert_eq!(push.spec.params().clients, 1000);
        assert_eq!(push.spec.params().duration_ms, 5000);
        assert_eq!(push.profiles, ["loopback", "broadband"]);
        let quick = parse_scaled(QUICK, "q.toml", &all_profiles(), true).unwrap();
        assert_eq!((quick.repeat, quick.quick), (1, true));
        let push = &quick.workloads[0];
        // [quick] beats the workload's own value, which beats [defaults].
        assert_eq!(push.spec.params().clients, 20);
        assert_eq!(push.spec.params().duration_ms, 500);
        assert_eq!(push.profiles, ["loopback"]);
        assert_eq!(push.transports.len(), transport::ALL_IDS.len());
        // A workload's own quick beats [quick].
        let echo = &quick.workloads[1];
        assert_eq!(echo.spec.params().clients, 2);
        assert_eq!(echo.transports, ["tcp"]);
    }

    #[test]
    fn quick_errors_name_file_line_and_key() {
        let cases = [
            (
                "[quick]\nrepaet = 1\n[[workload]]\nkind = \"echo\"\n",
                2,
                "repaet",
            ),
            (
                "[quick]\nrate = -1.0\n[[workload]]\nkind = \"echo\"\n",
                2,
                "quick.rate",
            ),
            (
                "[quick]\nrepeat = 0\n[[workload]]\nkind = \"echo\"\n",
                2,
                "quick.repeat",
            ),
            (
                "[quick]\nprofiles = [\"mars\"]\n[[workload]]\nkind = \"echo\"\n",
                2,
                "quick.profiles",
            ),
            (
                "[[workload]]\nkind = \"echo\"\n[workload.quick]\nclients = 0\n",
                4,
                "workload[1].quick.clients",
            ),
            (
                "[[workload]]\nkind = \"echo\"\nquick = { repeat = 2 }\n",
                3,
                "workload[1].quick.repeat",
            ),
        ];
        for (text, line, key) in cases {
            // Checked at the full scale too, so CI's quick runs are not the first to find them.
            for quick in [false, true] {
                let e = parse_scaled(text, "bad.toml", &profiles(), quick).unwrap_err();
                assert_eq!((e.line, e.key.as_str()), (line, key), "{e}");
                assert!(
                    e.to_string()
                        .starts_with(&format!("bad.toml:{line}: {key}:")),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn faq_scenarios_parse_at_both_scales_and_are_all_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/faq");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = FAQ_SCENARIOS.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(
            on_disk, embedded,
            "FAQ_SCENARIOS must list scenarios/faq/*.toml, sorted"
        );
        for (file, text) in FAQ_SCENARIOS {
            let full = parse_scaled(text, file, &all_profiles(), false).unwrap();
            let quick = parse_scaled(text, file, &all_profiles(), true).unwrap();
            let stem = file.trim_end_matches(".toml");
            assert_eq!(full.name, format!("faq-{stem}"), "{file}");
            assert!(!full.description.is_empty(), "{file} states no claim");
            // The CI scale is never larger than the full one.
            assert!(quick.repeat <= full.repeat, "{file}");
            for (q, f) in quick.workloads.iter().zip(&full.workloads) {
                let (q, f) = (q.spec.params(), f.spec.params());
                assert!(
                    q.clients <= f.clients && q.duration_ms <= f.duration_ms,
                    "{file}"
                );
            }
        }
    }

    #[test]
    fn client_key_picks_clients() {
        let text = "client = \"both\"\n[[workload]]\nkind = \"echo\"\n[[workload]]\nkind = \"connect\"\nclient = \"browser\"\n";
        let s = parse(text, "c.toml", &profiles()).unwrap();
        assert_eq!(
            s.workloads[0].client,
            [ClientKind::Rust, ClientKind::Browser]
        );
        assert_eq!(s.workloads[1].client, [ClientKind::Browser]);
        let bad = "[[workload]]\nkind = \"echo\"\nclient = \"firefox\"\n";
        let e = parse(bad, "c.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "workload[1].client"), "{e}");
    }

    #[test]
    fn http_key_picks_the_version_and_is_checked() {
        let text = "[defaults]\nhttp = \"2\"\n[[workload]]\nkind = \"origin-limit\"\n\
                    [[workload]]\nkind = \"echo\"\nhttp = \"1.1\"\n[[workload]]\nkind = \"push\"\n";
        let s = parse(text, "h.toml", &profiles()).unwrap();
        let http: Vec<HttpVersion> = s.workloads.iter().map(|w| w.spec.params().http).collect();
        assert_eq!(
            http,
            [HttpVersion::Http2, HttpVersion::Http1, HttpVersion::Http2]
        );
        let none = parse("[[workload]]\nkind = \"echo\"\n", "h.toml", &profiles()).unwrap();
        assert_eq!(none.workloads[0].spec.params().http, HttpVersion::Http1);
        let bad = "[[workload]]\nkind = \"echo\"\n\nhttp = \"3\"\n";
        let e = parse(bad, "h.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (4, "workload[1].http"), "{e}");
        assert!(e.msg.contains("\"1.1\""), "{e}");
        let bad = "[defaults]\nhttp = 2\n[[workload]]\nkind = \"echo\"\n";
        let e = parse(bad, "h.toml", &profiles()).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }
}
