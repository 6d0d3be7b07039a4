//! Loading objects given as JSON (a `kind: List` file such as `oc get ... -o json` prints, or one
//! object at a time) into a [`ClusterIndex`], through the table of kinds.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use serde_json::Value;

use super::cdi::DataVolume;
use super::index::ClusterIndex;
use super::kinds::Kind;
use super::kubevirt::{
    InstancetypeSize, VirtualMachine, VirtualMachineClusterInstancetype, VirtualMachineInstance,
    VirtualMachineInstancetype,
};
use super::openshift::Route;
use super::wire::SlimPod;

/// Something in the input that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    /// `kind ns/name` or the item position.
    pub object: String,
    /// Why.
    pub message: String,
}

/// Why a document or an object cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The document is not a `kind: List`.
    #[error("the snapshot must be a JSON object with an `items` list (kind: List)")]
    NotAList,
    /// An object of a known kind without a name (the API server never serves one; a file can).
    #[error("has no metadata.{0}")]
    Unnamed(&'static str),
    /// An object of a known kind that does not parse as that kind.
    #[error("cannot be read: {0}")]
    Unreadable(String),
}

impl ClusterIndex {
    /// Loads a `kind: List` document. Items of other kinds are skipped; items that fail to
    /// parse are skipped with a warning.
    pub fn from_list(list: &Value) -> Result<(Self, Vec<LoadWarning>), LoadError> {
        let items = list
            .get("items")
            .and_then(Value::as_array)
            .ok_or(LoadError::NotAList)?;
        let mut index = ClusterIndex::new();
        let mut warnings = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Err(e) = index.apply_value(item) {
                let object = describe_item(item).unwrap_or_else(|| format!("items[{i}]"));
                warnings.push(LoadWarning {
                    object,
                    message: e.to_string(),
                });
            }
        }
        Ok((index, warnings))
    }

    /// Applies one object given as JSON, dispatching on apiVersion and kind. Unknown kinds are
    /// ignored (Ok).
    pub fn apply_value(&mut self, item: &Value) -> Result<(), LoadError> {
        let api_version = item.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = item.get("kind").and_then(Value::as_str).unwrap_or("");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, LoadError> {
            T::deserialize(v).map_err(|e| LoadError::Unreadable(e.to_string()))
        }
        fn put<K: Kind>(idx: &mut ClusterIndex, item: &Value) -> Result<(), LoadError> {
            K::put(idx, Arc::new(parse::<K>(item)?.store()));
            Ok(())
        }
        let named = |field: &str| {
            item.pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .is_some_and(|n| !n.trim().is_empty())
        };
        let namespaced = matches!(
            (group, kind),
            ("", "Pod" | "Service" | "PersistentVolumeClaim")
                | ("networking.k8s.io", "Ingress")
                | ("route.openshift.io", "Route")
                | ("cdi.kubevirt.io", "DataVolume")
                | (
                    "apps",
                    "Deployment" | "ControllerRevision" | "StatefulSet" | "DaemonSet"
                )
                | ("kubevirt.io", _)
                | ("instancetype.kubevirt.io", "VirtualMachineInstancetype")
        );
        let known = namespaced
            || matches!(
                (group, kind),
                ("", "Namespace" | "Node")
                    | (
                        "instancetype.kubevirt.io",
                        "VirtualMachineClusterInstancetype"
                    )
            );
        if known && !named("name") {
            return Err(LoadError::Unnamed("name"));
        }
        if namespaced && !named("namespace") {
            return Err(LoadError::Unnamed("namespace"));
        }
        match (group, kind) {
            ("", "Namespace") => put::<Namespace>(self, item)?,
            ("", "Node") => put::<Node>(self, item)?,
            ("", "Pod") => put::<SlimPod>(self, item)?,
            ("", "Service") => put::<Service>(self, item)?,
            ("", "PersistentVolumeClaim") => put::<PersistentVolumeClaim>(self, item)?,
            ("networking.k8s.io", "Ingress") => put::<Ingress>(self, item)?,
            ("route.openshift.io", "Route") => put::<Route>(self, item)?,
            ("cdi.kubevirt.io", "DataVolume") => put::<DataVolume>(self, item)?,
            ("apps", "Deployment") => put::<Deployment>(self, item)?,
            ("apps", "ControllerRevision") => put::<ControllerRevision>(self, item)?,
            ("apps", "StatefulSet") => put::<StatefulSet>(self, item)?,
            ("apps", "DaemonSet") => put::<DaemonSet>(self, item)?,
            ("kubevirt.io", "VirtualMachine") => put::<VirtualMachine>(self, item)?,
            ("kubevirt.io", "VirtualMachineInstance") => put::<VirtualMachineInstance>(self, item)?,
            ("instancetype.kubevirt.io", "VirtualMachineClusterInstancetype") => {
                let it: VirtualMachineClusterInstancetype = parse(item)?;
                self.apply_cluster_instancetype(it.name_any(), InstancetypeSize::from(&it.spec));
            }
            ("instancetype.kubevirt.io", "VirtualMachineInstancetype") => {
                let it: VirtualMachineInstancetype = parse(item)?;
                let key = (it.namespace().unwrap_or_default(), it.name_any());
                self.apply_instancetype(key, InstancetypeSize::from(&it.spec));
            }
            ("config.openshift.io", "Network") => self.apply_network_config(item),
            ("config.openshift.io", "ClusterVersion") => self.apply_cluster_version(item),
            ("config.openshift.io", "Console") => self.apply_console(item),
            _ => {}
        }
        Ok(())
    }
}

/// `Kind ns/name` of an item, for warnings.
fn describe_item(item: &Value) -> Option<String> {
    let kind = item.get("kind")?.as_str()?;
    let name = item["metadata"]["name"].as_str().unwrap_or("?");
    Some(match item["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    })
}
