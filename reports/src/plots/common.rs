//! What every chart shares: the error type, the font and the width.

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("chart {chart:?}: {msg}")]
pub struct PlotError {
    /// Chart title.
    pub chart: String,
    /// What plotters said.
    pub msg: String,
}

/// The charts' font family.
pub(crate) const FONT: &str = "sans-serif";
/// The charts' width in pixels (the page scales them down to their column).
pub(crate) const WIDTH: u32 = 600;
/// Largest caption font size; long titles get smaller ones ([`super::svg::fit_font`]).
pub(crate) const CAPTION: u32 = 20;

/// Turns a plotters message into a [`PlotError`] of the chart titled `chart`.
pub(crate) fn err(chart: &str) -> impl Fn(String) -> PlotError + '_ {
    move |msg| PlotError {
        chart: chart.to_string(),
        msg,
    }
}
