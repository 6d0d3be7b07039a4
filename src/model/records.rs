//! Desired Nautobot records: what the projection produces and the diff planner compares.
//!
//! A [`Record`] is one Nautobot object in the shape of its REST write body, limited to the
//! fields the operator owns (diffsync's "attributes"); its identity is a deterministic UUID
//! (see [`crate::ids`]) that Nautobot accepts as the object's `id` on create. References to
//! other objects are symbolic ([`Ref`]): our own records by id, prerequisites (statuses, roles,
//! platforms...) by name, resolved to UUIDs by the Nautobot layer after bootstrap.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Custom field holding the owning cluster's name (exact filter logic): the ownership marker.
pub const CF_CLUSTER: &str = "k8s_cluster";
/// Custom field holding the Kubernetes UID of the source object.
pub const CF_UID: &str = "k8s_uid";
/// Custom field holding the source object's kind and namespace/name.
pub const CF_SOURCE: &str = "k8s_source";
/// Custom field holding the node a VM runs on.
pub const CF_NODE: &str = "k8s_node";
/// Custom field holding the raw KubeVirt printableStatus or node state.
pub const CF_STATE: &str = "k8s_state";
/// Custom field set when the source object vanished (MarkOffline policy).
pub const CF_MISSING_SINCE: &str = "k8s_missing_since";
/// Custom field: the Kubernetes version (a node's kubelet; the cluster's OpenShift version).
pub const CF_VERSION: &str = "k8s_version";
/// Custom field: a node's container runtime (`cri-o://1.29.5-...`).
pub const CF_RUNTIME: &str = "k8s_container_runtime";
/// Custom field: a node's capacity (`cpu 16, memory 64 GiB, pods 250`).
pub const CF_CAPACITY: &str = "k8s_capacity";
/// Custom field (type URL): the object's page in the OpenShift web console, which the console
/// custom links open.
pub const CF_CONSOLE: &str = "k8s_console_url";
/// Tag put on every object the operator creates.
pub const OWNERSHIP_TAG: &str = "k8s-managed";

/// Nautobot object kinds the operator writes, in creation order (parents first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// `virtualization.cluster`
    Cluster,
    /// `cloud.cloudaccount`
    CloudAccount,
    /// `tenancy.tenant`
    Tenant,
    /// `ipam.prefix`
    Prefix,
    /// `dcim.device`
    Device,
    /// `dcim.interface`
    DeviceInterface,
    /// `dcim.devicecluster assignment`
    DeviceClusterAssignment,
    /// `virtualization.virtualmachine`
    VirtualMachine,
    /// `virtualization.vminterface`
    VmInterface,
    /// `ipam.ipaddress`
    IpAddress,
    /// `ipam.ipaddresstointerface`
    IpAddressToInterface,
    /// `cloud.cloudservice`
    CloudService,
    /// `ipam.service`
    IpamService,
}

impl Kind {
    /// All kinds in creation order.
    pub const ALL: [Kind; 13] = [
        Kind::Cluster,
        Kind::CloudAccount,
        Kind::Tenant,
        Kind::Prefix,
        Kind::Device,
        Kind::DeviceInterface,
        Kind::DeviceClusterAssignment,
        Kind::VirtualMachine,
        Kind::VmInterface,
        Kind::IpAddress,
        Kind::IpAddressToInterface,
        Kind::CloudService,
        Kind::IpamService,
    ];

    /// A fixed string that takes part in record ids: never change it.
    pub fn id_tag(self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::CloudAccount => "cloud-account",
            Kind::Tenant => "tenant",
            Kind::Prefix => "prefix",
            Kind::Device => "device",
            Kind::DeviceInterface => "device-interface",
            Kind::DeviceClusterAssignment => "device-cluster",
            Kind::VirtualMachine => "virtual-machine",
            Kind::VmInterface => "vm-interface",
            Kind::IpAddress => "ip-address",
            Kind::IpAddressToInterface => "ip-to-interface",
            Kind::CloudService => "cloud-service",
            Kind::IpamService => "ipam-service",
        }
    }

    /// REST collection path under `/api/`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::Cluster => "virtualization/clusters/",
            Kind::CloudAccount => "cloud/cloud-accounts/",
            Kind::Tenant => "tenancy/tenants/",
            Kind::Prefix => "ipam/prefixes/",
            Kind::Device => "dcim/devices/",
            Kind::DeviceInterface => "dcim/interfaces/",
            Kind::DeviceClusterAssignment => "dcim/device-cluster-assignments/",
            Kind::VirtualMachine => "virtualization/virtual-machines/",
            Kind::VmInterface => "virtualization/interfaces/",
            Kind::IpAddress => "ipam/ip-addresses/",
            Kind::IpAddressToInterface => "ipam/ip-address-to-interface/",
            Kind::CloudService => "cloud/cloud-services/",
            Kind::IpamService => "ipam/services/",
        }
    }

    /// Nautobot content type (`app_label.model`).
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Cluster => "virtualization.cluster",
            Kind::CloudAccount => "cloud.cloudaccount",
            Kind::Tenant => "tenancy.tenant",
            Kind::Prefix => "ipam.prefix",
            Kind::Device => "dcim.device",
            Kind::DeviceInterface => "dcim.interface",
            Kind::DeviceClusterAssignment => "dcim.deviceclusterassignment",
            Kind::VirtualMachine => "virtualization.virtualmachine",
            Kind::VmInterface => "virtualization.vminterface",
            Kind::IpAddress => "ipam.ipaddress",
            Kind::IpAddressToInterface => "ipam.ipaddresstointerface",
            Kind::CloudService => "cloud.cloudservice",
            Kind::IpamService => "ipam.service",
        }
    }

    /// Whether objects of this kind carry the ownership tag and custom fields. Pure link
    /// objects (assignments) do not: they are ours when both ends are ours.
    pub fn carries_marker(self) -> bool {
        self.link_ends().is_empty()
    }

    /// The fields naming the two ends of a link object, which Nautobot allows once per pair
    /// (`unique_together` on DeviceClusterAssignment and IPAddressToInterface); empty for
    /// every other kind.
    pub fn link_ends(self) -> &'static [&'static str] {
        match self {
            Kind::DeviceClusterAssignment => &["device", "cluster"],
            Kind::IpAddressToInterface => &["ip_address", "interface", "vm_interface"],
            _ => &[],
        }
    }

    /// A short label for tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Cluster => "Cluster",
            Kind::CloudAccount => "CloudAccount",
            Kind::Tenant => "Tenant",
            Kind::Prefix => "Prefix",
            Kind::Device => "Device",
            Kind::DeviceInterface => "Interface",
            Kind::DeviceClusterAssignment => "DeviceCluster",
            Kind::VirtualMachine => "VirtualMachine",
            Kind::VmInterface => "VMInterface",
            Kind::IpAddress => "IPAddress",
            Kind::IpAddressToInterface => "IPToInterface",
            Kind::CloudService => "CloudService",
            Kind::IpamService => "Service",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A reference from one record to another Nautobot object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "ref", content = "to", rename_all = "camelCase")]
pub enum Ref {
    /// One of our own records, by its deterministic id.
    Record(Uuid),
    /// `extras.status` by name.
    Status(String),
    /// `extras.role` by name (content type of the referring record).
    Role(String),
    /// `dcim.platform` by name.
    Platform(String),
    /// `dcim.softwareversion` by platform and version, as [`software_version`].
    SoftwareVersion(String),
    /// `dcim.devicetype` by model (under the configured manufacturer).
    DeviceType(String),
    /// `dcim.manufacturer` by name.
    Manufacturer(String),
    /// `dcim.location` by name (must exist).
    Location(String),
    /// `virtualization.clustertype` by name.
    ClusterType(String),
    /// `virtualization.clustergroup` by name.
    ClusterGroup(String),
    /// `tenancy.tenantgroup` by name.
    TenantGroup(String),
    /// `ipam.namespace` by name.
    IpamNamespace(String),
    /// `cloud.cloudresourcetype` by name.
    CloudResourceType(String),
}

impl Ref {
    /// The name of the referenced object (a prerequisite looked up by name); `None` for one of
    /// our own records, which is referred to by id.
    pub fn name(&self) -> Option<&str> {
        match self {
            Ref::Record(_) => None,
            Ref::Status(n)
            | Ref::Role(n)
            | Ref::Platform(n)
            | Ref::SoftwareVersion(n)
            | Ref::DeviceType(n)
            | Ref::Manufacturer(n)
            | Ref::Location(n)
            | Ref::ClusterType(n)
            | Ref::ClusterGroup(n)
            | Ref::TenantGroup(n)
            | Ref::IpamNamespace(n)
            | Ref::CloudResourceType(n) => Some(n),
        }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Record(id) => write!(f, "<{id}>"),
            Ref::Status(n) => write!(f, "status:{n}"),
            Ref::Role(n) => write!(f, "role:{n}"),
            Ref::Platform(n) => write!(f, "platform:{n}"),
            Ref::SoftwareVersion(n) => match n.split_once('\t') {
                Some((p, v)) => write!(f, "software-version:{p} {v}"),
                None => write!(f, "software-version:{n}"),
            },
            Ref::DeviceType(n) => write!(f, "device-type:{n}"),
            Ref::Manufacturer(n) => write!(f, "manufacturer:{n}"),
            Ref::Location(n) => write!(f, "location:{n}"),
            Ref::ClusterType(n) => write!(f, "cluster-type:{n}"),
            Ref::ClusterGroup(n) => write!(f, "cluster-group:{n}"),
            Ref::TenantGroup(n) => write!(f, "tenant-group:{n}"),
            Ref::IpamNamespace(n) => write!(f, "namespace:{n}"),
            Ref::CloudResourceType(n) => write!(f, "resource-type:{n}"),
        }
    }
}

/// The value of an owned field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Field {
    /// A plain JSON value (string, number, object, null...).
    Json(Value),
    /// A reference to another object.
    Ref(Ref),
}

impl Field {
    /// A JSON string.
    pub fn str(s: impl Into<String>) -> Self {
        Field::Json(Value::String(s.into()))
    }
    /// A short human form for tables.
    pub fn display(&self) -> String {
        match self {
            Field::Json(Value::String(s)) => s.clone(),
            Field::Json(v) => v.to_string(),
            Field::Ref(r) => r.to_string(),
        }
    }
}

impl From<Ref> for Field {
    fn from(r: Ref) -> Self {
        Field::Ref(r)
    }
}

/// One desired Nautobot object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Deterministic id, used as the Nautobot object id.
    pub id: Uuid,
    /// Nautobot kind.
    pub kind: Kind,
    /// Display name (natural key) for tables, logs and conflict reports.
    pub name: String,
    /// The Kubernetes object it comes from, as `Kind namespace/name`.
    pub source: String,
    /// Owned fields in REST write form. Fields not listed are never written.
    pub fields: BTreeMap<&'static str, Field>,
    /// Owned tags (the ownership tag and label tags); other tags on the object are kept.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub tags: BTreeSet<String>,
    /// Owned custom fields (ownership marker and label mappings); others are kept.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, Value>,
    /// Fields written only when the object is created, where `fields` has no value: Nautobot
    /// requires them, and the cluster does not say (a VM status KubeVirt does not report).
    /// Never compared afterwards, so what Nautobot holds is kept.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub on_create: BTreeMap<&'static str, Field>,
}

impl Record {
    /// A new record with no fields.
    pub fn new(id: Uuid, kind: Kind, name: impl Into<String>, source: impl Into<String>) -> Self {
        Record {
            id,
            kind,
            name: name.into(),
            source: source.into(),
            fields: BTreeMap::new(),
            tags: BTreeSet::new(),
            custom_fields: BTreeMap::new(),
            on_create: BTreeMap::new(),
        }
    }

    /// Sets a field written on create only, when `fields` has none (builder style).
    pub fn on_create(mut self, key: &'static str, value: impl Into<Field>) -> Self {
        self.on_create.insert(key, value.into());
        self
    }

    /// Sets a field (builder style).
    pub fn with(mut self, key: &'static str, value: impl Into<Field>) -> Self {
        self.fields.insert(key, value.into());
        self
    }

    /// Sets a field when the value is known; an unknown value is left out, so whatever
    /// Nautobot holds is kept (no flapping when, say, a stopped VM loses its guest info).
    pub fn with_opt(self, key: &'static str, value: Option<impl Into<Field>>) -> Self {
        match value {
            Some(v) => self.with(key, v),
            None => self,
        }
    }

    /// A field's JSON value, if set and plain.
    pub fn json(&self, key: &str) -> Option<&Value> {
        match self.fields.get(key) {
            Some(Field::Json(v)) => Some(v),
            _ => None,
        }
    }

    /// A field's reference, if set.
    pub fn reference(&self, key: &str) -> Option<&Ref> {
        match self.fields.get(key) {
            Some(Field::Ref(r)) => Some(r),
            _ => None,
        }
    }

    /// All references this record makes (for ordering and bootstrap).
    pub fn refs(&self) -> impl Iterator<Item = &Ref> {
        self.fields
            .values()
            .chain(self.on_create.values())
            .filter_map(|f| match f {
                Field::Ref(r) => Some(r),
                _ => None,
            })
    }
}

/// A reference to the SoftwareVersion `version` of Platform `platform`.
pub fn software_version(platform: &str, version: &str) -> Ref {
    Ref::SoftwareVersion(format!("{platform}\t{version}"))
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::str(s)
    }
}
impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::str(s)
    }
}
impl From<i64> for Field {
    fn from(n: i64) -> Self {
        Field::Json(Value::from(n))
    }
}
impl From<u32> for Field {
    fn from(n: u32) -> Self {
        Field::Json(Value::from(n))
    }
}
impl From<Value> for Field {
    fn from(v: Value) -> Self {
        Field::Json(v)
    }
}
