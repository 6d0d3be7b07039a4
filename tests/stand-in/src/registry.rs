//! The kinds the stand-in serves: built-ins, kinds registered at run time, and kinds read from
//! `CustomResourceDefinition` objects.
//!
//! One version is served per group and plural, which is all the operator needs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// One served resource: where it lives in the API and how it behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group, empty for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Plural resource name used in paths, e.g. `pods`.
    pub plural: String,
    /// Singular resource name, e.g. `pod`.
    pub singular: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names listed in discovery, e.g. `po`.
    pub short_names: Vec<String>,
    /// Whether the kind has a `status` subresource (main-resource writes then leave `status` alone).
    pub status_subresource: bool,
    /// Printer columns for `Table` responses; empty means `Name` and `Age`.
    pub printer_columns: Vec<PrinterColumn>,
}

/// A CRD `additionalPrinterColumns` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    /// Simple JSONPath into the object, e.g. `.status.conditions[?(@.type=="Ready")].status`.
    pub json_path: String,
    /// 0 for the default view, higher for `-o wide` only.
    pub priority: i64,
    /// Column description.
    pub description: String,
}

impl ResourceType {
    /// A kind without a status subresource, short names or printer columns; the singular is the lowercased kind.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: Vec::new(),
            status_subresource: false,
            printer_columns: Vec::new(),
        }
    }

    /// Marks the kind as having a `status` subresource.
    #[must_use]
    pub fn with_status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    /// Sets the short names.
    #[must_use]
    pub fn with_short_names(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(ToString::to_string).collect();
        self
    }

    /// `v1` for the core group, otherwise `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural` or `plural.group`, as used in error messages.
    pub(crate) fn resource_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub(crate) fn key(&self) -> ResourceKey {
        ResourceKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }

    /// Reads a `CustomResourceDefinition` object; `None` when it lacks the names or a served version.
    pub(crate) fn from_crd(crd: &Value) -> Option<Self> {
        let spec = crd.get("spec")?;
        let names = spec.get("names")?;
        let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_string);
        let versions = spec.get("versions")?.as_array()?;
        let served = versions
            .iter()
            .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
            .max_by_key(|v| v.get("storage").and_then(Value::as_bool).unwrap_or(false))?;
        let kind = text(names, "kind")?;
        let mut rt = Self::new(
            spec.get("group")?.as_str()?,
            served.get("name")?.as_str()?,
            &kind,
            &text(names, "plural")?,
            spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
        );
        rt.singular = text(names, "singular").unwrap_or_else(|| kind.to_lowercase());
        rt.short_names = names
            .get("shortNames")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        rt.status_subresource = served.pointer("/subresources/status").is_some();
        rt.printer_columns = served
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .filter_map(|c| {
                        Some(PrinterColumn {
                            name: text(c, "name")?,
                            type_: text(c, "type").unwrap_or_else(|| "string".into()),
                            json_path: text(c, "jsonPath")?,
                            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                            description: text(c, "description").unwrap_or_default(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(rt)
    }
}

/// Identifies a kind's object collection: group plus plural.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ResourceKey {
    pub(crate) group: String,
    pub(crate) plural: String,
}

/// The `CustomResourceDefinition` kind's key, whose writes register and unregister kinds.
pub(crate) fn is_crd_key(key: &ResourceKey) -> bool {
    key.group == "apiextensions.k8s.io" && key.plural == "customresourcedefinitions"
}

/// All served kinds, by group and plural.
#[derive(Clone, Debug, Default)]
pub(crate) struct Registry {
    types: BTreeMap<ResourceKey, ResourceType>,
}

impl Registry {
    /// The built-in kinds, plus OpenShift's Routes and `config.openshift.io/v1` Network,
    /// ClusterVersion and Console when asked.
    pub(crate) fn builtin(openshift: bool) -> Self {
        let rt = ResourceType::new;
        let mut types = vec![
            rt("", "v1", "Namespace", "namespaces", false)
                .with_status()
                .with_short_names(&["ns"]),
            rt("", "v1", "Node", "nodes", false)
                .with_status()
                .with_short_names(&["no"]),
            rt("", "v1", "Pod", "pods", true)
                .with_status()
                .with_short_names(&["po"]),
            rt("", "v1", "Service", "services", true)
                .with_status()
                .with_short_names(&["svc"]),
            rt(
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            )
            .with_status()
            .with_short_names(&["pvc"]),
            rt("networking.k8s.io", "v1", "Ingress", "ingresses", true)
                .with_status()
                .with_short_names(&["ing"]),
            rt("", "v1", "Secret", "secrets", true),
            rt("", "v1", "ConfigMap", "configmaps", true).with_short_names(&["cm"]),
            rt("", "v1", "Event", "events", true).with_short_names(&["ev"]),
            rt("apps", "v1", "Deployment", "deployments", true)
                .with_status()
                .with_short_names(&["deploy"]),
            rt(
                "apps",
                "v1",
                "ControllerRevision",
                "controllerrevisions",
                true,
            ),
            rt("apps", "v1", "StatefulSet", "statefulsets", true)
                .with_status()
                .with_short_names(&["sts"]),
            rt("apps", "v1", "DaemonSet", "daemonsets", true)
                .with_status()
                .with_short_names(&["ds"]),
            rt("coordination.k8s.io", "v1", "Lease", "leases", true),
            rt("events.k8s.io", "v1", "Event", "events", true).with_short_names(&["ev"]),
            rt(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            )
            .with_status()
            .with_short_names(&["crd", "crds"]),
        ];
        if openshift {
            types.push(rt("route.openshift.io", "v1", "Route", "routes", true).with_status());
            types.push(rt("config.openshift.io", "v1", "Network", "networks", false).with_status());
            types.push(
                rt(
                    "config.openshift.io",
                    "v1",
                    "ClusterVersion",
                    "clusterversions",
                    false,
                )
                .with_status(),
            );
            types.push(rt("config.openshift.io", "v1", "Console", "consoles", false).with_status());
        }
        let mut registry = Self::default();
        for t in types {
            registry.insert(t);
        }
        registry
    }

    /// Adds or replaces a kind.
    pub(crate) fn insert(&mut self, rt: ResourceType) {
        self.types.insert(rt.key(), rt);
    }

    /// Removes a kind.
    pub(crate) fn remove(&mut self, key: &ResourceKey) -> Option<ResourceType> {
        self.types.remove(key)
    }

    /// The kind served at `group/version/plural`.
    pub(crate) fn by_plural(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&ResourceType> {
        self.types
            .values()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The kind with this apiVersion and kind.
    pub(crate) fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .values()
            .find(|t| t.api_version() == api_version && t.kind == kind)
    }

    /// Every kind.
    pub(crate) fn all(&self) -> impl Iterator<Item = &ResourceType> {
        self.types.values()
    }

    /// Served versions of each non-core group.
    pub(crate) fn groups(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for t in self.types.values().filter(|t| !t.group.is_empty()) {
            groups.entry(&t.group).or_default().insert(&t.version);
        }
        groups
    }
}
