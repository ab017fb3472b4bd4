//! The `none` backend ([`crate::BackendKind::None`]): no namespaces, no shaping; every host is
//! 127.0.0.1 in the current namespace. It refuses anything that would need a real link.

use std::net::{IpAddr, Ipv4Addr};

use crate::error::NetemError;
use crate::link::{BackendKind, HostId, LinkBackend, LinkCounters, Nat, NetHost, TopologySpec};
use crate::profile::Profile;

/// The `none` backend: every host is 127.0.0.1 in the current namespace; nothing to shape.
pub(crate) struct NoneBackend {
    hosts: Vec<NetHost>,
}

impl NoneBackend {
    /// Every host of `spec` on loopback; fails when a profile would shape a link or a client
    /// is behind a NAT.
    pub(crate) fn new(spec: &TopologySpec) -> Result<Self, NetemError> {
        if let Some((k, nat)) = (1..).zip(&spec.nat).find(|(_, n)| **n != Nat::None) {
            return Err(NetemError::Invalid(format!(
                "nat = \"{nat}\" for client {k}: the `none` backend (loopback, no namespaces) \
                 cannot put a host behind a NAT; use the `userspace` or `kernel` backend"
            )));
        }
        if std::iter::once(&spec.server)
            .chain(spec.clients.iter())
            .any(|p| !p.is_unshaped())
        {
            return Err(NetemError::Unsupported {
                backend: "none",
                what: "shape links (the profile has delay, jitter, loss or a rate)".into(),
            });
        }
        let hosts = (0..spec.host_count())
            .map(|h| NetHost {
                id: HostId(h as u32),
                netns: None,
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                nat: None,
                ns_fd: None,
            })
            .collect();
        Ok(Self { hosts })
    }
}

impl LinkBackend for NoneBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::None
    }
    fn hosts(&self) -> &[NetHost] {
        &self.hosts
    }
    fn counters(&self, _id: HostId) -> Result<LinkCounters, NetemError> {
        Err(NetemError::Unsupported {
            backend: "none",
            what: "count link bytes (loopback is shared)".into(),
        })
    }
    fn set_profile(&self, _id: HostId, profile: &Profile) -> Result<(), NetemError> {
        if profile.is_unshaped() {
            Ok(())
        } else {
            Err(NetemError::Unsupported {
                backend: "none",
                what: "shape a link".into(),
            })
        }
    }
    fn set_cut(&self, _id: HostId, _cut: bool) -> Result<(), NetemError> {
        Err(NetemError::Unsupported {
            backend: "none",
            what: "cut a link".into(),
        })
    }
    fn teardown(&mut self) -> Result<(), NetemError> {
        Ok(())
    }
}
