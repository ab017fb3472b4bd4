//! Raw SVG the charts add to what plotters draws: the root's accessibility attributes, series
//! drawn dashed or as markers, the legend below the plot, hatching, and font sizes that fit.
//!
//! Plotters' SVG backend has no dash patterns or fill patterns, so series that need them are
//! written here, in pixel coordinates the caller got from its chart.

use std::fmt::Write as _;

use crate::format::escape;

/// Adds `role="img"`, an `aria-label` and a `<title>` to plotters' SVG root.
pub(crate) fn finish(svg: String, title: &str) -> String {
    let esc = escape(title);
    match svg.find("<svg") {
        Some(at) => {
            let open_end = svg[at..].find('>').map(|e| at + e + 1).unwrap_or(svg.len());
            let mut out = String::with_capacity(svg.len() + 2 * esc.len() + 64);
            out.push_str(&svg[..at]);
            out.push_str("<svg role=\"img\" aria-label=\"");
            out.push_str(&esc);
            out.push('"');
            out.push_str(&svg[at + 4..open_end]);
            out.push_str("<title>");
            out.push_str(&esc);
            out.push_str("</title>");
            out.push_str(&svg[open_end..]);
            out
        }
        None => svg,
    }
}

/// Puts `extra` (SVG elements) last inside the root, so it is drawn over plotters' output.
pub(crate) fn append(svg: &mut String, extra: &str) {
    if let Some(at) = svg.rfind("</svg>") {
        svg.insert_str(at, extra);
    }
}

/// The dash pattern of a series variant: 0 (a transport's first implementation) solid, 1
/// dashed, 2 and beyond dotted.
pub(crate) fn dash(variant: usize) -> Option<&'static str> {
    match variant {
        0 => None,
        1 => Some("7 4"),
        _ => Some("2 3"),
    }
}

fn dash_attr(variant: usize) -> String {
    dash(variant)
        .map(|d| format!(" stroke-dasharray=\"{d}\""))
        .unwrap_or_default()
}

/// A series as a line through pixel points, dashed for variants other than 0.
pub(crate) fn polyline(pts: &[(i32, i32)], css: &str, variant: usize) -> String {
    let mut p = String::new();
    for (x, y) in pts {
        let _ = write!(p, "{x},{y} ");
    }
    format!(
        "<polyline fill=\"none\" stroke=\"{css}\" stroke-width=\"2\"{} points=\"{}\"/>",
        dash_attr(variant),
        p.trim_end()
    )
}

/// A marker at a pixel point: filled for variant 0, hollow for the others.
pub(crate) fn marker(x: i32, y: i32, css: &str, variant: usize) -> String {
    let fill = if variant == 0 { css } else { "#fff" };
    format!(
        "<circle cx=\"{x}\" cy=\"{y}\" r=\"3.5\" fill=\"{fill}\" stroke=\"{css}\" \
         stroke-width=\"1.5\"/>"
    )
}

/// A series as markers, one per pixel point.
pub(crate) fn markers(pts: &[(i32, i32)], css: &str, variant: usize) -> String {
    pts.iter()
        .map(|&(x, y)| marker(x, y, css, variant))
        .collect()
}

/// One entry of a legend drawn below a line chart.
pub(crate) struct LegendEntry<'a> {
    /// Series name.
    pub name: &'a str,
    /// CSS colour.
    pub css: String,
    /// 0 solid, 1.. dashed or dotted ([`dash`]).
    pub variant: usize,
    /// Drawn as markers rather than a line.
    pub markers: bool,
}

const LEGEND_ROW: u32 = 19;
const LEGEND_FONT: u32 = 13;

/// Columns of a legend: two when every name fits half the width.
fn legend_columns(entries: &[LegendEntry<'_>], width: u32) -> u32 {
    let longest = entries.iter().map(|e| e.name.chars().count()).max();
    let fits = longest
        .is_some_and(|c| text_width(c, f64::from(LEGEND_FONT)) + 40.0 <= f64::from(width / 2));
    if fits && entries.len() > 1 {
        2
    } else {
        1
    }
}

/// Height of the legend below a line chart (entries, then the note line if any).
pub(crate) fn legend_height(entries: &[LegendEntry<'_>], width: u32, note: bool) -> u32 {
    let cols = legend_columns(entries, width);
    let rows = (entries.len() as u32).div_ceil(cols);
    8 + rows * LEGEND_ROW + if note { LEGEND_ROW } else { 0 }
}

/// The legend below the plot, from pixel row `top`: a line (or marker) swatch in the series'
/// colour and dash, then the name; `note` on a line of its own after the entries.
pub(crate) fn legend(entries: &[LegendEntry<'_>], top: u32, width: u32, note: &str) -> String {
    let cols = legend_columns(entries, width);
    let col_w = (width - 20) / cols;
    let rows = (entries.len() as u32).div_ceil(cols);
    let mut s = String::from("<g class=\"legend\">");
    for (i, e) in entries.iter().enumerate() {
        let (col, row) = (i as u32 / rows, i as u32 % rows);
        let x = 14 + col * col_w;
        let y = top + 8 + row * LEGEND_ROW + LEGEND_ROW / 2;
        let (x, y) = (x as i32, y as i32);
        if e.markers {
            s.push_str(&marker(x + 11, y, &e.css, e.variant));
        } else {
            s.push_str(&polyline(&[(x, y), (x + 22, y)], &e.css, e.variant));
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{y}\" dy=\"0.35em\" font-family=\"sans-serif\" \
             font-size=\"{LEGEND_FONT}\">{}</text>",
            x + 30,
            escape(e.name)
        );
    }
    if !note.is_empty() {
        let y = top + 8 + rows * LEGEND_ROW + LEGEND_ROW / 2;
        let size = fit(note, width - 28, 12, 9, 1.0);
        let _ = write!(
            s,
            "<text x=\"14\" y=\"{y}\" dy=\"0.35em\" font-family=\"sans-serif\" \
             font-size=\"{size}\" fill=\"#444\">{}</text>",
            escape(note)
        );
    }
    s.push_str("</g>");
    s
}

/// White diagonal stripes over the pixel rectangle (x0, y0)–(x1, y1): a bar of a variant other
/// than 0, told apart from the solid bar of the same colour.
pub(crate) fn hatch((x0, y0): (i32, i32), (x1, y1): (i32, i32)) -> String {
    let (l, r) = (x0.min(x1), x0.max(x1));
    let (t, b) = (y0.min(y1), y0.max(y1));
    let h = b - t;
    if r - l < 2 || h < 2 {
        return String::new();
    }
    let mut d = String::new();
    // 45° lines from the bottom edge up to the top edge, clipped at the sides.
    let mut x = l - h;
    while x < r {
        let (ax, ay) = if x < l { (l, b - (l - x)) } else { (x, b) };
        let (bx, by) = if x + h > r {
            (r, b - (r - x))
        } else {
            (x + h, t)
        };
        if bx > ax {
            let _ = write!(d, "M{ax} {ay}L{bx} {by}");
        }
        x += 6;
    }
    format!("<path class=\"hatch\" d=\"{d}\" stroke=\"#fff\" stroke-opacity=\"0.75\" stroke-width=\"2\"/>")
}

/// Estimated width in pixels of `chars` characters of sans-serif text at `px` pixels (wide
/// fonts such as DejaVu Sans average about 0.6 em).
pub(crate) fn text_width(chars: usize, px: f64) -> f64 {
    chars as f64 * 0.6 * px
}

/// Plotters' SVG backend writes a font of size `s` as `font-size = s / 1.24`.
pub(crate) const PLOTTERS_SCALE: f64 = 1.24;

/// The largest plotters font size from `max` down to `min` at which `text` fits `width`
/// pixels (`min` when none does).
pub(crate) fn fit_font(text: &str, width: u32, max: u32, min: u32) -> u32 {
    fit(text, width, max, min, PLOTTERS_SCALE)
}

/// [`fit_font`] for raw SVG text, whose font size is in pixels.
fn fit(text: &str, width: u32, max: u32, min: u32, scale: f64) -> u32 {
    let n = text.chars().count();
    (min..=max)
        .rev()
        .find(|s| text_width(n, f64::from(*s) / scale) <= f64::from(width))
        .unwrap_or(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_by_variant() {
        assert!(!polyline(&[(0, 0), (5, 5)], "#000", 0).contains("dasharray"));
        assert!(polyline(&[(0, 0), (5, 5)], "#000", 1).contains("stroke-dasharray=\"7 4\""));
        assert_ne!(dash(1), dash(2));
    }

    #[test]
    fn hatch_stays_inside_its_bar() {
        let p = hatch((10, 100), (70, 80));
        assert!(p.starts_with("<path"));
        let nums: Vec<i32> = p
            .split('"')
            .nth(3)
            .expect("d")
            .split(['M', 'L', ' '])
            .filter_map(|n| n.parse().ok())
            .collect();
        for xy in nums.chunks(2) {
            assert!(
                (10..=70).contains(&xy[0]) && (80..=100).contains(&xy[1]),
                "{xy:?}"
            );
        }
        assert!(hatch((0, 0), (1, 1)).is_empty());
    }

    #[test]
    fn fonts_shrink_to_fit() {
        assert_eq!(fit_font("short", 600, 20, 12), 20);
        let long = "x".repeat(60);
        let s = fit_font(&long, 400, 20, 10);
        assert!(
            s < 20 && text_width(60, f64::from(s) / PLOTTERS_SCALE) <= 400.0,
            "{s}"
        );
    }
}
