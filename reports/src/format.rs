//! Formatting numbers and text for people: durations in µs, bit rates, byte counts, values in
//! a named unit, and HTML escaping. Every renderer (summary.md, report.html, plots, terminal,
//! compare tables, verdicts) formats through here, so this module sits below all of them and
//! imports nothing from the crate.
//!
//! Byte counts are printed at three precisions, one per output, kept apart on purpose so
//! every output stays as it was: [`bytes`] (plot ticks, report tables), [`bytes_mib2`]
//! (verdict evidence) and [`bytes_mib1`] (compare tables).

/// Formats microseconds for people: `87 µs`, `1.25 ms`, `3.2 s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// Formats bits per second: `940 Mbit/s`.
pub fn fmt_bps(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2} Gbit/s", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.1} Mbit/s", bps / 1e6)
    } else {
        format!("{:.1} kbit/s", bps / 1e3)
    }
}

/// A count, rounded, with thousands separators: `114983.4` → `114,983`.
pub fn count(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v.is_sign_negative() && digits != "0" {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Pads every Markdown table of `md` so its columns line up in a plain-text view: each cell
/// padded to its column's widest (right-aligned columns, `--:`, padded on the left), the
/// separator row drawn to the same widths. Lines outside tables are left as they are.
pub fn pad_tables(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + md.len() / 4);
    let mut table: Vec<Vec<String>> = Vec::new();
    for line in md.split_inclusive('\n') {
        let t = line.trim_end_matches('\n');
        if t.starts_with('|') && t.ends_with('|') && t.len() > 1 {
            table.push(table_cells(t));
            continue;
        }
        flush_table(&mut out, &mut table);
        out.push_str(line);
    }
    flush_table(&mut out, &mut table);
    out
}

/// The cells of a table row (`|` escaped as `\|` stays in its cell), trimmed.
fn table_cells(row: &str) -> Vec<String> {
    let inner = &row[1..row.len() - 1];
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut prev = '\0';
    for c in inner.chars() {
        if c == '|' && prev != '\\' {
            cells.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(c);
        }
        prev = c;
    }
    cells.push(cur.trim().to_string());
    cells
}

fn is_rule(cells: &[String]) -> bool {
    cells.iter().all(|c| {
        let d = c.trim_start_matches(':').trim_end_matches(':');
        !d.is_empty() && d.chars().all(|x| x == '-')
    })
}

fn flush_table(out: &mut String, table: &mut Vec<Vec<String>>) {
    if table.is_empty() {
        return;
    }
    let rules: Vec<bool> = table.iter().map(|r| is_rule(r)).collect();
    let mut width = column_widths(
        table
            .iter()
            .zip(&rules)
            .filter(|(_, r)| !**r)
            .map(|(t, _)| t),
    );
    for w in &mut width {
        *w = (*w).max(3);
    }
    let mut right = vec![false; width.len()];
    for (row, _) in table.iter().zip(&rules).filter(|(_, r)| **r) {
        for (i, c) in row.iter().enumerate() {
            right[i] = c.ends_with(':') && !c.starts_with(':');
        }
    }
    for (row, rule) in table.drain(..).zip(rules) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if !rule {
                    return pad(c, width[i], right[i]);
                }
                let (colon_l, colon_r) = (c.starts_with(':'), c.ends_with(':'));
                let dashes = width[i] - usize::from(colon_l) - usize::from(colon_r);
                format!(
                    "{}{}{}",
                    if colon_l { ":" } else { "" },
                    "-".repeat(dashes),
                    if colon_r { ":" } else { "" }
                )
            })
            .collect();
        out.push_str("| ");
        out.push_str(&cells.join(" | "));
        out.push_str(" |\n");
    }
}

/// The widest cell of each column of `rows`, in characters.
pub fn column_widths<'a>(rows: impl Iterator<Item = &'a Vec<String>>) -> Vec<usize> {
    let mut width: Vec<usize> = Vec::new();
    for row in rows {
        if width.len() < row.len() {
            width.resize(row.len(), 0);
        }
        for (i, c) in row.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    width
}

/// `c` padded with spaces to `width` characters: on the left when `right` (numbers), else on
/// the right.
pub fn pad(c: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(c.chars().count()));
    if right {
        format!("{fill}{c}")
    } else {
        format!("{c}{fill}")
    }
}

/// `s` as one Markdown table cell: `|` escaped, line breaks as spaces.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Formats an optional figure with `f`, or `–` when absent.
pub fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "–".to_string())
}

/// Formats microseconds compactly for axis ticks: `500µs`, `2ms`, `1.5s`.
pub fn tick_us(us: f64) -> String {
    let (v, unit) = if us >= 1e6 {
        (us / 1e6, "s")
    } else if us >= 1e3 {
        (us / 1e3, "ms")
    } else {
        (us, "µs")
    };
    format!("{}{unit}", trim_num(v))
}

/// Formats a number with up to 3 significant digits and no trailing zeros.
pub fn trim_num(v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Formats a number with at most two decimals and no trailing zeros (`10`, `2.5`); used for
/// compare's thresholds.
pub fn trim_float(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Formats a quantity with SI prefixes: `1.2k`, `35M`, `2.5G`.
pub fn si(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim_num(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim_num(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim_num(v / 1e3))
    } else {
        trim_num(v)
    }
}

/// Formats bytes with binary prefixes up to GiB and 3 significant digits: `512 B`, `37 KiB`,
/// `1.2 MiB`. Used by plot ticks, report.html tables and the workload tables.
pub fn bytes(v: f64) -> String {
    let a = v.abs();
    if a >= 1024.0 * 1024.0 * 1024.0 {
        format!("{} GiB", trim_num(v / (1024.0 * 1024.0 * 1024.0)))
    } else if a >= 1024.0 * 1024.0 {
        format!("{} MiB", trim_num(v / (1024.0 * 1024.0)))
    } else if a >= 1024.0 {
        format!("{} KiB", trim_num(v / 1024.0))
    } else {
        format!("{} B", trim_num(v))
    }
}

/// Formats bytes as `B`, `KiB` (1 decimal) or `MiB` (2 decimals). Used for verdict evidence
/// (summary.md, report.html) through [`value_with_unit`].
pub fn bytes_mib2(v: f64) -> String {
    if v >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", v / (1024.0 * 1024.0))
    } else if v >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

/// Formats bytes as `B`, `KiB` or `MiB`, 1 decimal. Used by compare's tables (RSS per
/// connection).
pub fn bytes_mib1(v: f64) -> String {
    if v >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / (1024.0 * 1024.0))
    } else if v >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

/// Formats a figure in its unit (`µs`, `ms`, `fraction`, `RTT`, `bytes`, `count`, other);
/// used for verdict evidence.
pub fn value_with_unit(v: f64, unit: &str) -> String {
    match unit {
        "µs" => fmt_us(v),
        "ms" => format!("{v:.1} ms"),
        "fraction" => format!("{:.2} %", v * 100.0),
        "RTT" => format!("{v:.2} RTT"),
        "bytes" => bytes_mib2(v),
        "count" => format!("{v:.0}"),
        u => format!("{v:.3} {u}"),
    }
}

/// A fraction of frames lost, as shown beside a latency: `4.1 % lost`, `0.05 % lost`.
pub fn lost_pct(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p >= 10.0 {
        format!("{p:.0} % lost")
    } else if p >= 1.0 {
        format!("{p:.1} % lost")
    } else {
        format!("{p:.2} % lost")
    }
}

/// A ratio as a signed percentage change: `1.183` → `+18.3 %`.
pub fn pct(r: f64) -> String {
    if r.is_infinite() {
        "+∞ %".to_string()
    } else {
        format!("{:+.1} %", (r - 1.0) * 100.0)
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.4), "999");
        assert_eq!(count(1000.0), "1,000");
        assert_eq!(count(114_983.4), "114,983");
        assert_eq!(count(-1_234_567.0), "-1,234,567");
    }

    #[test]
    fn tables_are_padded_and_the_rest_is_left_alone() {
        let md = "# t\n\n| a | long header |\n|---|--:|\n| wide cell | 1 |\n| x \\| y | 22 |\n\ntext | not a row\n";
        assert_eq!(
            pad_tables(md),
            "# t\n\n\
             | a         | long header |\n\
             | --------- | ----------: |\n\
             | wide cell |           1 |\n\
             | x \\| y    |          22 |\n\
             \ntext | not a row\n"
        );
    }
}
