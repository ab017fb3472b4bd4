//! Rendering a [`Recommendation`] for the terminal / Markdown.

use std::fmt::Write as _;

use super::*;

impl Recommendation {
    /// The recommendation for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        self.workload_line(&mut s);
        let _ = writeln!(s, "evidence from: {}", self.scenarios.join(", "));
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(s);
        for r in &self.transports {
            match (r.rank, &r.excluded) {
                (Some(k), _) => {
                    let _ = writeln!(
                        s,
                        "{k}. {}  (score {})",
                        r.transport,
                        r.score.map_or("–".into(), |x| format!("{x:.2}"))
                    );
                }
                (None, Some(why)) => {
                    let _ = writeln!(s, "-  {}  not ranked: {why}", r.transport);
                }
                (None, None) => {
                    let _ = writeln!(s, "-  {}", r.transport);
                }
            }
            for e in &r.evidence {
                let _ = writeln!(
                    s,
                    "     {}: {} ({}–{}, {} repeat{}) [{}]",
                    e.metric,
                    verdicts::fmt_value(e.median, &e.unit),
                    verdicts::fmt_value(e.min, &e.unit),
                    verdicts::fmt_value(e.max, &e.unit),
                    e.repeats,
                    if e.repeats == 1 { "" } else { "s" },
                    e.cell
                );
            }
            if !r.verdicts.is_empty() {
                let _ = writeln!(s, "     verdicts: {}", r.verdicts.join(", "));
            }
            for c in &r.caveats {
                let _ = writeln!(s, "     caveat: {c}");
            }
        }
        self.profile_check(&mut s);
        if !self.verdicts.is_empty() {
            let _ = writeln!(s, "\nFAQ verdicts that apply:");
            for v in &self.verdicts {
                let _ = writeln!(s, "  {} {}: {}", v.id, v.outcome_text(), v.decided_by);
            }
        }
        s
    }

    /// The first line: the traits judged and where the figures come from.
    fn workload_line(&self, s: &mut String) {
        let t = &self.traits;
        let _ = writeln!(
            s,
            "workload: {}, {} client{}, {} msg/s × {} B{}{}, profile {} ({})",
            match t.topology {
                Connectivity::P2p => "peer to peer",
                Connectivity::Server => "server authority",
            },
            t.clients,
            if t.clients == 1 { "" } else { "s" },
            t.rate,
            t.size,
            if t.quiet_periods {
                ", quiet periods"
            } else {
                ""
            },
            if t.loss_tolerant {
                ", loss-tolerant"
            } else {
                ""
            },
            t.profile.as_deref().unwrap_or("(any measured)"),
            match self.profiles.len() {
                0 => "no figures".to_string(),
                1 => format!("figures from {}", self.profiles[0]),
                _ => format!("figures pooled over {}", self.profiles.join(", ")),
            }
        );
    }

    /// Whether the pooled ranking holds on each profile alone.
    fn profile_check(&self, s: &mut String) {
        if self.per_profile.is_empty() {
            return;
        }
        if self.per_profile.iter().all(|p| p.same) {
            let _ = writeln!(
                s,
                "\nthe ranking holds on every profile measured ({})",
                self.profiles.join(", ")
            );
            return;
        }
        let _ = writeln!(s, "\nthe ranking differs by profile:");
        for p in &self.per_profile {
            let _ = writeln!(
                s,
                "  {}: {}{}",
                p.profile,
                p.order
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("{}. {t}", i + 1))
                    .collect::<Vec<_>>()
                    .join(", "),
                if p.same { " (as pooled)" } else { "" }
            );
        }
    }

    /// The recommendation as JSON.
    pub fn json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}
