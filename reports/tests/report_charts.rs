//! Charts a reader can trust at a glance (issue 19 item 2), checked on report.html's text: two
//! implementations of one transport told apart, markers for few samples, one setup chart in
//! the connect section, axis labels in the unit of their ticks, the repeat count in the form
//! of its column.

mod report_fixture;

use report_fixture::{ok_cell, results, Rng};
use wirebench_reports::plots::{css_color, transport_color};
use wirebench_reports::{html, Cell};

/// The `<figure>` of chart `id` in `page`.
fn figure<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("data-chart=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = page[at..].find("</figure>").expect("figure end");
    &page[at..at + end]
}

/// The section of `page` with anchor `id`.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = page[at..].find("</section>").expect("section end");
    &page[at..at + end]
}

/// The `<polyline …/>` elements of `svg` stroked in `css`.
fn polylines<'a>(svg: &'a str, css: &str) -> Vec<&'a str> {
    svg.split("<polyline")
        .skip(1)
        .map(|p| &p[..p.find("/>").unwrap_or(p.len())])
        .filter(|p| p.contains(&format!("stroke=\"{css}\"")))
        .collect()
}

fn webrtc_pair(samples: u64) -> Vec<Cell> {
    let mut rng = Rng::new(3);
    let mut cells = Vec::new();
    for imp in ["str0m", "webrtc-rs"] {
        let mut c = ok_cell(&mut rng, "echo", "echo", "webrtc", "loopback", 1, samples);
        c.implementation = Some(imp.into());
        cells.push(c);
    }
    cells.push(ok_cell(
        &mut rng,
        "echo",
        "echo",
        "websocket",
        "loopback",
        1,
        samples,
    ));
    cells
}

#[test]
fn webrtc_rs_is_dashed_and_hatched_str0m_solid() {
    let page = html::render(&results(webrtc_pair(2_000))).expect("renders");
    let css = css_color(transport_color("webrtc"));
    for id in ["s-echo-echo-spectrum-loopback", "s-echo-echo-cdf-loopback"] {
        let fig = figure(&page, id);
        let lines = polylines(fig, &css);
        // Each implementation: its series and its legend swatch.
        assert_eq!(lines.len(), 4, "{id}: {lines:?}");
        let dashed = lines
            .iter()
            .filter(|l| l.contains("stroke-dasharray"))
            .count();
        assert_eq!(dashed, 2, "{id}: webrtc-rs dashed, str0m solid");
        let ws = polylines(fig, &css_color(transport_color("websocket")));
        assert!(ws.iter().all(|l| !l.contains("stroke-dasharray")), "{id}");
    }
    // Bars: the webrtc-rs row hatched, only it.
    let bars = figure(&page, "s-echo-echo-p50p99");
    assert_eq!(
        bars.matches("class=\"hatch\"").count(),
        2,
        "p50 and p99 bars"
    );
    // The section legend and the table: a hatched swatch and a dashed line sample for
    // webrtc-rs only.
    let s = section(&page, "s-echo-echo");
    let legend = &s[s.find("<div class=\"legend\">").expect("legend")..];
    let legend = &legend[..legend.find("</div>").expect("legend end")];
    let entry = |name: &str| {
        let end = legend.find(&format!("{name}</span>")).expect(name);
        let start = legend[..end].rfind("<span>").expect("entry start");
        legend[start..end].to_string()
    };
    let (a, b) = (entry("webrtc (str0m)"), entry("webrtc (webrtc-rs)"));
    assert!(!a.contains("hatched") && a.contains("solid"), "{a}");
    assert!(b.contains("hatched") && b.contains("dashed"), "{b}");
    assert!(page.contains("hatched\" style=\"background:repeating-linear-gradient"));
}

#[test]
fn a_spectrum_from_50_samples_is_markers_not_a_line() {
    let page = html::render(&results(webrtc_pair(50))).expect("renders");
    let fig = figure(&page, "s-echo-echo-spectrum-loopback");
    let ws = css_color(transport_color("websocket"));
    let legend_at = fig.find("<g class=\"legend\"").expect("legend");
    assert!(
        polylines(&fig[..legend_at], &ws).is_empty(),
        "no line drawn from 50 samples"
    );
    // 50 samples of each of 3 keys.
    assert_eq!(fig[..legend_at].matches("<circle").count(), 150);
    assert!(fig.contains("Markers: fewer than 100 samples"));
    assert!(fig.contains("websocket · 50 samples"));
    // The CDF stays a line (a step per sample is what it is).
    assert!(!polylines(figure(&page, "s-echo-echo-cdf-loopback"), &ws).is_empty());
}

#[test]
fn connect_section_has_one_setup_chart() {
    let mut rng = Rng::new(5);
    let mut cells = Vec::new();
    for t in ["tcp", "websocket"] {
        for profile in ["loopback", "lte"] {
            let mut c = ok_cell(&mut rng, "connect", "connect", t, profile, 1, 200);
            c.params.insert("latency".into(), "setup".into());
            cells.push(c);
        }
    }
    let page = html::render(&results(cells)).expect("renders");
    let s = section(&page, "s-connect-connect");
    let charts: Vec<&str> = s
        .split("data-chart=\"")
        .skip(1)
        .filter_map(|c| c.split('"').next())
        .collect();
    let setup: Vec<&&str> = charts
        .iter()
        .filter(|c| c.contains("spectrum") || c.contains("cdf") || c.contains("p50p99"))
        .chain(charts.iter().filter(|c| c.ends_with("setup_ms")))
        .collect();
    assert_eq!(
        setup,
        vec![&"s-connect-connect-setup_ms"],
        "charts: {charts:?}"
    );
    assert!(s.contains("latency is the connection setup time"));
}

#[test]
fn repeat_count_says_what_the_column_says() {
    let page = html::render(&results(webrtc_pair(200))).expect("renders");
    let s = section(&page, "s-echo-echo");
    assert!(
        !s.contains("3 ok repeats"),
        "the old sum read as repeats per row"
    );
    assert!(s.contains("<p class=\"meta\">repeats ok: 1/1 in each of 3 rows</p>"));
    assert!(s.contains("<th>repeats ok</th>"));
    assert_eq!(s.matches("<td class=\"num\">1/1</td>").count(), 3);
}

#[test]
fn axes_are_labelled_in_the_unit_of_their_ticks() {
    let page = html::render(&results(webrtc_pair(200))).expect("renders");
    let rss = figure(&page, "s-echo-echo-server_rss_per_conn_bytes");
    // About 8 MB per connection: MiB on the axis, ticks plain numbers.
    assert!(
        rss.contains("server peak RSS per connection (MiB)"),
        "{rss}"
    );
    assert!(!rss.contains("(bytes)"));
    let ticks = axis_ticks(rss);
    assert!(
        !ticks.is_empty() && ticks.iter().all(|t| t.parse::<f64>().is_ok()),
        "{ticks:?}"
    );
    // Round steps of the unit (0, 2, 4 MiB), not round steps of bytes shown in MiB (4.77).
    assert!(
        ticks
            .iter()
            .all(|t| t.split('.').nth(1).is_none_or(|d| d.len() <= 1)),
        "{ticks:?}"
    );
    let goodput = figure(&page, "s-echo-echo-goodput_bps");
    assert!(goodput.contains("goodput (Mbit/s)"), "{goodput}");
    assert!(axis_ticks(goodput).iter().all(|t| t.parse::<f64>().is_ok()));
}

/// The x tick labels of a bar chart: the texts centred under the plot (plotters draws them
/// with `text-anchor="middle"` and `dy="0.76em"`).
fn axis_ticks(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter(|t| t.contains("dy=\"0.76em\"") && t.contains("text-anchor=\"middle\""))
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}
