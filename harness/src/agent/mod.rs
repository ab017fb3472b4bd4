//! The agents: `wirebench serve` (server) and `wirebench drive` (clients), separate processes the
//! orchestrator starts and steers over a JSON-lines control channel on stdin/stdout.

pub mod control;
pub mod drive;
pub mod procstat;
pub mod serve;

/// Child-side setup between fork and exec for the processes the orchestrator starts (agents,
/// Chromium): die with the orchestrator, whatever kills it (`PR_SET_PDEATHSIG`), and run on
/// `cpu` when given. Only async-signal-safe calls; allocates nothing and takes no locks, so it
/// may run in a `pre_exec` hook.
pub(crate) fn child_setup(cpu: Option<usize>) -> std::io::Result<()> {
    // SAFETY: prctl takes integer arguments; sched_setaffinity reads the stack-local, fully
    // initialised cpu_set_t whose size it is given.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if let Some(cpu) = cpu {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}
