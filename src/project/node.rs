//! Nodes become Devices at the configured Location, assigned to the Cluster, with one virtual
//! interface carrying the node's InternalIP addresses (primary IPv4/IPv6 = the first of each).
//!
//! - name: `<node>.<cluster>`, so that `master-0` of two clusters at one Location never
//!   collide, and neither do FQDN nodes (`ip-10-0-128-12.ec2.internal` is in every AWS cluster
//!   of a region);
//! - role: from `node-role.kubernetes.io/*` labels, control-plane (or master) first, then infra,
//!   worker, then any other role alphabetically; `k8s-node` without one;
//! - device type: the `node.kubernetes.io/instance-type` label, else the configured default;
//! - platform: the OS image without its version (`Red Hat Enterprise Linux CoreOS`);
//! - status: Active when Ready, Failed when NotReady or Unknown, Offline when cordoned;
//!   the exact state (`Ready,SchedulingDisabled`) is kept in the `k8s_state` field;
//! - serial: the system UUID.

use std::net::IpAddr;

use crate::cluster::Labels;
use crate::cluster::NodeInfo;
use serde_json::Value;

use crate::model::names;
use crate::model::record_id;
use crate::model::{CF_CAPACITY, CF_RUNTIME, CF_STATE, CF_VERSION, Kind, Record, Ref};

use super::ip::{Space, is_unusable, parse_ip};
use super::{Projector, RootProjection, Warning, source_of};

/// Name of the device interface that carries the node's InternalIP addresses.
pub const NODE_INTERFACE: &str = "internal-ip";

impl Projector<'_> {
    pub(super) fn project_node(&self, name: &str, out: &mut RootProjection) {
        let Some(node) = self.index.node(name) else {
            return;
        };
        let Some(location) = self.cfg.location.clone() else {
            return;
        };
        let meta = &node.meta;
        let source = source_of("Node", meta);
        let labels = &meta.labels;

        let device_id = record_id(&self.cfg.cluster_name, Kind::Device, name);
        let (state, nb_status) = node_state(node);
        let device_type = labels
            .get("node.kubernetes.io/instance-type")
            .or_else(|| labels.get("beta.kubernetes.io/instance-type"))
            .map(|s| names::fit(s, 100))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.cfg.default_device_type.clone());
        let platform = node.os_image.as_deref().and_then(os_family);
        let serial = node
            .system_uuid
            .as_deref()
            .map(|u| names::truncate(u, names::SERIAL_MAX))
            .unwrap_or_default();
        let device_name = format!("{name}.{}", self.cfg.cluster_name);

        let mut device = Record::new(device_id, Kind::Device, &device_name, &source)
            .with("name", names::fit(&device_name, names::NAME_MAX))
            .with("device_type", Ref::DeviceType(device_type))
            .with("role", Ref::Role(node_role(labels)))
            .with("status", Ref::Status(nb_status.into()))
            .with("location", Ref::Location(location))
            .with("serial", serial)
            .with_opt("platform", platform.clone().map(Ref::Platform))
            .with_opt(
                "software_version",
                platform
                    .as_deref()
                    .zip(node.os_image.as_deref().and_then(os_version))
                    .map(|(p, v)| crate::model::software_version(p, &v)),
            );
        self.mark_source(&mut device, meta, &source);
        self.console_link(&mut device, &format!("/k8s/cluster/nodes/{name}"));
        let text =
            |v: Option<&str>| v.map_or(Value::Null, |v| Value::String(names::truncate(v, 255)));
        device
            .custom_fields
            .insert(CF_STATE.into(), Value::String(state));
        device
            .custom_fields
            .insert(CF_VERSION.into(), text(node.kubelet_version.as_deref()));
        device
            .custom_fields
            .insert(CF_RUNTIME.into(), text(node.container_runtime.as_deref()));
        device
            .custom_fields
            .insert(CF_CAPACITY.into(), text(capacity(node).as_deref()));

        let iface_id = record_id(
            &self.cfg.cluster_name,
            Kind::DeviceInterface,
            &format!("{name}/{NODE_INTERFACE}"),
        );
        let mut iface = Record::new(
            iface_id,
            Kind::DeviceInterface,
            format!("{device_name} {NODE_INTERFACE}"),
            &source,
        )
        .with("device", Ref::Record(device_id))
        .with("name", NODE_INTERFACE)
        .with("type", "virtual")
        .with("status", Ref::Status("Active".into()))
        .with("description", "Kubernetes node InternalIP");
        self.mark(&mut iface);

        let addresses = &node.addresses;
        let hostname = addresses
            .iter()
            .find(|(t, _)| &**t == "Hostname")
            .and_then(|(_, a)| names::dns_name(a));
        let mut ips: Vec<IpAddr> = Vec::new();
        for (_, address) in addresses.iter().filter(|(t, _)| &**t == "InternalIP") {
            match parse_ip(address) {
                Some(ip) if !is_unusable(ip) => {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
                Some(_) => {}
                None => out.warnings.push(Warning {
                    source: source.clone(),
                    message: format!("InternalIP {address:?} is not an IP address; skipped"),
                }),
            }
        }
        let mut ip_records = Vec::new();
        for ip in &ips {
            ip_records.extend(self.ip_records(
                &Space::Cluster,
                *ip,
                hostname.clone(),
                format!("Node {name}"),
                &source,
            ));
            ip_records.push(self.ip_assignment(
                &Space::Cluster,
                *ip,
                iface_id,
                &format!("{device_name} {NODE_INTERFACE}"),
                false,
                &source,
            ));
        }
        let primary = |v4: bool| {
            ips.iter()
                .find(|ip| ip.is_ipv4() == v4)
                .map(|ip| Ref::Record(self.ip_id(&Space::Cluster, *ip)))
        };
        device = device
            .with_opt("primary_ip4", primary(true))
            .with_opt("primary_ip6", primary(false));

        let assignment = Record::new(
            record_id(&self.cfg.cluster_name, Kind::DeviceClusterAssignment, name),
            Kind::DeviceClusterAssignment,
            format!("{device_name} in {}", self.cfg.cluster_name),
            &source,
        )
        .with("device", Ref::Record(device_id))
        .with("cluster", Ref::Record(self.cluster_id()));

        out.records.push(device);
        out.records.push(iface);
        out.records.push(assignment);
        out.records.extend(ip_records);
    }
}

/// `(k8s_state, Nautobot status)` of a node.
pub fn node_state(node: &NodeInfo) -> (String, &'static str) {
    let ready = node.ready.as_deref();
    let cordoned = node.unschedulable;
    let mut state = match ready {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if cordoned {
        state.push_str(",SchedulingDisabled");
    }
    let status = match (ready, cordoned) {
        (Some("True"), false) => "Active",
        (Some("True"), true) => "Offline",
        _ => "Failed",
    };
    (state, status)
}

/// The device role of a node from its `node-role.kubernetes.io/<role>` labels.
pub fn node_role(labels: &Labels) -> String {
    let roles: Vec<&str> = labels
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .collect();
    let pick = ["control-plane", "master", "infra", "worker"]
        .into_iter()
        .find(|p| roles.contains(p))
        .or_else(|| roles.first().copied());
    match pick {
        Some("master") | Some("control-plane") => "k8s-control-plane".into(),
        Some(r) => names::fit(&format!("k8s-{r}"), 100),
        None => "k8s-node".into(),
    }
}

/// The version of an OS image: its first word that starts with a digit
/// (`Red Hat Enterprise Linux CoreOS 416.94.202406251923-0 (Plow)`: `416.94.202406251923-0`).
pub fn os_version(os_image: &str) -> Option<String> {
    os_image
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(|v| names::fit(v, 100))
}

/// A node's capacity for people: `cpu 16, memory 62.8 GiB, pods 250` (what is reported).
fn capacity(node: &NodeInfo) -> Option<String> {
    let [cpu, memory, pods] = &node.capacity;
    let memory = memory.as_deref().and_then(|m| {
        let mib = super::quantity::Quantity::parse(m)
            .ok()?
            .div_round(1 << 20)?;
        Some(format!("{:.1} GiB", mib as f64 / 1024.0))
    });
    let parts: Vec<String> = [
        cpu.as_deref().map(|c| format!("cpu {c}")),
        memory.map(|m| format!("memory {m}")),
        pods.as_deref().map(|p| format!("pods {p}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The OS family of an OS image: the words before the first one that starts with a digit.
pub fn os_family(os_image: &str) -> Option<String> {
    let words: Vec<&str> = os_image
        .split_whitespace()
        .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit() || c == '('))
        .collect();
    let s = words.join(" ");
    (!s.is_empty()).then(|| names::fit(&s, 100))
}
