//! Rootless mode: a user namespace that makes an unprivileged user root over its own network.
//!
//! Creating namespaces, TUN devices and links needs `CAP_NET_ADMIN`. An unprivileged user can
//! get it over *new* namespaces it owns: [`enter`] calls `unshare(CLONE_NEWUSER | CLONE_NEWNET
//! | CLONE_NEWNS)`, maps the caller's uid and gid to 0 inside, brings the new namespace's
//! loopback up and mounts a private tmpfs on `/run/netns` so `ip netns` can name the host
//! namespaces the topology creates. Everything after that (topology, agents, their children)
//! runs inside the user namespace; when the last process of the run exits, the kernel removes
//! every namespace and device it made — nothing can be left behind on the host.
//!
//! `unshare(CLONE_NEWUSER)` fails in a multi-threaded process, so [`enter`] must run before
//! any thread starts (the binary calls it before it builds its async runtime).

use std::io;
use std::sync::OnceLock;

use crate::error::NetemError;
use crate::sys;

/// What [`enter`] did, kept for [`status`] (backend selection explains itself with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rootless {
    /// Already root: nothing to do.
    NotNeeded,
    /// Now inside a user namespace, the real uid/gid mapped to root.
    Entered {
        /// The caller's real uid.
        uid: u32,
        /// The caller's real gid.
        gid: u32,
    },
    /// Not root and the user namespace could not be made; why.
    Unavailable(String),
}

static STATUS: OnceLock<Rootless> = OnceLock::new();

/// The outcome of [`enter`] in this process, `None` when it was never called.
pub fn status() -> Option<&'static Rootless> {
    STATUS.get()
}

/// Becomes root over a private set of namespaces when not root already (see the module docs).
///
/// Returns what happened; the outcome is also kept for [`status`]. Calling it twice returns the
/// first outcome. An unprivileged caller that cannot get a user namespace gets
/// [`Rootless::Unavailable`] with the reason (not an error: loopback-only work still runs).
/// Fails only when the process already has several threads (a programming error) or when a
/// step after `unshare` fails, leaving the process in a half-made namespace it cannot use.
pub fn enter() -> Result<&'static Rootless, NetemError> {
    if let Some(s) = STATUS.get() {
        return Ok(s);
    }
    let outcome = enter_once()?;
    Ok(STATUS.get_or_init(|| outcome))
}

fn enter_once() -> Result<Rootless, NetemError> {
    if sys::is_root() {
        return Ok(Rootless::NotNeeded);
    }
    let threads = std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count());
    if threads > 1 {
        return Err(NetemError::Unavailable {
            backend: "rootless",
            reason: format!(
                "the process already runs {threads} threads; the user namespace must be \
                 entered before any thread starts"
            ),
        });
    }
    if let Err(why) = sys::tun_usable() {
        return Ok(Rootless::Unavailable(format!(
            "not root, and rootless mode needs /dev/net/tun: {why}"
        )));
    }
    // SAFETY: getuid/getgid cannot fail and take no arguments.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare(2) takes flags only; on failure nothing changed.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWNS) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Ok(Rootless::Unavailable(format!(
            "not root, and unshare(CLONE_NEWUSER | CLONE_NEWNET) failed: {e} (unprivileged user \
             namespaces are disabled or restricted here: see /proc/sys/user/max_user_namespaces, \
             the kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns \
             sysctls); run as root instead"
        )));
    }
    let step = |what: &str, r: io::Result<()>| {
        r.map_err(|e| NetemError::Unavailable {
            backend: "rootless",
            reason: format!("inside the new user namespace, {what}: {e}"),
        })
    };
    step(
        "writing /proc/self/setgroups",
        std::fs::write("/proc/self/setgroups", "deny"),
    )?;
    step(
        "writing /proc/self/uid_map",
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")),
    )?;
    step(
        "writing /proc/self/gid_map",
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")),
    )?;
    // Our mounts stay ours: nothing propagates back to the host's mount namespace.
    step(
        "making mounts private",
        mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE),
    )?;
    // `ip netns` keeps names in /run/netns; the real one belongs to the real root. A private
    // tmpfs over it (or over /run when it does not exist and cannot be created) holds ours.
    let netns_dir = std::path::Path::new(sys::NETNS_DIR);
    if netns_dir.is_dir() {
        step(
            "mounting a tmpfs on /run/netns",
            mount(Some("tmpfs"), sys::NETNS_DIR, Some("tmpfs"), 0),
        )?;
    } else if std::fs::create_dir_all(netns_dir).is_err() {
        step(
            "mounting a tmpfs on /run",
            mount(Some("tmpfs"), "/run", Some("tmpfs"), 0),
        )?;
        step("creating /run/netns", std::fs::create_dir_all(netns_dir))?;
    }
    sys::run("ip", &["link", "set", "lo", "up"]).map_err(|e| NetemError::Unavailable {
        backend: "rootless",
        reason: format!("bringing up loopback in the new namespace: {e}"),
    })?;
    Ok(Rootless::Entered { uid, gid })
}

fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
) -> io::Result<()> {
    use std::ffi::CString;
    let cstr =
        |s: &str| CString::new(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
    let source = source.map(cstr).transpose()?;
    let target = cstr(target)?;
    let fstype = fstype.map(cstr).transpose()?;
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is either null or a NUL-terminated string that outlives the call;
    // mount(2) does not keep them.
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Why this process is not root over its namespaces, for error messages: the reason
/// [`enter`] gave up, or that it was never tried.
pub fn not_root_reason() -> String {
    match status() {
        Some(Rootless::Unavailable(why)) => why.clone(),
        _ => "rootless mode (a user namespace) was not tried in this process".into(),
    }
}

/// A note for backend choices made inside a user namespace (`None` when really root).
pub fn note() -> Option<String> {
    match status() {
        Some(Rootless::Entered { uid, .. }) => Some(format!(
            "rootless: uid {uid} is root only inside a private user namespace"
        )),
        _ => None,
    }
}
