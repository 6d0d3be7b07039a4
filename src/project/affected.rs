//! Which roots a change to one cluster object touches, so the controller re-projects only
//! those. Computed from the index as it is (call it before and after applying the change and
//! take the union: a pod that changes labels leaves some Services and joins others).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Service};

use super::Root;
use crate::cluster::kubevirt::{VirtualMachine, VirtualMachineInstance};
use crate::cluster::wire::SlimPod;
use crate::cluster::{ClusterIndex, HasMeta, Kind, NsName, PodInfo, PodOwner};

/// The roots one object of a watched kind feeds, in the index as it is.
pub trait Affects: Kind {
    /// The roots `obj` feeds.
    fn roots(idx: &ClusterIndex, obj: &Self::Stored) -> Vec<Root>;
}

impl Affects for Namespace {
    fn roots(idx: &ClusterIndex, ns: &Self::Stored) -> Vec<Root> {
        idx.namespace_roots(&ns.name)
    }
}
impl Affects for Node {
    fn roots(_: &ClusterIndex, node: &Self::Stored) -> Vec<Root> {
        vec![Root::Node(node.meta.name.to_string())]
    }
}
impl Affects for SlimPod {
    fn roots(idx: &ClusterIndex, pod: &PodInfo) -> Vec<Root> {
        idx.pod_roots(pod)
    }
}
impl Affects for Deployment {
    fn roots(_: &ClusterIndex, d: &Self::Stored) -> Vec<Root> {
        vec![Root::Deployment(d.meta().key())]
    }
}
impl Affects for k8s_openapi::api::apps::v1::StatefulSet {
    fn roots(_: &ClusterIndex, w: &Self::Stored) -> Vec<Root> {
        vec![Root::StatefulSet(w.meta().key())]
    }
}
impl Affects for k8s_openapi::api::apps::v1::DaemonSet {
    fn roots(_: &ClusterIndex, w: &Self::Stored) -> Vec<Root> {
        vec![Root::DaemonSet(w.meta().key())]
    }
}
impl Affects for Service {
    fn roots(_: &ClusterIndex, s: &Self::Stored) -> Vec<Root> {
        vec![Root::Service(s.meta().key())]
    }
}
// Services selecting a VM follow its launcher pod; the VM itself is its root, and the claims
// it uses list it.
impl Affects for VirtualMachine {
    fn roots(_: &ClusterIndex, vm: &Self::Stored) -> Vec<Root> {
        let ns = &vm.meta.namespace;
        let mut roots = vec![Root::VirtualMachine(vm.meta().key())];
        roots.extend(vm.spec.claims().map(|c| Root::Volume(key(ns, c))));
        roots
    }
}
// A Route or an Ingress is its own root and lists its hosts on the Services it targets.
impl Affects for crate::cluster::openshift::Route {
    fn roots(_: &ClusterIndex, r: &Self::Stored) -> Vec<Root> {
        let ns = &r.meta.namespace;
        let mut roots = vec![Root::Route(r.meta().key())];
        roots.extend(r.backends.iter().map(|(s, _)| Root::Service(key(ns, s))));
        roots
    }
}
impl Affects for k8s_openapi::api::networking::v1::Ingress {
    fn roots(_: &ClusterIndex, i: &Self::Stored) -> Vec<Root> {
        let ns = &i.meta.namespace;
        let mut roots = vec![Root::Ingress(i.meta().key())];
        roots.extend(
            i.paths
                .iter()
                .filter_map(|p| p.service.as_deref())
                .map(|s| Root::Service(key(ns, s))),
        );
        roots.dedup();
        roots
    }
}
// A claim (or the DataVolume filling it) is one root, and sizes the disks of the VMs using it.
impl Affects for k8s_openapi::api::core::v1::PersistentVolumeClaim {
    fn roots(idx: &ClusterIndex, c: &Self::Stored) -> Vec<Root> {
        idx.claim_roots(&c.meta.namespace, &c.meta.name)
    }
}
impl Affects for crate::cluster::cdi::DataVolume {
    fn roots(idx: &ClusterIndex, d: &Self::Stored) -> Vec<Root> {
        idx.claim_roots(&d.meta.namespace, &d.meta.name)
    }
}
// A revision feeds the VMs pinned to it.
impl Affects for k8s_openapi::api::apps::v1::ControllerRevision {
    fn roots(idx: &ClusterIndex, r: &Self::Stored) -> Vec<Root> {
        let (ns, name) = r.meta().key();
        idx.vms()
            .filter(|v| *v.meta.namespace == *ns)
            .filter(|v| {
                crate::cluster::kubevirt::instancetype_revision(&v.spec, v.status.as_ref())
                    .as_deref()
                    == Some(name.as_str())
            })
            .map(|v| Root::VirtualMachine(v.meta.key()))
            .collect()
    }
}
// A VMI is named after its VM (or is a standalone VMI, its own root under the same key, and
// then listed by the claims it uses).
impl Affects for VirtualMachineInstance {
    fn roots(_: &ClusterIndex, vmi: &Self::Stored) -> Vec<Root> {
        let ns = &vmi.meta.namespace;
        let mut roots = vec![Root::VirtualMachine(vmi.meta().key())];
        if vmi.vm_owner_uids.is_empty() {
            roots.extend(vmi.spec.claims().map(|c| Root::Volume(key(ns, c))));
        }
        roots
    }
}

fn key(ns: &str, name: &str) -> NsName {
    (ns.to_string(), name.to_string())
}

impl ClusterIndex {
    /// Everything in a namespace: its tenant and every VM, Deployment, Service and pod in it
    /// (a namespace that appears, disappears or changes filter scope changes all of them).
    pub fn namespace_roots(&self, ns: &str) -> Vec<Root> {
        let mut roots = vec![Root::Namespace(ns.to_string())];
        roots.extend(
            self.vms()
                .filter(|v| &*v.meta.namespace == ns)
                .map(|v| Root::VirtualMachine(v.meta.key())),
        );
        roots.extend(
            self.standalone_vmis()
                .filter(|v| &*v.meta.namespace == ns)
                .map(|v| Root::VirtualMachine(v.meta.key())),
        );
        roots.extend(
            self.deployments()
                .chain(self.statefulsets())
                .chain(self.daemonsets())
                .filter(|d| &*d.meta.namespace == ns)
                .map(|d| Root::workload(d.kind, d.meta.key())),
        );
        roots.extend(self.services_in(ns).map(|s| Root::Service(s.meta.key())));
        roots.extend(self.pods_in(ns).map(|p| Root::Pod(key(ns, &p.name))));
        roots.extend(self.routes_in(ns).map(|r| Root::Route(r.meta.key())));
        roots.extend(self.ingresses_in(ns).map(|i| Root::Ingress(i.meta.key())));
        roots.extend(super::volume_roots(
            self.claims_in(ns),
            self.datavolumes_in(ns),
        ));
        roots
    }

    /// The roots a pod feeds: itself (pod IPs), its VM (virt-launcher) or Deployment, and the
    /// Services whose selector matches it.
    pub fn pod_roots(&self, pod: &PodInfo) -> Vec<Root> {
        let ns = &*pod.namespace;
        let mut roots = vec![Root::Pod(pod.key())];
        match &pod.owner {
            PodOwner::VirtLauncher(_) => {
                if let Some(vmi) = &pod.vmi_name {
                    roots.push(Root::VirtualMachine(key(ns, vmi)));
                }
            }
            owner => {
                if let Some((kind, name)) = owner.workload() {
                    roots.push(Root::workload(kind, key(ns, name)));
                }
            }
        }
        for svc in self.services_in(ns) {
            if pod.labels.selected_by(&svc.selector) {
                roots.push(Root::Service(svc.meta.key()));
            }
        }
        roots
    }

    /// The roots a claim or its DataVolume feeds: its own, and the VMs whose disks it sizes.
    pub fn claim_roots(&self, ns: &str, claim: &str) -> Vec<Root> {
        let mut roots = vec![Root::Volume(key(ns, claim))];
        roots.extend(
            self.vms_using_claim(ns, claim)
                .map(|v| Root::VirtualMachine(v.meta.key())),
        );
        roots
    }

    /// VMs whose size comes from an instancetype (an instancetype change touches them).
    pub fn instancetype_roots(&self, name: &str) -> Vec<Root> {
        self.vms()
            .filter(|v| v.spec.instancetype.as_ref().is_some_and(|i| i.name == name))
            .map(|v| Root::VirtualMachine(v.meta.key()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::sample;
    use super::*;

    #[test]
    fn a_launcher_pod_touches_its_vm_and_the_services_selecting_it() {
        let idx = sample();
        let pod = idx
            .pod("shop-prod", "virt-launcher-fedora-db-01-jksnb")
            .unwrap();
        let roots = idx.pod_roots(pod);
        assert!(roots.contains(&Root::VirtualMachine(key("shop-prod", "fedora-db-01"))));
        assert!(roots.contains(&Root::Service(key("shop-prod", "db-vm"))));
        assert!(!roots.iter().any(|r| matches!(r, Root::Deployment(_))));
    }

    #[test]
    fn a_deployment_pod_touches_its_deployment() {
        let idx = sample();
        let pod = idx
            .pods_in("shop-prod")
            .find(|p| p.name.starts_with("storefront-"))
            .unwrap();
        let roots = idx.pod_roots(pod);
        assert!(roots.contains(&Root::Deployment(key("shop-prod", "storefront"))));
        assert!(roots.contains(&Root::Service(key("shop-prod", "storefront"))));
    }

    #[test]
    fn a_namespace_touches_everything_in_it() {
        let idx = sample();
        let roots = idx.namespace_roots("shop-prod");
        assert!(roots.contains(&Root::Namespace("shop-prod".into())));
        assert!(roots.contains(&Root::VirtualMachine(key("shop-prod", "rhel9-app-01"))));
        assert!(roots.contains(&Root::Service(key("shop-prod", "db-vm"))));
        assert!(
            !roots
                .iter()
                .any(|r| matches!(r, Root::Service((ns, _)) if ns != "shop-prod"))
        );
        assert_eq!(
            idx.instancetype_roots("u1.large"),
            vec![Root::VirtualMachine(key("shop-prod", "rhel9-app-01"))]
        );
    }
}
