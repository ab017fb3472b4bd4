//! Facts about the machine, recorded in every results file.

use wirebench_reports::model::Host;

/// Reads host name, kernel, CPU count and model, memory and the default TCP congestion
/// control.
pub fn host_facts() -> Host {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    let memory_bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    Host {
        hostname: read("/proc/sys/kernel/hostname"),
        os: std::env::consts::OS.to_string(),
        kernel: read("/proc/sys/kernel/osrelease"),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        cpu_model,
        memory_bytes,
        settle: None,
        tcp_congestion_control: read("/proc/sys/net/ipv4/tcp_congestion_control"),
    }
}
