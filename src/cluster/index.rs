//! The cluster as the projection sees it: an in-memory index of the watched objects.
//!
//! [`ClusterIndex`] is fed one object at a time (`apply_*` / `delete_*`), by the `plan`
//! command from a `List` file and by the controller from watch events, and keeps the secondary
//! indexes the projection needs so that projecting one object never scans the whole cluster:
//! virt-launcher pods by VMI UID, pods by Deployment, objects by namespace.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::ingress::{IngressInfo, RouteInfo};
use super::kubevirt::InstancetypeSize;
use super::labels::NsName;
use super::storage::{ClaimInfo, DataVolumeInfo};
use super::stored::{
    DeploymentInfo, NamespaceInfo, NodeInfo, PodInfo, PodOwner, RevisionInfo, ServiceInfo, VmInfo,
    VmiInfo, WorkloadInfo, WorkloadKind,
};

/// What is known about the cluster as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// OpenShift `ClusterVersion.spec.clusterID`, or the kube-system namespace UID.
    pub cluster_id: Option<String>,
    /// OpenShift version (`ClusterVersion.status.desired.version`).
    pub version: Option<String>,
    /// Pod networks (CIDRs) from `networks.config.openshift.io/cluster`.
    pub cluster_networks: Vec<String>,
    /// Service networks (CIDRs).
    pub service_networks: Vec<String>,
    /// The web console's URL (`consoles.config.openshift.io/cluster` `status.consoleURL`).
    pub console_url: Option<String>,
}

/// All cluster objects the projection reads, with secondary indexes.
#[derive(Debug, Default, Clone)]
pub struct ClusterIndex {
    namespaces: BTreeMap<String, Arc<NamespaceInfo>>,
    nodes: BTreeMap<String, Arc<NodeInfo>>,
    pods: BTreeMap<NsName, Arc<PodInfo>>,
    deployments: BTreeMap<NsName, Arc<DeploymentInfo>>,
    statefulsets: BTreeMap<NsName, Arc<WorkloadInfo>>,
    daemonsets: BTreeMap<NsName, Arc<WorkloadInfo>>,
    services: BTreeMap<NsName, Arc<ServiceInfo>>,
    vms: BTreeMap<NsName, Arc<VmInfo>>,
    vmis: BTreeMap<NsName, Arc<VmiInfo>>,
    cluster_instancetypes: BTreeMap<String, InstancetypeSize>,
    instancetypes: BTreeMap<NsName, InstancetypeSize>,
    revisions: BTreeMap<NsName, Arc<RevisionInfo>>,
    routes: BTreeMap<NsName, Arc<RouteInfo>>,
    ingresses: BTreeMap<NsName, Arc<IngressInfo>>,
    claims: BTreeMap<NsName, Arc<ClaimInfo>>,
    datavolumes: BTreeMap<NsName, Arc<DataVolumeInfo>>,
    /// virt-launcher pod by the UID of the VMI it runs.
    launcher_by_vmi_uid: HashMap<String, NsName>,
    /// Pods by the workload that owns them (a Deployment through a ReplicaSet).
    pods_by_owner: HashMap<(WorkloadKind, NsName), BTreeSet<String>>,
    info: ClusterInfo,
    kube_system_uid: Option<String>,
}

impl ClusterIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a ControllerRevision.
    pub fn apply_revision(&mut self, r: Arc<RevisionInfo>) {
        self.revisions.insert(r.meta.key(), r);
    }
    /// Removes a ControllerRevision.
    pub fn delete_revision(&mut self, ns: &str, name: &str) {
        self.revisions.remove(&(ns.to_string(), name.to_string()));
    }
    /// A ControllerRevision.
    pub fn revision(&self, ns: &str, name: &str) -> Option<&Arc<RevisionInfo>> {
        self.revisions.get(&(ns.to_string(), name.to_string()))
    }
    /// All ControllerRevisions held.
    pub fn revisions(&self) -> impl Iterator<Item = &Arc<RevisionInfo>> {
        self.revisions.values()
    }
    /// The instancetype size a VM is pinned to (its ControllerRevision), when it is held.
    pub fn pinned_instancetype(&self, vm: &VmInfo) -> Option<&InstancetypeSize> {
        let name = super::kubevirt::instancetype_revision(&vm.spec, vm.status.as_ref())?;
        self.revision(&vm.meta.namespace, &name)?.size.as_ref()
    }

    /// Adds or replaces a cluster-wide instancetype's size.
    pub fn apply_cluster_instancetype(&mut self, name: String, size: InstancetypeSize) {
        self.cluster_instancetypes.insert(name, size);
    }
    /// Adds or replaces a namespaced instancetype's size.
    pub fn apply_instancetype(&mut self, key: NsName, size: InstancetypeSize) {
        self.instancetypes.insert(key, size);
    }

    /// Adds or replaces a namespace.
    pub fn apply_namespace(&mut self, ns: Arc<NamespaceInfo>) {
        if &*ns.name == "kube-system" {
            self.kube_system_uid = ns.uid.as_deref().map(String::from);
        }
        self.namespaces.insert(ns.name.to_string(), ns);
    }
    /// Removes a namespace.
    pub fn delete_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }
    /// Adds or replaces a node.
    pub fn apply_node(&mut self, node: Arc<NodeInfo>) {
        self.nodes.insert(node.meta.name.to_string(), node);
    }
    /// Removes a node.
    pub fn delete_node(&mut self, name: &str) {
        self.nodes.remove(name);
    }

    /// Adds or replaces a pod, keeping the owner indexes current.
    pub fn apply_pod(&mut self, pod: Arc<PodInfo>) {
        let key = pod.key();
        self.unindex_pod(&key);
        match pod.owner.clone() {
            PodOwner::VirtLauncher(uid) => {
                self.launcher_by_vmi_uid.insert(uid, key.clone());
            }
            owner => {
                if let Some((kind, name)) = owner.workload() {
                    self.pods_by_owner
                        .entry((kind, (key.0.clone(), name.to_string())))
                        .or_default()
                        .insert(key.1.clone());
                }
            }
        }
        self.pods.insert(key, pod);
    }
    /// Removes a pod.
    pub fn delete_pod(&mut self, ns: &str, name: &str) {
        let key = (ns.to_string(), name.to_string());
        self.unindex_pod(&key);
        self.pods.remove(&key);
    }
    fn unindex_pod(&mut self, key: &NsName) {
        let Some(old) = self.pods.get(key) else {
            return;
        };
        match old.owner.clone() {
            PodOwner::VirtLauncher(uid) => {
                if self.launcher_by_vmi_uid.get(&uid) == Some(key) {
                    self.launcher_by_vmi_uid.remove(&uid);
                }
            }
            owner => {
                if let Some((kind, name)) = owner.workload() {
                    let wkey = (kind, (key.0.clone(), name.to_string()));
                    if let Some(set) = self.pods_by_owner.get_mut(&wkey) {
                        set.remove(&key.1);
                        if set.is_empty() {
                            self.pods_by_owner.remove(&wkey);
                        }
                    }
                }
            }
        }
    }

    /// Adds or replaces a Deployment.
    pub fn apply_deployment(&mut self, d: Arc<DeploymentInfo>) {
        self.deployments.insert(d.meta.key(), d);
    }
    /// Removes a Deployment.
    pub fn delete_deployment(&mut self, ns: &str, name: &str) {
        self.deployments.remove(&(ns.to_string(), name.to_string()));
    }
    /// Adds or replaces a StatefulSet.
    pub fn apply_statefulset(&mut self, w: Arc<WorkloadInfo>) {
        self.statefulsets.insert(w.meta.key(), w);
    }
    /// Removes a StatefulSet.
    pub fn delete_statefulset(&mut self, ns: &str, name: &str) {
        self.statefulsets
            .remove(&(ns.to_string(), name.to_string()));
    }
    /// Adds or replaces a DaemonSet.
    pub fn apply_daemonset(&mut self, w: Arc<WorkloadInfo>) {
        self.daemonsets.insert(w.meta.key(), w);
    }
    /// Removes a DaemonSet.
    pub fn delete_daemonset(&mut self, ns: &str, name: &str) {
        self.daemonsets.remove(&(ns.to_string(), name.to_string()));
    }
    /// Adds or replaces a Service.
    pub fn apply_service(&mut self, s: Arc<ServiceInfo>) {
        self.services.insert(s.meta.key(), s);
    }
    /// Removes a Service.
    pub fn delete_service(&mut self, ns: &str, name: &str) {
        self.services.remove(&(ns.to_string(), name.to_string()));
    }
    /// Adds or replaces a VirtualMachine.
    pub fn apply_vm(&mut self, vm: Arc<VmInfo>) {
        self.vms.insert(vm.meta.key(), vm);
    }
    /// Removes a VirtualMachine.
    pub fn delete_vm(&mut self, ns: &str, name: &str) {
        self.vms.remove(&(ns.to_string(), name.to_string()));
    }
    /// Adds or replaces a VirtualMachineInstance.
    pub fn apply_vmi(&mut self, vmi: Arc<VmiInfo>) {
        self.vmis.insert(vmi.meta.key(), vmi);
    }
    /// Removes a VirtualMachineInstance.
    pub fn delete_vmi(&mut self, ns: &str, name: &str) {
        self.vmis.remove(&(ns.to_string(), name.to_string()));
    }

    /// The VirtualMachines of one namespace.
    pub fn vms_in(&self, ns: &str) -> impl Iterator<Item = &Arc<VmInfo>> {
        in_namespace(&self.vms, ns)
    }

    /// The VirtualMachines of a namespace whose volumes use a claim.
    pub fn vms_using_claim<'a>(
        &'a self,
        ns: &'a str,
        claim: &'a str,
    ) -> impl Iterator<Item = &'a Arc<VmInfo>> {
        self.vms_in(ns)
            .filter(move |v| v.spec.claims().any(|c| c == claim))
    }

    /// Reads `networks.config.openshift.io/cluster`.
    pub fn apply_network_config(&mut self, item: &Value) {
        let status = &item["status"];
        let spec = &item["spec"];
        let cidrs = |v: &Value| -> Vec<String> {
            v["clusterNetwork"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["cidr"].as_str().map(String::from))
                .collect()
        };
        let strings = |v: &Value| -> Vec<String> {
            v["serviceNetwork"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        };
        let mut cluster = cidrs(status);
        if cluster.is_empty() {
            cluster = cidrs(spec);
        }
        let mut service = strings(status);
        if service.is_empty() {
            service = strings(spec);
        }
        self.info.cluster_networks = cluster;
        self.info.service_networks = service;
    }

    /// Reads `clusterversions.config.openshift.io/version`.
    pub fn apply_cluster_version(&mut self, item: &Value) {
        if let Some(id) = item["spec"]["clusterID"].as_str() {
            self.info.cluster_id = Some(id.to_string());
        }
        if let Some(v) = item["status"]["desired"]["version"].as_str() {
            self.info.version = Some(v.to_string());
        }
    }

    /// Reads `consoles.config.openshift.io/cluster` (`status.consoleURL`, which the console
    /// operator derives from the console Route's host).
    pub fn apply_console(&mut self, item: &Value) {
        self.info.console_url = item["status"]["consoleURL"]
            .as_str()
            .map(str::trim)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .map(String::from);
    }

    /// Sets the cluster information directly (controller).
    pub fn set_cluster_info(&mut self, info: ClusterInfo) {
        self.info = info;
    }

    /// Cluster-wide facts, with the kube-system UID standing in for the cluster ID on plain
    /// Kubernetes.
    pub fn cluster_info(&self) -> ClusterInfo {
        let mut info = self.info.clone();
        if info.cluster_id.is_none() {
            info.cluster_id = self.kube_system_uid.clone();
        }
        info
    }

    /// The kube-system namespace's UID (the identity of a cluster without OpenShift's).
    pub fn kube_system_uid(&self) -> Option<&str> {
        self.kube_system_uid.as_deref()
    }

    /// A namespace by name.
    pub fn namespace(&self, name: &str) -> Option<&Arc<NamespaceInfo>> {
        self.namespaces.get(name)
    }
    /// All namespaces, by name.
    pub fn namespaces(&self) -> impl Iterator<Item = &Arc<NamespaceInfo>> {
        self.namespaces.values()
    }
    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.nodes.get(name)
    }
    /// All nodes, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &Arc<NodeInfo>> {
        self.nodes.values()
    }
    /// A pod.
    pub fn pod(&self, ns: &str, name: &str) -> Option<&Arc<PodInfo>> {
        self.pods.get(&(ns.to_string(), name.to_string()))
    }
    /// All pods, by namespace and name.
    pub fn pods(&self) -> impl Iterator<Item = &Arc<PodInfo>> {
        self.pods.values()
    }
    /// The pods of one namespace (a range scan, not a full scan).
    pub fn pods_in(&self, ns: &str) -> impl Iterator<Item = &Arc<PodInfo>> {
        in_namespace(&self.pods, ns)
    }
    /// The virt-launcher pod of a VMI.
    pub fn launcher_pod(&self, vmi_uid: &str) -> Option<&Arc<PodInfo>> {
        self.launcher_by_vmi_uid
            .get(vmi_uid)
            .and_then(|k| self.pods.get(k))
    }
    /// The pods of a Deployment.
    pub fn deployment_pods(&self, ns: &str, name: &str) -> impl Iterator<Item = &Arc<PodInfo>> {
        self.workload_pods(WorkloadKind::Deployment, ns, name)
    }
    /// The pods of a workload.
    pub fn workload_pods(
        &self,
        kind: WorkloadKind,
        ns: &str,
        name: &str,
    ) -> impl Iterator<Item = &Arc<PodInfo>> {
        self.pods_by_owner
            .get(&(kind, (ns.to_string(), name.to_string())))
            .into_iter()
            .flatten()
            .filter_map(move |p| self.pods.get(&(ns.to_string(), p.clone())))
    }
    /// A workload of any kind.
    pub fn workload(&self, kind: WorkloadKind, ns: &str, name: &str) -> Option<&Arc<WorkloadInfo>> {
        let key = (ns.to_string(), name.to_string());
        match kind {
            WorkloadKind::Deployment => self.deployments.get(&key),
            WorkloadKind::StatefulSet => self.statefulsets.get(&key),
            WorkloadKind::DaemonSet => self.daemonsets.get(&key),
        }
    }
    /// A StatefulSet.
    pub fn statefulset(&self, ns: &str, name: &str) -> Option<&Arc<WorkloadInfo>> {
        self.workload(WorkloadKind::StatefulSet, ns, name)
    }
    /// All StatefulSets.
    pub fn statefulsets(&self) -> impl Iterator<Item = &Arc<WorkloadInfo>> {
        self.statefulsets.values()
    }
    /// A DaemonSet.
    pub fn daemonset(&self, ns: &str, name: &str) -> Option<&Arc<WorkloadInfo>> {
        self.workload(WorkloadKind::DaemonSet, ns, name)
    }
    /// All DaemonSets.
    pub fn daemonsets(&self) -> impl Iterator<Item = &Arc<WorkloadInfo>> {
        self.daemonsets.values()
    }
    /// A Deployment.
    pub fn deployment(&self, ns: &str, name: &str) -> Option<&Arc<DeploymentInfo>> {
        self.deployments.get(&(ns.to_string(), name.to_string()))
    }
    /// All Deployments.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<DeploymentInfo>> {
        self.deployments.values()
    }
    /// A Service.
    pub fn service(&self, ns: &str, name: &str) -> Option<&Arc<ServiceInfo>> {
        self.services.get(&(ns.to_string(), name.to_string()))
    }
    /// All Services.
    pub fn services(&self) -> impl Iterator<Item = &Arc<ServiceInfo>> {
        self.services.values()
    }
    /// The Services of one namespace.
    pub fn services_in(&self, ns: &str) -> impl Iterator<Item = &Arc<ServiceInfo>> {
        in_namespace(&self.services, ns)
    }
    /// A VirtualMachine.
    pub fn vm(&self, ns: &str, name: &str) -> Option<&Arc<VmInfo>> {
        self.vms.get(&(ns.to_string(), name.to_string()))
    }
    /// All VirtualMachines.
    pub fn vms(&self) -> impl Iterator<Item = &Arc<VmInfo>> {
        self.vms.values()
    }
    /// The VMI of a VM: same namespace and name, and (when it has one) an ownerReference to
    /// that VM's UID.
    pub fn vmi_of(&self, vm: &VmInfo) -> Option<&Arc<VmiInfo>> {
        let vmi = self.vmis.get(&vm.meta.key())?;
        let owned_elsewhere = vmi
            .vm_owner_uids
            .iter()
            .any(|uid| Some(uid) != vm.meta.uid.as_ref());
        (!owned_elsewhere).then_some(vmi)
    }
    /// All VirtualMachineInstances.
    pub fn vmis(&self) -> impl Iterator<Item = &Arc<VmiInfo>> {
        self.vmis.values()
    }
    /// VMIs no VirtualMachine owns (no VirtualMachine ownerReference, no VM of that name).
    pub fn standalone_vmis(&self) -> impl Iterator<Item = &Arc<VmiInfo>> {
        self.vmis
            .iter()
            .filter(|(k, v)| v.vm_owner_uids.is_empty() && !self.vms.contains_key(*k))
            .map(|(_, v)| v)
    }
    /// The VMIs of a namespace that no VirtualMachine owns (a range scan).
    pub fn standalone_vmis_in<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = &'a Arc<VmiInfo>> {
        in_namespace(&self.vmis, ns)
            .filter(move |v| v.vm_owner_uids.is_empty() && self.vm(ns, &v.meta.name).is_none())
    }
    /// The VMI `ns/name` if no VirtualMachine owns it.
    pub fn standalone_vmi(&self, ns: &str, name: &str) -> Option<&Arc<VmiInfo>> {
        let key = (ns.to_string(), name.to_string());
        self.vmis
            .get(&key)
            .filter(|v| v.vm_owner_uids.is_empty() && !self.vms.contains_key(&key))
    }
    /// A VMI by key.
    pub fn vmi(&self, ns: &str, name: &str) -> Option<&Arc<VmiInfo>> {
        self.vmis.get(&(ns.to_string(), name.to_string()))
    }
    /// An instancetype's size by kind (`VirtualMachineClusterInstancetype` by default).
    pub fn instancetype(
        &self,
        kind: Option<&str>,
        ns: &str,
        name: &str,
    ) -> Option<&InstancetypeSize> {
        // KubeVirt lower-cases the kind and takes the singular or the plural; no kind (or an
        // empty one) is the cluster-wide kind
        let kind = kind.unwrap_or_default().trim().to_ascii_lowercase();
        match kind.as_str() {
            "virtualmachineinstancetype" | "virtualmachineinstancetypes" => {
                self.instancetypes.get(&(ns.to_string(), name.to_string()))
            }
            _ => self.cluster_instancetypes.get(name),
        }
    }
    /// Counts of each kind, for logs.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("namespaces", self.namespaces.len()),
            ("nodes", self.nodes.len()),
            ("pods", self.pods.len()),
            ("deployments", self.deployments.len()),
            ("statefulsets", self.statefulsets.len()),
            ("daemonsets", self.daemonsets.len()),
            ("services", self.services.len()),
            ("virtualmachines", self.vms.len()),
            ("virtualmachineinstances", self.vmis.len()),
            ("controllerrevisions", self.revisions.len()),
            ("routes", self.routes.len()),
            ("ingresses", self.ingresses.len()),
            ("persistentvolumeclaims", self.claims.len()),
            ("datavolumes", self.datavolumes.len()),
        ])
    }
}

/// The objects of one namespace in a map kept by (namespace, name): a range scan, not a full
/// scan.
fn in_namespace<'m, T>(map: &'m BTreeMap<NsName, T>, ns: &str) -> impl Iterator<Item = &'m T> {
    map.range((ns.to_string(), String::new())..)
        .take_while(move |((n, _), _)| n == ns)
        .map(|(_, o)| o)
}

/// Add, remove, get and list for one namespaced kind kept by (namespace, name).
macro_rules! namespaced {
    ($($field:ident: $ty:ty, $what:literal, $one:ident, $all:ident, $in_ns:ident, $apply:ident, $delete:ident;)*) => {
        impl ClusterIndex {$(
            #[doc = concat!("Adds or replaces ", $what, ".")]
            pub fn $apply(&mut self, o: Arc<$ty>) {
                self.$field.insert(o.meta.key(), o);
            }
            #[doc = concat!("Removes ", $what, ".")]
            pub fn $delete(&mut self, ns: &str, name: &str) {
                self.$field.remove(&(ns.to_string(), name.to_string()));
            }
            #[doc = concat!("One ", $what, ".")]
            pub fn $one(&self, ns: &str, name: &str) -> Option<&Arc<$ty>> {
                self.$field.get(&(ns.to_string(), name.to_string()))
            }
            #[doc = concat!("Every ", $what, " held.")]
            pub fn $all(&self) -> impl Iterator<Item = &Arc<$ty>> {
                self.$field.values()
            }
            #[doc = concat!("Every ", $what, " of one namespace.")]
            pub fn $in_ns(&self, ns: &str) -> impl Iterator<Item = &Arc<$ty>> {
                in_namespace(&self.$field, ns)
            }
        )*}
    };
}

namespaced! {
    routes: RouteInfo, "Route", route, routes, routes_in, apply_route, delete_route;
    ingresses: IngressInfo, "Ingress", ingress, ingresses, ingresses_in, apply_ingress, delete_ingress;
    claims: ClaimInfo, "PersistentVolumeClaim", claim, claims, claims_in, apply_claim, delete_claim;
    datavolumes: DataVolumeInfo, "DataVolume", datavolume, datavolumes, datavolumes_in, apply_datavolume, delete_datavolume;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::stored::pod_owner;
    use crate::cluster::wire::SlimPod;
    use serde_json::json;

    fn pod(name: &str, labels: Value, owners: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "ns1", "uid": format!("uid-{name}"),
                            "labels": labels, "ownerReferences": owners},
               "spec": {"containers": [{"name": "c"}]}})
    }

    #[test]
    fn pods_are_indexed_by_owner_and_unindexed_on_change() {
        let mut idx = ClusterIndex::new();
        idx.apply_value(&pod(
            "web-7d4b9c-abcde",
            json!({"pod-template-hash": "7d4b9c", "app": "web"}),
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c", "uid": "rs1", "controller": true}]),
        ))
        .unwrap();
        idx.apply_value(&pod(
            "virt-launcher-vm1-xyz",
            json!({"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "vmi-uid-1", "vm.kubevirt.io/name": "not-the-vm"}),
            json!([{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": "vm1", "uid": "vmi-uid-1", "controller": true}]),
        ))
        .unwrap();
        assert_eq!(idx.deployment_pods("ns1", "web").count(), 1);
        assert_eq!(
            &*idx.launcher_pod("vmi-uid-1").unwrap().name,
            "virt-launcher-vm1-xyz"
        );
        // the pod loses its owner: the index forgets it
        idx.apply_value(&pod("web-7d4b9c-abcde", json!({}), json!([])))
            .unwrap();
        assert_eq!(idx.deployment_pods("ns1", "web").count(), 0);
        idx.delete_pod("ns1", "virt-launcher-vm1-xyz");
        assert!(idx.launcher_pod("vmi-uid-1").is_none());
        assert_eq!(idx.pods_in("ns1").count(), 1);
        assert_eq!(idx.pods_in("ns0").count(), 0);
    }

    #[test]
    fn launcher_found_by_created_by_label_without_owner_reference() {
        let p: SlimPod = serde_json::from_value(pod(
            "virt-launcher-x",
            json!({"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "u-9"}),
            json!([]),
        ))
        .unwrap();
        assert_eq!(pod_owner(&p), PodOwner::VirtLauncher("u-9".into()));
        // name labels alone never link a pod to a VM
        let p: SlimPod =
            serde_json::from_value(pod("x", json!({"vm.kubevirt.io/name": "vm1"}), json!([])))
                .unwrap();
        assert_eq!(pod_owner(&p), PodOwner::Other);
    }

    #[test]
    fn bad_items_are_skipped_with_a_warning() {
        let list = json!({"kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"unschedulable": "yes"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ignored"}}
        ]});
        let (idx, warnings) = ClusterIndex::from_list(&list).unwrap();
        assert_eq!(idx.namespaces().count(), 1);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].object, "Node n1");
        assert!(ClusterIndex::from_list(&json!({"kind": "Pod"})).is_err());
    }
}
