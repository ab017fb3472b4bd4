//! report.html's first section (`id="answer"`): the caveats, `recommend`'s ranking for the
//! common cases, and each workload × link ranked ([`crate::answer`]; summary.md opens with
//! the same content).

use std::fmt::Write as _;

use crate::answer::{ratio_text, Answer, Case, Group, Place, HARNESS_NOTE};
use crate::format::escape;
use crate::metrics::Metric;

/// Escapes `s` for HTML and turns Markdown code spans (`` `x` ``) into `<code>`.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// The answer section; `run_line` (the run's date and cell counts) goes under its title.
pub(super) fn answer(h: &mut String, a: &Answer, run_line: &str) {
    let _ = writeln!(
        h,
        "<section id=\"answer\"><h1>Which transport? The answer from this run{}</h1>\n\
         <p class=\"meta\">{run_line}</p>",
        if a.indicative {
            " <span class=\"tag\">indicative</span>"
        } else {
            ""
        }
    );
    if !a.caveats.is_empty() {
        h.push_str("<div class=\"caveat\"><strong>Read before deciding</strong><ul>");
        for c in &a.caveats {
            let _ = write!(h, "<li>{}</li>", inline(c));
        }
        h.push_str("</ul></div>\n");
    }
    cases(h, a);
    if !a.groups.is_empty() {
        h.push_str(
            "<h2>Ranked per workload and link</h2>\n<p class=\"note\">Medians over repeats. \
             ÷ best: the figure ÷ the best's; ÷ tcp: ÷ the raw-TCP floor's (shown, never \
             ranked: browsers cannot open raw TCP). Details per workload below.</p>\n\
             <div class=\"ranks\">",
        );
        for g in &a.groups {
            group(h, g, a.several_scenarios);
        }
        h.push_str("</div>\n");
    }
    h.push_str("</section>\n");
}

fn cases(h: &mut String, a: &Answer) {
    if a.cases.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>The common cases{}</h2>\n<p class=\"note\"><code>wirebench recommend</code>'s \
         ranking from the FAQ scenarios (score: the weighted mean of the ratios to the best, \
         1.00 = best on every criterion). For your own case: <code>wirebench recommend \
         --help</code>.</p>\n<div class=\"wide\"><table class=\"cases\"><tr><th>case</th>\
         <th>rule of thumb</th><th>ranking (score)</th><th>holds on every profile?</th></tr>",
        if a.indicative { " (indicative)" } else { "" }
    );
    for c in &a.cases {
        let _ = writeln!(
            h,
            "<tr><td>{}<small><code>{}</code></small></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(c.title),
            escape(&c.command),
            folklore_td(c),
            escape(&c.ranking_text()),
            escape(&c.holds_text())
        );
    }
    h.push_str("</table></div>\n");
}

/// The rule of thumb and whether it ranks first, with a mark from a text font (✓/✗, in
/// DejaVu and the common system fonts) rather than an emoji, which a system without an emoji
/// font (headless Chromium on a server) shows as a box.
fn folklore_td(c: &Case) -> String {
    let (class, mark) = if c.folklore_holds() {
        ("yes", "✓")
    } else {
        ("no", "✗")
    };
    format!(
        "{} — <span class=\"{class}\">{mark}</span> {}",
        escape(c.folklore),
        escape(&c.folklore_detail())
    )
}

/// A column header, short (the card's subtitle names the metric in full).
fn header(m: &Metric) -> String {
    let short = match m.id {
        "setup_ms" => "setup",
        "setup_rtts" => "RTTs",
        "server_rss_bytes_per_connection" => "memory / conn",
        "flap_recovery_ms" => "recovery",
        _ => m.label.trim_end_matches(" latency"),
    };
    escape(short)
}

/// The transport cell: colour, id, then the implementation and client on a second line, and
/// why it is unranked.
fn transport_td(p: &Place) -> String {
    let rest = p.transport.strip_prefix(&p.id).unwrap_or_default().trim();
    // The swatch stays with the id's first word; a long id may break after a hyphen.
    let (head, tail) = p.id.split_at(p.id.find('-').map_or(p.id.len(), |i| i + 1));
    let mut s = format!(
        "<td class=\"t\"><span class=\"nw\">{}{}</span>{}",
        super::tables::swatch(&p.id, p.variant),
        escape(head),
        escape(tail)
    );
    for small in [rest, p.note.as_deref().unwrap_or("")] {
        if !small.is_empty() {
            let _ = write!(s, "<small>{}</small>", escape(small));
        }
    }
    s.push_str("</td>");
    s
}

fn group(h: &mut String, g: &Group, several_scenarios: bool) {
    let also = g.also();
    let floor = g.has_floor();
    let _ = write!(
        h,
        "<div class=\"rank\"><h3>{}</h3><p class=\"note\">{}</p><table class=\"rank\"><tr>\
         <th>#</th><th>transport</th><th>{}</th>",
        escape(&g.title(several_scenarios)),
        escape(&g.subtitle()),
        header(g.merit.metric)
    );
    if let Some(a) = also {
        let _ = write!(h, "<th>{}</th>", header(a));
    }
    h.push_str("<th>÷ best</th>");
    if floor {
        h.push_str("<th>÷ tcp</th>");
    }
    h.push_str("</tr>\n");
    for p in &g.places {
        place_row(h, g, p, floor);
    }
    h.push_str("</table>");
    if g.any_harness_bound() {
        let _ = write!(h, "<p class=\"note\">{}</p>", escape(HARNESS_NOTE));
    }
    if !g.verdicts.is_empty() {
        let _ = write!(
            h,
            "<p class=\"note\">FAQ verdicts on it: {}</p>",
            escape(&g.verdicts.join("; "))
        );
    }
    h.push_str("</div>\n");
}

fn place_row(h: &mut String, g: &Group, p: &Place, floor: bool) {
    let class = match (p.rank, p.floor) {
        (Some(_), _) => "",
        (None, true) if p.figure.is_some() => " class=\"floor\"",
        _ => " class=\"unranked\"",
    };
    let mut title = p.figure.map_or(String::new(), |f| {
        format!(
            "{}–{} over {} repeat(s)",
            g.merit.metric.show(f.min),
            g.merit.metric.show(f.max),
            f.n
        )
    });
    if let Some(b) = &p.harness_bound {
        let _ = write!(title, "; harness-bound in {b}");
    }
    let (figure, lost) = g.figure_parts(p);
    let lost = lost.map_or(String::new(), |l| {
        format!("<small class=\"lost\">{}</small>", escape(&l))
    });
    let _ = write!(
        h,
        "<tr{class}><td>{}</td>{}<td class=\"num\" title=\"{}\">{}{lost}</td>",
        escape(&p.rank_text()),
        transport_td(p),
        escape(&title),
        escape(&figure)
    );
    if g.also().is_some() {
        let _ = write!(h, "<td class=\"num\">{}</td>", escape(&g.also_text(p)));
    }
    let _ = write!(h, "<td class=\"num\">{}</td>", ratio_text(p.vs_best));
    if floor {
        let _ = write!(h, "<td class=\"num\">{}</td>", ratio_text(p.vs_tcp));
    }
    h.push_str("</tr>\n");
}
