//! Errors of the browser lane.

/// Errors of the browser lane.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// No Chromium binary.
    #[error("Chromium not found: install Debian's `chromium` (apt-get install chromium) or set WIREBENCH_CHROMIUM to its path")]
    NotFound,
    /// Chromium could not be started.
    #[error("launching Chromium: {0}")]
    Launch(String),
    /// A DevTools command failed.
    #[error("DevTools: {0}")]
    Cdp(String),
    /// Something took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The browser went away.
    #[error("Chromium closed the DevTools connection (crashed or was killed)")]
    Closed,
    /// The page threw or returned something unusable.
    #[error("in the page: {0}")]
    Page(String),
}
