//! Horizontal bar charts: one row per transport × profile, the median as a bar, the repeats'
//! range as whiskers; a transport's second implementation hatched.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{log_bounds, log_ticks, positive_range, PLOT_MAX};
use super::common::{err, PlotError, CAPTION, FONT, WIDTH};
use super::svg;

/// A bar chart's drawing context: any x axis, rows on a float y axis.
type BarChart<'c, 'b, X> =
    ChartContext<'c, SVGBackend<'b>, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>;

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
    /// Which of its transport's implementations the row is: 0 (the first) solid, 1 and beyond
    /// hatched with white stripes.
    pub variant: usize,
}

/// Horizontal bar chart specification.
#[derive(Clone)]
pub struct Bars<'a> {
    /// Title (caption).
    pub title: &'a str,
    /// X axis description, with the unit of the ticks.
    pub x_desc: &'a str,
    /// Log x axis (for latencies spanning orders of magnitude).
    pub log: bool,
    /// Formats a value for the value labels (and the ticks when `tick_unit` is `None`).
    pub fmt: &'a dyn Fn(f64) -> String,
    /// Ticks as plain numbers in units of this size (1024² for an axis in MiB, named by
    /// `x_desc`), at 1-2-5 steps of it; `None`: ticks formatted by `fmt` (linear axes only).
    pub tick_unit: Option<f64>,
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

/// Half a bar's height, in rows.
const BAR_HALF: f64 = 0.34;

/// Height of the caption strip across the top of a bar chart.
const CAPTION_H: u32 = 34;

/// Where a bar chart's row labels go: the label column's width and their font size (both
/// fitted to the longest label).
#[derive(Clone, Copy)]
struct Labels {
    width: u32,
    font: u32,
}

impl Labels {
    fn of(rows: &[BarRow]) -> Self {
        let longest = rows.iter().max_by_key(|r| r.label.chars().count());
        let label = longest.map_or("", |r| r.label.as_str());
        let px = 15.0 / svg::PLOTTERS_SCALE;
        let want = svg::text_width(label.chars().count(), px).ceil() as u32 + 16;
        let width = want.clamp(48, WIDTH * 9 / 20);
        Self {
            width,
            font: svg::fit_font(label, width - 12, 15, 11),
        }
    }
}

/// Horizontal bars per transport × profile: a solid bar to the median, an optional pale bar
/// behind it (`back`), and whiskers from the smallest to the largest repeat. The title spans
/// the whole width (its font fitted to it), row labels are fitted to their column.
pub fn bars(spec: &Bars<'_>) -> Result<String, PlotError> {
    match spec
        .tick_unit
        .filter(|u| *u > 0.0 && *u != 1.0 && !spec.log)
    {
        Some(u) => {
            let rows: Vec<BarRow> = spec.rows.iter().map(|r| in_tick_unit(r, u)).collect();
            let fmt = |v: f64| (spec.fmt)(v * u);
            draw_bars(&Bars {
                fmt: &fmt,
                rows: &rows,
                ..spec.clone()
            })
        }
        None => draw_bars(spec),
    }
}

/// A row with its values in units of `u` (the axis is drawn in them, so plotters picks round
/// ticks of the unit: 0, 5, 10 MiB rather than 4.77, 9.54).
fn in_tick_unit(r: &BarRow, u: f64) -> BarRow {
    let scale = |v: BarValue| BarValue {
        median: v.median / u,
        min: v.min / u,
        max: v.max / u,
    };
    BarRow {
        value: r.value.map(scale),
        back: r.back.map(scale),
        marker: r.marker.map(|m| m / u),
        ..r.clone()
    }
}

/// [`bars`] once the rows are in the axis' unit.
fn draw_bars(spec: &Bars<'_>) -> Result<String, PlotError> {
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
    let labels = Labels::of(spec.rows);
    let mut out = String::new();
    let mut hatches = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, bars_height(n))).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (top, body) = root.split_vertically(CAPTION_H);
        let size = svg::fit_font(spec.title, WIDTH - 16, CAPTION, 11);
        top.draw(&Text::new(
            spec.title,
            (WIDTH as i32 / 2, CAPTION_H as i32 / 2 + 2),
            TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(|x| e(x.to_string()))?;
        let (_, right) = body.split_horizontally(labels.width);
        let y_range = 0.0..n as f64;
        // Room on the right for the value labels.
        if spec.log {
            let (lo, hi) = positive_range(vals, 1e-9).unwrap_or((1.0, 10.0));
            let (a, b) = log_bounds(lo, hi);
            let x_top = b * 6.0;
            let mut chart = bars_builder(&right)
                .build_cartesian_2d(
                    (a..x_top).log_scale().with_key_points(log_ticks(a, x_top)),
                    y_range,
                )
                .map_err(|x| e(x.to_string()))?;
            let c = Canvas {
                area: &root,
                labels,
                hatches: &mut hatches,
            };
            mesh_and_bars(&mut chart, spec, a, x_top, c).map_err(&e)?;
        } else {
            let hi = vals.fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
            let x_top = hi * 1.3;
            let mut chart = bars_builder(&right)
                .build_cartesian_2d(0.0..x_top, y_range)
                .map_err(|x| e(x.to_string()))?;
            let c = Canvas {
                area: &root,
                labels,
                hatches: &mut hatches,
            };
            mesh_and_bars(&mut chart, spec, 0.0, x_top, c).map_err(&e)?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    svg::append(&mut out, &hatches);
    Ok(svg::finish(out, spec.title))
}

/// The bar chart's plot area: margins and the x label area (no caption: [`bars`] draws it
/// across the whole width).
fn bars_builder<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.margin(10)
        .margin_top(4)
        .margin_right(24)
        .x_label_area_size(48);
    b
}

/// What a bar chart draws outside its plot area: the whole canvas (value and row labels in
/// absolute pixels), the label column, and the hatching of variant rows (raw SVG).
struct Canvas<'c, 'b> {
    area: &'c DrawingArea<SVGBackend<'b>, Shift>,
    labels: Labels,
    hatches: &'c mut String,
}

/// Draws the bar chart into its plot area: mesh, then each row's bars, value text and label.
fn mesh_and_bars<X>(
    chart: &mut BarChart<'_, '_, X>,
    spec: &Bars<'_>,
    base: f64,
    x_top: f64,
    canvas: Canvas<'_, '_>,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let n = spec.rows.len();
    let fmt = spec.fmt;
    bars_mesh(chart, spec)?;
    let clamp = |v: f64| v.clamp(base, x_top);
    let label_style = TextStyle::from((FONT, canvas.labels.font).into_font()).color(&BLACK);
    let value_color = BLACK.mix(0.8);
    for (i, row) in spec.rows.iter().enumerate() {
        // Row 0 at the top.
        let y_mid = (n - 1 - i) as f64 + 0.5;
        let end = row_bars(chart, row, y_mid, base, clamp)?;
        if row.variant > 0 {
            for v in [row.back, row.value].into_iter().flatten() {
                let a = chart.backend_coord(&(base, y_mid - BAR_HALF));
                let b = chart.backend_coord(&(clamp(v.median), y_mid + BAR_HALF));
                canvas.hatches.push_str(&svg::hatch(a, b));
            }
        }
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
        // Inside the canvas even when the bar ends near its right edge: a smaller font.
        let room = (WIDTH as i32 - px - 10).max(0) as u32;
        let size = svg::fit_font(&text, room, 14, 10);
        canvas
            .area
            .draw(&Text::new(
                text,
                (px + 6, py),
                TextStyle::from((FONT, size).into_font())
                    .color(&value_color)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(|x| x.to_string())?;
        // Row label, right-aligned against the plot.
        canvas
            .area
            .draw(&Text::new(
                row.label.clone(),
                (canvas.labels.width as i32 - 6, py),
                label_style.pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(|x| x.to_string())?;
    }
    Ok(())
}

/// The bar chart's mesh: x labels with the spec's formatter, no y labels, light grid.
fn bars_mesh<X>(chart: &mut BarChart<'_, '_, X>, spec: &Bars<'_>) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    // With a tick unit the rows are already in it ([`in_tick_unit`]).
    let fmt = |x: f64| match spec.tick_unit {
        Some(_) => crate::format::trim_num(x),
        None => (spec.fmt)(x),
    };
    let (w, _) = chart.plotting_area().dim_in_pixel();
    let desc = svg::fit_font(spec.x_desc, w, 15, 10);
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .x_label_formatter(&|x| fmt(*x))
        .x_labels(6)
        .y_labels(0)
        .disable_y_mesh()
        .label_style((FONT, 15))
        .axis_desc_style((FONT, desc))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(|x| x.to_string())
}

/// One row's bars (back, value), whiskers and predicted marker; returns where its value
/// text starts (the right end of what was drawn).
fn row_bars<X>(
    chart: &mut BarChart<'_, '_, X>,
    row: &BarRow,
    y_mid: f64,
    base: f64,
    clamp: impl Fn(f64) -> f64 + Copy,
) -> Result<f64, String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let (y_top, y_bot) = (y_mid + BAR_HALF, y_mid - BAR_HALF);
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
    chart: &mut BarChart<'_, '_, X>,
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
