//! SVG charts for report.html, drawn with `plotters`' SVG backend.
//!
//! Every chart is a standalone `<svg>` string with a `<title>` (for screen readers and as a
//! hover tooltip without JavaScript), text as real `<text>` (scales, copies), and units on
//! every axis. Colours are fixed per transport id ([`transport_color`]) so one transport looks
//! the same in every chart of a report; a transport's second implementation (or client) keeps
//! the colour and is drawn dashed in line charts and hatched in bar charts ([`Line::variant`],
//! [`BarRow::variant`]). Legends sit below the plot, never over the data; titles and labels
//! get a font that fits; a spectrum from fewer than [`MIN_LINE_SAMPLES`] samples is drawn as
//! markers. Plotters draws axes and text; `plots/svg.rs` adds what its SVG backend cannot
//! (dash patterns, hatching).

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;

mod axis;
mod bars;
mod common;
mod svg;

use axis::{decades, log_bounds, positive_range};
use common::{err, CAPTION, FONT, WIDTH};
use svg::LegendEntry;

pub use crate::format::{bytes, si, tick_us, trim_num};
pub use axis::log_ticks;
pub use bars::{bars, bars_height, BarRow, BarValue, Bars};
pub use common::PlotError;

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
    /// Line colour (the transport's).
    pub color: RGBColor,
    /// Points (x, y), in chart units.
    pub points: Vec<(f64, f64)>,
    /// Which of its transport's implementations the series is: 0 (the first) solid, 1 dashed,
    /// 2 and beyond dotted; in the legend too.
    pub variant: usize,
    /// Draw the points as markers, no line: a series from fewer than [`MIN_LINE_SAMPLES`]
    /// samples, whose points are its samples (the chart says so below its legend).
    pub markers: bool,
}

/// Fewest samples a percentile spectrum is drawn as a line from; fewer are drawn as markers,
/// one per sample.
pub const MIN_LINE_SAMPLES: u64 = 100;

/// Height of a line chart's plot (its legend goes below).
const PLOT_H: u32 = 360;

/// A line chart's axis descriptions and tick formatters.
struct LineAxes<'a> {
    x_desc: &'a str,
    y_desc: &'a str,
    x_fmt: &'a dyn Fn(&f64) -> String,
    y_fmt: &'a dyn Fn(&f64) -> String,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws a line chart: `body` builds the chart on the plot area and returns its series as raw
/// SVG; the legend goes below the plot, outside the data, with the markers' note when any
/// series is drawn as markers.
fn line_chart(
    title: &str,
    lines: &[Line],
    body: impl FnOnce(&Area<'_>) -> Result<String, String>,
) -> Result<String, PlotError> {
    let e = err(title);
    let entries: Vec<LegendEntry<'_>> = lines
        .iter()
        .map(|l| LegendEntry {
            name: &l.name,
            css: css_color(l.color),
            variant: l.variant,
            markers: l.markers,
        })
        .collect();
    let note = if lines.iter().any(|l| l.markers) {
        format!("Markers: fewer than {MIN_LINE_SAMPLES} samples, each sample drawn (no line).")
    } else {
        String::new()
    };
    let legend_h = svg::legend_height(&entries, WIDTH, !note.is_empty());
    let mut out = String::new();
    let series;
    {
        let root =
            SVGBackend::with_string(&mut out, (WIDTH, PLOT_H + legend_h)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (plot, _) = root.split_vertically(PLOT_H);
        series = body(&plot).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    svg::append(&mut out, &series);
    svg::append(&mut out, &svg::legend(&entries, PLOT_H, WIDTH, &note));
    Ok(svg::finish(out, title))
}

/// The chart of a line chart's plot area: caption (its font fitted to the width), margins and
/// label areas.
fn line_builder<'a, 'b>(area: &'a Area<'b>, title: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, (FONT, svg::fit_font(title, WIDTH - 20, CAPTION, 11)))
        .margin(10)
        .margin_right(34)
        .x_label_area_size(48)
        .y_label_area_size(72);
    b
}

/// Draws the mesh and returns the series as raw SVG in pixel coordinates: lines (dashed by
/// variant) or markers; `clamp` keeps points inside the axes.
fn draw_lines<X, Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    lines: &[Line],
    axes: &LineAxes<'_>,
    clamp: impl Fn((f64, f64)) -> (f64, f64),
) -> Result<String, String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_label_formatter(axes.x_fmt)
        .y_label_formatter(axes.y_fmt)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(|x| x.to_string())?;
    let mut s = String::new();
    for l in lines {
        let px: Vec<(i32, i32)> = l
            .points
            .iter()
            .map(|&p| chart.backend_coord(&clamp(p)))
            .collect();
        let css = css_color(l.color);
        if l.markers {
            s.push_str(&svg::markers(&px, &css, l.variant));
        } else {
            s.push_str(&svg::polyline(&px, &css, l.variant));
        }
    }
    Ok(s)
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
    line_chart(title, lines, |area| {
        let mut chart = line_builder(area, title)
            .build_cartesian_2d(
                (1.0..x_max)
                    .log_scale()
                    .with_key_points(decades(1.0, x_max)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(|x| x.to_string())?;
        let axes = LineAxes {
            x_desc: "percentile (axis: 1/(1−p), log)",
            y_desc: "latency (log)",
            x_fmt: &|x| percentile_label(*x),
            y_fmt: &|y| tick_us(*y),
        };
        draw_lines(&mut chart, lines, &axes, |(x, y)| {
            (x.clamp(1.0, x_max), y.clamp(y0, y1))
        })
    })
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
    line_chart(title, lines, |area| {
        let mut chart = line_builder(area, title)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                0.0..100.0,
            )
            .map_err(|x| x.to_string())?;
        let axes = LineAxes {
            x_desc: "latency (log)",
            y_desc: "samples ≤ latency (%)",
            x_fmt: &|x| tick_us(*x),
            y_fmt: &|y| format!("{y:.0}%"),
        };
        draw_lines(&mut chart, lines, &axes, |(x, y)| {
            (x.clamp(x0, x1), y.clamp(0.0, 100.0))
        })
    })
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
            variant: 0,
            markers: false,
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
                variant: 0,
            },
            BarRow {
                label: "sse · lan".into(),
                color: transport_color("sse"),
                value: None,
                back: None,
                note: Some("failed".into()),
                marker: Some(300.0),
                suffix: Some("2.0 % lost".into()),
                variant: 1,
            },
        ];
        let b = bars(&Bars {
            title: "p50 / p99",
            x_desc: "latency (log)",
            log: true,
            fmt: &tick_us,
            tick_unit: None,
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

    fn line(name: &str, variant: usize, markers: bool, n: usize) -> Line {
        Line {
            name: name.into(),
            color: transport_color("webrtc"),
            points: (0..n)
                .map(|i| (1.0 + i as f64, 100.0 + 10.0 * i as f64))
                .collect(),
            variant,
            markers,
        }
    }

    /// The polylines of an SVG whose stroke is `css`.
    fn polylines<'a>(svg: &'a str, css: &str) -> Vec<&'a str> {
        svg.split("<polyline")
            .skip(1)
            .map(|p| &p[..p.find("/>").unwrap_or(p.len())])
            .filter(|p| p.contains(&format!("stroke=\"{css}\"")))
            .collect()
    }

    #[test]
    fn second_implementation_is_dashed_in_lines_and_legend() {
        let css = css_color(transport_color("webrtc"));
        for chart in [spectrum, cdf] {
            let s = chart(
                "t",
                &[
                    line("webrtc (str0m)", 0, false, 200),
                    line("webrtc (webrtc-rs)", 1, false, 200),
                ],
            )
            .expect("chart");
            let p = polylines(&s, &css);
            // Series and legend swatch of each: two solid, two dashed.
            assert_eq!(p.len(), 4, "{p:?}");
            assert_eq!(
                p.iter().filter(|l| l.contains("stroke-dasharray")).count(),
                2
            );
            let legend = &s[s.find("<g class=\"legend\"").expect("legend")..];
            let dashed = legend.find("stroke-dasharray").expect("dashed swatch");
            assert!(dashed > legend.find("webrtc (str0m)").expect("str0m entry"));
            assert!(dashed < legend.find("webrtc (webrtc-rs)").expect("webrtc-rs entry"));
        }
    }

    #[test]
    fn legend_sits_below_the_plot() {
        let s = spectrum("t", &[line("websocket", 0, false, 200)]).expect("chart");
        let g = &s[s.find("<g class=\"legend\"").expect("legend")..];
        let ys: Vec<f64> = g
            .split(" y=\"")
            .skip(1)
            .filter_map(|t| t.split('"').next()?.parse().ok())
            .collect();
        assert!(
            !ys.is_empty() && ys.iter().all(|y| *y > f64::from(PLOT_H)),
            "{ys:?}"
        );
        assert!(s.contains(&format!("height=\"{}\"", PLOT_H + 8 + 19)));
    }

    #[test]
    fn few_samples_are_markers_with_a_note() {
        let s = spectrum("t", &[line("webrtc (str0m)", 0, true, 50)]).expect("chart");
        let css = css_color(transport_color("webrtc"));
        assert!(polylines(&s, &css).is_empty(), "no line from 50 samples");
        // 50 markers, plus one in the legend.
        assert_eq!(s.matches("<circle").count(), 51);
        assert!(s.contains("Markers: fewer than 100 samples"));
    }

    #[test]
    fn long_titles_and_labels_shrink_to_fit() {
        let title = "faq-collab · collab-10 · broadband: p50 (solid) and p99 (pale) latency";
        let rows = [BarRow {
            label: "webrtc-unreliable (webrtc-rs) · broadband".into(),
            color: transport_color("webrtc-unreliable"),
            value: Some(BarValue {
                median: 5.0,
                min: 4.0,
                max: 6.0,
            }),
            back: None,
            note: None,
            marker: None,
            suffix: None,
            variant: 1,
        }];
        let b = bars(&Bars {
            title,
            x_desc: "latency (log)",
            log: false,
            fmt: &tick_us,
            tick_unit: None,
            rows: &rows,
        })
        .expect("bars");
        // The caption is the last occurrence (after the aria-label and the <title>).
        let at = b.rfind(title).expect("title");
        let size: f64 = b[..at]
            .rsplit("font-size=\"")
            .next()
            .and_then(|t| t.split('"').next()?.parse().ok())
            .expect("title font size");
        assert!(
            svg::text_width(title.chars().count(), size) <= f64::from(WIDTH),
            "title at {size}px overflows {WIDTH}px"
        );
        assert!(
            b.contains("class=\"hatch\""),
            "second implementation hatched"
        );
    }
}
