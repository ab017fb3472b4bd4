//! Errors of the netem crate.

use std::io;

use crate::profile::ProfileError;

/// Everything that can go wrong while building, driving or tearing down an emulated topology.
#[derive(Debug, thiserror::Error)]
pub enum NetemError {
    /// A system call or file operation failed; `context` says which and on what.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (names the namespace, device or file).
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An external command (`ip`, `tc`) failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The backend asked for cannot work here; the message says what is missing.
    #[error("netem backend `{backend}` unavailable: {reason}")]
    Unavailable {
        /// Backend name.
        backend: &'static str,
        /// What is missing.
        reason: String,
    },
    /// The backend cannot do what was asked (e.g. shaping on `none`).
    #[error("netem backend `{backend}` cannot {what}")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// The operation.
        what: String,
    },
    /// No such host in the topology.
    #[error("no host {0} in this topology")]
    NoSuchHost(String),
    /// A bad argument (names the flag or field).
    #[error("{0}")]
    Invalid(String),
    /// A profile error (unknown name, bad file).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// One of the network's own daemons (nginx, coturn) is missing, did not start, or ended;
    /// `reason` carries what it said in its log.
    #[error("{name} {reason}")]
    Daemon {
        /// The daemon, and where it ran (e.g. `coturn on client3`).
        name: String,
        /// What went wrong.
        reason: String,
    },
}

impl NetemError {
    /// A daemon error: `name` (what and where) and what went wrong.
    pub fn daemon(name: impl Into<String>, reason: impl Into<String>) -> Self {
        NetemError::Daemon {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        NetemError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Adds context to `io::Result`s.
pub(crate) trait IoContext<T> {
    /// Maps the error into [`NetemError::Io`] with a lazily built context.
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T, NetemError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T, NetemError> {
        self.map_err(|e| NetemError::io(f(), e))
    }
}
