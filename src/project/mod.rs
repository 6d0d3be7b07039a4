//! The projection: a cluster snapshot and a spec in, the desired Nautobot records out.
//!
//! Pure and synchronous: no I/O, no clock, no randomness, so the same input always yields the
//! same records with the same ids. The work is split by *root*: one root per cluster object
//! that owns records (a namespace, a node, a VM, a Deployment, a Service, a pod). Projecting one
//! root reads only that object and what the indexes link to it, so the controller can
//! re-project just the roots a watch event touched; [`Projector::project_all`] is the union of
//! all roots.

pub mod affected;
mod cluster;
pub mod ip;
mod node;
mod os;
mod pod;
pub mod quantity;
mod routes;
mod tenant;
mod vm;
mod volume;
mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::cluster::Meta;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::cluster::{ClusterIndex, ClusterInfo, NsName, WorkloadKind};
use crate::config::SyncConfig;
use crate::model::names;
use crate::model::record_id;
use crate::model::{CF_CONSOLE, CF_SOURCE, CF_UID, Kind, Record, Ref};

pub use affected::Affects;
pub use ip::Cidr;

/// A cluster object that owns records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "key")]
pub enum Root {
    /// The cluster itself: Cluster, CloudAccount, known network prefixes.
    Cluster,
    /// A namespace: its Tenant.
    Namespace(String),
    /// A node: Device, interface, IPs, cluster assignment.
    Node(String),
    /// A VirtualMachine: VM, interfaces, IPs.
    VirtualMachine(NsName),
    /// A Deployment: CloudService.
    Deployment(NsName),
    /// A StatefulSet: CloudService.
    StatefulSet(NsName),
    /// A DaemonSet: CloudService.
    DaemonSet(NsName),
    /// A Service: CloudService, IPs, ipam Services on selected VMs.
    Service(NsName),
    /// A pod: its IPs (only with `sync.podIps`).
    Pod(NsName),
    /// An OpenShift Route: CloudService.
    Route(NsName),
    /// An Ingress: CloudService.
    Ingress(NsName),
    /// A PersistentVolumeClaim, or the DataVolume that will fill it (same name): CloudService.
    Volume(NsName),
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Root::Cluster => write!(f, "Cluster"),
            Root::Namespace(n) => write!(f, "Namespace {n}"),
            Root::Node(n) => write!(f, "Node {n}"),
            Root::VirtualMachine((ns, n)) => write!(f, "VirtualMachine {ns}/{n}"),
            Root::Deployment((ns, n)) => write!(f, "Deployment {ns}/{n}"),
            Root::StatefulSet((ns, n)) => write!(f, "StatefulSet {ns}/{n}"),
            Root::DaemonSet((ns, n)) => write!(f, "DaemonSet {ns}/{n}"),
            Root::Service((ns, n)) => write!(f, "Service {ns}/{n}"),
            Root::Pod((ns, n)) => write!(f, "Pod {ns}/{n}"),
            Root::Route((ns, n)) => write!(f, "Route {ns}/{n}"),
            Root::Ingress((ns, n)) => write!(f, "Ingress {ns}/{n}"),
            Root::Volume((ns, n)) => write!(f, "PersistentVolumeClaim {ns}/{n}"),
        }
    }
}

impl Root {
    /// The root of a workload.
    pub fn workload(kind: crate::cluster::WorkloadKind, key: NsName) -> Root {
        use crate::cluster::WorkloadKind as W;
        match kind {
            W::Deployment => Root::Deployment(key),
            W::StatefulSet => Root::StatefulSet(key),
            W::DaemonSet => Root::DaemonSet(key),
        }
    }
}

/// Something odd about a cluster object; the record is still produced as well as possible.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Warning {
    /// The object, as `Kind namespace/name`.
    pub source: String,
    /// What is odd and what was done about it.
    pub message: String,
}

/// What one root projects to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RootProjection {
    /// Desired records.
    pub records: Vec<Record>,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// Records (VMs, VM interfaces) whose IP addresses are unknown right now (a VM stopped or
    /// not yet running; an interface only the guest agent reports on, while it is not
    /// connected): their owned IP assignments must be kept, not deleted.
    pub ips_unknown: Vec<Uuid>,
}

/// The desired state of the whole cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Projection {
    /// Desired records by id.
    pub records: BTreeMap<Uuid, Record>,
    /// Warnings, sorted.
    pub warnings: Vec<Warning>,
    /// See [`RootProjection::ips_unknown`].
    pub ips_unknown: BTreeSet<Uuid>,
}

impl Projection {
    /// Merges one root's output. A record id produced twice (the same IP address reported by
    /// two objects) keeps the first definition; a real disagreement is reported.
    pub fn merge(&mut self, root: RootProjection) {
        for r in root.records {
            match self.records.get(&r.id) {
                None => {
                    self.records.insert(r.id, r);
                }
                Some(existing) if existing == &r || r.kind == Kind::Prefix => {}
                Some(existing) => {
                    if existing.kind != Kind::IpAddress {
                        self.warnings.push(Warning {
                            source: r.source.clone(),
                            message: format!(
                                "{} {} is also produced by {}; keeping the first",
                                r.kind, r.name, existing.source
                            ),
                        });
                    }
                }
            }
        }
        self.warnings.extend(root.warnings);
        self.ips_unknown.extend(root.ips_unknown);
    }

    /// Number of records per kind.
    pub fn counts(&self) -> BTreeMap<Kind, usize> {
        let mut m = BTreeMap::new();
        for r in self.records.values() {
            *m.entry(r.kind).or_insert(0) += 1;
        }
        m
    }
}

/// The warning for an address that two hosts (VMs, nodes, pods) report in one IPAM namespace:
/// Nautobot holds one IP address for it, assigned to both, which is right for a shared address
/// on one network and wrong for two isolated networks that reuse a range. Services sharing a
/// load-balancer address are not hosts and never warned about.
/// `producers` are the roots that report the address, with the source of their IP record.
pub fn shared_address<'s>(
    ip: &Record,
    producers: impl Iterator<Item = (&'s Root, &'s str)>,
) -> Option<Warning> {
    let mut hosts: Vec<&str> = producers
        .filter(|(root, _)| matches!(root, Root::VirtualMachine(_) | Root::Node(_) | Root::Pod(_)))
        .map(|(_, source)| source)
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let (first, others) = hosts.split_first()?;
    if others.is_empty() {
        return None;
    }
    let namespace = match ip.fields.get("namespace") {
        Some(crate::model::Field::Ref(Ref::IpamNamespace(n))) => n.as_str(),
        _ => "?",
    };
    Some(Warning {
        source: (*first).to_string(),
        message: format!(
            "address {} in IPAM namespace {namespace:?} is also reported by {}: one IP address in Nautobot for all of them; if these are isolated networks that reuse a range, give them IPAM namespaces of their own (spec.placement.isolatedNetworks: Separate, networkIpamNamespaces)",
            ip.name,
            others.join(", ")
        ),
    })
}

/// Projects a [`ClusterIndex`] under a [`SyncConfig`].
pub struct Projector<'a> {
    cfg: &'a SyncConfig,
    index: &'a ClusterIndex,
    info: ClusterInfo,
    networks: Vec<Cidr>,
}

impl<'a> Projector<'a> {
    /// A projector over the current index.
    pub fn new(cfg: &'a SyncConfig, index: &'a ClusterIndex) -> Self {
        let info = index.cluster_info();
        let networks = info
            .cluster_networks
            .iter()
            .chain(&info.service_networks)
            .filter_map(|c| Cidr::parse(c))
            .collect();
        Projector {
            cfg,
            index,
            info,
            networks,
        }
    }

    /// Every root of the cluster, in a fixed order.
    pub fn roots(&self) -> Vec<Root> {
        let s = &self.cfg.sync;
        let mut roots = vec![Root::Cluster];
        if s.namespaces {
            roots.extend(
                self.index
                    .namespaces()
                    .map(|n| Root::Namespace(n.name.to_string())),
            );
        }
        if s.nodes {
            roots.extend(
                self.index
                    .nodes()
                    .map(|n| Root::Node(n.meta.name.to_string())),
            );
        }
        if s.virtual_machines {
            roots.extend(self.index.vms().map(|v| Root::VirtualMachine(v.meta.key())));
            roots.extend(
                self.index
                    .standalone_vmis()
                    .map(|v| Root::VirtualMachine(v.meta.key())),
            );
        }
        if s.deployments {
            roots.extend(
                self.index
                    .deployments()
                    .map(|d| Root::Deployment(d.meta.key())),
            );
        }
        if s.stateful_sets {
            roots.extend(
                self.index
                    .statefulsets()
                    .map(|d| Root::StatefulSet(d.meta.key())),
            );
        }
        if s.daemon_sets {
            roots.extend(
                self.index
                    .daemonsets()
                    .map(|d| Root::DaemonSet(d.meta.key())),
            );
        }
        if s.services {
            roots.extend(self.index.services().map(|d| Root::Service(d.meta.key())));
        }
        if s.routes {
            roots.extend(self.index.routes().map(|r| Root::Route(r.meta.key())));
            roots.extend(self.index.ingresses().map(|i| Root::Ingress(i.meta.key())));
        }
        if s.volumes {
            roots.extend(volume_roots(self.index.claims(), self.index.datavolumes()));
        }
        if s.pod_ips {
            roots.extend(self.index.pods().map(|p| Root::Pod(p.key())));
        }
        roots
    }

    /// Projects one root. A root whose object is gone, filtered out or not synced projects to
    /// nothing (so its records become deletions in the diff).
    pub fn project_root(&self, root: &Root) -> RootProjection {
        let mut out = RootProjection::default();
        if !self.syncs(root) {
            return out;
        }
        match root {
            Root::Cluster => self.project_cluster(&mut out),
            Root::Namespace(n) => self.project_namespace(n, &mut out),
            Root::Node(n) => self.project_node(n, &mut out),
            Root::VirtualMachine((ns, n)) => self.project_vm(ns, n, &mut out),
            Root::Deployment((ns, n)) => {
                self.project_workload(WorkloadKind::Deployment, ns, n, &mut out)
            }
            Root::StatefulSet((ns, n)) => {
                self.project_workload(WorkloadKind::StatefulSet, ns, n, &mut out)
            }
            Root::DaemonSet((ns, n)) => {
                self.project_workload(WorkloadKind::DaemonSet, ns, n, &mut out)
            }
            Root::Service((ns, n)) => self.project_service(ns, n, &mut out),
            Root::Pod((ns, n)) => self.project_pod(ns, n, &mut out),
            Root::Route((ns, n)) => self.project_route(ns, n, &mut out),
            Root::Ingress((ns, n)) => self.project_ingress(ns, n, &mut out),
            Root::Volume((ns, n)) => self.project_volume(ns, n, &mut out),
        }
        out
    }

    /// Whether the config syncs this kind of root at all.
    pub fn syncs(&self, root: &Root) -> bool {
        let s = &self.cfg.sync;
        match root {
            Root::Cluster => true,
            Root::Namespace(_) => s.namespaces,
            Root::Node(_) => s.nodes,
            Root::VirtualMachine(_) => s.virtual_machines,
            Root::Deployment(_) => s.deployments,
            Root::StatefulSet(_) => s.stateful_sets,
            Root::DaemonSet(_) => s.daemon_sets,
            Root::Service(_) => s.services,
            Root::Pod(_) => s.pod_ips,
            Root::Route(_) | Root::Ingress(_) => s.routes,
            Root::Volume(_) => s.volumes,
        }
    }

    /// Projects the whole cluster.
    pub fn project_all(&self) -> Projection {
        let mut p = Projection::default();
        // who reports each address, for the warning about addresses two hosts share
        let mut reported: BTreeMap<Uuid, Vec<(Root, String)>> = BTreeMap::new();
        for root in self.roots() {
            let out = self.project_root(&root);
            for r in out.records.iter().filter(|r| r.kind == Kind::IpAddress) {
                reported
                    .entry(r.id)
                    .or_default()
                    .push((root.clone(), r.source.clone()));
            }
            p.merge(out);
        }
        for (id, sources) in &reported {
            if let Some(w) = p
                .records
                .get(id)
                .and_then(|ip| shared_address(ip, sources.iter().map(|(r, s)| (r, s.as_str()))))
            {
                p.warnings.push(w);
            }
        }
        p.warnings.sort();
        p.warnings.dedup();
        p
    }

    /// Whether objects in `ns` are synced: the namespace passes the filter (and exists, when
    /// namespaces are synced, since its tenant is referenced).
    fn namespace_in_scope(&self, ns: &str) -> bool {
        self.cfg.namespaces.allows(ns)
    }

    /// The id of the Cluster record.
    fn cluster_id(&self) -> Uuid {
        record_id(&self.cfg.cluster_name, Kind::Cluster, "")
    }

    /// The id of a namespace's tenant, when namespaces are synced and it is in scope.
    fn tenant_ref(&self, ns: &str) -> Option<Uuid> {
        (self.cfg.sync.namespaces
            && self.namespace_in_scope(ns)
            && self.index.namespace(ns).is_some())
        .then(|| record_id(&self.cfg.cluster_name, Kind::Tenant, ns))
    }

    /// Puts the object's page in the web console on a record (custom field `k8s_console_url`;
    /// null when the console's URL is unknown or `sync.consoleLinks` is off, which hides the
    /// console custom links). `path` is the console router's path of the object
    /// (openshift/console `frontend/public/components/utils/resource-link.tsx`); Kubernetes
    /// names are URL-safe as they are.
    fn console_link(&self, r: &mut Record, path: &str) {
        let base = self
            .cfg
            .sync
            .console_links
            .then(|| {
                self.cfg
                    .console_url
                    .as_deref()
                    .or(self.info.console_url.as_deref())
            })
            .flatten();
        let url = base.map(|b| format!("{}{path}", b.trim_end_matches('/')));
        r.custom_fields
            .insert(CF_CONSOLE.into(), url.map_or(Value::Null, Value::String));
    }

    /// Ownership marker plus source identity, label tags and label custom fields: for the main
    /// record of a cluster object.
    fn mark_source(&self, r: &mut Record, meta: &Meta, source: &str) {
        self.mark_source_with(r, meta.uid.as_deref(), |k| meta.label(k), source);
    }

    /// [`Self::mark_source`] from a UID and a label lookup.
    fn mark_source_with<'l>(
        &self,
        r: &mut Record,
        uid: Option<&str>,
        label: impl Fn(&str) -> Option<&'l str>,
        source: &str,
    ) {
        self.mark(r);
        if let Some(uid) = uid {
            r.custom_fields
                .insert(CF_UID.into(), Value::String(uid.to_string()));
        }
        r.custom_fields.insert(
            CF_SOURCE.into(),
            Value::String(names::truncate(source, 255)),
        );
        for key in &self.cfg.label_tags {
            if let Some(v) = label(key) {
                r.tags
                    .insert(names::fit(&format!("{key}={v}"), names::TAG_MAX));
            }
        }
        for (label_key, cf) in &self.cfg.label_custom_fields {
            let v = label(label_key).map_or(Value::Null, |v| Value::String(v.to_string()));
            r.custom_fields.insert(cf.clone(), v);
        }
    }
}

/// One root per claim, with the DataVolumes whose claim does not exist yet (a claim and the
/// DataVolume filling it share their name and their root).
fn volume_roots<'a>(
    claims: impl Iterator<Item = &'a std::sync::Arc<crate::cluster::ClaimInfo>>,
    datavolumes: impl Iterator<Item = &'a std::sync::Arc<crate::cluster::DataVolumeInfo>>,
) -> impl Iterator<Item = Root> {
    let mut keys: BTreeSet<NsName> = claims.map(|c| c.meta.key()).collect();
    keys.extend(datavolumes.map(|d| d.meta.key()));
    keys.into_iter().map(Root::Volume)
}

/// `Kind ns/name` or `Kind name`.
fn source_of(kind: &str, meta: &Meta) -> String {
    let name = if meta.name.is_empty() {
        "?"
    } else {
        &meta.name
    };
    match &*meta.namespace {
        "" => format!("{kind} {name}"),
        ns => format!("{kind} {ns}/{name}"),
    }
}

#[cfg(test)]
pub(crate) mod fuzz;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
