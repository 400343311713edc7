//! Port allocation: the first free port from each requested base upward.
//!
//! "Free" means a TCP listener can be bound on 0.0.0.0, 127.0.0.1 and :: (where
//! the machine has IPv6): a server binding any of them must not collide. A
//! port is never handed out twice in one run. Another program can still take
//! a port between allocation and the process binding it; that window is
//! inherent to allocating ports for someone else (socket activation, with
//! `listen`, has no such window).

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use corral_config::port_env_name;

use crate::plan::Plan;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allocation {
    /// Index of the process in the plan.
    pub(crate) process: usize,
    pub(crate) name: String,
    /// `CORRAL_PORT_<PROCESS>_<NAME>`.
    pub(crate) var: String,
    pub(crate) port: u16,
}

/// Allocates every port of the plan, or explains which one could not be.
pub(crate) fn allocate(plan: &Plan) -> Result<Vec<Allocation>, String> {
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for (i, p) in plan.processes.iter().enumerate() {
        for (name, base) in &p.ports {
            let port = if plan.strict_ports {
                if taken.contains(base) || !is_free(*base) {
                    return Err(format!("processes.{}.ports.{name}: port {base} is in use and strict_ports is set", p.name));
                }
                *base
            } else {
                (*base..=u16::MAX)
                    .find(|c| !taken.contains(c) && is_free(*c))
                    .ok_or_else(|| format!("processes.{}.ports.{name}: no free port from {base} to 65535", p.name))?
            };
            taken.insert(port);
            out.push(Allocation { process: i, name: name.clone(), var: port_env_name(&p.name, name), port });
        }
    }
    Ok(out)
}

/// The ports of a replica added at run time (`scale`): the first free port
/// from each base upward that this run has not handed out. A base with no
/// free port above it gets none (the replica then fails like a process whose
/// port is taken).
pub(crate) fn allocate_more(index: usize, spec: &crate::plan::ProcessSpec, taken: &[u16]) -> Vec<Allocation> {
    let mut taken: BTreeSet<u16> = taken.iter().copied().collect();
    let mut out = Vec::new();
    for (name, base) in &spec.ports {
        if let Some(port) = (*base..=u16::MAX).find(|c| !taken.contains(c) && is_free(*c)) {
            taken.insert(port);
            out.push(Allocation { process: index, name: name.clone(), var: port_env_name(&spec.name, name), port });
        } else {
            tracing::error!("{}: no free port from {base} to 65535 for {name}", spec.name);
        }
    }
    out
}

/// Whether `port` can be bound on every wildcard and loopback address.
pub(crate) fn is_free(port: u16) -> bool {
    let addrs = [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    ];
    addrs.iter().all(|a| match TcpListener::bind(a) {
        Ok(_) => true,
        // No IPv6 on this machine: nothing can listen there either.
        Err(e) if a.is_ipv6() && matches!(e.kind(), ErrorKind::AddrNotAvailable | ErrorKind::Unsupported) => true,
        Err(e) if a.is_ipv6() && e.raw_os_error() == Some(nix::libc::EAFNOSUPPORT) => true,
        Err(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_port_is_not_free() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(!is_free(port));
        drop(l);
        assert!(is_free(port));
    }
}
