//! Slim wire types: what the watch cache reads off the API, and nothing else.
//!
//! A pod as the API serves it is 10-15 KB of JSON (managedFields, env, probes, volumes,
//! container statuses...), of which the projection reads a few hundred bytes. Deserialising the
//! full `k8s_openapi` type and stripping it afterwards costs ~90 KB of transient heap per pod (43 MiB
//! per page of 500) and leaves 3.5 KB per pod in the cache; these types let serde skip what is
//! not read without allocating it, and keep ~2 KB per pod (docs/benchmarks.md, figure 6).
//!
//! Each type implements [`kube::Resource`] by inheriting from the full type, so the same `Api`
//! paths, watches and `DeserializeGuard` work unchanged.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Annotations the projection reads; all others are dropped when an object is read.
pub const KEPT_ANNOTATIONS: [&str; 7] = [
    "openshift.io/display-name",
    "openshift.io/description",
    "openshift.io/requester",
    "kubevirt.io/domain",
    "vm.kubevirt.io/os",
    "kubevirt.io/cluster-instancetype-name",
    // virt-launcher pods: what Multus attached (dropped from other pods when they are stored)
    "k8s.v1.cni.cncf.io/network-status",
];

/// Object metadata with only what the projection and the watcher read. `managedFields` and
/// unread annotations (`last-applied-configuration` is often the largest field of an object)
/// are skipped without being allocated.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlimMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "kept_annotations")]
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
}

/// Reads `metadata` into an [`ObjectMeta`] holding only the fields of [`SlimMeta`].
pub fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = SlimMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        creation_timestamp: m.creation_timestamp,
        deletion_timestamp: m.deletion_timestamp,
        labels: m.labels,
        annotations: m.annotations,
        owner_references: m.owner_references,
        ..ObjectMeta::default()
    })
}

/// The [`KEPT_ANNOTATIONS`] of an annotation map (`None` when there are none); the values of
/// the others are skipped unread.
fn kept_annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Kept;
    impl<'de> Visitor<'de> for Kept {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of annotations")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut kept = BTreeMap::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if KEPT_ANNOTATIONS.contains(&key.as_ref()) {
                    kept.insert(key.into_owned(), map.next_value::<String>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok((!kept.is_empty()).then_some(kept))
        }
    }
    d.deserialize_option(Kept)
}

/// A pod with only the fields the projection reads: metadata (labels, owners, the
/// `kubevirt.io/domain` annotation), where it runs, whether it shares the host network, its
/// phase and IPs. Never env, commands or volumes.
#[derive(kube::Resource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[resource(inherit = "k8s_openapi::api::core::v1::Pod")]
pub struct SlimPod {
    /// Metadata, slimmed.
    #[serde(deserialize_with = "slim_meta", default)]
    pub metadata: ObjectMeta,
    /// `spec`, slimmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<SlimPodSpec>,
    /// `status`, slimmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<SlimPodStatus>,
}

/// `PodSpec.nodeName` and `hostNetwork`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SlimPodSpec {
    /// The node it is scheduled to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Whether it uses the node's network (its IP is the node's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
}

/// `PodStatus.phase`, `podIP` and `podIPs`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SlimPodStatus {
    /// Pending, Running, Succeeded, Failed, Unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The primary IP.
    #[serde(rename = "podIP", skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    /// Every IP (dual-stack: one per family).
    #[serde(rename = "podIPs", skip_serializing_if = "Option::is_none")]
    pub pod_ips: Option<Vec<SlimPodIp>>,
}

/// One `PodStatus.podIPs` entry.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SlimPodIp {
    /// The address.
    pub ip: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Resource;
    use serde_json::json;

    fn pod() -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-7d4b9c-x2x9z", "namespace": "shop", "uid": "u1", "resourceVersion": "42",
                "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"huge\": [1, 2, 3]}",
                    "k8s.ovn.org/pod-networks": {"unexpected": "object"},
                    "kubevirt.io/domain": "vm-1"
                },
                "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
                                     "uid": "rs1", "controller": true}]
            },
            "spec": {"nodeName": "worker-1", "hostNetwork": false,
                     "containers": [{"name": "c", "image": "i", "env": [{"name": "PASSWORD", "value": "s3cr3t"}]}]},
            "status": {"phase": "Running", "podIP": "10.128.2.5",
                       "podIPs": [{"ip": "10.128.2.5"}, {"ip": "fd01::5"}],
                       "containerStatuses": [{"name": "c", "ready": true}]}
        })
    }

    #[test]
    fn a_pod_keeps_only_what_the_projection_reads() {
        let p: SlimPod = serde_json::from_value(pod()).unwrap();
        assert_eq!(p.meta().name.as_deref(), Some("web-7d4b9c-x2x9z"));
        assert_eq!(p.meta().resource_version.as_deref(), Some("42"));
        assert!(p.meta().managed_fields.is_none());
        assert_eq!(
            p.meta().annotations,
            Some(BTreeMap::from([(
                "kubevirt.io/domain".into(),
                "vm-1".into()
            )]))
        );
        assert_eq!(
            p.meta().owner_references.as_ref().unwrap()[0].name,
            "web-7d4b9c"
        );
        assert_eq!(
            p.spec.as_ref().unwrap().node_name.as_deref(),
            Some("worker-1")
        );
        let ips: Vec<&str> = p
            .status
            .as_ref()
            .unwrap()
            .pod_ips
            .iter()
            .flatten()
            .map(|i| i.ip.as_str())
            .collect();
        assert_eq!(ips, ["10.128.2.5", "fd01::5"]);
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            !text.contains("s3cr3t") && !text.contains("last-applied") && !text.contains("kubelet")
        );
    }

    #[test]
    fn odd_metadata_reads() {
        let mut v = pod();
        v["metadata"]["annotations"] = json!(null);
        let p: SlimPod = serde_json::from_value(v.clone()).unwrap();
        assert!(p.meta().annotations.is_none());
        v["metadata"]["annotations"] = json!({"other": "x"});
        let p: SlimPod = serde_json::from_value(v.clone()).unwrap();
        assert!(p.meta().annotations.is_none(), "no kept annotation: no map");
        v["metadata"]["annotations"] = json!({"kubevirt.io/domain": 5});
        assert!(
            serde_json::from_value::<SlimPod>(v.clone()).is_err(),
            "a kept annotation must be a string"
        );
        let no_meta: SlimPod = serde_json::from_value(json!({"kind": "Pod"})).unwrap();
        assert!(no_meta.meta().name.is_none());
        assert_eq!(<SlimPod as Resource>::kind(&()), "Pod");
        assert_eq!(<SlimPod as Resource>::plural(&()), "pods");
    }
}
