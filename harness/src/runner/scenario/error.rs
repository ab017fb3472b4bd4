//! Errors in scenario files, located by file, line and key, and the context that locates them.

/// An error in a scenario file, located.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {key}: {msg}")]
pub struct ScenarioError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Key at fault (dotted path).
    pub key: String,
    /// What is wrong.
    pub msg: String,
}

/// 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The file being parsed, to locate errors.
pub(super) struct ParseCtx<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl ParseCtx<'_> {
    pub(super) fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        msg: impl Into<String>,
    ) -> Result<T, ScenarioError> {
        Err(ScenarioError {
            file: self.file.to_string(),
            line: line_of(self.text, span.start),
            key: key.to_string(),
            msg: msg.into(),
        })
    }
}
