//! A scenario's `[thresholds]` table (k6-style absolute limits, checked by `run` and
//! `compare`: `wirebench_reports::thresholds`), read and validated against the scenario: each
//! key names one of its workloads (and a profile it runs on), a transport and a metric, each
//! condition is `< N`, `<= N`, `> N` or `>= N`. Errors name the file, line and key.

use std::collections::BTreeMap;

use toml::Spanned;
use wirebench_reports::model::ThresholdSpec;
use wirebench_reports::thresholds::Threshold;

use super::error::{ParseCtx, ScenarioError};

/// What a threshold is checked against: one workload of the scenario.
pub(super) struct Target<'a> {
    /// Its name in the scenario.
    pub(super) name: &'a str,
    /// Transport ids it runs.
    pub(super) transports: &'a [String],
    /// Profiles it runs on.
    pub(super) profiles: &'a [String],
}

/// The thresholds of scenario `name`, checked against its workloads.
pub(super) fn read(
    ctx: &ParseCtx<'_>,
    raw: &BTreeMap<Spanned<String>, Spanned<String>>,
    name: &str,
    workloads: &[Target<'_>],
) -> Result<Vec<ThresholdSpec>, ScenarioError> {
    let mut out = Vec::new();
    for (key, condition) in raw {
        let spec = ThresholdSpec {
            scenario: name.to_string(),
            key: key.get_ref().clone(),
            condition: condition.get_ref().clone(),
        };
        let field = format!("thresholds.\"{}\"", spec.key);
        let t = match Threshold::parse(&spec) {
            Ok(t) => t,
            Err(e) => return ctx.err(key.span(), &field, e.to_string()),
        };
        let Some(w) = workloads.iter().find(|w| w.name == t.workload) else {
            let names: Vec<&str> = workloads.iter().map(|w| w.name).collect();
            return ctx.err(
                key.span(),
                &field,
                format!(
                    "no workload `{}` in this scenario (its workloads: {})",
                    t.workload,
                    names.join(", ")
                ),
            );
        };
        if let Some(p) = t
            .profile
            .as_deref()
            .filter(|p| !w.profiles.iter().any(|q| q == p))
        {
            return ctx.err(
                key.span(),
                &field,
                format!(
                    "workload `{}` does not run on profile `{p}` (its profiles: {})",
                    w.name,
                    w.profiles.join(", ")
                ),
            );
        }
        if t.transport != "*" && !w.transports.contains(&t.transport) {
            return ctx.err(
                key.span(),
                &field,
                format!(
                    "workload `{}` does not run transport `{}` (its transports: {})",
                    w.name,
                    t.transport,
                    w.transports.join(", ")
                ),
            );
        }
        out.push(spec);
    }
    Ok(out)
}
