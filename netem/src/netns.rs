//! The network namespaces this process makes: creating and destroying them (every live one is
//! recorded), removing what killed runs left behind ([`cleanup`]), and tearing the live ones
//! down when the process is signalled ([`install_signal_cleanup`]).
//!
//! Backends create their namespaces here, so a signal or a `wirebench netem cleanup` finds them
//! all, whatever backend made them.

use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

use crate::error::NetemError;
use crate::link::PREFIX;
use crate::sys;

static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Records a namespace as live (torn down by the signal handler).
pub(crate) fn register_live(name: &str) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string());
}

/// Forgets a namespace (torn down normally).
pub(crate) fn unregister_live(name: &str) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
}

/// Creates a namespace and records it as live.
pub(crate) fn create_netns(name: &str) -> Result<OwnedFd, NetemError> {
    // Never adopt an existing namespace: `ip netns add` fails when the name is taken.
    sys::netns_add(name)?;
    register_live(name);
    sys::open_netns(name).inspect_err(|_| {
        let _ = destroy_netns(name);
    })
}

/// Destroys a namespace (killing what runs in it) and forgets it.
pub(crate) fn destroy_netns(name: &str) -> Result<(), NetemError> {
    let r = sys::netns_destroy(name);
    unregister_live(name);
    r
}

/// Removes what killed runs left behind: every namespace whose name starts with `prefix`
/// (which must start with `wb-`), after killing the processes inside. Returns the names removed.
pub fn cleanup(prefix: &str) -> Result<Vec<String>, NetemError> {
    if !prefix.starts_with(PREFIX) {
        return Err(NetemError::Invalid(format!(
            "cleanup prefix {prefix:?} must start with {PREFIX:?}"
        )));
    }
    let names = sys::netns_list()
        .into_iter()
        .filter(|n| n.starts_with(prefix));
    match destroy_all(names) {
        (_, Some(e)) => Err(e),
        (removed, None) => Ok(removed),
    }
}

/// Destroys each namespace of `names`: the names removed, and the first error met.
fn destroy_all(names: impl Iterator<Item = String>) -> (Vec<String>, Option<NetemError>) {
    let mut removed = Vec::new();
    let mut first_err = None;
    for name in names {
        match destroy_netns(&name) {
            Ok(()) => removed.push(name),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    (removed, first_err)
}

/// The pid of the process that made namespace `name`: the `P<pid>_<hex>` run id of a
/// topology's names (`<prefix>P<pid>_<hex>-<host>`), or a kernel probe's `wb-probe-<pid>-<n>`.
pub(crate) fn owner_pid(name: &str) -> Option<i32> {
    if let Some(rest) = name.strip_prefix("wb-probe-") {
        return rest.split_once('-')?.0.parse().ok();
    }
    let (named, _host) = name.rsplit_once('-')?;
    let (_prefix, run) = named.rsplit_once('P')?;
    let (pid, hex) = run.split_once('_')?;
    let hex_ok = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_ok || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` is gone (not merely someone else's).
fn process_gone(pid: i32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only checks that the pid exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Removes what runs killed outright (SIGKILL, a crash) left behind: every `wb-` namespace
/// whose owner ([`owner_pid`]) no longer exists, after killing the processes inside. Safe
/// with parallel runs: a namespace whose owner is alive, or whose name carries no owner, is
/// left alone. Returns the names removed.
pub fn reap_orphans() -> Result<Vec<String>, NetemError> {
    let orphans = sys::netns_list()
        .into_iter()
        .filter(|n| n.starts_with(PREFIX) && owner_pid(n).is_some_and(process_gone));
    match destroy_all(orphans) {
        (removed, Some(e)) if removed.is_empty() => Err(e),
        (removed, _) => Ok(removed),
    }
}

static SIGNAL_PIPE_W: AtomicI32 = AtomicI32::new(-1);
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

/// The signal that started a teardown through [`install_signal_cleanup`], if any.
pub fn signalled() -> Option<i32> {
    match SIGNALLED.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s),
    }
}
static SIGNAL_ONCE: Once = Once::new();

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE_W.load(Ordering::Relaxed);
    let b = sig as u8;
    // SAFETY: write(2) is async-signal-safe; b is a live byte.
    unsafe {
        libc::write(fd, (&b as *const u8).cast(), 1);
    }
}

/// Installs SIGINT/SIGTERM/SIGHUP handlers that tear down every live topology of this process
/// (kill processes in its namespaces, delete them) and then die of the signal as usual.
///
/// Call it once, early, in programs that do not handle these signals themselves; programs that
/// do should drop their [`crate::Topology`] (or call [`cleanup`]) from their own handler.
pub fn install_signal_cleanup() -> Result<(), NetemError> {
    let mut result = Ok(());
    SIGNAL_ONCE.call_once(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into a live 2-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            result = Err(NetemError::io("pipe2", std::io::Error::last_os_error()));
            return;
        }
        SIGNAL_PIPE_W.store(fds[1], Ordering::Relaxed);
        let read_fd = fds[0];
        std::thread::Builder::new()
            .name("wb-netem-signals".into())
            .spawn(move || {
                let mut b = [0u8; 1];
                loop {
                    match sys::read(read_fd, &mut b) {
                        Ok(1) => break,
                        Ok(_) => return,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => return,
                    }
                }
                SIGNALLED.store(b[0] as i32, Ordering::Relaxed);
                let names: Vec<String> = LIVE
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                for n in names {
                    let _ = sys::netns_destroy(&n);
                }
                let sig = b[0] as libc::c_int;
                // SAFETY: restoring the default disposition and re-raising: plain syscalls.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| result = Err(NetemError::io("spawning the signal thread", e)));
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: a zeroed sigaction with a plain handler is valid; on_signal is
            // async-signal-safe (one write(2)).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn cleanup_refuses_foreign_prefixes() {
        assert!(cleanup("").is_err());
        assert!(cleanup("netns").is_err());
    }

    #[test]
    fn the_owner_pid_is_read_from_run_ids_and_probes() {
        assert_eq!(owner_pid("wb-P4242_1a03f-s"), Some(4242));
        assert_eq!(owner_pid("wb-P4242_1a03f-c12"), Some(4242));
        assert_eq!(owner_pid("wb-t-Peer-P7_0ab-r"), Some(7));
        assert_eq!(owner_pid("wb-probe-99-3"), Some(99));
        // Names without an owner (older runs, other tools) are never reaped.
        assert_eq!(owner_pid("wb-1a2b3c-s"), None);
        assert_eq!(owner_pid("wb-P12_xyz-s"), None);
        assert_eq!(owner_pid("wb-P_12-s"), None);
    }

    #[test]
    fn a_live_process_is_not_gone() {
        assert!(!process_gone(std::process::id() as i32));
        assert!(!process_gone(1));
    }
}
