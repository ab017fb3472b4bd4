//! The answer as summary.md opens with it, and the texts report.html shares with it.

use std::fmt::Write as _;

use crate::format::md_cell as cell;

use super::{ratio_text, Answer, Case, Group, Place, HARNESS_NOTE};

impl Place {
    /// The rank as shown: `1`, `=1` (tied with the one above), `floor` (tcp), `–` (unranked).
    pub fn rank_text(&self) -> String {
        match self.rank {
            Some(r) if self.tied => format!("={r}"),
            Some(r) => r.to_string(),
            None if self.floor && self.figure.is_some() => "floor".into(),
            None => "–".into(),
        }
    }
}

impl Case {
    /// `1. websocket (1.00) · 2. sse (1.31) · …`: the ranked transports with their scores.
    pub fn ranking_text(&self) -> String {
        self.rec
            .transports
            .iter()
            .filter_map(|t| {
                let r = t.rank?;
                Some(format!(
                    "{r}. {} ({})",
                    t.transport,
                    t.score.map_or("–".into(), |s| format!("{s:.2}"))
                ))
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// Whether the rule of thumb's transport ranks first: `✅ ranks first`, or `❌ long-poll
    /// ranks first; sse ranks 3` (Markdown: emoji render on GitHub and in terminals).
    pub fn folklore_check(&self) -> String {
        let mark = if self.folklore_holds() { "✅" } else { "❌" };
        format!("{mark} {}", self.folklore_detail())
    }

    /// Whether the rule of thumb's transport is among those ranked first.
    pub fn folklore_holds(&self) -> bool {
        self.ranked()
            .any(|(r, t)| r == 1 && first_word(t) == self.expect)
    }

    /// [`Self::folklore_check`] without the mark: `ranks first`, or `long-poll ranks first;
    /// sse ranks 3` (the HTML report draws its own mark, as emoji fonts are not everywhere).
    pub fn folklore_detail(&self) -> String {
        if self.folklore_holds() {
            return "ranks first".into();
        }
        let first: Vec<&str> = self
            .ranked()
            .filter(|(r, _)| *r == 1)
            .map(|(_, t)| t)
            .collect();
        let named = self
            .ranked()
            .find(|(_, t)| first_word(t) == self.expect)
            .map_or_else(
                || format!("{} not ranked", self.expect),
                |(r, t)| format!("{t} ranks {r}"),
            );
        format!("{} ranks first; {named}", first.join(", "))
    }

    /// The ranked transports with their rank, best first.
    fn ranked(&self) -> impl Iterator<Item = (usize, &str)> {
        self.rec
            .transports
            .iter()
            .filter_map(|t| Some((t.rank?, t.transport.as_str())))
    }

    /// Whether the ranking holds on every profile measured: `yes, on broadband and lte`, or
    /// the profiles where it does not, with their order.
    pub fn holds_text(&self) -> String {
        let profiles = self.rec.profiles.join(", ");
        if self.rec.per_profile.is_empty() {
            return format!("one profile measured ({profiles})");
        }
        let differ: Vec<String> = self
            .rec
            .per_profile
            .iter()
            .filter(|p| !p.same)
            .map(|p| format!("on {}: {}", p.profile, p.order.join(", ")))
            .collect();
        if differ.is_empty() {
            format!("yes, on each of {profiles}")
        } else {
            format!("no — {}", differ.join("; "))
        }
    }
}

impl Answer {
    /// The answer in Markdown: summary.md's first section.
    pub fn markdown(&self) -> String {
        let mut s = String::from("## Which transport? The answer from this run\n\n");
        for c in &self.caveats {
            let _ = writeln!(s, "> {c}");
        }
        if !self.caveats.is_empty() {
            s.push('\n');
        }
        self.cases_markdown(&mut s);
        if !self.groups.is_empty() {
            s.push_str(
                "### Ranked per workload and link\n\nRatios: the figure ÷ the best's, and ÷ the \
                 raw-TCP floor's (shown, never ranked: browsers cannot open raw TCP).\n",
            );
        }
        for g in &self.groups {
            group_markdown(&mut s, g, self.several_scenarios);
        }
        s
    }

    fn cases_markdown(&self, s: &mut String) {
        if self.cases.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "### The common cases{}\n\n`wirebench recommend`'s ranking from the FAQ scenarios \
             (score: the weighted mean of the ratios to the best, 1.00 = best on every \
             criterion).\n\n| case | rule of thumb | ranking (score) | holds on every \
             profile? |\n|---|---|---|---|",
            if self.indicative { " (indicative)" } else { "" }
        );
        for c in &self.cases {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                cell(c.title),
                cell(&format!("{} — {}", c.folklore, c.folklore_check())),
                cell(&c.ranking_text()),
                cell(&c.holds_text())
            );
        }
        s.push_str("\nYour own case: `wirebench recommend --help`; the rows above come from ");
        s.push_str(
            &self
                .cases
                .iter()
                .map(|c| format!("`{}`", c.command))
                .collect::<Vec<_>>()
                .join(", "),
        );
        s.push_str(".\n\n");
    }
}

fn group_markdown(s: &mut String, g: &Group, several_scenarios: bool) {
    let _ = writeln!(
        s,
        "\n#### {} — {}\n",
        g.title(several_scenarios),
        g.subtitle()
    );
    let notes = g.places.iter().any(|p| p.note.is_some());
    let also = g.also().map(|a| a.label);
    let mut head = format!("| # | transport | {} |", g.merit.metric.label);
    let mut rule = String::from("|--:|---|--:|");
    if let Some(a) = also {
        let _ = write!(head, " {a} |");
        rule.push_str("--:|");
    }
    head.push_str(" ÷ best |");
    rule.push_str("--:|");
    if g.has_floor() {
        head.push_str(" ÷ tcp |");
        rule.push_str("--:|");
    }
    if notes {
        head.push_str(" note |");
        rule.push_str("---|");
    }
    let _ = writeln!(s, "{head}\n{rule}");
    for p in &g.places {
        let mut row = format!(
            "| {} | {} | {} |",
            p.rank_text(),
            cell(&p.transport),
            cell(&g.figure_text(p))
        );
        if also.is_some() {
            let _ = write!(row, " {} |", g.also_text(p));
        }
        let _ = write!(row, " {} |", ratio_text(p.vs_best));
        if g.has_floor() {
            let _ = write!(row, " {} |", ratio_text(p.vs_tcp));
        }
        if notes {
            let _ = write!(row, " {} |", cell(p.note.as_deref().unwrap_or("")));
        }
        let _ = writeln!(s, "{row}");
    }
    if g.any_harness_bound() {
        let _ = writeln!(s, "\n{HARNESS_NOTE}");
    }
    if !g.verdicts.is_empty() {
        let _ = writeln!(s, "\nFAQ verdicts on it: {}", cell(&g.verdicts.join("; ")));
    }
}

/// A ranked entry's transport id: `webrtc (str0m)` → `webrtc`.
fn first_word(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}
