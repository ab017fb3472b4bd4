//! Scenario files: TOML that names workloads, parameters, transports, profiles and repeats.
//!
//! Parsing is strict (unknown keys are refused) and every error names the file, the line and
//! the key at fault, so a typo never silently changes what is measured. The parameter keys are
//! not written here: [`raw`] reads them against the parameter catalogue
//! ([`crate::workload::catalogue::catalogue`]) and [`resolve`] applies its bounds, defaults and
//! ownership rules.

mod error;
mod raw;
mod resolve;
mod thresholds;

use std::path::Path;

use toml::Spanned;

use crate::transport;
#[cfg(test)]
use crate::workload::HttpVersion;
use crate::workload::{Params, WorkloadSpec};
use error::ParseCtx;
pub use error::ScenarioError;
use raw::{RawParams, RawScenario, RawTable, Workload};

/// The default suite, embedded so `wirebench run` works anywhere.
pub const DEFAULT_SUITE: &str = include_str!("../../../../scenarios/default.toml");
/// The shipped network profiles, embedded.
pub const DEFAULT_PROFILES: &str = include_str!("../../../../scenarios/profiles.toml");
/// The FAQ scenarios (`scenarios/faq/`), embedded so `wirebench recommend` can run them
/// anywhere: (file name, text). Each file's scenario name is `faq-` + its stem.
pub const FAQ_SCENARIOS: &[(&str, &str)] = &[
    (
        "collab.toml",
        include_str!("../../../../scenarios/faq/collab.toml"),
    ),
    (
        "hol.toml",
        include_str!("../../../../scenarios/faq/hol.toml"),
    ),
    (
        "load.toml",
        include_str!("../../../../scenarios/faq/load.toml"),
    ),
    (
        "nat.toml",
        include_str!("../../../../scenarios/faq/nat.toml"),
    ),
    (
        "peer.toml",
        include_str!("../../../../scenarios/faq/peer.toml"),
    ),
    (
        "proxy.toml",
        include_str!("../../../../scenarios/faq/proxy.toml"),
    ),
    (
        "quiet.toml",
        include_str!("../../../../scenarios/faq/quiet.toml"),
    ),
    (
        "refresh.toml",
        include_str!("../../../../scenarios/faq/refresh.toml"),
    ),
    (
        "setup.toml",
        include_str!("../../../../scenarios/faq/setup.toml"),
    ),
];

/// The embedded scenarios a name stands for: `default` (the default suite), `faq` (every FAQ
/// scenario) or `faq/<name>` (`faq/peer`, also `faq-peer`), each as (origin for errors,
/// text); `None` for any other name.
pub fn embedded(name: &str) -> Option<Vec<(String, &'static str)>> {
    let origin = |f: &str| format!("scenarios/faq/{f} (embedded)");
    match name {
        "default" => Some(vec![(
            "scenarios/default.toml (embedded)".to_string(),
            DEFAULT_SUITE,
        )]),
        "faq" => Some(FAQ_SCENARIOS.iter().map(|(f, t)| (origin(f), *t)).collect()),
        _ => {
            let stem = name
                .strip_prefix("faq/")
                .or_else(|| name.strip_prefix("faq-"))?;
            let stem = stem.strip_suffix(".toml").unwrap_or(stem);
            FAQ_SCENARIOS
                .iter()
                .find(|(f, _)| f.strip_suffix(".toml") == Some(stem))
                .map(|(f, t)| vec![(origin(f), *t)])
        }
    }
}

/// The names [`embedded`] knows, for `list` and error messages.
pub fn embedded_names() -> Vec<String> {
    let mut v = vec!["default".to_string(), "faq".to_string()];
    v.extend(
        FAQ_SCENARIOS
            .iter()
            .map(|(f, _)| format!("faq/{}", f.trim_end_matches(".toml"))),
    );
    v
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
    /// Its `[thresholds]`: absolute limits `run` checks at the end (exit 99 when crossed).
    pub thresholds: Vec<wirebench_reports::model::ThresholdSpec>,
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

impl WorkloadPlan {
    /// The warning `run` prints when this workload has poll cells whose interval is locked to
    /// the send period ([`WorkloadSpec::poll_phase_warning`]); `None` without poll cells.
    pub fn poll_phase_warning(&self) -> Option<String> {
        if !self.transports.iter().any(|t| t == "poll") {
            return None;
        }
        self.spec.poll_phase_warning()
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
    let ctx = ParseCtx { file, text };
    let raw = read_toml(text, file)?;
    let top = TopLevel::resolve(&ctx, &raw, profiles, quick)?;
    if raw.workload.is_empty() {
        return ctx.err(
            0..0,
            "workload",
            "a scenario needs at least one [[workload]]",
        );
    }
    let mut workloads: Vec<WorkloadPlan> = Vec::new();
    for (i, w) in raw.workload.iter().enumerate() {
        let plan = workload_plan(&ctx, &raw, &top, i, w, profiles, quick)?;
        check_unique_name(&ctx, &workloads, w, i, &plan.name)?;
        workloads.push(plan);
    }
    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario")
        .to_string();
    let name = raw.name.clone().unwrap_or(stem);
    let targets: Vec<thresholds::Target<'_>> = workloads
        .iter()
        .map(|w| thresholds::Target {
            name: &w.name,
            transports: &w.transports,
            profiles: &w.profiles,
        })
        .collect();
    let thresholds = thresholds::read(&ctx, &raw.thresholds, &name, &targets)?;
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        workloads,
        repeat: top.repeat,
        quick,
        thresholds,
    })
}

/// Step 1: the TOML, read into tables; a syntax error, a wrong type or an unknown key is located
/// by the span TOML gives.
fn read_toml(text: &str, file: &str) -> Result<RawScenario, ScenarioError> {
    toml::from_str(text).map_err(|e| {
        let (line, key) = wirebench_netem::toml_locate(text, &e);
        let msg = wirebench_netem::toml_message(&e);
        ScenarioError {
            file: file.to_string(),
            line,
            key,
            msg,
        }
    })
}

/// Step 2: the scenario-wide settings every workload starts from.
struct TopLevel {
    repeat: u32,
    transports: Vec<String>,
    profiles: Vec<String>,
    quick_transports: Option<Vec<String>>,
    quick_profiles: Option<Vec<String>>,
    client: Vec<ClientKind>,
}

impl TopLevel {
    fn resolve(
        ctx: &ParseCtx<'_>,
        raw: &RawScenario,
        profiles: &[String],
        quick: bool,
    ) -> Result<TopLevel, ScenarioError> {
        let q = &raw.quick;
        if let Some(r) = &q.repeat {
            if *r.get_ref() == 0 {
                return ctx.err(r.span(), "quick.repeat", "must be at least 1");
            }
        }
        let repeat = match &raw.repeat {
            Some(r) if *r.get_ref() == 0 => {
                return ctx.err(r.span(), "repeat", "must be at least 1")
            }
            _ if quick && q.repeat.is_some() => q.repeat.as_ref().map_or(1, |r| *r.get_ref()),
            Some(r) => *r.get_ref(),
            None => 3,
        };
        let all = all_transports();
        let transports = match &raw.transports {
            Some(v) => check_names(ctx, v, "transports", &all, "transport")?,
            None => all.clone(),
        };
        let top_profiles = match &raw.profiles {
            Some(v) => check_names(ctx, v, "profiles", profiles, "profile")?,
            None => vec!["loopback".to_string()],
        };
        let (quick_transports, quick_profiles) =
            quick_names(ctx, q, profiles, &|k| format!("quick.{k}"))?;
        // The overrides are checked at every scale; they apply only with `quick`.
        resolve::check_values(ctx, &q.params, &RawParams::default(), &|k| {
            format!("quick.{k}")
        })?;
        let client = client_of(ctx, raw.client.as_ref(), "client", vec![ClientKind::Rust])?;
        Ok(TopLevel {
            repeat,
            transports,
            profiles: top_profiles,
            quick_transports,
            quick_profiles,
            client,
        })
    }
}

/// Every transport id.
fn all_transports() -> Vec<String> {
    transport::ALL_IDS.iter().map(|s| s.to_string()).collect()
}

/// A quick table's `transports` and `profiles`, checked.
type QuickNames = (Option<Vec<String>>, Option<Vec<String>>);

fn quick_names(
    ctx: &ParseCtx<'_>,
    q: &RawTable,
    profiles: &[String],
    key: &dyn Fn(&str) -> String,
) -> Result<QuickNames, ScenarioError> {
    let transports = match q.names("transports") {
        Some(v) => Some(check_names(
            ctx,
            v,
            &key("transports"),
            &all_transports(),
            "transport",
        )?),
        None => None,
    };
    let profiles = match q.names("profiles") {
        Some(v) => Some(check_names(ctx, v, &key("profiles"), profiles, "profile")?),
        None => None,
    };
    Ok((transports, profiles))
}

/// A `client` value, or `default` when not given.
fn client_of(
    ctx: &ParseCtx<'_>,
    v: Option<&Spanned<String>>,
    key: &str,
    default: Vec<ClientKind>,
) -> Result<Vec<ClientKind>, ScenarioError> {
    match v {
        None => Ok(default),
        Some(c) => match ClientKind::parse_choice(c.get_ref()) {
            Some(k) => Ok(k),
            None => ctx.err(
                c.span(),
                key,
                format!("{:?}: use \"rust\", \"browser\" or \"both\"", c.get_ref()),
            ),
        },
    }
}

/// Step 3: one `[[workload]]` (the `i`-th, from 0), resolved against the scenario's settings.
fn workload_plan(
    ctx: &ParseCtx<'_>,
    raw: &RawScenario,
    top: &TopLevel,
    i: usize,
    w: &Workload,
    profiles: &[String],
    quick: bool,
) -> Result<WorkloadPlan, ScenarioError> {
    let key = |k: &str| format!("workload[{}].{k}", i + 1);
    let t = &w.table;
    let mut transports = match t.names("transports") {
        Some(v) => check_names(ctx, v, &key("transports"), &all_transports(), "transport")?,
        None => top.transports.clone(),
    };
    let mut plan_profiles = match t.names("profiles") {
        Some(v) => check_names(ctx, v, &key("profiles"), profiles, "profile")?,
        None => top.profiles.clone(),
    };
    let qkey = |k: &str| format!("workload[{}].quick.{k}", i + 1);
    let wq = t.quick();
    if let Some(r) = &wq.repeat {
        return ctx.err(
            r.span(),
            &qkey("repeat"),
            "repeats are per scenario: set it in the scenario's [quick] table",
        );
    }
    let (wq_transports, wq_profiles) = quick_names(ctx, wq, profiles, &qkey)?;
    resolve::check_values(ctx, &wq.params, &RawParams::default(), &qkey)?;
    let raw_params = if quick {
        if let Some(v) = wq_transports.or_else(|| top.quick_transports.clone()) {
            transports = v;
        }
        if let Some(p) = wq_profiles.or_else(|| top.quick_profiles.clone()) {
            plan_profiles = p;
        }
        wq.params.over(&raw.quick.params).over(&t.params)
    } else {
        t.params.clone()
    };
    let kind = w.kind.get_ref().as_str();
    let d = &raw.defaults.0;
    let mut params = resolve::params(ctx, kind, &raw_params, d, &key)?;
    let client = client_of(ctx, t.text("client"), &key("client"), top.client.clone())?;
    resolve::late_checks(ctx, kind, &raw_params, d, &key, &mut params)?;
    let Some(spec) = spec_of(kind, params) else {
        let known: Vec<&str> = crate::workload::ALL_IDS.iter().map(|(id, _)| *id).collect();
        return ctx.err(
            w.kind.span(),
            &key("kind"),
            format!("unknown workload {kind:?} (known: {})", known.join(", ")),
        );
    };
    Ok(WorkloadPlan {
        name: workload_name(ctx, t, &spec, &key)?,
        spec,
        transports,
        profiles: plan_profiles,
        client,
    })
}

/// The workload `kind` with its parameters, if `kind` is a workload id.
fn spec_of(kind: &str, params: Params) -> Option<WorkloadSpec> {
    Some(match kind {
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
        _ => return None,
    })
}

/// The workload's `name` (checked), else its id.
fn workload_name(
    ctx: &ParseCtx<'_>,
    t: &RawTable,
    spec: &WorkloadSpec,
    key: &dyn Fn(&str) -> String,
) -> Result<String, ScenarioError> {
    let Some(n) = t.text("name") else {
        return Ok(spec.id().to_string());
    };
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
    Ok(v.clone())
}

/// Cells are keyed by workload name: refuses a name already taken.
fn check_unique_name(
    ctx: &ParseCtx<'_>,
    before: &[WorkloadPlan],
    w: &Workload,
    i: usize,
    name: &str,
) -> Result<(), ScenarioError> {
    let Some(prev) = before.iter().position(|p| p.name == name) else {
        return Ok(());
    };
    let span = w.table.text("name").map_or(w.kind.span(), |n| n.span());
    ctx.err(
        span,
        &format!("workload[{}].name", i + 1),
        format!(
            "workload[{}] is already named {name:?}; cells are keyed by workload name, so give each a distinct `name = \"…\"`",
            prev + 1
        ),
    )
}

/// Checks a list of names against the known ones; drops repeats.
fn check_names(
    ctx: &ParseCtx<'_>,
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

#[cfg(test)]
mod tests;
