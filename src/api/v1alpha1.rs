//! The `NautobotSync` custom resource (`nbsync.dev/v1alpha1`).
//!
//! Everything a user can set lives here, with its defaults and the validation the API server
//! enforces through the generated schema (patterns, enums, minimums and CEL rules). What the
//! schema cannot check (a regex that does not compile, for example) is checked by
//! [`crate::config::SyncConfig::from_spec`] and reported as `Ready=False, reason=InvalidSpec`.

// kube's `printcolumn(...)` entries repeat the same keys, which clippy mistakes for duplicated
// attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of one cluster-to-Nautobot sync.
///
/// One NautobotSync describes one cluster as it should appear in one Nautobot: the
/// `clusterName` is its identity there, and every object the operator creates is marked as
/// owned by that name.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "nbsync.dev",
    version = "v1alpha1",
    kind = "NautobotSync",
    plural = "nautobotsyncs",
    namespaced,
    shortname = "nbsync",
    category = "nautobot",
    status = "NautobotSyncStatus",
    doc = "NautobotSync keeps Nautobot in sync with the objects of this cluster.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Synced")].status"#
    ),
    printcolumn(
        name = "Objects",
        type_ = "integer",
        json_path = ".status.objectsInSync",
        description = "Nautobot objects in sync"
    ),
    printcolumn(
        name = "Pending",
        type_ = "integer",
        json_path = ".status.pendingChanges",
        priority = "1"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.clusterName",
        priority = "1"
    ),
    printcolumn(
        name = "Nautobot",
        type_ = "string",
        json_path = ".spec.nautobot.url",
        priority = "1"
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.nautobot.version",
        description = "The Nautobot release synced to",
        priority = "1"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#,
        priority = "1"
    )
)]
#[x_kube(validation = Rule::new("!self.sync.nodes || (has(self.placement.location) && self.placement.location != '')").message("spec.placement.location is required when spec.sync.nodes is true (node devices need a Nautobot Location)"))]
#[serde(rename_all = "camelCase")]
pub struct NautobotSyncSpec {
    /// The cluster's name in Nautobot and its identity there: the Nautobot Cluster gets this
    /// name and every object the operator creates is marked as owned by it. Changing it makes
    /// the operator see a different cluster (the mass-deletion guard then holds the old one).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
    )]
    pub cluster_name: String,

    /// DNS domain of the cluster's Services, used for the dns_name of Service IP addresses.
    #[serde(default = "default_cluster_domain")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
    )]
    pub cluster_domain: String,

    /// How to reach Nautobot.
    pub nautobot: NautobotConnection,

    /// Where synced objects land in Nautobot.
    #[serde(default)]
    pub placement: Placement,

    /// Which kinds of cluster objects are synced.
    #[serde(default)]
    pub sync: SyncSelection,

    /// Which namespaces are synced (and with them their VMs, Deployments and Services).
    #[serde(default)]
    pub namespace_filter: NamespaceFilter,

    /// Which Kubernetes labels become Nautobot tags or custom-field values.
    #[serde(default)]
    pub labels: LabelMapping,

    /// What happens in Nautobot when an object disappears from the cluster.
    #[serde(default)]
    pub deletion: DeletionSpec,

    /// What happens in Nautobot when this NautobotSync itself is deleted.
    #[serde(default)]
    pub on_delete: OnDeletePolicy,

    /// Adopt objects that already exist in Nautobot with the same natural key (same cluster
    /// name, tenant name, VM name...) but carry no ownership marker. Off by default: such
    /// objects are reported as conflicts and never modified.
    #[serde(default)]
    pub adopt_existing: bool,

    /// This cluster replaces the Kubernetes cluster with this identity (a rebuilt cluster
    /// keeping its name): the Nautobot Cluster of `clusterName` records that identity (custom
    /// field `k8s_uid`), and without this the operator refuses to write into another
    /// cluster's records (Ready=False, reason ClusterIdentityMismatch, which names the
    /// identity to put here). Once the Cluster records this cluster's identity, the field has
    /// no effect and can be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub replaces_cluster_id: Option<String>,

    /// The OpenShift web console's URL as Nautobot users reach it (`https://console-openshift-console.apps.example.com`),
    /// for the links from Nautobot back to the console. Default: what the cluster says
    /// (`consoles.config.openshift.io/cluster` `status.consoleURL`); set it where users reach
    /// the console through another address, or on a cluster without OpenShift's console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 10, max = 300),
        regex(pattern = r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    )]
    pub console_url: Option<String>,

    /// How often everything is re-read from Nautobot and re-diffed, to repair drift and edits
    /// made by hand. Go duration syntax, 1m to 168h.
    #[serde(default = "default_full_resync_interval")]
    #[schemars(length(max = 64), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1m') && duration(self) <= duration('168h')").message("fullResyncInterval must be between 1m and 168h"))]
    pub full_resync_interval: String,

    /// Compute and report the changes without writing anything to Nautobot.
    #[serde(default)]
    pub dry_run: bool,

    /// Stop writing to Nautobot (watching and status continue).
    #[serde(default)]
    pub suspend: bool,
}

/// Connection to the Nautobot REST API.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NautobotConnection {
    /// Base URL of Nautobot, for example `https://nautobot.example.com` (without `/api`).
    #[schemars(
        length(min = 8, max = 2048),
        regex(pattern = r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    )]
    pub url: String,

    /// The Secret, in this NautobotSync's namespace, that holds the API token.
    pub token_secret_ref: SecretKeyRef,

    /// A CA bundle to trust for Nautobot's TLS certificate, from a ConfigMap or Secret in this
    /// namespace (OpenShift's injected trusted CA ConfigMap works: key `ca-bundle.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<CaBundleRef>,

    /// Skip TLS certificate verification. Never use this in production; it is reported in status.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,

    /// Timeout of one request to Nautobot, in seconds.
    #[serde(default = "default_request_timeout")]
    #[schemars(range(min = 1, max = 600))]
    pub request_timeout_seconds: u32,

    /// How many requests to Nautobot may run at once (2 is the measured best for one Nautobot
    /// with 2 workers). The operator adapts below it to how fast Nautobot answers: it sends
    /// fewer when answers slow down or Nautobot says it is overloaded (429, 503, Retry-After),
    /// and more again up to this when they are fast.
    #[serde(default = "default_max_concurrent")]
    #[schemars(range(min = 1, max = 32))]
    pub max_concurrent_requests: u32,

    /// At most this many requests to Nautobot a second, evenly spaced (absent: no cap). For a
    /// Nautobot many clusters share: the initial sync of a large cluster then takes longer,
    /// and people's pages stay fast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_requests_per_second: Option<u32>,
}

/// A key of a Secret in the NautobotSync's own namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,
    /// Key in the Secret's data that holds the token.
    #[serde(default = "default_token_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// Where the CA bundle comes from.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CaBundleRef {
    /// `ConfigMap` or `Secret`.
    #[serde(default)]
    pub kind: CaBundleKind,
    /// Name of the ConfigMap or Secret in this namespace.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,
    /// Key holding the PEM bundle.
    #[serde(default = "default_ca_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// The kind of object a CA bundle is read from.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CaBundleKind {
    /// A ConfigMap (the default; OpenShift injects its trusted CA bundle into labelled ConfigMaps).
    #[default]
    ConfigMap,
    /// A Secret.
    Secret,
}

/// Where records land in Nautobot. Every named object must exist or is created by the
/// operator, except the Location, which must exist.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// Cluster type of the Nautobot Cluster.
    #[serde(default = "default_cluster_type")]
    #[schemars(length(min = 1, max = 100))]
    pub cluster_type: String,
    /// Optional cluster group of the Nautobot Cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub cluster_group: Option<String>,
    /// The Nautobot Location (name) where node devices are placed. It must exist and its
    /// location type must allow devices. Required when nodes are synced; not blank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100), regex(pattern = r"\S"))]
    pub location: Option<String>,
    /// Optional tenant group for the tenants made from namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub tenant_group: Option<String>,
    /// IPAM namespace for the cluster's IP addresses and prefixes (default: the clusterName,
    /// so overlapping pod and service networks of different clusters never collide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub ipam_namespace: Option<String>,
    /// Where addresses on isolated networks go: Multus secondary networks (each
    /// NetworkAttachmentDefinition) and a namespace's primary user-defined network (OVN-Kubernetes,
    /// namespaces labelled `k8s.ovn.org/primary-user-defined-network`). `Separate` (the default)
    /// gives each its own IPAM namespace, `<ipamNamespace>/<nad-namespace>/<nad-name>` or
    /// `<ipamNamespace>/<namespace>`, since isolated networks routinely reuse the same private
    /// ranges; `Shared` puts them in the cluster's IPAM namespace with everything else.
    #[serde(default)]
    pub isolated_networks: IsolatedNetworks,
    /// IPAM namespace per isolated network, overriding `isolatedNetworks`: the key is a
    /// NetworkAttachmentDefinition (`namespace/name`) or a namespace (its primary user-defined
    /// network), the value an existing Nautobot IPAM namespace whose prefixes cover the
    /// network (for example a localnet network on a VLAN the network team keeps in `Global`).
    /// The operator adds addresses there, never prefixes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 500,
        "additionalProperties" = {"type": "string", "minLength": 1, "maxLength": 255}
    ))]
    pub network_ipam_namespaces: BTreeMap<String, String>,
    /// Manufacturer of the node device types.
    #[serde(default = "default_manufacturer")]
    #[schemars(length(min = 1, max = 100))]
    pub manufacturer: String,
    /// Device type (model) of nodes without a `node.kubernetes.io/instance-type` label.
    #[serde(default = "default_device_type")]
    #[schemars(length(min = 1, max = 100))]
    pub default_device_type: String,
    /// Provider (a Nautobot Manufacturer) of the CloudAccount that holds Deployments and Services.
    #[serde(default = "default_cloud_provider")]
    #[schemars(length(min = 1, max = 100))]
    pub cloud_provider: String,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            cluster_type: default_cluster_type(),
            cluster_group: None,
            location: None,
            tenant_group: None,
            ipam_namespace: None,
            isolated_networks: IsolatedNetworks::default(),
            network_ipam_namespaces: BTreeMap::new(),
            manufacturer: default_manufacturer(),
            default_device_type: default_device_type(),
            cloud_provider: default_cloud_provider(),
        }
    }
}

/// Which kinds of cluster objects are synced.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SyncSelection {
    /// Namespaces become Tenants.
    #[serde(default = "yes")]
    pub namespaces: bool,
    /// Nodes become Devices (with an interface and their InternalIP addresses).
    #[serde(default = "yes")]
    pub nodes: bool,
    /// KubeVirt VirtualMachines become VirtualMachines with interfaces and IP addresses.
    #[serde(default = "yes")]
    pub virtual_machines: bool,
    /// Deployments become CloudServices of type "Kubernetes Deployment".
    #[serde(default = "yes")]
    pub deployments: bool,
    /// StatefulSets become CloudServices, as Deployments do.
    #[serde(default = "yes")]
    pub stateful_sets: bool,
    /// DaemonSets become CloudServices, as Deployments do.
    #[serde(default = "yes")]
    pub daemon_sets: bool,
    /// Services become CloudServices of type "Kubernetes Service" with their IP addresses.
    #[serde(default = "yes")]
    pub services: bool,
    /// OpenShift Routes and Ingresses become CloudServices ("OpenShift Route", "Kubernetes
    /// Ingress") with their hosts, paths, TLS termination and target Services.
    #[serde(default = "yes")]
    pub routes: bool,
    /// PersistentVolumeClaims (with the CDI DataVolumes that fill them) become CloudServices
    /// of type "Kubernetes PersistentVolumeClaim": size, storage class, access modes, bound
    /// volume and the VMs using each.
    #[serde(default = "yes")]
    pub volumes: bool,
    /// Pod IPs become IP addresses (off by default: pods are short-lived).
    #[serde(default)]
    pub pod_ips: bool,
    /// Links from Nautobot back to the OpenShift web console: VMs, node Devices, Tenants and
    /// the Cluster get their console page in the custom field `k8s_console_url`, and custom
    /// links "OpenShift console" on those object types open it (when the console URL is
    /// known: `consoleUrl`, else the cluster's `consoles.config.openshift.io`).
    #[serde(default = "yes")]
    pub console_links: bool,
}

impl Default for SyncSelection {
    fn default() -> Self {
        SyncSelection {
            namespaces: true,
            nodes: true,
            virtual_machines: true,
            deployments: true,
            stateful_sets: true,
            daemon_sets: true,
            services: true,
            routes: true,
            volumes: true,
            pod_ips: false,
            console_links: true,
        }
    }
}

/// Namespace filters: regular expressions (RE2-like syntax) that must match the whole name.
/// A namespace is synced when it matches an `include` pattern (or `include` is empty) and no
/// `exclude` pattern.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceFilter {
    /// Patterns of namespaces to sync; empty means all.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub include: Vec<String>,
    /// Patterns of namespaces never to sync. Defaults to the system namespaces; set it to
    /// `[]` to sync those too.
    #[serde(default = "default_excludes")]
    #[schemars(length(max = 256))]
    pub exclude: Vec<String>,
}

impl Default for NamespaceFilter {
    fn default() -> Self {
        NamespaceFilter {
            include: Vec::new(),
            exclude: default_excludes(),
        }
    }
}

/// Which Kubernetes labels are carried into Nautobot.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LabelMapping {
    /// Label keys whose values become tags named `<key>=<value>` on the synced object.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub to_tags: Vec<String>,
    /// Labels whose values are written into text custom fields.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub to_custom_fields: Vec<LabelToCustomField>,
}

/// One label to custom-field mapping.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelToCustomField {
    /// The Kubernetes label key.
    #[schemars(length(min = 1, max = 317))]
    pub label: String,
    /// The Nautobot custom field key (created as a text field when missing).
    #[schemars(length(min = 1, max = 50), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub custom_field: String,
}

/// What happens to a Nautobot object whose cluster object is gone.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeletionSpec {
    /// `Delete` at once, `MarkOffline` then delete after `gracePeriod`, or `Retain` forever.
    #[serde(default)]
    pub policy: DeletionPolicy,
    /// With `MarkOffline`: how long an object stays marked before it is deleted (Go duration,
    /// `0s` to 8760h; `0s` deletes at once, as `Delete` does).
    #[serde(default = "default_grace_period")]
    #[schemars(length(max = 64), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('0s') && duration(self) <= duration('8760h')").message("gracePeriod must be between 0s and 8760h"))]
    pub grace_period: String,
    /// Mass-deletion guard: the largest fraction (0 to 1) of owned objects one pass may delete.
    /// A pass over the limit deletes nothing and reports the held deletions.
    #[serde(default = "default_max_delete_fraction")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_delete_fraction: f64,
    /// Passes deleting at most this many objects are never held by the guard.
    #[serde(default = "default_guard_floor")]
    #[schemars(range(min = 0, max = 100000))]
    pub guard_min_objects: u32,
}

impl Default for DeletionSpec {
    fn default() -> Self {
        DeletionSpec {
            policy: DeletionPolicy::default(),
            grace_period: default_grace_period(),
            max_delete_fraction: default_max_delete_fraction(),
            guard_min_objects: default_guard_floor(),
        }
    }
}

/// Where addresses on isolated networks go (see `Placement::isolated_networks`).
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IsolatedNetworks {
    /// Each isolated network in its own IPAM namespace.
    #[default]
    Separate,
    /// Every address in the cluster's IPAM namespace.
    Shared,
}

/// Deletion policy for objects gone from the cluster.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Delete the Nautobot object at once.
    Delete,
    /// Mark it offline (status Offline where the model has a status, and the `k8s_missing_since`
    /// custom field), then delete it after the grace period.
    #[default]
    MarkOffline,
    /// Never delete; mark as missing only.
    Retain,
}

/// What happens to the owned Nautobot objects when the NautobotSync is deleted.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnDeletePolicy {
    /// Leave everything in Nautobot (the default).
    #[default]
    Retain,
    /// Delete every object this cluster owns in Nautobot.
    Delete,
}

/// Observed state, written by the operator.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NautobotSyncStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Synced and Degraded conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// When the last incremental or full sync finished successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// When the last full re-diff against Nautobot finished successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_full_sync_time: Option<Time>,
    /// Total Nautobot objects in sync.
    #[serde(default)]
    pub objects_in_sync: i64,
    /// Objects in sync, per kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectCounts>,
    /// Changes computed but not (yet) applied: held, failed, dry-run or suspended.
    #[serde(default)]
    pub pending_changes: i64,
    /// Deletions held back by the mass-deletion guard.
    #[serde(default)]
    pub held_deletions: i64,
    /// Objects in Nautobot that collide with ours but are not owned (left alone).
    #[serde(default)]
    pub conflicts: i64,
    /// Whether the KubeVirt API (kubevirt.io/v1) is served by this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubevirt_detected: Option<bool>,
    /// The Nautobot synced to, as of the last full pass: its release, the REST API version
    /// spoken, and what is not synced there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nautobot: Option<NautobotServer>,
    /// The cluster name the last pass that wrote to Nautobot synced under. When
    /// spec.clusterName changes, the objects owned under this name are left in Nautobot and
    /// listed in leftBehind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_cluster_name: Option<String>,
    /// Earlier cluster names of this NautobotSync that still own objects in Nautobot (after
    /// spec.clusterName changed). Those objects are never touched; Degraded says how to
    /// remove them, and a name leaves this list once nothing is owned under it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_behind: Vec<LeftBehind>,
    /// A short summary of the last error, without secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Warnings about odd cluster objects (first few only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The Nautobot a NautobotSync syncs to.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NautobotServer {
    /// The Nautobot release, from its /api/status/ (for example 3.2.7; absent when that
    /// endpoint did not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The REST API version the operator speaks to it (2.4 to 3.2).
    pub api_version: String,
    /// Records the operator makes that this Nautobot does not store as such, and why (on
    /// Nautobot 2.4, the DeviceClusterAssignments: a node's Cluster is its Device's cluster
    /// field there). Everything else is synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_synced: Vec<NotSynced>,
}

/// A kind of record not synced to this Nautobot.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NotSynced {
    /// The Nautobot model, for example DeviceClusterAssignment.
    pub kind: String,
    /// Why, and what stands in for it.
    pub reason: String,
}

/// Objects owned in Nautobot under an earlier cluster name of a NautobotSync.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LeftBehind {
    /// The earlier spec.clusterName.
    pub cluster_name: String,
    /// How many objects it still owns, at the last full pass (absent until counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<i64>,
}

/// Objects in sync per Nautobot kind.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObjectCounts {
    /// The Nautobot Cluster (0 or 1).
    #[serde(default)]
    pub clusters: i64,
    /// Tenants (namespaces).
    #[serde(default)]
    pub tenants: i64,
    /// Devices (nodes) and their interfaces.
    #[serde(default)]
    pub devices: i64,
    /// Virtual machines.
    #[serde(default)]
    pub virtual_machines: i64,
    /// Device and VM interfaces.
    #[serde(default)]
    pub interfaces: i64,
    /// IP addresses and prefixes.
    #[serde(default)]
    pub ip_addresses: i64,
    /// CloudServices (Deployments and Services) and ipam Services.
    #[serde(default)]
    pub services: i64,
    /// Everything else (assignments, prerequisites).
    #[serde(default)]
    pub other: i64,
}

fn yes() -> bool {
    true
}
fn default_cluster_domain() -> String {
    "cluster.local".into()
}
fn default_full_resync_interval() -> String {
    "1h".into()
}
fn default_request_timeout() -> u32 {
    30
}
fn default_max_concurrent() -> u32 {
    2
}
fn default_token_key() -> String {
    "token".into()
}
fn default_ca_key() -> String {
    "ca-bundle.crt".into()
}
fn default_cluster_type() -> String {
    "OpenShift".into()
}
fn default_manufacturer() -> String {
    "Generic".into()
}
fn default_device_type() -> String {
    "Kubernetes Node".into()
}
fn default_cloud_provider() -> String {
    "Kubernetes".into()
}
fn default_grace_period() -> String {
    "24h".into()
}
fn default_max_delete_fraction() -> f64 {
    0.25
}
fn default_guard_floor() -> u32 {
    5
}

/// The namespaces excluded by default: OpenShift's and Kubernetes' own.
pub fn default_excludes() -> Vec<String> {
    ["openshift-.*", "openshift", "kube-.*", "default"]
        .into_iter()
        .map(String::from)
        .collect()
}
