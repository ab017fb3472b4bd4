//! The kernel backend: veth pairs into a router namespace (a bridge), `tc netem` on both ends of
//! each access link (host side = up, router side = down). Only where the kernel has sch_netem.
//!
//! Mapping of profile keys to netem: `delay D J C%`, `loss random P%` (or `loss gemodel` for
//! Gilbert-Elliott; netem takes one loss model, so with both `loss` is folded into each state's
//! loss, which draws the same as the userspace core's two independent models), `duplicate`,
//! `reorder`, `rate Rmbit`, `limit` (the userspace queue limit plus the delay line, which netem
//! counts in its limit and the userspace core does not; with no rate, no limit binds;
//! `queue_bytes` has no netem equivalent and is ignored). A cut is `loss 100%`. `queue = codel | fq_codel` is refused (netem's rate queue is
//! drop-tail and a child qdisc sits behind it, not at the bottleneck): use the userspace
//! backend. Counters come from the interfaces (`ip -s`); drops by cause
//! are not split out.

use std::net::IpAddr;
use std::sync::Arc;

use crate::core::CoreStats;
use crate::error::NetemError;
use crate::link::{
    host_addr, ns_name, BackendKind, HostId, LinkBackend, LinkCounters, NetHost, TopologySpec,
};
use crate::netns::{create_netns, destroy_netns};
use crate::profile::{Direction, LinkParams, Profile};
use crate::sys;

/// Checks that `tc qdisc add … netem` works, in a throwaway namespace.
pub fn probe_netem() -> Result<(), String> {
    probe_qdisc(&["netem", "delay", "1ms"])
}

/// Checks that `tc qdisc add dev lo root QDISC…` works, in a throwaway namespace.
fn probe_qdisc(qdisc: &[&str]) -> Result<(), String> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("wb-probe-{}-{n}", std::process::id());
    create_netns(&name).map_err(|e| e.to_string())?;
    let mut args = vec!["-n", &name, "qdisc", "add", "dev", "lo", "root"];
    args.extend(qdisc);
    let r = sys::run("tc", &args);
    let _ = destroy_netns(&name);
    let kind = qdisc.first().copied().unwrap_or_default();
    r.map(|_| ()).map_err(|e| match e {
        NetemError::Command { stderr, .. } => format!("tc {kind}: {stderr}"),
        e => e.to_string(),
    })
}

/// Refuses a profile whose queue discipline is not drop-tail. netem's `rate` queues packets in
/// netem's own drop-tail FIFO; a child qdisc (codel, fq_codel) only sees them after that
/// queue, so it would never act at the bottleneck. The error says so, and also whether this
/// kernel has the discipline's module at all.
fn check_queue(profile: &Profile) -> Result<(), NetemError> {
    let Some(q) = Direction::BOTH
        .map(|d| profile.direction(d).effective_queue())
        .into_iter()
        .find(|q| !q.is_droptail())
    else {
        return Ok(());
    };
    let module = match probe_qdisc(&[q.name()]) {
        Ok(()) => String::new(),
        Err(e) => format!("; this kernel has no sch_{q} either ({e})"),
    };
    Err(NetemError::Unsupported {
        backend: "kernel",
        what: format!(
            "put queue = {q} at the bottleneck: netem's rate limiter queues packets in its own \
             drop-tail FIFO and a child qdisc would only see them after it{module}; use \
             --netem userspace"
        ),
    })
}

/// Packets in flight on a delay line are counted when their delay is at most this long after
/// the bottleneck queue: the largest packet netem sees on these links (the MTU).
const DELAY_LINE_PACKET_BYTES: f64 = 1500.0;

/// netem's `limit`, which counts every packet netem holds (the rate queue and the delay line):
/// the userspace core's bottleneck limit ([`LinkParams::effective_queue_packets`]) plus the
/// MTU-sized packets the delay line holds at the rate; with no rate the core has no queue and
/// nothing should be dropped for a full netem, so the limit is far above any load here.
fn netem_limit(p: &LinkParams) -> u64 {
    const UNBOUNDED: u64 = 10_000_000;
    let (Some(queue), Some(rate)) = (p.effective_queue_packets(), p.rate_mbit) else {
        return UNBOUNDED;
    };
    let line_s = (p.delay_ms + p.jitter_ms) / 1000.0;
    let line = (rate * 1e6 / 8.0 * line_s / DELAY_LINE_PACKET_BYTES).ceil() as u64;
    u64::from(queue) + line
}

/// A probability as netem's percentage, without float noise in the last digits.
fn percent(x: f64) -> String {
    format!("{}%", (x * 100.0 * 1e6).round() / 1e6)
}

/// netem arguments for one direction (after `netem`).
pub fn netem_args(p: &LinkParams) -> Vec<String> {
    let mut a = vec!["limit".to_string(), netem_limit(p).to_string()];
    if p.delay_ms > 0.0 || p.jitter_ms > 0.0 {
        a.extend(["delay".into(), format!("{}ms", p.delay_ms)]);
        if p.jitter_ms > 0.0 {
            a.push(format!("{}ms", p.jitter_ms));
            if p.jitter_correlation > 0.0 {
                a.push(format!("{}%", p.jitter_correlation * 100.0));
            }
            if let Some(name) = p.jitter_distribution.table_name() {
                a.extend(["distribution".into(), name.into()]);
            }
        }
    }
    if let Some(ge) = p.gilbert_elliott {
        // netem takes one loss model: an independent Bernoulli loss beside the chain is the
        // same as each state losing 1 - (1 - loss)(1 - its own loss).
        let with_bernoulli = |l: f64| 1.0 - (1.0 - p.loss) * (1.0 - l);
        a.extend([
            "loss".into(),
            "gemodel".into(),
            format!("{}%", ge.p * 100.0),
            format!("{}%", ge.r * 100.0),
            percent(with_bernoulli(ge.loss_bad)),
            percent(with_bernoulli(ge.loss_good)),
        ]);
    } else if p.loss > 0.0 {
        a.extend([
            "loss".into(),
            "random".into(),
            format!("{}%", p.loss * 100.0),
        ]);
    }
    if p.duplicate > 0.0 {
        a.extend(["duplicate".into(), format!("{}%", p.duplicate * 100.0)]);
    }
    if p.reorder > 0.0 && p.delay_ms > 0.0 {
        a.extend(["reorder".into(), format!("{}%", p.reorder * 100.0)]);
    }
    if let Some(r) = p.rate_mbit {
        a.extend([
            "rate".into(),
            format!("{}kbit", (r * 1000.0).round() as u64),
        ]);
    }
    a
}

/// A live kernel-backend topology: the router namespace, one namespace per host, and the
/// profile each host's link has (so a restored cut gets it back).
pub(crate) struct KernelBackend {
    hosts: Vec<NetHost>,
    router: String,
    names: Vec<String>,
    torn_down: bool,
    router_made: bool,
    profiles: std::sync::Mutex<Vec<Profile>>,
}

impl KernelBackend {
    /// Builds the router, the hosts' namespaces and veth pairs, and puts each profile on.
    pub(crate) fn up(spec: &TopologySpec) -> Result<Self, NetemError> {
        if !spec.pair_delays.is_empty() {
            return Err(NetemError::Unsupported {
                backend: "kernel",
                what: "add pair delays (use the userspace backend)".into(),
            });
        }
        for h in 0..spec.host_count() {
            check_queue(&spec.profile(HostId(h as u32)).cloned().unwrap_or_default())?;
        }
        let router = format!("{}{}-r", spec.prefix, spec.run_id.as_deref().unwrap_or("x"));
        let mut me = Self {
            hosts: Vec::new(),
            router: router.clone(),
            names: Vec::new(),
            torn_down: false,
            router_made: false,
            profiles: std::sync::Mutex::new(Vec::new()),
        };
        create_netns(&router)?;
        me.router_made = true;
        sys::ip_batch(
            Some(&router),
            &[
                "link set lo up".into(),
                "link add br0 type bridge".into(),
                "link set br0 up".into(),
            ],
        )?;
        for h in 0..spec.host_count() {
            let name = ns_name(spec, h);
            let fd = create_netns(&name)?;
            me.names.push(name.clone());
            let addr = host_addr(h);
            sys::ip_batch(
                Some(&router),
                &[
                    format!("link add v{h} type veth peer name eth0 netns {name}"),
                    format!("link set v{h} master br0 up"),
                ],
            )?;
            sys::ip_batch(
                Some(&name),
                &[
                    "link set lo up".into(),
                    format!("addr add {addr}/16 dev eth0"),
                    "link set eth0 up".into(),
                ],
            )?;
            // No offloads on shaped links: netem must see wire-sized packets.
            let _ = sys::run(
                "ethtool",
                &[
                    "--netns", &name, "-K", "eth0", "tso", "off", "gso", "off", "gro", "off",
                ],
            );
            let profile = spec.profile(HostId(h as u32)).cloned().unwrap_or_default();
            me.hosts.push(NetHost {
                id: HostId(h as u32),
                netns: Some(name),
                addr: IpAddr::V4(addr),
                nat: None,
                ns_fd: Some(Arc::new(fd)),
            });
            me.profiles
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(profile.clone());
            me.apply(h, &profile, false)?;
        }
        Ok(me)
    }

    fn apply(&self, h: usize, profile: &Profile, cut: bool) -> Result<(), NetemError> {
        let name = &self.names[h];
        for (dir, ns, dev) in [
            (Direction::Up, name.as_str(), "eth0".to_string()),
            (Direction::Down, self.router.as_str(), format!("v{h}")),
        ] {
            let params = profile.direction(dir);
            if !cut && params.is_unshaped() {
                // Nothing to shape: the default qdisc (no netem needed).
                let _ = sys::run("tc", &["-n", ns, "qdisc", "del", "dev", &dev, "root"]);
                continue;
            }
            let mut args: Vec<String> =
                ["-n", ns, "qdisc", "replace", "dev", &dev, "root", "netem"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
            if cut {
                args.extend(["loss".into(), "100%".into()]);
            } else {
                args.extend(netem_args(&params));
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            sys::run("tc", &refs)?;
        }
        Ok(())
    }

    fn index(&self, id: HostId) -> Result<usize, NetemError> {
        let h = id.0 as usize;
        if h < self.names.len() {
            Ok(h)
        } else {
            Err(NetemError::NoSuchHost(id.to_string()))
        }
    }
}

/// (rx_bytes, rx_packets, tx_bytes, tx_packets, rx_dropped, tx_dropped) of a device.
fn dev_stats(ns: &str, dev: &str) -> Result<[u64; 6], NetemError> {
    let out = sys::run("ip", &["-n", ns, "-s", "-s", "link", "show", "dev", dev])?;
    // Lines: "RX: bytes packets errors dropped ..." followed by the numbers; same for TX.
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let nums = |tag: &str| -> Option<Vec<u64>> {
        let i = lines.iter().position(|l| l.starts_with(tag))?;
        Some(
            lines
                .get(i + 1)?
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect(),
        )
    };
    let rx = nums("RX:").unwrap_or_default();
    let tx = nums("TX:").unwrap_or_default();
    let g = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
    Ok([
        g(&rx, 0),
        g(&rx, 1),
        g(&tx, 0),
        g(&tx, 1),
        g(&rx, 3),
        g(&tx, 3),
    ])
}

impl LinkBackend for KernelBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Kernel
    }

    fn hosts(&self) -> &[NetHost] {
        &self.hosts
    }

    fn counters(&self, id: HostId) -> Result<LinkCounters, NetemError> {
        let h = self.index(id)?;
        let host = dev_stats(&self.names[h], "eth0")?;
        let router = dev_stats(&self.router, &format!("v{h}"))?;
        Ok(LinkCounters {
            up: CoreStats {
                packets_in: host[3],
                bytes_in: host[2],
                packets_out: router[1],
                bytes_out: router[0],
                ..CoreStats::default()
            },
            down: CoreStats {
                packets_in: router[3],
                bytes_in: router[2],
                packets_out: host[1],
                bytes_out: host[0],
                ..CoreStats::default()
            },
            unroutable: 0,
            write_errors: 0,
        })
    }

    fn set_profile(&self, id: HostId, profile: &Profile) -> Result<(), NetemError> {
        let h = self.index(id)?;
        check_queue(profile)?;
        self.apply(h, profile, false)?;
        if let Some(p) = self
            .profiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(h)
        {
            *p = profile.clone();
        }
        Ok(())
    }

    fn set_cut(&self, id: HostId, cut: bool) -> Result<(), NetemError> {
        let h = self.index(id)?;
        let profile = self
            .profiles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(h)
            .cloned()
            .unwrap_or_default();
        self.apply(h, &profile, cut)
    }

    fn teardown(&mut self) -> Result<(), NetemError> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        for h in &mut self.hosts {
            h.ns_fd = None;
        }
        let mut first_err = None;
        let router = self.router_made.then_some(&self.router);
        for name in self.names.iter().chain(router) {
            if let Err(e) = destroy_netns(name) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for KernelBackend {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_discipline_is_refused_with_the_way_out() {
        let mut p = Profile {
            rate_mbit: Some(10.0),
            ..Profile::default()
        };
        assert!(check_queue(&p).is_ok());
        p.queue = Some(crate::profile::QueueDiscipline::FqCodel);
        let e = check_queue(&p).unwrap_err().to_string();
        assert!(
            e.contains("cannot put queue = fq_codel at the bottleneck")
                && e.ends_with("use --netem userspace"),
            "{e}"
        );
    }

    #[test]
    fn netem_arguments() {
        let p = LinkParams {
            delay_ms: 20.0,
            jitter_ms: 2.0,
            loss: 0.01,
            rate_mbit: Some(10.0),
            queue_packets: Some(100),
            ..LinkParams::default()
        };
        assert_eq!(
            netem_args(&p).join(" "),
            "limit 119 delay 20ms 2ms loss random 1% rate 10000kbit",
            "100 in the queue + 19 MTU-sized packets on 22 ms of delay line at 10 Mbit/s"
        );
        // No rate: no queue in the userspace core, so no limit netem would reach.
        let unshaped = LinkParams {
            rate_mbit: None,
            ..p
        };
        assert!(netem_args(&unshaped)
            .join(" ")
            .starts_with("limit 10000000 "));
        // Both loss models: loss folded into each state, 1 - (1 - 1 %)(1 - 50 %) = 50.5 %.
        let both = LinkParams {
            gilbert_elliott: Some(crate::profile::GilbertElliott {
                p: 0.02,
                r: 0.25,
                loss_bad: 0.5,
                loss_good: 0.0,
            }),
            ..p
        };
        let args = netem_args(&both).join(" ");
        assert!(
            args.contains("loss gemodel 2% 25% 50.5% 1%") && !args.contains("random"),
            "{args}"
        );
        let normal = LinkParams {
            jitter_distribution: crate::dist::JitterDistribution::Pareto,
            ..p
        };
        assert!(netem_args(&normal)
            .join(" ")
            .contains("delay 20ms 2ms distribution pareto"));
    }
}
