//! NATs in front of client hosts ([`Nat`] per client in [`TopologySpec::nat`]), with nftables.
//!
//! For a client behind a NAT, the host's namespace (`<prefix><run>-c<k>`, on the emulated access
//! link, public address `10.77.0.k+1`) becomes a home router: a veth pair (`lan0` there, `eth0`
//! in the LAN namespace) leads to a new LAN namespace `<prefix><run>-c<k>n` where the client's
//! applications run, with the private address `172.16.0.0 + (k << 8) + 2` (client 1:
//! `172.16.1.2/24`, gateway `172.16.1.1`). The router namespace forwards (`ip_forward`) and
//! holds one nft table, `ip wirebench_nat`:
//!
//! - `postrouting`: `masquerade` of the LAN's packets leaving by any device but `lan0` (the
//!   access link: `wb0` on the userspace backend, `eth0` on the kernel one). Linux NAT keeps
//!   the source port when the public tuple is free, and with one LAN host and no sockets of the
//!   router's own, it always is: one mapping per inside address:port for every destination
//!   ([`Nat::EndpointIndependent`]). `masquerade fully-random` picks a random port for every new
//!   flow (conntrack entry), so every destination gets its own mapping ([`Nat::Symmetric`]).
//! - `input`: only replies (conntrack `established,related`) and the LAN get in; anything else
//!   arriving on the access link is dropped silently, as home routers do. Dropping it there,
//!   before conntrack confirms it, also keeps an unsolicited packet from leaving a conntrack
//!   entry that would clash with the mapping of the LAN's next packet to its sender (so
//!   simultaneous-open hole punching works through two endpoint-independent NATs).
//! - `forward`: the LAN's packets out, replies in, nothing else.
//!
//! Filtering is by address and port in both kinds (a reply must come from the address:port
//! the LAN sent to). Not modelled: hairpinning (a LAN host reaching its own public mapping),
//! full-cone or address-restricted filtering, UPnP/PCP, ALGs. Mappings expire as conntrack
//! entries do, with the kernel's defaults in each fresh namespace: UDP 30 s without a reply
//! (`nf_conntrack_udp_timeout`), 120 s once both ways have been seen
//! (`nf_conntrack_udp_timeout_stream`), TCP established 5 days.
//!
//! The LAN namespaces are made through [`crate::netns`], so teardown, the signal handler,
//! `cleanup --prefix` and `reap_orphans` find them like every other namespace of a run;
//! deleting the router namespace deletes its nft table and the veth pair with it.

use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::error::NetemError;
use crate::link::{BackendKind, Nat, NatHost, NetHost, TopologySpec};
use crate::netns::{create_netns, destroy_netns};
use crate::sys;

/// The LAN-side device in the router namespace.
pub const LAN_DEV: &str = "lan0";
/// The device in the LAN namespace.
pub const LAN_NS_DEV: &str = "eth0";
/// The nft table (family `ip`) in each NATed host's router namespace.
pub const NFT_TABLE: &str = "wirebench_nat";
/// The highest client number that can sit behind a NAT (one /24 of 172.16.0.0/12 each).
pub const MAX_NAT_CLIENT: u32 = 4095;

/// Client k's LAN: its network, the gateway (the router's `lan0`) and the inside address,
/// all in 172.16.0.0/12 (disjoint from the topology's 10.77.0.0/16), one /24 per client.
pub fn lan_addrs(k: u32) -> Result<(Ipv4Addr, Ipv4Addr, Ipv4Addr), NetemError> {
    if k == 0 || k > MAX_NAT_CLIENT {
        return Err(NetemError::Invalid(format!(
            "client {k} cannot sit behind a NAT: clients 1..={MAX_NAT_CLIENT} can"
        )));
    }
    let net = u32::from(Ipv4Addr::new(172, 16, 0, 0)) + (k << 8);
    Ok((net.into(), (net + 1).into(), (net + 2).into()))
}

/// The LAN namespace behind a router namespace: the same name with `n` appended, so prefix
/// and owner (`netns::owner_pid`) are those of the topology's other namespaces.
pub fn lan_netns_name(router_netns: &str) -> String {
    format!("{router_netns}n")
}

/// The nft ruleset of a NAT of kind `nat` for the LAN `net`/24 (fed to `nft -f -` in the
/// router namespace). None for [`Nat::None`].
pub fn ruleset(nat: Nat, net: Ipv4Addr) -> Option<String> {
    let masquerade = match nat {
        Nat::None => return None,
        Nat::EndpointIndependent => "masquerade",
        Nat::Symmetric => "masquerade fully-random",
    };
    Some(format!(
        "table ip {NFT_TABLE} {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {net}/24 oifname != \"{LAN_DEV}\" {masquerade}
  }}
  chain input {{
    type filter hook input priority filter; policy drop;
    iifname {{ \"lo\", \"{LAN_DEV}\" }} accept
    ct state established,related accept
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    iifname \"{LAN_DEV}\" ip saddr {net}/24 accept
    ct state established,related accept
  }}
}}
"
    ))
}

/// The NATs of a live topology: the LAN namespaces it made. Tears them down on
/// [`NatLayer::teardown`] and on drop (also when bring-up fails half-way).
#[derive(Default)]
pub(crate) struct NatLayer {
    lans: Vec<String>,
}

impl NatLayer {
    /// Puts the NATs of `spec` in front of the backend's `hosts`; returns the layer and the
    /// hosts as applications see them (a NATed client's `netns` is its LAN namespace).
    pub(crate) fn up(
        spec: &TopologySpec,
        kind: BackendKind,
        hosts: &[NetHost],
    ) -> Result<(Self, Vec<NetHost>), NetemError> {
        if spec.nat.len() > spec.clients.len() {
            return Err(NetemError::Invalid(format!(
                "{} NAT settings for {} clients",
                spec.nat.len(),
                spec.clients.len()
            )));
        }
        let mut me = Self::default();
        let mut out = Vec::with_capacity(hosts.len());
        for host in hosts {
            match spec.nat_of(host.id) {
                Nat::None => out.push(host.clone()),
                // On error `me` is dropped and removes the LAN namespaces made so far.
                nat => out.push(me.add(kind, host, nat)?),
            }
        }
        Ok((me, out))
    }

    /// Builds one host's LAN namespace, veth pair, routes and nft table.
    fn add(&mut self, kind: BackendKind, host: &NetHost, nat: Nat) -> Result<NetHost, NetemError> {
        let (Some(router), Some(router_fd)) = (host.netns.clone(), host.ns_fd.clone()) else {
            return Err(NetemError::Unsupported {
                backend: kind.name(),
                what: format!("put {} behind a NAT (it has no namespace)", host.id),
            });
        };
        let (net, gw, inside) = lan_addrs(host.id.0)?;
        let lan = lan_netns_name(&router);
        let lan_fd = create_netns(&lan)?;
        self.lans.push(lan.clone());
        sys::ip_batch(
            Some(&router),
            &[
                format!("link add {LAN_DEV} type veth peer name {LAN_NS_DEV} netns {lan}"),
                format!("addr add {gw}/24 dev {LAN_DEV}"),
                format!("link set {LAN_DEV} up"),
            ],
        )?;
        sys::ip_batch(
            Some(&lan),
            &[
                "link set lo up".to_string(),
                format!("addr add {inside}/24 dev {LAN_NS_DEV}"),
                format!("link set {LAN_NS_DEV} up"),
                format!("route add default via {gw}"),
            ],
        )?;
        sysctls(&router, &router_fd, &lan, &lan_fd)?;
        if kind == BackendKind::Kernel {
            // As on the kernel backend's own links: netem must see wire-sized packets, so the
            // LAN's TCP must not hand the router super-packets (best effort: needs ethtool).
            let _ = sys::run(
                "ethtool",
                &[
                    "--netns", &lan, "-K", LAN_NS_DEV, "tso", "off", "gso", "off",
                ],
            );
        }
        if let Some(rules) = ruleset(nat, net) {
            sys::run_stdin_in_netns(&router, &router_fd, "nft", &["-f", "-"], &rules)?;
        }
        Ok(NetHost {
            id: host.id,
            netns: Some(lan.clone()),
            addr: host.addr,
            nat: Some(NatHost {
                kind: nat,
                inside_addr: inside,
                lan_netns: lan,
                router_netns: router,
            }),
            ns_fd: Some(Arc::new(lan_fd)),
        })
    }

    /// Removes the LAN namespaces (killing the processes inside; the veth pairs go with them).
    /// The nft tables go with the router namespaces, which the backend removes. Idempotent.
    pub(crate) fn teardown(&mut self) -> Result<(), NetemError> {
        let mut first_err = None;
        for name in self.lans.drain(..) {
            if let Err(e) = destroy_netns(&name) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for NatLayer {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("wirebench-netem: NAT teardown: {e}");
        }
    }
}

/// Forwarding on in the router namespace; no IPv6 on the LAN (no router solicitations, and
/// the NAT is IPv4 only).
fn sysctls(
    router: &str,
    router_fd: &OwnedFd,
    lan: &str,
    lan_fd: &OwnedFd,
) -> Result<(), NetemError> {
    let write = |path: String, v: &str| {
        std::fs::write(&path, v).map_err(|e| NetemError::io(format!("writing {path}"), e))
    };
    sys::in_netns(router_fd, router, || {
        let _ = write(
            format!("/proc/sys/net/ipv6/conf/{LAN_DEV}/disable_ipv6"),
            "1",
        );
        write("/proc/sys/net/ipv4/ip_forward".into(), "1")
    })??;
    sys::in_netns(lan_fd, lan, || {
        let _ = write(
            format!("/proc/sys/net/ipv6/conf/{LAN_NS_DEV}/disable_ipv6"),
            "1",
        );
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lans_are_private_disjoint_and_bounded() {
        let (net, gw, inside) = lan_addrs(1).unwrap();
        assert_eq!(net, Ipv4Addr::new(172, 16, 1, 0));
        assert_eq!(gw, Ipv4Addr::new(172, 16, 1, 1));
        assert_eq!(inside, Ipv4Addr::new(172, 16, 1, 2));
        assert_eq!(lan_addrs(256).unwrap().2, Ipv4Addr::new(172, 17, 0, 2));
        let (last, ..) = lan_addrs(MAX_NAT_CLIENT).unwrap();
        assert_eq!(last, Ipv4Addr::new(172, 31, 255, 0));
        assert!(lan_addrs(0).is_err());
        assert!(lan_addrs(MAX_NAT_CLIENT + 1).is_err());
    }

    #[test]
    fn lan_namespaces_keep_prefix_and_owner() {
        let lan = lan_netns_name("wb-P4242_1a03f-c3");
        assert_eq!(lan, "wb-P4242_1a03f-c3n");
        assert_eq!(crate::netns::owner_pid(&lan), Some(4242));
    }

    #[test]
    fn rulesets_differ_only_in_the_masquerade() {
        let net = Ipv4Addr::new(172, 16, 1, 0);
        assert!(ruleset(Nat::None, net).is_none());
        let eim = ruleset(Nat::EndpointIndependent, net).unwrap();
        let sym = ruleset(Nat::Symmetric, net).unwrap();
        assert!(eim.contains("oifname != \"lan0\" masquerade\n"), "{eim}");
        assert!(sym.contains("masquerade fully-random\n"), "{sym}");
        assert_eq!(
            eim.replace("masquerade\n", "masquerade fully-random\n"),
            sym
        );
        assert!(eim.contains("172.16.1.0/24"));
    }
}
