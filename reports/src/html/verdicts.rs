//! report.html's verdicts section: FAQ verdicts with their evidence, or a generic table for
//! verdict objects of another shape.

use std::fmt::Write as _;

use crate::format::escape;
use crate::model::Results;

use super::tables::json_text;

pub(super) fn verdicts(h: &mut String, r: &Results) {
    if r.verdicts.is_empty() {
        return;
    }
    let faq = crate::verdicts::read(r);
    if faq.len() == r.verdicts.len() {
        faq_verdicts(h, &faq);
        return;
    }
    h.push_str("<section id=\"verdicts\"><h2>Verdicts</h2>\n<div class=\"wide\"><table>");
    let values: Vec<serde_json::Value> = r.verdicts.iter().map(|v| v.to_json()).collect();
    let objects: Vec<&serde_json::Map<String, serde_json::Value>> =
        values.iter().filter_map(|v| v.as_object()).collect();
    if objects.len() == r.verdicts.len() {
        // serde_json maps are sorted: put the identifying columns first.
        let mut cols: Vec<&str> = Vec::new();
        for first in ["id", "question", "name", "scenario", "verdict", "answer"] {
            if objects.iter().any(|o| o.contains_key(first)) {
                cols.push(first);
            }
        }
        for o in &objects {
            for k in o.keys() {
                if !cols.contains(&k.as_str()) {
                    cols.push(k);
                }
            }
        }
        h.push_str("<tr>");
        for c in &cols {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr>\n");
        for o in objects {
            h.push_str("<tr>");
            for c in &cols {
                let _ = write!(h, "<td>{}</td>", escape(&json_text(o.get(*c))));
            }
            h.push_str("</tr>\n");
        }
    } else {
        h.push_str("<tr><th>verdict</th></tr>\n");
        for v in &values {
            let _ = writeln!(h, "<tr><td>{}</td></tr>", escape(&json_text(Some(v))));
        }
    }
    h.push_str("</table></div></section>\n");
}

/// The FAQ verdicts: a table of outcomes, then each verdict's evidence and caveats.
pub(super) fn faq_verdicts(h: &mut String, vs: &[crate::verdicts::Verdict]) {
    use crate::format::value_with_unit as fmt_value;
    use crate::verdicts::Outcome;
    h.push_str(if vs.iter().any(|v| v.indicative) {
        "<section id=\"verdicts\"><h2>FAQ verdicts — indicative only (<code>--quick</code>)</h2>\n\
         <p class=\"note\">A CI-scale run: fewer clients and repeats, shorter runs. These \
         outcomes hint, they do not decide; run the full scale to decide.</p>\n"
    } else {
        "<section id=\"verdicts\"><h2>FAQ verdicts</h2>\n"
    });
    h.push_str(
        "<div class=\"wide\"><table>\
         <tr><th>faq</th><th>claim</th><th>verdict</th><th>decided by</th></tr>\n",
    );
    for v in vs {
        let class = match v.verdict {
            _ if v.indicative => " class=\"indicative\"",
            Outcome::Confirmed => "",
            Outcome::Refuted => " class=\"failed\"",
            Outcome::Inconclusive => " class=\"skipped\"",
        };
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td><td><code>{}</code><small>{}</small></td><td><b>{}</b></td>\
             <td>{}</td></tr>",
            escape(&v.faq),
            escape(&v.id),
            escape(&v.claim),
            v.outcome_text(),
            escape(&v.decided_by)
        );
    }
    h.push_str("</table></div>\n");
    for v in vs {
        let _ = writeln!(
            h,
            "<details><summary><code>{}</code>: {}</summary><p>Rule: {}</p><ul>",
            escape(&v.id),
            v.outcome_text(),
            escape(&v.rule)
        );
        for e in &v.evidence {
            let _ = writeln!(
                h,
                "<li><code>{}</code> {}: {} ({}–{}, n = {})</li>",
                escape(&e.cell),
                escape(&e.metric),
                escape(&fmt_value(e.median, &e.unit)),
                escape(&fmt_value(e.min, &e.unit)),
                escape(&fmt_value(e.max, &e.unit)),
                e.repeats
            );
        }
        for c in &v.caveats {
            let _ = writeln!(h, "<li>caveat: {}</li>", escape(c));
        }
        h.push_str("</ul></details>\n");
    }
    h.push_str("</section>\n");
}
