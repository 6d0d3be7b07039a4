//! The watched kinds, in one table: for each, the type read from the API, the compact form the
//! index keeps, its name in logs, metrics and readiness, and where the index keeps it.
//!
//! The controller's watches (`controller::watches`) and the List-file loader
//! (`load`, `ClusterIndex::apply_value`) both go through [`Kind`]; which roots a change touches is the
//! projection's business (`project::affected`). Adding a watched kind: a stored form in
//! `stored`, its maps in `index`, one line here, one `roots` in `project::affected`, one watch.

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Resource;
use serde::de::DeserializeOwned;

use super::cdi::DataVolume;
use super::index::ClusterIndex;
use super::ingress::{IngressInfo, RouteInfo};
use super::kubevirt::{VirtualMachine, VirtualMachineInstance};
use super::labels::NsName;
use super::openshift::Route;
use super::storage::{ClaimInfo, DataVolumeInfo};
use super::stored::{
    DeploymentInfo, HasMeta, NamespaceInfo, NodeInfo, PodInfo, RevisionInfo, ServiceInfo, VmInfo,
    VmiInfo, WorkloadInfo,
};
use super::wire::SlimPod;

/// A kind the index holds: read as `Self`, kept as `Self::Stored`.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// What the index keeps.
    type Stored: Debug + Send + Sync + 'static;
    /// The resource's plural: the name in logs, metrics and readiness.
    const NAME: &'static str;
    /// The stored form.
    fn store(self) -> Self::Stored;
    /// (namespace, name); the namespace is empty for cluster-scoped kinds.
    fn key(obj: &Self::Stored) -> NsName;
    /// Every object of this kind the index holds.
    fn keys(idx: &ClusterIndex) -> Vec<NsName>;
    /// One object.
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<Self::Stored>>;
    /// Adds or replaces an object.
    fn put(idx: &mut ClusterIndex, obj: Arc<Self::Stored>);
    /// Removes an object.
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str);
    /// The label selector of the watch, when only some objects of the kind are read.
    const SELECTOR: Option<&'static str> = None;
}

/// One row of the table: `Type => Stored, "plural", all, get, put, remove` and whether the kind is
/// namespaced (`get`/`remove` take the namespace) or cluster-scoped (they take the name only).
macro_rules! kinds {
    ($($kind:ty => $stored:ty, $name:literal, $scope:ident, $all:ident, $get:ident, $put:ident, $remove:ident;)*) => {$(
        impl Kind for $kind {
            type Stored = $stored;
            const NAME: &'static str = $name;
            fn store(self) -> $stored {
                <$stored>::from(self)
            }
            fn key(obj: &$stored) -> NsName {
                obj.key()
            }
            fn keys(idx: &ClusterIndex) -> Vec<NsName> {
                idx.$all().map(|o| o.key()).collect()
            }
            fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<$stored>> {
                kinds!(@$scope idx.$get, ns, name).cloned()
            }
            fn put(idx: &mut ClusterIndex, obj: Arc<$stored>) {
                idx.$put(obj)
            }
            fn remove(idx: &mut ClusterIndex, ns: &str, name: &str) {
                kinds!(@$scope idx.$remove, ns, name)
            }
        }
    )*};
    (@namespaced $recv:ident . $f:ident, $ns:ident, $name:ident) => { $recv.$f($ns, $name) };
    (@cluster $recv:ident . $f:ident, $ns:ident, $name:ident) => {{ let _ = $ns; $recv.$f($name) }};
}

kinds! {
    Namespace => NamespaceInfo, "namespaces", cluster, namespaces, namespace, apply_namespace, delete_namespace;
    Node => NodeInfo, "nodes", cluster, nodes, node, apply_node, delete_node;
    // read slim (`wire`): never env, commands or volumes
    SlimPod => PodInfo, "pods", namespaced, pods, pod, apply_pod, delete_pod;
    Deployment => DeploymentInfo, "deployments", namespaced, deployments, deployment, apply_deployment, delete_deployment;
    StatefulSet => WorkloadInfo, "statefulsets", namespaced, statefulsets, statefulset, apply_statefulset, delete_statefulset;
    DaemonSet => WorkloadInfo, "daemonsets", namespaced, daemonsets, daemonset, apply_daemonset, delete_daemonset;
    Service => ServiceInfo, "services", namespaced, services, service, apply_service, delete_service;
    VirtualMachine => VmInfo, "virtualmachines", namespaced, vms, vm, apply_vm, delete_vm;
    VirtualMachineInstance => VmiInfo, "virtualmachineinstances", namespaced, vmis, vmi, apply_vmi, delete_vmi;
    Ingress => IngressInfo, "ingresses", namespaced, ingresses, ingress, apply_ingress, delete_ingress;
    PersistentVolumeClaim => ClaimInfo, "persistentvolumeclaims", namespaced, claims, claim, apply_claim, delete_claim;
    Route => RouteInfo, "routes", namespaced, routes, route, apply_route, delete_route;
    DataVolume => DataVolumeInfo, "datavolumes", namespaced, datavolumes, datavolume, apply_datavolume, delete_datavolume;
}

// only the revisions KubeVirt pins instancetypes and preferences in (StatefulSets and
// DaemonSets keep theirs in the same kind)
impl Kind for ControllerRevision {
    type Stored = RevisionInfo;
    const NAME: &'static str = "controllerrevisions";
    const SELECTOR: Option<&'static str> = Some("instancetype.kubevirt.io/object-kind");
    fn store(self) -> RevisionInfo {
        RevisionInfo::from(self)
    }
    fn key(obj: &RevisionInfo) -> NsName {
        obj.key()
    }
    fn keys(idx: &ClusterIndex) -> Vec<NsName> {
        idx.revisions().map(|o| o.key()).collect()
    }
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<RevisionInfo>> {
        idx.revision(ns, name).cloned()
    }
    fn put(idx: &mut ClusterIndex, obj: Arc<RevisionInfo>) {
        idx.apply_revision(obj)
    }
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str) {
        idx.delete_revision(ns, name)
    }
}

/// The key of any stored form with a [`super::Meta`].
trait Keyed {
    fn key(&self) -> NsName;
}
impl<T: HasMeta> Keyed for T {
    fn key(&self) -> NsName {
        self.meta().key()
    }
}

/// The kinds the cache always watches.
pub const CORE_KINDS: [&str; 9] = [
    Namespace::NAME,
    Node::NAME,
    SlimPod::NAME,
    Deployment::NAME,
    StatefulSet::NAME,
    DaemonSet::NAME,
    Service::NAME,
    Ingress::NAME,
    PersistentVolumeClaim::NAME,
];
/// The kinds the cache watches while KubeVirt is installed.
pub const KUBEVIRT_KINDS: [&str; 3] = [
    VirtualMachine::NAME,
    VirtualMachineInstance::NAME,
    ControllerRevision::NAME,
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored<K: Kind>(item: serde_json::Value) -> K::Stored {
        serde_json::from_value::<K>(item).unwrap().store()
    }

    #[test]
    fn the_index_keeps_only_what_the_projection_reads() {
        let pod = stored::<SlimPod>(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "n", "labels": {"app": "x"},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"secret\": 1}", "kubevirt.io/domain": "vm"},
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"nodeName": "w1", "hostNetwork": true,
                     "containers": [{"name": "c", "image": "i", "env": [{"name": "K", "value": "s3cr3t"}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}));
        let text = format!("{pod:?}");
        assert!(
            !text.contains("s3cr3t") && !text.contains("kubectl") && !text.contains("secret"),
            "{text}"
        );
        assert_eq!(SlimPod::key(&pod), ("n".into(), "p".into()));
        assert!(text.contains("10.0.0.1") && text.contains("w1"), "{text}");
        assert!(pod.host_network && pod.labels.get("app") == Some("x"));

        let ns = stored::<Namespace>(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "n", "annotations": {"other": "x"}}}));
        assert!(ns.annotation("other").is_none());
        assert_eq!(Namespace::key(&ns), (String::new(), "n".into()));
    }

    #[test]
    fn the_table_stores_finds_and_removes_each_kind() {
        fn round_trip<K: Kind>(item: serde_json::Value) {
            let mut idx = ClusterIndex::new();
            let obj = Arc::new(stored::<K>(item));
            let (ns, name) = K::key(&obj);
            K::put(&mut idx, obj);
            assert_eq!(
                K::keys(&idx),
                vec![(ns.clone(), name.clone())],
                "{}",
                K::NAME
            );
            assert!(K::get(&idx, &ns, &name).is_some(), "{}", K::NAME);
            K::remove(&mut idx, &ns, &name);
            assert!(K::keys(&idx).is_empty(), "{}", K::NAME);
        }
        let meta = |ns: Option<&str>| match ns {
            Some(ns) => json!({"name": "o", "namespace": ns, "uid": "u"}),
            None => json!({"name": "o", "uid": "u"}),
        };
        round_trip::<Namespace>(json!({"metadata": meta(None)}));
        round_trip::<Node>(json!({"metadata": meta(None)}));
        round_trip::<SlimPod>(json!({"metadata": meta(Some("n"))}));
        round_trip::<Deployment>(json!({"metadata": meta(Some("n"))}));
        round_trip::<StatefulSet>(json!({"metadata": meta(Some("n"))}));
        round_trip::<DaemonSet>(json!({"metadata": meta(Some("n"))}));
        round_trip::<Service>(json!({"metadata": meta(Some("n"))}));
        round_trip::<VirtualMachine>(json!({"metadata": meta(Some("n")), "spec": {}}));
        round_trip::<VirtualMachineInstance>(json!({"metadata": meta(Some("n")), "spec": {}}));
        round_trip::<ControllerRevision>(json!({"metadata": meta(Some("n")), "revision": 1}));
        round_trip::<Ingress>(json!({"metadata": meta(Some("n"))}));
        round_trip::<PersistentVolumeClaim>(json!({"metadata": meta(Some("n"))}));
        round_trip::<Route>(json!({"metadata": meta(Some("n")), "spec": {}}));
        round_trip::<DataVolume>(json!({"metadata": meta(Some("n")), "spec": {}}));
    }
}
