//! What can go wrong making report.html.

/// Errors producing report.html.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] crate::plots::PlotError),
    /// The report could not be written.
    #[error("{path}: {source}")]
    Io {
        /// File at fault.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
}
