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
    let mut removed = Vec::new();
    let mut first_err = None;
    for name in sys::netns_list()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
    {
        match destroy_netns(&name) {
            Ok(()) => removed.push(name),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(removed),
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
}
