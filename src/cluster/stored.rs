//! Compact forms of the objects the index keeps, built once when an object is read.
//!
//! `k8s_openapi` structs are made for every client: an `ObjectMeta` alone is some 400 bytes
//! before its strings, a `ServiceSpec` or a `PodSpec` more, and every label map is a B-tree
//! node of about 540 bytes however few labels it holds. The index keeps tens of thousands of
//! objects, so it stores what the projection reads and nothing else: boxed strings, labels as
//! one sorted slice ([`Labels`]), facts resolved once (a Service's ClusterIPs, a node's Ready
//! condition). docs/benchmarks.md (figure 6) has the numbers.
//!
//! Pods have their own form, [`PodInfo`]. KubeVirt objects keep our own
//! spec and status structs (`crate::kubevirt`, already limited to what is read) with a compact
//! [`Meta`].

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use std::sync::Arc;

use super::intern::intern;
use super::kubevirt::{
    VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceSpec, VirtualMachineSpec,
    VirtualMachineStatus, VmiStatus,
};
use super::labels::{Labels, NsName};
use super::wire::{KEPT_ANNOTATIONS, SlimPod};

/// What the projection reads of an object's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Name.
    pub name: Box<str>,
    /// Namespace (shared); empty for cluster-scoped objects.
    pub namespace: Arc<str>,
    /// UID.
    pub uid: Option<Box<str>>,
    /// Labels (tags, custom fields, roles, selectors).
    pub labels: Labels,
    /// The [`KEPT_ANNOTATIONS`] only.
    pub annotations: Labels,
}

impl Meta {
    /// Keeps the labels for which `keep_label` is true.
    pub fn from_meta(m: ObjectMeta, keep_label: impl Fn(&str) -> bool) -> Self {
        let mut labels = m.labels.unwrap_or_default();
        labels.retain(|k, _| keep_label(k));
        let mut annotations = m.annotations.unwrap_or_default();
        annotations.retain(|k, _| KEPT_ANNOTATIONS.contains(&k.as_str()));
        Meta {
            name: m.name.unwrap_or_default().into_boxed_str(),
            namespace: intern(m.namespace.as_deref().unwrap_or_default()),
            uid: m.uid.map(String::into_boxed_str),
            labels: labels.into(),
            annotations: annotations.into(),
        }
    }

    /// (namespace, name).
    pub fn key(&self) -> NsName {
        (self.namespace.to_string(), self.name.to_string())
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key)
    }

    /// The value of a kept annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key)
    }
}

impl From<ObjectMeta> for Meta {
    fn from(m: ObjectMeta) -> Self {
        Meta::from_meta(m, |_| true)
    }
}

/// Stored forms with a [`Meta`].
pub trait HasMeta {
    /// The metadata.
    fn meta(&self) -> &Meta;
}

impl HasMeta for Meta {
    fn meta(&self) -> &Meta {
        self
    }
}

macro_rules! has_meta {
    ($($t:ty),*) => {$(
        impl HasMeta for $t {
            fn meta(&self) -> &Meta {
                &self.meta
            }
        }
    )*};
}
has_meta!(
    NodeInfo,
    DeploymentInfo,
    ServiceInfo,
    VmInfo,
    VmiInfo,
    RevisionInfo
);

/// Node labels that are never read: the hundred-odd CPU feature, CPU model and scheduling
/// labels KubeVirt's node labeller sets on each node (`*.node.kubevirt.io/...`), and Node
/// Feature Discovery's (`feature.node.kubernetes.io/...`). They are most of a node's size and
/// make poor tags; docs/mapping.md says they cannot be mapped.
pub fn node_label_kept(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, _)) => {
            !(prefix.ends_with(".node.kubevirt.io") || prefix == "feature.node.kubernetes.io")
        }
        None => true,
    }
}

/// A namespace: its metadata is all the projection reads.
pub type NamespaceInfo = Meta;

impl From<Namespace> for Meta {
    fn from(ns: Namespace) -> Self {
        Meta::from(ns.metadata)
    }
}

/// A node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Metadata, without the labels [`node_label_kept`] drops.
    pub meta: Meta,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// The status of the Ready condition (`True`, `False`, `Unknown`).
    pub ready: Option<Box<str>>,
    /// `status.nodeInfo.osImage`.
    pub os_image: Option<Box<str>>,
    /// `status.nodeInfo.systemUUID`.
    pub system_uuid: Option<Box<str>>,
    /// `status.addresses` as (type, address).
    pub addresses: Box<[(Box<str>, Box<str>)]>,
    /// `status.nodeInfo.kubeletVersion`.
    pub kubelet_version: Option<Box<str>>,
    /// `status.nodeInfo.containerRuntimeVersion`.
    pub container_runtime: Option<Box<str>>,
    /// `status.capacity` `cpu`, `memory` and `pods`, as quantities.
    pub capacity: [Option<Box<str>>; 3],
}

impl From<Node> for NodeInfo {
    fn from(n: Node) -> Self {
        let status = n.status.unwrap_or_default();
        let info = status.node_info;
        NodeInfo {
            meta: Meta::from_meta(n.metadata, node_label_kept),
            unschedulable: n.spec.and_then(|s| s.unschedulable).unwrap_or(false),
            ready: status
                .conditions
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "Ready")
                .map(|c| c.status.into_boxed_str()),
            os_image: info.as_ref().map(|i| i.os_image.clone().into_boxed_str()),
            kubelet_version: info
                .as_ref()
                .map(|i| i.kubelet_version.clone().into_boxed_str())
                .filter(|v| !v.is_empty()),
            container_runtime: info
                .as_ref()
                .map(|i| i.container_runtime_version.clone().into_boxed_str())
                .filter(|v| !v.is_empty()),
            capacity: ["cpu", "memory", "pods"].map(|k| {
                status
                    .capacity
                    .as_ref()
                    .and_then(|c| c.get(k))
                    .map(|q| q.0.clone().into_boxed_str())
            }),
            system_uuid: info.map(|i| i.system_uuid.into_boxed_str()),
            addresses: status
                .addresses
                .into_iter()
                .flatten()
                .map(|a| (a.type_.into_boxed_str(), a.address.into_boxed_str()))
                .collect(),
        }
    }
}

/// The kinds of workloads (`apps/v1`) synced as CloudServices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// Deployment (pods through its ReplicaSets).
    #[default]
    Deployment,
    /// StatefulSet.
    StatefulSet,
    /// DaemonSet.
    DaemonSet,
}

impl WorkloadKind {
    /// The Kubernetes kind.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

/// A workload: a Deployment, StatefulSet or DaemonSet.
pub type DeploymentInfo = WorkloadInfo;

/// A Deployment, StatefulSet or DaemonSet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadInfo {
    /// Which kind.
    pub kind: WorkloadKind,
    /// Metadata.
    pub meta: Meta,
    /// `spec.replicas` (a DaemonSet: `status.desiredNumberScheduled`).
    pub replicas: Option<i32>,
    /// `spec.strategy.type` (StatefulSets and DaemonSets: `spec.updateStrategy.type`).
    pub strategy: Option<Box<str>>,
    /// `spec.selector.matchLabels`.
    pub selector: Labels,
    /// The container images of the pod template (never env, commands or volumes).
    pub images: Box<[Box<str>]>,
}

/// The container images of a pod template (never env, commands or volumes).
fn template_images(t: k8s_openapi::api::core::v1::PodTemplateSpec) -> Box<[Box<str>]> {
    t.spec
        .map(|p| p.containers)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.image.map(String::into_boxed_str))
        .collect()
}

impl From<k8s_openapi::api::apps::v1::StatefulSet> for WorkloadInfo {
    fn from(s: k8s_openapi::api::apps::v1::StatefulSet) -> Self {
        let spec = s.spec.unwrap_or_default();
        WorkloadInfo {
            kind: WorkloadKind::StatefulSet,
            meta: s.metadata.into(),
            replicas: spec.replicas,
            strategy: spec
                .update_strategy
                .and_then(|s| s.type_)
                .map(String::into_boxed_str),
            selector: spec.selector.match_labels.unwrap_or_default().into(),
            images: template_images(spec.template),
        }
    }
}

impl From<k8s_openapi::api::apps::v1::DaemonSet> for WorkloadInfo {
    fn from(d: k8s_openapi::api::apps::v1::DaemonSet) -> Self {
        let spec = d.spec.unwrap_or_default();
        let status = d.status.unwrap_or_default();
        WorkloadInfo {
            kind: WorkloadKind::DaemonSet,
            meta: d.metadata.into(),
            replicas: Some(status.desired_number_scheduled),
            strategy: spec
                .update_strategy
                .and_then(|s| s.type_)
                .map(String::into_boxed_str),
            selector: spec.selector.match_labels.unwrap_or_default().into(),
            images: template_images(spec.template),
        }
    }
}

impl From<Deployment> for DeploymentInfo {
    fn from(d: Deployment) -> Self {
        let spec = d.spec.unwrap_or_default();
        DeploymentInfo {
            kind: WorkloadKind::Deployment,
            meta: d.metadata.into(),
            replicas: spec.replicas,
            strategy: spec
                .strategy
                .and_then(|s| s.type_)
                .map(String::into_boxed_str),
            selector: spec.selector.match_labels.unwrap_or_default().into(),
            images: template_images(spec.template),
        }
    }
}

/// A port of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePortInfo {
    /// Name.
    pub name: Option<Box<str>>,
    /// TCP, UDP or SCTP.
    pub protocol: Option<Box<str>>,
    /// The Service's port.
    pub port: i32,
    /// The pods' port, by number or name.
    pub target_port: Option<IntOrString>,
    /// The node port of NodePort and LoadBalancer Services.
    pub node_port: Option<i32>,
}

/// A Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Metadata.
    pub meta: Meta,
    /// `spec.type`.
    pub type_: Option<Box<str>>,
    /// `spec.clusterIPs`, else `spec.clusterIP`, without empty values and `None`.
    pub cluster_ips: Box<[Box<str>]>,
    /// `spec.externalIPs`.
    pub external_ips: Box<[Box<str>]>,
    /// `spec.externalName`.
    pub external_name: Option<Box<str>>,
    /// Load-balancer ingress IPs (or hostnames, when the balancer reports no IP).
    pub load_balancer: Box<[Box<str>]>,
    /// `spec.selector`; empty when there is none.
    pub selector: Labels,
    /// `spec.ports`.
    pub ports: Box<[ServicePortInfo]>,
}

/// Strings in their compact stored form.
pub(super) fn boxed_all(v: Vec<String>) -> Box<[Box<str>]> {
    v.into_iter().map(String::into_boxed_str).collect()
}

/// An optional string in its compact stored form; empty counts as absent.
pub(super) fn non_empty(s: Option<String>) -> Option<Box<str>> {
    s.filter(|s| !s.is_empty()).map(String::into_boxed_str)
}

impl From<Service> for ServiceInfo {
    fn from(s: Service) -> Self {
        let spec = s.spec.unwrap_or_default();
        let cluster_ips = spec
            .cluster_ips
            .filter(|v| !v.is_empty())
            .or_else(|| spec.cluster_ip.map(|c| vec![c]))
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.is_empty() && c != "None")
            .collect();
        let load_balancer = s
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|l| l.ingress)
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.or(i.hostname))
            .collect();
        ServiceInfo {
            meta: s.metadata.into(),
            type_: spec.type_.map(String::into_boxed_str),
            cluster_ips: boxed_all(cluster_ips),
            external_ips: boxed_all(spec.external_ips.unwrap_or_default()),
            external_name: spec.external_name.map(String::into_boxed_str),
            load_balancer: boxed_all(load_balancer),
            selector: spec.selector.unwrap_or_default().into(),
            ports: spec
                .ports
                .into_iter()
                .flatten()
                .map(|p| ServicePortInfo {
                    name: p.name.map(String::into_boxed_str),
                    protocol: p.protocol.map(String::into_boxed_str),
                    port: p.port,
                    target_port: p.target_port,
                    node_port: p.node_port,
                })
                .collect(),
        }
    }
}

/// A KubeVirt VirtualMachine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmInfo {
    /// Metadata.
    pub meta: Meta,
    /// The spec (already limited to what is read).
    pub spec: VirtualMachineSpec,
    /// The status.
    pub status: Option<VirtualMachineStatus>,
}

impl From<VirtualMachine> for VmInfo {
    fn from(vm: VirtualMachine) -> Self {
        VmInfo {
            meta: vm.metadata.into(),
            spec: vm.spec,
            status: vm.status,
        }
    }
}

/// A ControllerRevision in which KubeVirt pinned an instancetype for a VM (labelled
/// `instancetype.kubevirt.io/object-kind`, kubevirt/kubevirt
/// `pkg/instancetype/revision/store.go`, `CreateControllerRevision`): `data` is the whole
/// instancetype object as it was, `instancetype.kubevirt.io/v1beta1`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevisionInfo {
    /// Metadata (name and namespace; no labels kept).
    pub meta: Meta,
    /// The instancetype's size as stored; `None` for a preference's revision.
    pub size: Option<super::kubevirt::InstancetypeSize>,
}

impl From<k8s_openapi::api::apps::v1::ControllerRevision> for RevisionInfo {
    fn from(r: k8s_openapi::api::apps::v1::ControllerRevision) -> Self {
        let data = r.data.map(|d| d.0).unwrap_or_default();
        let kind = data
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let size = kind
            .ends_with("Instancetype")
            .then(|| data.get("spec").cloned())
            .flatten()
            .and_then(|spec| serde_json::from_value::<super::kubevirt::InstancetypeSpec>(spec).ok())
            .map(|spec| super::kubevirt::InstancetypeSize::from(&spec));
        RevisionInfo {
            meta: Meta::from_meta(r.metadata, |_| false),
            size,
        }
    }
}

/// A KubeVirt VirtualMachineInstance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmiInfo {
    /// Metadata.
    pub meta: Meta,
    /// UIDs of the VirtualMachines named in its ownerReferences.
    pub vm_owner_uids: Box<[Box<str>]>,
    /// The spec.
    pub spec: VirtualMachineInstanceSpec,
    /// The status.
    pub status: Option<VmiStatus>,
}

impl From<VirtualMachineInstance> for VmiInfo {
    fn from(mut vmi: VirtualMachineInstance) -> Self {
        let vm_owner_uids = vmi
            .metadata
            .owner_references
            .take()
            .into_iter()
            .flatten()
            .filter(|o| o.kind == "VirtualMachine")
            .map(|o| o.uid.into_boxed_str())
            .collect();
        VmiInfo {
            meta: vmi.metadata.into(),
            vm_owner_uids,
            spec: vmi.spec,
            status: vmi.status,
        }
    }
}

/// A pod as the index keeps it: what the projection reads, with its owner resolved once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    /// Name.
    pub name: Box<str>,
    /// Namespace (shared).
    pub namespace: Arc<str>,
    /// UID.
    pub uid: Option<Box<str>>,
    /// Labels (Service selectors, label tags).
    pub labels: Labels,
    /// What it belongs to.
    pub owner: PodOwner,
    /// For a virt-launcher pod: the name of its VMI (the owner reference's name, else the
    /// `kubevirt.io/domain` annotation).
    pub vmi_name: Option<Box<str>>,
    /// The node it runs on (shared).
    pub node: Option<Arc<str>>,
    /// Whether it shares the node's network (its IP is the node's).
    pub host_network: bool,
    /// `status.phase` (shared).
    pub phase: Option<Arc<str>>,
    /// `status.podIPs`, else `status.podIP`.
    pub ips: Box<[Box<str>]>,
    /// For a virt-launcher pod: its attachments as Multus reports them
    /// (`k8s.v1.cni.cncf.io/network-status`); empty for other pods.
    pub network_status: Box<[NetworkStatus]>,
}

/// One attachment of a pod, from Multus' `k8s.v1.cni.cncf.io/network-status` annotation
/// (k8snetworkplumbingwg/network-attachment-definition-client
/// `pkg/apis/k8s.cni.cncf.io/v1/types.go`, `NetworkStatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct NetworkStatus {
    /// The network: `namespace/name` of the NetworkAttachmentDefinition, or the cluster
    /// network's CNI name for the default one.
    pub name: Box<str>,
    /// The interface in the pod (`eth0`, `pod<hash>`, `net1`).
    pub interface: Option<Box<str>>,
    /// MAC address.
    pub mac: Option<Box<str>>,
    /// Addresses the CNI's IPAM assigned.
    #[serde(deserialize_with = "crate::cluster::kubevirt::null_as_default")]
    pub ips: Box<[Box<str>]>,
    /// The cluster's default network.
    pub default: bool,
}

/// The network-status annotation, or nothing when it is absent or not valid JSON.
fn network_status(
    annotations: Option<&std::collections::BTreeMap<String, String>>,
) -> Box<[NetworkStatus]> {
    annotations
        .and_then(|a| a.get(NETWORK_STATUS))
        .and_then(|v| serde_json::from_str::<Vec<NetworkStatus>>(v).ok())
        .unwrap_or_default()
        .into_boxed_slice()
}

/// Multus' annotation on pods with their attachments.
pub const NETWORK_STATUS: &str = "k8s.v1.cni.cncf.io/network-status";

impl From<SlimPod> for PodInfo {
    fn from(p: SlimPod) -> Self {
        let owner = pod_owner(&p);
        let m = p.metadata;
        let vmi_name = match &owner {
            PodOwner::VirtLauncher(uid) => m
                .owner_references
                .iter()
                .flatten()
                .find(|o| &o.uid == uid)
                .map(|o| o.name.clone())
                .or_else(|| {
                    m.annotations
                        .as_ref()
                        .and_then(|a| a.get("kubevirt.io/domain").cloned())
                })
                .map(String::into_boxed_str),
            _ => None,
        };
        let network_status = match &owner {
            PodOwner::VirtLauncher(_) => network_status(m.annotations.as_ref()),
            _ => Box::default(),
        };
        let spec = p.spec.unwrap_or_default();
        let status = p.status.unwrap_or_default();
        let mut ips: Vec<Box<str>> = status
            .pod_ips
            .into_iter()
            .flatten()
            .map(|i| i.ip.into_boxed_str())
            .collect();
        if ips.is_empty() {
            ips.extend(status.pod_ip.map(String::into_boxed_str));
        }
        PodInfo {
            name: m.name.unwrap_or_default().into_boxed_str(),
            namespace: intern(m.namespace.as_deref().unwrap_or_default()),
            uid: m.uid.map(String::into_boxed_str),
            labels: m.labels.unwrap_or_default().into(),
            owner,
            vmi_name,
            node: spec.node_name.as_deref().map(intern),
            host_network: spec.host_network.unwrap_or(false),
            phase: status.phase.as_deref().map(intern),
            ips: ips.into_boxed_slice(),
            network_status,
        }
    }
}

impl PodInfo {
    /// (namespace, name).
    pub fn key(&self) -> NsName {
        (self.namespace.to_string(), self.name.to_string())
    }
}

/// How a pod relates to the objects the projection knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodOwner {
    /// A virt-launcher pod running the VMI with this UID.
    VirtLauncher(String),
    /// A pod of a ReplicaSet of this Deployment (name, same namespace).
    Deployment(String),
    /// A pod of this StatefulSet.
    StatefulSet(String),
    /// A pod of this DaemonSet.
    DaemonSet(String),
    /// Anything else.
    Other,
}

impl PodOwner {
    /// The workload that owns the pod, if one does.
    pub fn workload(&self) -> Option<(WorkloadKind, &str)> {
        match self {
            PodOwner::Deployment(n) => Some((WorkloadKind::Deployment, n)),
            PodOwner::StatefulSet(n) => Some((WorkloadKind::StatefulSet, n)),
            PodOwner::DaemonSet(n) => Some((WorkloadKind::DaemonSet, n)),
            PodOwner::VirtLauncher(_) | PodOwner::Other => None,
        }
    }
}

/// Works out what a pod belongs to: KubeVirt launchers by ownerReference or the
/// `kubevirt.io/created-by` label (never by name labels), Deployment pods by their ReplicaSet
/// owner named `<deployment>-<pod-template-hash>`.
pub fn pod_owner(pod: &SlimPod) -> PodOwner {
    let labels = pod.labels();
    let owners = pod.owner_references();
    if labels.get("kubevirt.io").map(String::as_str) == Some("virt-launcher") {
        if let Some(o) = owners.iter().find(|o| {
            o.kind == "VirtualMachineInstance" && o.api_version.starts_with("kubevirt.io/")
        }) {
            return PodOwner::VirtLauncher(o.uid.clone());
        }
        if let Some(uid) = labels.get("kubevirt.io/created-by") {
            return PodOwner::VirtLauncher(uid.clone());
        }
    }
    if let (Some(rs), Some(hash)) = (
        owners
            .iter()
            .find(|o| o.kind == "ReplicaSet" && o.controller == Some(true)),
        labels.get("pod-template-hash"),
    ) && let Some(deploy) = rs.name.strip_suffix(&format!("-{hash}"))
        && !deploy.is_empty()
    {
        return PodOwner::Deployment(deploy.to_string());
    }
    if let Some(o) = owners.iter().find(|o| {
        o.controller == Some(true)
            && o.api_version.starts_with("apps/")
            && matches!(o.kind.as_str(), "StatefulSet" | "DaemonSet")
    }) {
        return match o.kind.as_str() {
            "StatefulSet" => PodOwner::StatefulSet(o.name.clone()),
            _ => PodOwner::DaemonSet(o.name.clone()),
        };
    }
    PodOwner::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_feature_labels_are_dropped_and_the_rest_kept() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "w1", "labels": {
                "node-role.kubernetes.io/worker": "",
                "node.kubernetes.io/instance-type": "m5.xlarge",
                "cpu-feature.node.kubevirt.io/avx2": "true",
                "cpu-model.node.kubevirt.io/Skylake": "true",
                "feature.node.kubernetes.io/cpu-cpuid.AVX": "true",
                "kubevirt.io/schedulable": "true",
                "topology.kubernetes.io/zone": "a"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "nodeInfo": {"osImage": "RHCOS 4.16", "systemUUID": "u-1",
                                    "architecture": "", "bootID": "", "containerRuntimeVersion": "",
                                    "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "",
                                    "machineID": "", "operatingSystem": ""},
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
        }))
        .unwrap();
        let n = NodeInfo::from(node);
        let keys: Vec<&str> = n.meta.labels.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "kubevirt.io/schedulable",
                "node-role.kubernetes.io/worker",
                "node.kubernetes.io/instance-type",
                "topology.kubernetes.io/zone"
            ]
        );
        assert!(n.unschedulable);
        assert_eq!(n.ready.as_deref(), Some("True"));
        assert_eq!(n.os_image.as_deref(), Some("RHCOS 4.16"));
        assert_eq!(&*n.addresses, [("InternalIP".into(), "10.0.0.1".into())]);
    }

    #[test]
    fn service_cluster_ips_fall_back_to_cluster_ip_and_drop_none() {
        let svc = |spec: serde_json::Value| {
            ServiceInfo::from(
                serde_json::from_value::<Service>(json!({"metadata": {"name": "s"}, "spec": spec}))
                    .unwrap(),
            )
        };
        assert_eq!(
            &*svc(json!({"clusterIP": "172.30.0.9"})).cluster_ips,
            ["172.30.0.9".into()]
        );
        assert!(
            svc(json!({"clusterIP": "None", "clusterIPs": ["None"]}))
                .cluster_ips
                .is_empty()
        );
        assert!(svc(json!({})).selector.is_empty());
    }

    #[test]
    fn only_kept_annotations_stay() {
        let m = Meta::from(ObjectMeta {
            name: Some("n".into()),
            annotations: Some(
                [
                    ("openshift.io/display-name".to_string(), "N".to_string()),
                    (
                        "kubectl.kubernetes.io/last-applied-configuration".into(),
                        "{}".into(),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        });
        assert_eq!(m.annotation("openshift.io/display-name"), Some("N"));
        assert_eq!(m.annotations.len(), 1);
    }
}
