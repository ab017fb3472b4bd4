//! Per-process CPU time and peak RSS, read from /proc.

/// CPU seconds (user + system) this process has used.
pub fn cpu_seconds() -> Option<f64> {
    cpu_seconds_of("self")
}

/// CPU seconds (user + system) used by process `pid` (`"self"` or a number).
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of /proc/PID/stat, i.e. 11 and 12 after ')'.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| (utime + stime) / hz as f64)
}

/// Peak resident set size (VmHWM) of this process, bytes.
pub fn rss_peak_bytes() -> Option<u64> {
    rss_peak_bytes_of("self")
}

/// The `key:  N kB` line of a /proc file (`status`, `smaps_rollup`), in bytes.
fn kb_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text
        .lines()
        .find(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak resident set size (VmHWM) of process `pid` (`"self"` or a number), bytes.
pub fn rss_peak_bytes_of(pid: &str) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/status"), "VmHWM")
}

/// Resident set size of process `pid` now (VmRSS), bytes.
pub fn rss_bytes_of(pid: &str) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/status"), "VmRSS")
}

/// Proportional set size of process `pid` now (its private pages plus its share of the pages
/// it shares with others), bytes: what a group of processes sharing one binary and zygote
/// (Chromium's) really holds adds up, where their peak RSS would count the shared pages once
/// per process.
pub fn pss_bytes_of(pid: &str) -> Option<u64> {
    kb_field(&format!("/proc/{pid}/smaps_rollup"), "Pss")
}

/// Current resident set size (VmRSS), bytes.
pub fn rss_bytes() -> Option<u64> {
    kb_field("/proc/self/status", "VmRSS")
}

/// Processes in process group `pgid` (from /proc; a child that changed its group is missed).
pub fn group_pids(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    // pgrp is field 5, i.e. the third after the ')' closing the command name.
                    s.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(2)?
                        .parse::<i32>()
                        .ok()
                })
                == Some(pgid)
        })
        .collect()
}

/// Ceiling the open-file limit is raised to when the process may raise its hard limit (root).
pub const NOFILE_WANTED: u64 = 1 << 20;

/// Raises the open-file limit (many connections need many descriptors): soft and hard up to
/// [`NOFILE_WANTED`] (bounded by `fs.nr_open`) when allowed (CAP_SYS_RESOURCE), else the soft
/// limit up to the hard one. Returns the soft limit in force afterwards.
pub fn raise_nofile_limit() -> Option<u64> {
    let mut lim = nofile_limit()?;
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(NOFILE_WANTED);
    let want = NOFILE_WANTED.min(nr_open);
    // SAFETY: setrlimit reads only the given, valid rlimit struct.
    unsafe {
        if lim.rlim_max < want {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return Some(want);
            }
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    nofile_limit().map(|l| l.rlim_cur)
}

/// This process's open-file limits (soft and hard), if they can be read.
fn nofile_limit() -> Option<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the given, valid rlimit struct.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim)
}

/// The hard open-file limit of this process (its children inherit it), if it can be read.
pub fn nofile_hard_limit() -> Option<u64> {
    nofile_limit().map(|l| l.rlim_max)
}

/// Descriptors a client agent keeps for itself beyond its connections (runtime, control
/// pipes, signalling requests in flight), when its clients are shared out by the limit.
pub const NOFILE_MARGIN: u64 = 2048;

/// Clients one client agent on loopback can hold: its open-file limit (the hard limit it
/// inherits, or [`NOFILE_WANTED`] if it may raise it) less [`NOFILE_MARGIN`], at least 1,000.
/// Where the hard limit cannot be raised (no CAP_SYS_RESOURCE), more clients than this are
/// shared out over several client agents.
pub fn clients_per_agent() -> u32 {
    let limit = nofile_hard_limit().unwrap_or(NOFILE_WANTED);
    u32::try_from(limit.saturating_sub(NOFILE_MARGIN).max(1000)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_process() {
        assert!(super::cpu_seconds().is_some());
        assert!(super::rss_peak_bytes().unwrap() > 0);
        assert!(super::pss_bytes_of("self").unwrap() > 0);
        assert!(super::clients_per_agent() >= 1000);
    }
}
