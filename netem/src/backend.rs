//! The backend factory: which backend shapes the links ([`choose_backend`], with the reason
//! `auto` gives) and building it ([`open`]).
//!
//! It sits above the backends (it probes the kernel's sch_netem through [`crate::kernel`], TUN
//! through [`crate::sys`], and explains rootless mode through [`crate::rootless`]) and below
//! [`crate::topology`], which uses it; the backends themselves only know [`crate::link`].

use crate::error::NetemError;
use crate::kernel::{probe_netem, KernelBackend};
use crate::link::{BackendKind, LinkBackend, TopologySpec};
use crate::none::NoneBackend;
use crate::rootless;
use crate::sys;
use crate::userspace::UserspaceBackend;

/// The backend picked and why (what `auto` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendChoice {
    /// The backend in use (never `Auto`).
    pub kind: BackendKind,
    /// Why it was picked.
    pub reason: String,
}

impl std::fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "backend {} ({})", self.kind, self.reason)
    }
}

/// Picks a backend. `Auto`: `kernel` when sch_netem works, else `userspace` when /dev/net/tun
/// works, else `none` (with `shaping_needed`, `none` is an error that says what is missing).
pub fn choose_backend(
    requested: BackendKind,
    shaping_needed: bool,
) -> Result<BackendChoice, NetemError> {
    let mut choice = choose_backend_as(requested, shaping_needed)?;
    if let Some(note) = rootless::note() {
        choice.reason = format!("{}; {note}", choice.reason);
    }
    Ok(choice)
}

/// Builds the chosen backend's links for `spec` (whose run id is set). `Auto` here means
/// `none`: [`choose_backend`] never returns it.
pub fn open(
    choice: &BackendChoice,
    spec: &TopologySpec,
) -> Result<Box<dyn LinkBackend>, NetemError> {
    Ok(match choice.kind {
        BackendKind::Userspace => Box::new(UserspaceBackend::up(spec)?),
        BackendKind::Kernel => Box::new(KernelBackend::up(spec)?),
        BackendKind::None | BackendKind::Auto => Box::new(NoneBackend::new(spec)?),
    })
}

/// [`choose_backend`] without the rootless note.
fn choose_backend_as(
    requested: BackendKind,
    shaping_needed: bool,
) -> Result<BackendChoice, NetemError> {
    let root = sys::is_root();
    let tun = sys::tun_usable();
    match requested {
        BackendKind::None => Ok(BackendChoice {
            kind: BackendKind::None,
            reason: "asked for: loopback, no shaping".into(),
        }),
        BackendKind::Userspace => userspace_as_asked(root, tun),
        BackendKind::Kernel => kernel_as_asked(root),
        BackendKind::Auto => auto(root, tun, shaping_needed),
    }
}

/// `--netem userspace`: root and a working /dev/net/tun, or an error saying which is missing.
fn userspace_as_asked(root: bool, tun: Result<(), String>) -> Result<BackendChoice, NetemError> {
    if !root {
        return Err(NetemError::Unavailable {
            backend: "userspace",
            reason: format!(
                "needs root (CAP_NET_ADMIN) to create namespaces and TUN devices; {}",
                rootless::not_root_reason()
            ),
        });
    }
    tun.map_err(|reason| NetemError::Unavailable {
        backend: "userspace",
        reason,
    })?;
    Ok(BackendChoice {
        kind: BackendKind::Userspace,
        reason: "asked for".into(),
    })
}

/// `--netem kernel`: root and a kernel with sch_netem, or an error saying which is missing.
fn kernel_as_asked(root: bool) -> Result<BackendChoice, NetemError> {
    if !root {
        return Err(NetemError::Unavailable {
            backend: "kernel",
            reason: format!(
                "needs root (CAP_NET_ADMIN); {}",
                rootless::not_root_reason()
            ),
        });
    }
    probe_netem().map_err(|reason| NetemError::Unavailable {
        backend: "kernel",
        reason,
    })?;
    Ok(BackendChoice {
        kind: BackendKind::Kernel,
        reason: "asked for".into(),
    })
}

/// `--netem auto`: kernel, else userspace, else none (an error when shaping is needed).
fn auto(
    root: bool,
    tun: Result<(), String>,
    shaping_needed: bool,
) -> Result<BackendChoice, NetemError> {
    if !root {
        let reason = format!(
            "not root: namespaces and links need CAP_NET_ADMIN ({}); loopback only",
            rootless::not_root_reason()
        );
        if shaping_needed {
            return Err(NetemError::Unavailable {
                backend: "auto",
                reason,
            });
        }
        return Ok(BackendChoice {
            kind: BackendKind::None,
            reason,
        });
    }
    let netem = probe_netem();
    match (&netem, &tun) {
        (Ok(()), _) => Ok(BackendChoice {
            kind: BackendKind::Kernel,
            reason: "the kernel has sch_netem: veth + tc netem".into(),
        }),
        (Err(why), Ok(())) => Ok(BackendChoice {
            kind: BackendKind::Userspace,
            reason: format!("no kernel netem ({why}); /dev/net/tun works: userspace emulator"),
        }),
        (Err(a), Err(b)) => {
            let reason = format!("no kernel netem ({a}) and no TUN ({b})");
            if shaping_needed {
                Err(NetemError::Unavailable {
                    backend: "auto",
                    reason,
                })
            } else {
                Ok(BackendChoice {
                    kind: BackendKind::None,
                    reason: format!("{reason}: loopback only"),
                })
            }
        }
    }
}
