//! The shared clock and precise timers.
//!
//! Time is CLOCK_MONOTONIC in nanoseconds: the same in every process and network namespace of
//! one host, so one-way latency between agents on one host is exact. tokio's own timer has
//! millisecond granularity, far too coarse for a 1,000 msg/s open-loop schedule, so
//! [`PreciseTimer`] arms a timerfd (absolute, monotonic) and waits for it on tokio's reactor.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

/// Now, in ns of CLOCK_MONOTONIC.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_MONOTONIC is always supported on
    // Linux; clock_gettime writes only into it.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_MONOTONIC − CLOCK_REALTIME now, ns, with the bound of the reading: half the time
/// between the two wall-clock reads bracketing the monotonic one. A client on the same machine
/// (a browser page, whose `performance.timeOrigin + performance.now()` is the wall clock)
/// turns its wall-clock times into the server's monotonic clock with it exactly, instead of
/// estimating the offset over the network.
pub fn mono_minus_realtime_ns() -> (i128, u64) {
    let realtime = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128)
    };
    let r1 = realtime();
    let m = now_ns() as i128;
    let r2 = realtime();
    (m - (r1 + r2) / 2, ((r2 - r1).max(0) / 2) as u64)
}

/// Asks the kernel for 1 ns timer slack for this thread, so timer wake-ups are not batched
/// (the default 50 µs slack would show up as latency on every scheduled send).
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and changes only this thread's slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// How long before a deadline [`PreciseTimer`] stops sleeping and spins, ns. A timerfd wake-up on
/// a busy virtual machine is tens of µs late; spinning the last stretch trades a little CPU (5 %
/// of a core at 1,000 sends/s) for sends that leave on time. `WIREBENCH_SPIN_US` overrides it.
pub fn spin_ns() -> u64 {
    static SPIN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SPIN.get_or_init(|| {
        std::env::var("WIREBENCH_SPIN_US")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(50)
            * 1000
    })
}

/// A timer with microsecond precision on the tokio reactor (a timerfd), spinning the last
/// [`spin_ns`] before the deadline.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

impl PreciseTimer {
    /// Creates the timer; must be called inside a tokio runtime.
    pub fn new() -> io::Result<Self> {
        // SAFETY: timerfd_create has no memory arguments; the result is checked below.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `owned` is an open timerfd that the AsyncFd owns for its whole life; its
        // as_raw_fd always returns that same descriptor.
        let fd = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }?;
        Ok(Self { fd })
    }

    /// Waits until CLOCK_MONOTONIC reaches `deadline_ns`; returns at once if it has passed.
    pub async fn sleep_until_ns(&mut self, deadline_ns: u64) -> io::Result<()> {
        let spin = spin_ns();
        let wake = deadline_ns.saturating_sub(spin);
        if wake > now_ns() {
            self.wait_timerfd(wake).await?;
        }
        // A yielding spin: between checks the runtime polls its I/O driver and runs every other
        // ready task (the receivers on this agent's one thread), so precise waiting never
        // holds a receive timestamp back.
        while now_ns() < deadline_ns {
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    async fn wait_timerfd(&mut self, deadline_ns: u64) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: the fd is a valid timerfd; `spec` is a valid itimerspec; old value not wanted.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let mut buf = [0u8; 8];
            // SAFETY: reading 8 bytes into a valid 8-byte buffer from a valid timerfd.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            if n == 8 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                guard.clear_ready();
                if deadline_ns <= now_ns() {
                    return Ok(());
                }
                continue;
            }
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn precise_timer_waits_until_the_deadline() {
        tighten_timer_slack();
        let mut t = PreciseTimer::new().unwrap();
        let start = now_ns();
        t.sleep_until_ns(start + 2_000_000).await.unwrap();
        assert!(now_ns() >= start + 2_000_000);
        // A deadline in the past returns at once.
        t.sleep_until_ns(start).await.unwrap();
    }
}

/// Keeps every CPU out of idle states while alive, by holding a CPU latency QoS request of
/// 0 µs (`/dev/cpu_dma_latency`, as tuned's latency-performance profile and cyclictest do).
///
/// On a virtual machine a halted vCPU wakes only when the hypervisor schedules it again; on
/// this project's VMs that wake-up added ~140 µs to a loopback echo RTT (p50 ~170 µs vs ~30 µs
/// with the request held). With it, figures show the stacks' own cost; without it, they include
/// what an idle host adds. Needs root (the device is mode 0600). The request ends when dropped.
#[derive(Debug)]
pub struct NoIdle(#[allow(dead_code)] std::fs::File);

impl NoIdle {
    /// Opens `/dev/cpu_dma_latency` and requests 0 µs.
    pub fn request() -> io::Result<Self> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/cpu_dma_latency")?;
        f.write_all(&0i32.to_ne_bytes())?;
        Ok(Self(f))
    }
}
