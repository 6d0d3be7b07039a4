//! Deployments and Services.
//!
//! Nautobot has no application model; the closest fit is a CloudService under a CloudAccount
//! per cluster, with the Kubernetes details in `extra_config`. CloudService names are global,
//! so they read `<cluster>/<namespace>/deployment/<name>` and `.../service/<name>` (a Deployment
//! and a Service often share a name). Service IPs (ClusterIPs, external IPs, load-balancer
//! ingress IPs) become IP addresses named `<svc>.<ns>.svc.<domain>`; a Service that selects
//! KubeVirt VMs also becomes an ipam Service (ports and protocol) on each of those VMs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use crate::cluster::{Meta, PodOwner, WorkloadKind};
use crate::cluster::{ServiceInfo, ServicePortInfo};
use crate::model::names;
use crate::model::record_id;
use crate::model::{Kind, Record, Ref};

use super::ip::{is_unusable, parse_ip};
use super::{Projector, RootProjection, Warning, source_of};

/// Resource type of Deployment CloudServices.
pub const DEPLOYMENT_TYPE: &str = "Kubernetes Deployment";
/// Resource type of StatefulSet CloudServices.
pub const STATEFULSET_TYPE: &str = "Kubernetes StatefulSet";
/// Resource type of DaemonSet CloudServices.
pub const DAEMONSET_TYPE: &str = "Kubernetes DaemonSet";
/// Resource type of Service CloudServices.
pub const SERVICE_TYPE: &str = "Kubernetes Service";

impl Projector<'_> {
    /// The CloudService of a cluster object, marked with its source (`meta`).
    pub(super) fn cloud_service(
        &self,
        kind: &str,
        meta: &Meta,
        resource_type: &str,
        source: &str,
    ) -> Record {
        let (ns, name) = (&*meta.namespace, &*meta.name);
        let full = format!(
            "{}/{ns}/{}/{name}",
            self.cfg.cluster_name,
            kind.to_ascii_lowercase()
        );
        let mut r = Record::new(
            record_id(
                &self.cfg.cluster_name,
                Kind::CloudService,
                &format!("{kind}/{ns}/{name}"),
            ),
            Kind::CloudService,
            full.clone(),
            source,
        )
        .with("name", names::fit(&full, names::NAME_MAX))
        .with(
            "cloud_resource_type",
            Ref::CloudResourceType(resource_type.into()),
        )
        .with("cloud_account", Ref::Record(self.cloud_account_id()))
        .with(
            "description",
            names::truncate(&format!("{kind} {ns}/{name}"), names::DESCRIPTION_MAX),
        );
        self.mark_source(&mut r, meta, source);
        r
    }

    /// A Deployment, StatefulSet or DaemonSet: a CloudService of its resource type.
    pub(super) fn project_workload(
        &self,
        kind: WorkloadKind,
        ns: &str,
        name: &str,
        out: &mut RootProjection,
    ) {
        let Some(d) = self.index.workload(kind, ns, name) else {
            return;
        };
        if !self.namespace_in_scope(ns) {
            return;
        }
        let k = kind.as_str();
        let source = source_of(k, &d.meta);
        // images only: never env values, commands or anything that may carry secrets
        let images: Vec<&str> = d.images.iter().map(|i| &**i).collect();
        let nodes: BTreeSet<&str> = self
            .index
            .workload_pods(kind, ns, name)
            .filter_map(|p| p.node.as_deref())
            .collect();
        let (resource_type, default_replicas) = match kind {
            WorkloadKind::Deployment => (DEPLOYMENT_TYPE, 1),
            WorkloadKind::StatefulSet => (STATEFULSET_TYPE, 1),
            WorkloadKind::DaemonSet => (DAEMONSET_TYPE, 0),
        };
        let extra = json!({
            "kind": k,
            "namespace": ns,
            "name": name,
            "replicas": d.replicas.unwrap_or(default_replicas),
            // the API server's default for each kind
            "strategy": d.strategy.as_deref().unwrap_or("RollingUpdate"),
            "selector": d.selector,
            "images": images,
            "nodes": nodes,
        });
        out.records.push(
            self.cloud_service(k, &d.meta, resource_type, &source)
                .with("extra_config", extra),
        );
    }

    pub(super) fn project_service(&self, ns: &str, name: &str, out: &mut RootProjection) {
        let Some(svc) = self.index.service(ns, name) else {
            return;
        };
        if !self.namespace_in_scope(ns) {
            return;
        }
        let source = source_of("Service", &svc.meta);
        let type_ = svc.type_.as_deref().unwrap_or("ClusterIP");
        let ports: Vec<Value> = svc
            .ports
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "protocol": p.protocol.as_deref().unwrap_or("TCP"),
                    "port": p.port,
                    "targetPort": p.target_port.as_ref().map(|t| match t {
                        IntOrString::Int(i) => json!(i),
                        IntOrString::String(s) => json!(s),
                    }),
                    "nodePort": p.node_port,
                })
            })
            .collect();
        let lb = &svc.load_balancer;
        let cluster_ips = &svc.cluster_ips;
        let external_ips = &svc.external_ips;
        let mut extra = json!({
            "kind": "Service",
            "namespace": ns,
            "name": name,
            "type": type_,
            "clusterIPs": cluster_ips,
            "ports": ports,
            "selector": svc.selector,
        });
        if let Some(e) = &svc.external_name {
            extra["externalName"] = json!(e);
        }
        if !external_ips.is_empty() {
            extra["externalIPs"] = json!(external_ips);
        }
        if !lb.is_empty() {
            extra["loadBalancer"] = json!(lb);
        }
        // the hosts Routes and Ingresses serve it on (super::routes)
        let hosts = self.service_hosts(ns, name);
        if !hosts.is_empty() {
            extra["externalHosts"] = json!(hosts);
        }
        out.records.push(
            self.cloud_service("Service", &svc.meta, SERVICE_TYPE, &source)
                .with("extra_config", extra),
        );

        // IP addresses
        let dns = names::dns_name(&format!("{name}.{ns}.svc.{}", self.cfg.cluster_domain));
        let mut seen: Vec<IpAddr> = Vec::new();
        let candidates = cluster_ips
            .iter()
            .map(|a| (a, type_))
            .chain(external_ips.iter().map(|a| (a, "external IP")))
            .chain(lb.iter().map(|a| (a, "load-balancer ingress")));
        for (raw, what) in candidates {
            let Some(ip) = parse_ip(raw) else {
                // load balancers may report a hostname instead of an IP: kept in extra_config only
                if what != "load-balancer ingress" {
                    out.warnings.push(Warning {
                        source: source.clone(),
                        message: format!("{what} {raw:?} is not an IP address; skipped"),
                    });
                }
                continue;
            };
            if is_unusable(ip) || seen.contains(&ip) {
                continue;
            }
            seen.push(ip);
            out.records.extend(self.ip_records(
                &super::ip::Space::Cluster,
                ip,
                dns.clone(),
                format!("Service {ns}/{name} ({what})"),
                &source,
            ));
        }

        if self.cfg.sync.virtual_machines {
            self.vm_services(svc, ns, name, &source, out);
        }
    }

    /// ipam Services on the KubeVirt VMs a Service selects (through their virt-launcher pods,
    /// which carry the VMI's labels).
    fn vm_services(
        &self,
        svc: &ServiceInfo,
        ns: &str,
        name: &str,
        source: &str,
        out: &mut RootProjection,
    ) {
        let selector = &svc.selector;
        if selector.is_empty() {
            return;
        }
        let mut vms: BTreeSet<String> = BTreeSet::new();
        for pod in self.index.pods_in(ns) {
            if !pod.labels.selected_by(selector) {
                continue;
            }
            let (PodOwner::VirtLauncher(vmi_uid), Some(vmi_name)) = (&pod.owner, &pod.vmi_name)
            else {
                continue;
            };
            let vmi_matches = self
                .index
                .vmi(ns, vmi_name)
                .is_some_and(|v| v.meta.uid.as_deref() == Some(vmi_uid.as_str()));
            // a VM, or a VMI created on its own (synced as a VM of its name)
            let synced = self.index.vm(ns, vmi_name).is_some()
                || self.index.standalone_vmi(ns, vmi_name).is_some();
            if vmi_matches && synced {
                vms.insert(vmi_name.to_string());
            }
        }
        if vms.is_empty() {
            return;
        }
        let mut protocols: Vec<(&ServicePortInfo, &'static str)> = Vec::new();
        for p in &svc.ports {
            match p.protocol.as_deref().unwrap_or("TCP") {
                "TCP" => protocols.push((p, "tcp")),
                "UDP" => protocols.push((p, "udp")),
                other => out.warnings.push(Warning {
                    source: source.to_string(),
                    message: format!(
                        "port {} uses {other}, which Nautobot services cannot hold; skipped",
                        p.port
                    ),
                }),
            }
        }
        for vm in &vms {
            // what the guest listens on: a numeric targetPort, a named one through the VM
            // interfaces' named ports (virt-launcher's compute container carries them, which is
            // where Kubernetes resolves it), else the Service port
            let named = self.vm_named_ports(ns, vm);
            let mut by_proto: BTreeMap<&'static str, BTreeSet<i32>> = BTreeMap::new();
            for (p, proto) in &protocols {
                let port = match &p.target_port {
                    Some(IntOrString::Int(i)) if *i > 0 => *i,
                    Some(IntOrString::String(n)) if !n.is_empty() => {
                        match named.iter().find(|(name, pr, _)| name == n && pr == proto) {
                            Some((_, _, port)) => *port,
                            None => {
                                // Kubernetes sends nothing to a pod without the named port
                                out.warnings.push(Warning {
                                    source: source.to_string(),
                                    message: format!(
                                        "targetPort {n:?} is not a named port of VM {ns}/{vm}; skipped for it"
                                    ),
                                });
                                continue;
                            }
                        }
                    }
                    _ => p.port,
                };
                by_proto.entry(proto).or_default().insert(port);
            }
            let vm_id = record_id(
                &self.cfg.cluster_name,
                Kind::VirtualMachine,
                &format!("{ns}/{vm}"),
            );
            for (proto, ports) in &by_proto {
                let svc_name = if *proto == "tcp" {
                    name.to_string()
                } else {
                    format!("{name} ({proto})")
                };
                let mut r = Record::new(
                    record_id(
                        &self.cfg.cluster_name,
                        Kind::IpamService,
                        &format!("{ns}/{name}/{vm}/{proto}"),
                    ),
                    Kind::IpamService,
                    format!("{ns}/{vm} {svc_name}"),
                    source,
                )
                .with("name", names::fit(&svc_name, 100))
                .with("protocol", *proto)
                .with("ports", json!(ports))
                .with("virtual_machine", Ref::Record(vm_id))
                .with(
                    "description",
                    names::truncate(
                        &format!("Kubernetes Service {ns}/{name}"),
                        names::DESCRIPTION_MAX,
                    ),
                );
                self.mark(&mut r);
                out.records.push(r);
            }
        }
    }

    /// The named ports of a VM's interfaces (`spec.domain.devices.interfaces[].ports[]`, of
    /// the VM template or a standalone VMI) as (name, protocol, port).
    fn vm_named_ports(&self, ns: &str, vm: &str) -> Vec<(String, &'static str, i32)> {
        let spec = match self.index.vm(ns, vm) {
            Some(v) => v.spec.template.as_ref().and_then(|t| t.spec.as_ref()),
            None => self.index.standalone_vmi(ns, vm).map(|v| &v.spec),
        };
        spec.and_then(|s| s.domain.as_ref())
            .and_then(|d| d.devices.as_ref())
            .into_iter()
            .flat_map(|d| &d.interfaces)
            .flat_map(|i| &i.ports)
            .filter_map(|p| {
                let proto = match p
                    .protocol
                    .as_deref()
                    .unwrap_or("TCP")
                    .to_ascii_uppercase()
                    .as_str()
                {
                    "TCP" => "tcp",
                    "UDP" => "udp",
                    _ => return None,
                };
                Some((p.name.clone()?, proto, p.port))
            })
            .collect()
    }
}
