//! IP addresses and prefixes: parsing, filtering and the prefixes Nautobot needs.
//!
//! Nautobot refuses an IP address without a containing prefix in its namespace. Known cluster
//! and service networks (OpenShift's `networks.config.openshift.io/cluster`) become `container`
//! prefixes; an address outside every known network gets the narrowest safe network prefix
//! that is still shared by its neighbours: its /24 (IPv4) or /64 (IPv6).

use std::net::IpAddr;

use serde_json::Value;

use crate::api::IsolatedNetworks;
use crate::model::record_id;
use crate::model::{CF_CLUSTER, Kind, OWNERSHIP_TAG, Record, Ref};

use super::Projector;

/// An IP network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::/n`, clearing host bits.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, l) = s.trim().split_once('/')?;
        let addr: IpAddr = a.parse().ok()?;
        let len: u8 = l.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (len <= max).then(|| Cidr::of(addr, len))
    }

    /// The network of `len` bits containing `addr`.
    pub fn of(addr: IpAddr, len: u8) -> Cidr {
        let addr = match addr {
            IpAddr::V4(a) => {
                let mask = if len == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(len))
                };
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(len))
                };
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        Cidr { addr, len }
    }

    /// Whether `ip` lies inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && Cidr::of(ip, self.len).addr == self.addr
    }

    /// The fallback prefix of an address: /24 or /64.
    pub fn fallback_for(ip: IpAddr) -> Cidr {
        Cidr::of(ip, if ip.is_ipv4() { 24 } else { 64 })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Parses an address as Kubernetes and KubeVirt report it (with or without a `/len`).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s.split_once('/').map_or(s, |(a, _)| a);
    // zone ids (fe80::1%eth0) are link-local anyway
    let s = s.split_once('%').map_or(s, |(a, _)| a);
    s.parse().ok()
}

/// Whether an address is useless in an inventory: link-local (169.254/16, fe80::/10),
/// loopback, unspecified or multicast.
pub fn is_unusable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_link_local() || a.is_loopback() || a.is_unspecified() || a.is_multicast()
        }
        IpAddr::V6(a) => {
            (a.segments()[0] & 0xffc0) == 0xfe80
                || a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
        }
    }
}

/// The host form Nautobot stores (`/32` or `/128`).
pub fn host_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

/// The label OVN-Kubernetes requires on a namespace whose pods and VMs get their primary
/// network from a user-defined network (ovn-org/ovn-kubernetes
/// `go-controller/pkg/types/const.go`, `RequiredUDNNamespaceLabel`): their pod-network
/// addresses are the UDN's, isolated from every other namespace's.
pub const PRIMARY_UDN_LABEL: &str = "k8s.ovn.org/primary-user-defined-network";

/// The IPAM namespace an address goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Space<'a> {
    /// The cluster's own (`placement.ipamNamespace`): its pod, service, machine and load
    /// balancer networks. The cluster and service networks are its container prefixes.
    Cluster,
    /// An isolated network's own, named and created by the operator: fallback prefixes as
    /// in the cluster's.
    Network(String),
    /// One a person named for an isolated network (`placement.networkIpamNamespaces`): its
    /// prefixes are theirs, the operator adds addresses only.
    Named(&'a str),
}

impl Projector<'_> {
    /// The name of an IPAM namespace.
    pub(super) fn space_name<'s>(&'s self, space: &'s Space<'_>) -> &'s str {
        match space {
            Space::Cluster => &self.cfg.ipam_namespace,
            Space::Network(n) => n,
            Space::Named(n) => n,
        }
    }

    /// The IPAM namespace of an isolated network: a NetworkAttachmentDefinition
    /// (`namespace/name`) or a namespace's primary user-defined network (the namespace).
    pub(super) fn network_space(&self, key: &str) -> Space<'_> {
        match self.cfg.network_ipam_namespaces.get(key) {
            Some(n) if *n == self.cfg.ipam_namespace => Space::Cluster,
            Some(n) => Space::Named(n),
            None => match self.cfg.isolated_networks {
                IsolatedNetworks::Shared => Space::Cluster,
                IsolatedNetworks::Separate => Space::Network(crate::model::names::fit(
                    &format!("{}/{key}", self.cfg.ipam_namespace),
                    crate::model::names::NAME_MAX,
                )),
            },
        }
    }

    /// Whether a namespace's pod network is its primary user-defined network.
    pub(super) fn has_primary_udn(&self, ns: &str) -> bool {
        self.index
            .namespace(ns)
            .is_some_and(|n| n.label(PRIMARY_UDN_LABEL).is_some())
    }

    /// The id of the IP address record for `ip` in `space`.
    pub(super) fn ip_id(&self, space: &Space<'_>, ip: IpAddr) -> uuid::Uuid {
        record_id(
            &self.cfg.cluster_name,
            Kind::IpAddress,
            &format!("{}/{}", self.space_name(space), ip),
        )
    }

    /// An IP address record (plus, in the operator's own IPAM namespaces, when no known
    /// network holds it, its fallback prefix).
    pub(super) fn ip_records(
        &self,
        space: &Space<'_>,
        ip: IpAddr,
        dns_name: Option<String>,
        description: String,
        source: &str,
    ) -> Vec<Record> {
        let mut out = Vec::with_capacity(2);
        let known = match space {
            Space::Cluster => self.networks.iter().any(|n| n.contains(ip)),
            Space::Network(_) => false,
            Space::Named(_) => true,
        };
        if !known {
            out.push(self.prefix_record(space, Cidr::fallback_for(ip), "network", source));
        }
        let mut ip_rec = Record::new(
            self.ip_id(space, ip),
            Kind::IpAddress,
            ip.to_string(),
            source,
        )
        .with("address", host_address(ip))
        .with(
            "namespace",
            Ref::IpamNamespace(self.space_name(space).to_string()),
        )
        .with("status", Ref::Status("Active".into()))
        .with_opt("dns_name", dns_name)
        .with(
            "description",
            crate::model::names::truncate(&description, crate::model::names::DESCRIPTION_MAX),
        );
        self.mark(&mut ip_rec);
        out.push(ip_rec);
        out
    }

    /// A prefix record in one of the operator's IPAM namespaces.
    pub(super) fn prefix_record(
        &self,
        space: &Space<'_>,
        cidr: Cidr,
        type_: &str,
        source: &str,
    ) -> Record {
        let name = self.space_name(space);
        let mut r = Record::new(
            record_id(
                &self.cfg.cluster_name,
                Kind::Prefix,
                &format!("{name}/{cidr}"),
            ),
            Kind::Prefix,
            cidr.to_string(),
            source,
        )
        .with("prefix", cidr.to_string())
        .with("namespace", Ref::IpamNamespace(name.to_string()))
        .with("status", Ref::Status("Active".into()))
        .with("type", type_);
        self.mark(&mut r);
        r
    }

    /// Link of an IP to a VM interface or a device interface.
    pub(super) fn ip_assignment(
        &self,
        space: &Space<'_>,
        ip: IpAddr,
        iface: uuid::Uuid,
        iface_name: &str,
        vm: bool,
        source: &str,
    ) -> Record {
        let ip_id = self.ip_id(space, ip);
        Record::new(
            record_id(
                &self.cfg.cluster_name,
                Kind::IpAddressToInterface,
                &format!("{ip_id}/{iface}"),
            ),
            Kind::IpAddressToInterface,
            format!("{ip} on {iface_name}"),
            source,
        )
        .with("ip_address", Ref::Record(ip_id))
        .with(
            if vm { "vm_interface" } else { "interface" },
            Ref::Record(iface),
        )
    }

    /// Puts the ownership marker (tag and cluster custom field) on a record.
    pub(super) fn mark(&self, r: &mut Record) {
        r.tags.insert(OWNERSHIP_TAG.to_string());
        r.custom_fields.insert(
            CF_CLUSTER.to_string(),
            Value::String(self.cfg.cluster_name.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_contain_their_addresses() {
        let c = Cidr::parse("10.128.0.0/14").unwrap();
        assert!(c.contains("10.131.255.1".parse().unwrap()));
        assert!(!c.contains("10.132.0.1".parse().unwrap()));
        assert!(!c.contains("fd02::1".parse().unwrap()));
        assert_eq!(
            Cidr::parse("10.0.0.7/24").unwrap().to_string(),
            "10.0.0.0/24"
        );
        assert_eq!(
            Cidr::fallback_for("2001:db8:1:2::5".parse().unwrap()).to_string(),
            "2001:db8:1:2::/64"
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nope/8").is_none());
    }

    #[test]
    fn unusable_addresses_are_recognised() {
        for bad in [
            "fe80::1",
            "169.254.1.1",
            "127.0.0.1",
            "::1",
            "0.0.0.0",
            "ff02::1",
        ] {
            assert!(is_unusable(bad.parse().unwrap()), "{bad}");
        }
        for good in ["10.128.2.5", "fd02::5", "2001:db8::1", "192.0.2.10"] {
            assert!(!is_unusable(good.parse().unwrap()), "{good}");
        }
        assert_eq!(parse_ip("10.0.0.1/24"), "10.0.0.1".parse().ok());
        assert_eq!(parse_ip("fe80::1%eth0"), "fe80::1".parse().ok());
        assert_eq!(parse_ip("garbage"), None);
    }
}
