//! Thin wrappers over the system: `ip` commands, network namespaces, TUN devices, small syscalls.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};

use crate::error::{IoContext, NetemError};

/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Runs a command, returns its stdout; a non-zero exit is an error carrying stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, NetemError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ctx(|| format!("running `{program} {}`", args.join(" ")))?;
    if !out.status.success() {
        return Err(NetemError::Command {
            command: format!("{program} {}", args.join(" ")),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `ip [-n NS] -batch -` with these lines.
pub fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<(), NetemError> {
    use std::io::Write;
    let mut args: Vec<&str> = Vec::new();
    if let Some(ns) = netns {
        args.extend(["-n", ns]);
    }
    args.extend(["-batch", "-"]);
    let mut child = Command::new("ip")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ctx(|| "running `ip -batch -`".to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        let text = lines.join("\n") + "\n";
        stdin
            .write_all(text.as_bytes())
            .ctx(|| "writing to `ip -batch -`".to_string())?;
    }
    let out = child
        .wait_with_output()
        .ctx(|| "waiting for `ip -batch -`".to_string())?;
    if !out.status.success() {
        return Err(NetemError::Command {
            command: format!("ip {} <<< {:?}", args.join(" "), lines),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Runs `program args` inside the network namespace `fd` (named `netns`, for messages) with
/// `input` on its stdin; a non-zero exit is an error carrying the command, the namespace and
/// stderr (e.g. `nft -f -` with a ruleset: nft names the offending line).
pub fn run_stdin_in_netns(
    netns: &str,
    fd: &OwnedFd,
    program: &str,
    args: &[&str],
    input: &str,
) -> Result<(), NetemError> {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let shown = format!(
        "{program} {} (in network namespace {netns})",
        args.join(" ")
    );
    let raw = fd.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs between fork and exec; it only calls setns(2), which is
    // async-signal-safe, on an fd the caller keeps open until the child is waited for.
    unsafe {
        cmd.pre_exec(move || setns(raw));
    }
    let mut child = cmd.spawn().ctx(|| format!("running `{shown}`"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .ctx(|| format!("writing to `{shown}`"))?;
    }
    let out = child
        .wait_with_output()
        .ctx(|| format!("waiting for `{shown}`"))?;
    if !out.status.success() {
        return Err(NetemError::Command {
            command: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Creates a named network namespace.
pub fn netns_add(name: &str) -> Result<(), NetemError> {
    run("ip", &["netns", "add", name]).map(|_| ())
}

/// Names of the named network namespaces.
pub fn netns_list() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Pids of the processes inside a named namespace.
pub fn netns_pids(name: &str) -> Vec<i32> {
    run("ip", &["netns", "pids", name])
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills every process in a namespace (SIGKILL), then deletes the namespace.
pub fn netns_destroy(name: &str) -> Result<(), NetemError> {
    let me = std::process::id() as i32;
    for _ in 0..3 {
        let pids = netns_pids(name);
        if pids.is_empty() {
            break;
        }
        for pid in pids.into_iter().filter(|p| *p != me && *p > 1) {
            // SAFETY: kill(2) has no memory-safety preconditions; the pid is inside a namespace
            // this crate created (a `wb-` name), so it is one of our processes.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if std::path::Path::new(NETNS_DIR).join(name).exists() {
        run("ip", &["netns", "del", name])?;
    }
    Ok(())
}

/// Opens a named namespace (the fd keeps it alive and lets threads and children enter it).
pub fn open_netns(name: &str) -> Result<OwnedFd, NetemError> {
    let f = File::open(format!("{NETNS_DIR}/{name}"))
        .ctx(|| format!("opening network namespace {name}"))?;
    Ok(OwnedFd::from(f))
}

/// Moves the calling thread into the network namespace `fd`.
pub fn setns(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns(2) only reads the fd number; a bad fd gives EBADF/EINVAL, no UB.
    let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `f` on a fresh thread inside the network namespace `fd` and returns its result.
pub fn in_netns<T: Send>(
    fd: &OwnedFd,
    what: &str,
    f: impl FnOnce() -> T + Send,
) -> Result<T, NetemError> {
    let raw = fd.as_raw_fd();
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(raw).ctx(|| format!("entering network namespace for {what}"))?;
            Ok(f())
        })
        .join()
        .map_err(|_| NetemError::Invalid(format!("thread running {what} panicked")))?
    })
}

const IFF_TUN: i16 = libc::IFF_TUN as i16;
const IFF_NO_PI: i16 = libc::IFF_NO_PI as i16;
const IFF_VNET_HDR: i16 = libc::IFF_VNET_HDR as i16;

/// Length of the virtio-net header in front of each packet on a TUN with `IFF_VNET_HDR`.
pub const VNET_HDR_LEN: usize = 10;

#[repr(C)]
struct IfReqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: i16,
    _pad: [u8; 22],
}

/// Whether /dev/net/tun can be opened (the userspace backend and rootless mode need it); why
/// not, when it cannot.
pub fn tun_usable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map(|_| ())
        .map_err(|e| format!("cannot open /dev/net/tun: {e}"))
}

/// Creates a TUN device (L3, no packet info, with virtio-net headers) in the calling thread's
/// network namespace; the device lives as long as the returned fd. Non-blocking.
pub fn tun_create(name: &str) -> Result<OwnedFd, NetemError> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(NetemError::Invalid(format!(
            "interface name {name:?} too long"
        )));
    }
    // SAFETY: open(2) with a valid NUL-terminated path; the result is checked below.
    let fd = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(NetemError::io(
            "opening /dev/net/tun",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd was just returned by open(2) and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: IFF_TUN | IFF_NO_PI | IFF_VNET_HDR,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq; IfReqFlags has its layout (16-byte
    // name, short flags, padding to 40 bytes) and lives across the call.
    let rc = unsafe { libc::ioctl(owned.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        return Err(NetemError::io(
            format!("TUNSETIFF {name}"),
            io::Error::last_os_error(),
        ));
    }
    Ok(owned)
}

/// Turns the TUN's offloads (checksum, TSO) on or off. With them on, the kernel hands the
/// emulator GSO super-packets; only for unshaped links.
pub fn tun_set_offload(fd: &OwnedFd, on: bool) -> Result<(), NetemError> {
    let flags: libc::c_uint = if on {
        libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN
    } else {
        0
    };
    // SAFETY: TUNSETOFFLOAD takes an unsigned long by value.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETOFFLOAD, flags as libc::c_ulong) };
    if rc < 0 {
        return Err(NetemError::io("TUNSETOFFLOAD", io::Error::last_os_error()));
    }
    Ok(())
}

/// Sets the calling thread's timer slack to 1 ns, so timed waits wake on time.
pub fn set_timerslack_1ns() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer; no pointers involved.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Best effort: gives the calling thread real-time priority (SCHED_FIFO, low priority 10) so
/// packet deadlines are kept on a busy machine. Returns false when not permitted.
pub fn set_realtime() -> bool {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: sched_setscheduler(0, ...) on the calling thread with a live sched_param.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
}

/// A non-blocking eventfd used to wake pollers.
pub fn eventfd() -> Result<OwnedFd, NetemError> {
    // SAFETY: eventfd(2) has no pointer arguments; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(NetemError::io("eventfd", io::Error::last_os_error()));
    }
    // SAFETY: fd is fresh and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Signals an eventfd.
pub fn eventfd_signal(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd.
    unsafe {
        libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8);
    }
}

/// Waits until `a` or `b` is readable (or `timeout_ms` passes; -1 = forever).
pub fn poll2(a: RawFd, b: RawFd, timeout_ms: i32) -> io::Result<()> {
    let mut fds = [
        libc::pollfd {
            fd: a,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: fds is a live array of two pollfd structs.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// read(2) into `buf`.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is a live, writable slice of buf.len() bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// write(2) of `buf`.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is a live slice of buf.len() bytes.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// True when running as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and takes no arguments.
    unsafe { libc::geteuid() == 0 }
}
