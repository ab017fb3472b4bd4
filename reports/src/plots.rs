//! SVG charts for report.html, drawn with `plotters`' SVG backend.
//!
//! Every chart is a standalone `<svg>` string with a `<title>` (for screen readers and as a
//! hover tooltip without JavaScript), text as real `<text>` (scales, copies), and units on
//! every axis. Colours are fixed per transport id ([`transport_color`]) so one transport looks
//! the same in every chart of a report.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use crate::format::{bytes, si, tick_us, trim_num};

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("chart {chart:?}: {msg}")]
pub struct PlotError {
    /// Chart title.
    pub chart: String,
    /// What plotters said.
    pub msg: String,
}

/// The fixed colour of a transport id. Known ids have hand-picked colours (tcp, the floor, is
/// grey); unknown ids get a stable colour from a hash of the id.
pub fn transport_color(id: &str) -> RGBColor {
    match id {
        "tcp" => RGBColor(0x55, 0x55, 0x55),
        "websocket" => RGBColor(0x1f, 0x77, 0xb4),
        "sse" => RGBColor(0xff, 0x7f, 0x0e),
        "long-poll" => RGBColor(0x2c, 0xa0, 0x2c),
        "poll" => RGBColor(0xa0, 0xa0, 0x10),
        "webtransport" => RGBColor(0x94, 0x67, 0xbd),
        "webtransport-datagram" => RGBColor(0xe3, 0x77, 0xc2),
        "webrtc" => RGBColor(0xd6, 0x27, 0x28),
        "webrtc-unreliable" => RGBColor(0x8c, 0x56, 0x4b),
        other => {
            const EXTRA: [RGBColor; 6] = [
                RGBColor(0x17, 0xbe, 0xcf),
                RGBColor(0x39, 0x3b, 0x79),
                RGBColor(0x63, 0x79, 0x39),
                RGBColor(0x8c, 0x6d, 0x31),
                RGBColor(0x84, 0x3c, 0x39),
                RGBColor(0x7b, 0x41, 0x73),
            ];
            // FNV-1a: stable across runs and platforms.
            let h = other.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            EXTRA[(h % EXTRA.len() as u64) as usize]
        }
    }
}

/// CSS hex form of a colour (`#1f77b4`).
pub fn css_color(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Percentile label for a point on the 1/(1−p) axis: 1 → `0%`, 10 → `90%`, 1000 → `99.9%`.
pub fn percentile_label(x: f64) -> String {
    if x <= 1.0 {
        return "0%".into();
    }
    let p = (1.0 - 1.0 / x) * 100.0;
    let mut digits = 0;
    while digits < 6 && ((p * 10f64.powi(digits)).round() - p * 10f64.powi(digits)).abs() > 1e-6 {
        digits += 1;
    }
    format!("{p:.*}%", digits as usize)
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// Line colour.
    pub color: RGBColor,
    /// Points (x, y), in chart units.
    pub points: Vec<(f64, f64)>,
}

const FONT: &str = "sans-serif";
const WIDTH: u32 = 600;

fn err(chart: &str) -> impl Fn(String) -> PlotError + '_ {
    move |msg| PlotError {
        chart: chart.to_string(),
        msg,
    }
}

/// Adds `role="img"`, an `aria-label` and a `<title>` to plotters' SVG root.
fn finish(svg: String, title: &str) -> String {
    let esc = crate::format::escape(title);
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

/// Largest value an axis extends to; anything beyond is drawn at the edge (no measurement
/// of wirebench comes near it, and plotters' tick search needs finite, sane ranges).
const PLOT_MAX: f64 = 1e30;

fn positive_range(vals: impl Iterator<Item = f64>, floor: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        let v = v.clamp(floor, PLOT_MAX);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo <= hi).then_some((lo, hi))
}

/// Log-axis bounds around [lo, hi] that start and end on a 1-2-5 step.
fn log_bounds(lo: f64, hi: f64) -> (f64, f64) {
    let down = |v: f64| {
        let e = 10f64.powf(v.log10().floor());
        [5.0, 2.0, 1.0]
            .iter()
            .map(|m| m * e)
            .find(|c| *c <= v)
            .unwrap_or(e)
    };
    let up = |v: f64| {
        let e = 10f64.powf(v.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * e)
            .find(|c| *c >= v)
            .unwrap_or(10.0 * e)
    };
    let (a, b) = (down(lo * 0.95), up(hi * 1.05));
    if b > a {
        (a, b)
    } else {
        (a, a * 10.0)
    }
}

/// Powers of ten from `lo` to `hi`.
fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut x = 10f64.powf(lo.log10().ceil());
    while x <= hi * 1.000_001 && v.len() < 40 {
        v.push(x);
        x *= 10.0;
    }
    v
}

/// Log-axis ticks in [lo, hi]: 1-2-5 steps when they give at most 7 ticks, otherwise powers
/// of ten (thinned to every other decade beyond 7).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let d = decades(lo / 10.0, hi * 10.0);
    let in_range = |v: &f64| *v >= lo * 0.999_999 && *v <= hi * 1.000_001;
    let fine: Vec<f64> = d
        .iter()
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * e))
        .filter(in_range)
        .collect();
    if fine.len() <= 7 {
        return fine;
    }
    let mut coarse: Vec<f64> = d.into_iter().filter(in_range).collect();
    while coarse.len() > 7 {
        coarse = coarse.into_iter().step_by(2).collect();
    }
    coarse
}

fn series_style(c: RGBColor) -> ShapeStyle {
    ShapeStyle {
        color: c.to_rgba(),
        filled: false,
        stroke_width: 2,
    }
}

/// Latency percentile spectrum, as HdrHistogram plots it: x = 1/(1−p) on a log axis labelled in
/// percentiles, y = latency (µs, log axis). `lines` hold points (1/(1−p), µs).
pub fn spectrum(title: &str, lines: &[Line]) -> Result<String, PlotError> {
    let e = err(title);
    let (x_max, (y_lo, y_hi)) = match (
        positive_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)), 1.0),
        positive_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)), 1.0),
    ) {
        (Some((_, xh)), Some(y)) => (xh, y),
        _ => return Err(e("no points".into())),
    };
    let x_max = 10f64.powf(x_max.max(10.0).log10().ceil());
    let (y0, y1) = log_bounds(y_lo, y_hi);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(10)
            .margin_right(34)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(
                (1.0..x_max)
                    .log_scale()
                    .with_key_points(decades(1.0, x_max)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("percentile (axis: 1/(1−p), log)")
            .y_desc("latency (log)")
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|y| tick_us(*y))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for l in lines {
            let c = l.color;
            let pts = l
                .points
                .iter()
                .map(|&(x, y)| (x.max(1.0), y.max(y0)))
                .collect::<Vec<_>>();
            chart
                .draw_series(LineSeries::new(pts, series_style(c)))
                .map_err(|x| e(x.to_string()))?
                .label(l.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], series_style(c)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(finish(svg, title))
}

/// Latency CDF: x = latency (µs, log axis), y = share of samples at or below it (%).
/// `lines` hold points (µs, percent).
pub fn cdf(title: &str, lines: &[Line]) -> Result<String, PlotError> {
    let e = err(title);
    let Some((x_lo, x_hi)) =
        positive_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)), 1.0)
    else {
        return Err(e("no points".into()));
    };
    let (x0, x1) = log_bounds(x_lo, x_hi);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(10)
            .margin_right(34)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                0.0..100.0,
            )
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("latency (log)")
            .y_desc("samples ≤ latency (%)")
            .x_label_formatter(&|x| tick_us(*x))
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for l in lines {
            let c = l.color;
            let pts = l
                .points
                .iter()
                .map(|&(x, y)| (x.max(x0), y.clamp(0.0, 100.0)))
                .collect::<Vec<_>>();
            chart
                .draw_series(LineSeries::new(pts, series_style(c)))
                .map_err(|x| e(x.to_string()))?
                .label(l.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], series_style(c)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(finish(svg, title))
}

/// One value of a bar: the median over repeats and the repeats' range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarValue {
    /// Median over repeats.
    pub median: f64,
    /// Smallest repeat.
    pub min: f64,
    /// Largest repeat.
    pub max: f64,
}

impl From<crate::figures::Spread> for BarValue {
    fn from(s: crate::figures::Spread) -> Self {
        Self {
            median: s.median,
            min: s.min,
            max: s.max,
        }
    }
}

/// One row of a horizontal bar chart (one transport × profile).
#[derive(Debug, Clone)]
pub struct BarRow {
    /// Row label (left of the bar).
    pub label: String,
    /// Bar colour (the transport's).
    pub color: RGBColor,
    /// Main bar (solid); `None` draws no bar and prints `note` (or `–`).
    pub value: Option<BarValue>,
    /// Optional second, longer bar drawn pale behind the main one (p99 behind p50).
    pub back: Option<BarValue>,
    /// Text instead of a bar when there is no value (e.g. `failed`).
    pub note: Option<String>,
    /// A reference value drawn as a black tick across the row (e.g. the predicted count).
    pub marker: Option<f64>,
    /// Text after the value (`4.1 % lost` beside a lossy transport's latency).
    pub suffix: Option<String>,
}

/// Horizontal bar chart specification.
#[derive(Clone)]
pub struct Bars<'a> {
    /// Title (caption).
    pub title: &'a str,
    /// X axis description, with the unit.
    pub x_desc: &'a str,
    /// Log x axis (for latencies spanning orders of magnitude).
    pub log: bool,
    /// Formats a value for ticks and value labels.
    pub fmt: &'a dyn Fn(f64) -> String,
    /// Rows, drawn top to bottom.
    pub rows: &'a [BarRow],
}

impl std::fmt::Debug for Bars<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bars")
            .field("title", &self.title)
            .field("x_desc", &self.x_desc)
            .field("log", &self.log)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// Height of a bar chart with `n` rows.
pub fn bars_height(n: usize) -> u32 {
    (90 + 26 * n.max(1)) as u32
}

/// Horizontal bars per transport × profile: a solid bar to the median, an optional pale bar
/// behind it (`back`), and whiskers from the smallest to the largest repeat.
pub fn bars(spec: &Bars<'_>) -> Result<String, PlotError> {
    let e = err(spec.title);
    let n = spec.rows.len();
    if n == 0 {
        return Err(e("no rows".into()));
    }
    let vals = spec
        .rows
        .iter()
        .flat_map(|r| {
            r.value
                .iter()
                .chain(r.back.iter())
                .flat_map(|v| [v.min, v.median, v.max])
                .chain(r.marker)
        })
        .filter(|v| v.is_finite())
        .map(|v| v.min(PLOT_MAX));
    let label_w = spec
        .rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 30) as u32
        * 8
        + 16;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, bars_height(n))).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (_, right) = root.split_horizontally(label_w);
        let y_range = 0.0..n as f64;
        // Room on the right for the value labels.
        let x_top;
        if spec.log {
            let (lo, hi) = positive_range(vals, 1e-9).unwrap_or((1.0, 10.0));
            let (a, b) = log_bounds(lo, hi);
            x_top = b * 6.0;
            let mut chart = ChartBuilder::on(&right)
                .caption(spec.title, (FONT, 20))
                .margin(10)
                .x_label_area_size(48)
                .build_cartesian_2d(
                    (a..x_top).log_scale().with_key_points(log_ticks(a, x_top)),
                    y_range,
                )
                .map_err(|x| e(x.to_string()))?;
            mesh_and_bars(&mut chart, spec, a, x_top, &root, label_w).map_err(&e)?;
        } else {
            let hi = vals.fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
            x_top = hi * 1.3;
            let lo = 0.0;
            let mut chart = ChartBuilder::on(&right)
                .caption(spec.title, (FONT, 20))
                .margin(10)
                .x_label_area_size(48)
                .build_cartesian_2d(lo..x_top, y_range)
                .map_err(|x| e(x.to_string()))?;
            mesh_and_bars(&mut chart, spec, lo, x_top, &root, label_w).map_err(&e)?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(finish(svg, spec.title))
}

/// Draws the bar chart into its plot area: mesh, then each row's bars, value text and label.
fn mesh_and_bars<X>(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
    >,
    spec: &Bars<'_>,
    base: f64,
    x_top: f64,
    canvas: &DrawingArea<SVGBackend<'_>, Shift>,
    label_w: u32,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let n = spec.rows.len();
    let fmt = spec.fmt;
    bars_mesh(chart, spec)?;
    let clamp = |v: f64| v.clamp(base, x_top);
    let label_style = TextStyle::from((FONT, 15).into_font()).color(&BLACK);
    let value_color = BLACK.mix(0.8);
    let value_style = TextStyle::from((FONT, 14).into_font())
        .color(&value_color)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, row) in spec.rows.iter().enumerate() {
        // Row 0 at the top.
        let y_mid = (n - 1 - i) as f64 + 0.5;
        let end = row_bars(chart, row, y_mid, base, clamp)?;
        let text = match (row.value, row.back) {
            (Some(v), Some(b)) => format!("{} / {}", fmt(v.median), fmt(b.median)),
            (Some(v), None) => fmt(v.median),
            (None, _) => row.note.clone().unwrap_or_else(|| "–".into()),
        };
        let text = match &row.suffix {
            Some(x) => format!("{text} · {x}"),
            None => text,
        };
        // Text goes on the whole canvas, in absolute pixels.
        let (px, py) = chart.backend_coord(&(end, y_mid));
        canvas
            .draw(&Text::new(text, (px + 6, py), value_style.clone()))
            .map_err(|x| x.to_string())?;
        // Row label, right-aligned against the plot.
        canvas
            .draw(&Text::new(
                row.label.clone(),
                (label_w as i32 - 6, py),
                label_style.pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(|x| x.to_string())?;
    }
    Ok(())
}

/// The bar chart's mesh: x labels with the spec's formatter, no y labels, light grid.
fn bars_mesh<X>(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
    >,
    spec: &Bars<'_>,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let fmt = spec.fmt;
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .x_label_formatter(&|x| fmt(*x))
        .x_labels(6)
        .y_labels(0)
        .disable_y_mesh()
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(|x| x.to_string())
}

/// One row's bars (back, value), whiskers and predicted marker; returns where its value
/// text starts (the right end of what was drawn).
fn row_bars<X>(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
    >,
    row: &BarRow,
    y_mid: f64,
    base: f64,
    clamp: impl Fn(f64) -> f64 + Copy,
) -> Result<f64, String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let (y_top, y_bot) = (y_mid + 0.34, y_mid - 0.34);
    let mut end = base;
    if let Some(b) = row.back {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(base, y_bot), (clamp(b.median), y_top)],
                row.color.mix(0.3).filled(),
            )))
            .map_err(|x| x.to_string())?;
        whisker(chart, b, y_mid, 0.16, &BLACK.mix(0.45), clamp)?;
        end = end.max(clamp(b.max.max(b.median)));
    }
    if let Some(v) = row.value {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(base, y_bot), (clamp(v.median), y_top)],
                row.color.filled(),
            )))
            .map_err(|x| x.to_string())?;
        whisker(chart, v, y_mid, 0.22, &BLACK.to_rgba(), clamp)?;
        end = end.max(clamp(v.max.max(v.median)));
    }
    if let Some(mk) = row.marker.filter(|v| v.is_finite()) {
        let x = clamp(mk);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y_mid - 0.46), (x, y_mid + 0.46)],
                ShapeStyle {
                    color: BLACK.to_rgba(),
                    filled: false,
                    stroke_width: 3,
                },
            )))
            .map_err(|x| x.to_string())?;
        end = end.max(x);
    }
    Ok(end)
}

fn whisker<X>(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
    >,
    v: BarValue,
    y: f64,
    half: f64,
    color: &RGBAColor,
    clamp: impl Fn(f64) -> f64,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    if v.max.partial_cmp(&v.min) != Some(std::cmp::Ordering::Greater) {
        return Ok(());
    }
    let style = ShapeStyle {
        color: *color,
        filled: false,
        stroke_width: 1,
    };
    let (a, b) = (clamp(v.min), clamp(v.max));
    chart
        .draw_series([
            PathElement::new(vec![(a, y), (b, y)], style),
            PathElement::new(vec![(a, y - half), (a, y + half)], style),
            PathElement::new(vec![(b, y - half), (b, y + half)], style),
        ])
        .map_err(|x| x.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(1e6), "99.9999%");
    }

    #[test]
    fn log_ticks_stay_few_and_in_range() {
        assert_eq!(
            log_ticks(50.0, 1000.0),
            vec![50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        let wide = log_ticks(1.0, 1e9);
        assert!(wide.len() <= 7 && wide.len() >= 4, "{wide:?}");
        assert!(wide.iter().all(|v| (1.0..=1e9).contains(v)));
        assert!(log_ticks(0.0, 10.0).is_empty());
        assert!(log_ticks(f64::NAN, 10.0).is_empty());
    }

    #[test]
    fn ticks_carry_units() {
        assert_eq!(tick_us(500.0), "500µs");
        assert_eq!(tick_us(2000.0), "2ms");
        assert_eq!(tick_us(1_500_000.0), "1.5s");
        assert_eq!(bytes(38_000.0), "37.1 KiB");
        assert_eq!(si(2_500_000.0), "2.5M");
    }

    #[test]
    fn colours_are_fixed_and_distinct() {
        let ids = crate::TRANSPORT_IDS;
        let cs: Vec<String> = ids.iter().map(|i| css_color(transport_color(i))).collect();
        for (i, c) in cs.iter().enumerate() {
            assert!(cs[i + 1..].iter().all(|o| o != c), "{} repeats", ids[i]);
        }
        assert_eq!(transport_color("quic-x"), transport_color("quic-x"));
    }

    #[test]
    fn charts_are_svg_with_titles() {
        let line = Line {
            name: "websocket".into(),
            color: transport_color("websocket"),
            points: vec![(1.0, 100.0), (10.0, 150.0), (100.0, 900.0)],
        };
        let s = spectrum("echo <loopback>", std::slice::from_ref(&line)).expect("chart");
        assert!(s.starts_with("<svg role=\"img\""), "{}", &s[..80]);
        assert!(s.contains("<title>echo &lt;loopback&gt;</title>"));
        assert!(s.contains("99%"));
        let rows = [
            BarRow {
                label: "websocket · lan".into(),
                color: transport_color("websocket"),
                value: Some(BarValue {
                    median: 120.0,
                    min: 100.0,
                    max: 130.0,
                }),
                back: Some(BarValue {
                    median: 800.0,
                    min: 700.0,
                    max: 990.0,
                }),
                note: None,
                marker: None,
                suffix: None,
            },
            BarRow {
                label: "sse · lan".into(),
                color: transport_color("sse"),
                value: None,
                back: None,
                note: Some("failed".into()),
                marker: Some(300.0),
                suffix: Some("2.0 % lost".into()),
            },
        ];
        let b = bars(&Bars {
            title: "p50 / p99",
            x_desc: "latency (log)",
            log: true,
            fmt: &tick_us,
            rows: &rows,
        })
        .expect("bars");
        assert!(b.contains("sse · lan") && b.contains("failed · 2.0 % lost"));
        let at = b.find("120µs / 800µs").expect("value text");
        assert!(
            !b[at..].starts_with("120µs / 800µs ·"),
            "no suffix unless given"
        );
    }
}
