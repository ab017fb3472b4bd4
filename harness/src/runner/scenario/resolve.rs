//! From a workload's raw parameter tables to its [`Params`], driven by the parameter catalogue:
//! each given value checked against its declaration's bounds, the workload's defaults applied,
//! keys of other workloads refused (on the workload itself) or ignored (from `[defaults]`), then
//! the checks that only make sense together (idle's notifications fit the window, flap's cut
//! ends before the stream, relay's clients come in pairs).

use std::ops::Range;

use super::error::{ParseCtx, ScenarioError};
use super::raw::{RawParams, RawValue};
use crate::workload::catalogue::{catalogue, decl, default_for};
use crate::workload::params::{ParamDecl, ParamValue};
use crate::workload::Params;

/// Names a key in errors (`workload[2].rate`, `quick.rate`, …).
pub(super) type KeyFn<'a> = &'a dyn Fn(&str) -> String;

/// Keys whose values are checked first, in this order; the others follow in catalogue order.
/// (The order errors have always been reported in when a file has several.)
const CHECKED_FIRST: &[&str] = &[
    "rate",
    "size",
    "http",
    "deadline_ms",
    "pair_delay_ms",
    "server_delay_ms",
];

/// The catalogue in the order values are checked.
fn check_order() -> impl Iterator<Item = &'static ParamDecl> {
    CHECKED_FIRST
        .iter()
        .filter_map(|k| decl(k))
        .chain(catalogue().filter(|d| !CHECKED_FIRST.contains(&d.key)))
}

/// Checks each key set in `w`, else in `d`, against its declaration. Returns the values.
pub(super) fn check_values(
    ctx: &ParseCtx<'_>,
    w: &RawParams,
    d: &RawParams,
    key: KeyFn<'_>,
) -> Result<Vec<(&'static str, ParamValue)>, ScenarioError> {
    let mut out = Vec::new();
    for decl in check_order() {
        let Some(v) = w.get(decl.key).or_else(|| d.get(decl.key)) else {
            continue;
        };
        let checked = match v.get_ref() {
            RawValue::F64(x) => decl.check.f64(*x).map(|()| ParamValue::F64(*x)),
            RawValue::U64(x) => decl.check.u64(*x).map(|()| ParamValue::U64(*x)),
            RawValue::U32(x) => decl.check.u64(u64::from(*x)).map(|()| ParamValue::U32(*x)),
            // String keys are enumerations: kept as their canonical spelling.
            RawValue::Str(s) => decl
                .check
                .str(s)
                .map(|()| ParamValue::Str(decl.check.canonical(s))),
        };
        match checked {
            Ok(value) => out.push((decl.key, value)),
            Err(msg) => return ctx.err(v.span(), &key(decl.key), msg),
        }
    }
    Ok(out)
}

/// The parameters of workload `kind` from its own keys `w` (with any `quick` overrides) over
/// `[defaults]` `d`: values checked, keys of other workloads given on the workload refused, the
/// workload's defaults applied, idle's and flap's cross-checks made.
pub(super) fn params(
    ctx: &ParseCtx<'_>,
    kind: &str,
    w: &RawParams,
    d: &RawParams,
    key: KeyFn<'_>,
) -> Result<Params, ScenarioError> {
    let values = check_values(ctx, w, d, key)?;
    let mut p = Params::default();
    for decl in catalogue().filter(|d| d.taken_by(kind)) {
        p.set(decl.key, default_for(kind, decl));
    }
    for (k, v) in values {
        if decl(k).is_some_and(|d| d.taken_by(kind)) {
            p.set(k, Some(v));
        }
    }
    if !crate::workload::ALL_IDS.iter().any(|(id, _)| *id == kind) {
        return Ok(p); // the caller names the unknown workload
    }
    refuse_foreign(ctx, kind, w, key, false)?;
    match kind {
        "idle" => check_idle(ctx, &p, w, d, key)?,
        "flap" => check_flap(ctx, &p, w, d, key)?,
        _ => {}
    }
    if let Some((k, msg)) = crate::workload::network::cross_check(&p) {
        return ctx.err(first(&[w.span(k), d.span(k)]), &key(k), msg);
    }
    Ok(p)
}

/// The checks made once the workload's `client` is read: relay's pairs, and the keys of other
/// workloads whose declaration says why they are refused.
pub(super) fn late_checks(
    ctx: &ParseCtx<'_>,
    kind: &str,
    w: &RawParams,
    d: &RawParams,
    key: KeyFn<'_>,
    p: &mut Params,
) -> Result<(), ScenarioError> {
    if kind == "relay" {
        if let Some(c) = w.get("clients").or_else(|| d.get("clients")) {
            if let Err(e) = crate::workload::relay::check_pairs(p.clients) {
                return ctx.err(c.span(), &key("clients"), e);
            }
        }
    }
    refuse_foreign(ctx, kind, w, key, true)
}

/// Refuses a key of another workload set on this one (a `[defaults]` value may serve other
/// workloads, and is ignored here). `explained`: the keys whose declaration gives the reason,
/// else those refused with the generic message.
fn refuse_foreign(
    ctx: &ParseCtx<'_>,
    kind: &str,
    w: &RawParams,
    key: KeyFn<'_>,
    explained: bool,
) -> Result<(), ScenarioError> {
    for decl in catalogue() {
        let Some(owner) = decl.only else { continue };
        if owner == kind || decl.refusal.is_some() != explained {
            continue;
        }
        let Some(v) = w.get(decl.key) else { continue };
        let name = decl.key;
        let msg = match decl.refusal {
            Some(why) => why.to_string(),
            None => format!("only the {owner} workload takes {name} (this one is {kind:?})"),
        };
        return ctx.err(v.span(), &key(name), msg);
    }
    Ok(())
}

/// The first of `spans` given, else `0..0`.
fn first(spans: &[Option<Range<usize>>]) -> Range<usize> {
    spans.iter().flatten().next().cloned().unwrap_or(0..0)
}

/// idle: at least one notification fits in the window.
fn check_idle(
    ctx: &ParseCtx<'_>,
    p: &Params,
    w: &RawParams,
    d: &RawParams,
    key: KeyFn<'_>,
) -> Result<(), ScenarioError> {
    let notify = crate::workload::idle::notify_interval_ms(p);
    if p.duration_ms < notify {
        let span = first(&[
            w.span("duration_ms"),
            d.span("duration_ms"),
            w.span("notify_interval_ms"),
            d.span("notify_interval_ms"),
        ]);
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
    Ok(())
}

/// flap: the cut ends before the stream does, and a stall timeout is not shorter than three
/// push periods.
fn check_flap(
    ctx: &ParseCtx<'_>,
    p: &Params,
    w: &RawParams,
    d: &RawParams,
    key: KeyFn<'_>,
) -> Result<(), ScenarioError> {
    let (at, cut) = (p.cut_at_ms.unwrap_or(0), p.cut_ms.unwrap_or(0));
    let stall = p.stall_ms.unwrap_or(0);
    if at + cut >= p.duration_ms {
        let span = first(&[
            w.span("cut_ms"),
            w.span("cut_at_ms"),
            w.span("duration_ms"),
            d.span("duration_ms"),
            w.span("rate"),
        ]);
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
        let span = first(&[w.span("stall_ms"), d.span("stall_ms")]);
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
    Ok(())
}
