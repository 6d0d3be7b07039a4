//! Minimal KubeVirt types: only the fields the projection reads.
//!
//! We do not depend on a KubeVirt client crate: these structs cover `kubevirt.io/v1`
//! VirtualMachine and VirtualMachineInstance and `instancetype.kubevirt.io/v1beta1`
//! instancetypes as published upstream (see `../shared/KUBEVIRT.md` in the project notes).
//! Every field is optional and numbers are read leniently, so an odd object gives a sensible
//! record and a warning instead of failing to deserialise.

use std::collections::BTreeMap;

use kube::CustomResource;
use serde::{Deserialize, Deserializer, Serialize};

use super::labels::Labels;

/// `kubevirt.io/v1` VirtualMachine spec (subset).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachine",
    plural = "virtualmachines",
    namespaced,
    status = "VirtualMachineStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualMachineSpec {
    /// Deprecated boolean run switch (mutually exclusive with runStrategy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    /// Always, Halted, Manual, RerunOnFailure, Once, WaitAsReceiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_strategy: Option<String>,
    /// Instancetype reference; the VM template then often has no CPU or memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instancetype: Option<InstancetypeMatcher>,
    /// Preference reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference: Option<InstancetypeMatcher>,
    /// The VMI template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<VmiTemplate>,
    /// DataVolumes created with the VM (they carry the disk sizes).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub data_volume_templates: Vec<DataVolumeTemplate>,
}

/// `kubevirt.io/v1` VirtualMachine status (subset).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualMachineStatus {
    /// Human-facing state (Running, Stopped, Migrating, CrashLoopBackOff...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printable_status: Option<String>,
    /// The effective run strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_strategy: Option<String>,
    /// Whether the VMI is ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// The instancetype as stored (KubeVirt 1.5+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instancetype_ref: Option<InstancetypeStatusRef>,
}

/// The ControllerRevision a VM's instancetype is pinned to: `spec.instancetype.revisionName`,
/// else `status.instancetypeRef.controllerRevisionRef.name` (the order KubeVirt reads them in,
/// kubevirt/kubevirt `pkg/instancetype/find/revision.go`).
pub fn instancetype_revision(
    spec: &VirtualMachineSpec,
    status: Option<&VirtualMachineStatus>,
) -> Option<String> {
    let it = spec.instancetype.as_ref()?;
    it.revision_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            let r = status?.instancetype_ref.as_ref()?;
            // a ref left from an earlier instancetype is not this one's
            if r.name.as_deref().is_some_and(|n| n != it.name) {
                return None;
            }
            r.controller_revision_ref.as_ref().map(|c| c.name.clone())
        })
        .filter(|n| !n.is_empty())
}

/// `kubevirt.io/v1` VirtualMachineInstance spec (subset).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachineInstance",
    plural = "virtualmachineinstances",
    namespaced,
    status = "VmiStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualMachineInstanceSpec {
    /// The domain (CPU, memory, devices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    /// Networks the interfaces connect to.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub networks: Vec<Network>,
    /// Volumes.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub volumes: Vec<Volume>,
}

/// The VM's template for its VMI.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VmiTemplate {
    /// Labels and annotations copied to the VMI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMeta>,
    /// The VMI spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<VirtualMachineInstanceSpec>,
}

/// The metadata of a template inside a VM (its VMI's, its DataVolumes'): name, labels and
/// annotations, kept compact.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TemplateMeta {
    /// Name (DataVolume templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels.
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// Annotations.
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub annotations: Labels,
}

/// Reference to an instancetype or preference.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct InstancetypeMatcher {
    /// Name of the (cluster) instancetype.
    pub name: String,
    /// `VirtualMachineClusterInstancetype` (default) or `VirtualMachineInstancetype`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The ControllerRevision holding the instancetype as the VM runs it (KubeVirt <= 1.4
    /// writes it here; later versions in `status.instancetypeRef`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_name: Option<String>,
}

/// `status.instancetypeRef` / `status.preferenceRef` (KubeVirt 1.5+).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct InstancetypeStatusRef {
    /// The instancetype's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The ControllerRevision KubeVirt stored it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_revision_ref: Option<Named>,
}

/// A DataVolume template (only its name and requested size matter).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVolumeTemplate {
    /// Name of the DataVolume (referenced by a `dataVolume` volume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMeta>,
    /// Storage request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<DataVolumeSpec>,
}

/// The size-carrying parts of a DataVolume spec.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVolumeSpec {
    /// `spec.storage` form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageRequest>,
    /// `spec.pvc` form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvc: Option<StorageRequest>,
}

/// `resources.requests.storage` of a DataVolume.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageRequest {
    /// Requested resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// Requests and limits as quantity strings.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceRequirements {
    /// Requests (`cpu`, `memory`, `storage`).
    #[serde(
        skip_serializing_if = "Labels::is_empty",
        deserialize_with = "quantity_map"
    )]
    pub requests: Labels,
    /// Limits.
    #[serde(
        skip_serializing_if = "Labels::is_empty",
        deserialize_with = "quantity_map"
    )]
    pub limits: Labels,
}

/// The domain of a VMI.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Domain {
    /// CPU topology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Guest memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Pod resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Devices: interfaces and disks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Devices>,
}

/// CPU topology; vCPUs = sockets x cores x threads.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Cpu {
    /// Sockets.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_u32"
    )]
    pub sockets: Option<u32>,
    /// Cores per socket.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_u32"
    )]
    pub cores: Option<u32>,
    /// Threads per core.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_u32"
    )]
    pub threads: Option<u32>,
}

/// Guest memory.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Memory {
    /// Memory visible to the guest.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_quantity"
    )]
    pub guest: Option<String>,
}

/// Devices of a domain.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Devices {
    /// Network interfaces (joined to `networks` by name).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub interfaces: Vec<Interface>,
    /// `false` stops KubeVirt from adding the default pod network to a VM that declares none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoattach_pod_interface: Option<bool>,
    /// Disks (joined to `volumes` by name).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub disks: Vec<Named>,
}

/// A VM network interface.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Interface {
    /// Name, equal to a network's name.
    pub name: String,
    /// A MAC address set in the spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// Binding: masquerade.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masquerade: Option<serde_json::Value>,
    /// Binding: bridge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<serde_json::Value>,
    /// Binding: SR-IOV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sriov: Option<serde_json::Value>,
    /// Binding plugin (newer KubeVirt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<Named>,
    /// `absent` (hot-unplugged: being removed), `down` (link down), `up` or empty (up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Named ports the guest listens on (what a Service's named `targetPort` resolves to).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ports: Vec<Port>,
}

/// A port of a VM interface (`spec.domain.devices.interfaces[].ports[]`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Port {
    /// An IANA service name, optional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// TCP (default) or UDP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The port number.
    pub port: i32,
}

impl Interface {
    /// The binding method's name, for descriptions.
    pub fn binding_name(&self) -> Option<&str> {
        if self.masquerade.is_some() {
            Some("masquerade")
        } else if self.bridge.is_some() {
            Some("bridge")
        } else if self.sriov.is_some() {
            Some("sriov")
        } else {
            self.binding.as_ref().map(|b| b.name.as_str())
        }
    }
}

/// Anything with just a name.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Named {
    /// The name.
    pub name: String,
}

/// A network of a VMI.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Network {
    /// Name (interfaces refer to it).
    pub name: String,
    /// The pod network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<serde_json::Value>,
    /// A Multus network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multus: Option<MultusNetwork>,
}

/// A Multus network attachment.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MultusNetwork {
    /// `<namespace>/<nad>` or `<nad>`.
    pub network_name: String,
    /// Whether it replaces the pod network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// A volume (only the size-relevant sources).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Volume {
    /// Name (disks refer to it).
    pub name: String,
    /// A DataVolume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_volume: Option<Named>,
    /// A PVC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<ClaimRef>,
}

impl Volume {
    /// The claim the volume uses: a `dataVolume` volume's claim has the DataVolume's name, a
    /// `persistentVolumeClaim` volume names it; other volumes use none.
    pub fn claim(&self) -> Option<&str> {
        self.data_volume
            .as_ref()
            .map(|d| d.name.as_str())
            .or_else(|| {
                self.persistent_volume_claim
                    .as_ref()
                    .map(|c| c.claim_name.as_str())
            })
    }
}

/// A PVC reference.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimRef {
    /// Claim name.
    pub claim_name: String,
}

/// `kubevirt.io/v1` VirtualMachineInstance status (subset).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VmiStatus {
    /// Pending, Scheduling, Scheduled, Running, Succeeded, Failed, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The node running the VMI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Interfaces as seen by KubeVirt and the guest agent.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub interfaces: Vec<VmiInterfaceStatus>,
    /// Guest OS, from the guest agent. (KubeVirt spells the key `guestOSInfo`, which serde's
    /// camelCase would not.)
    #[serde(
        rename = "guestOSInfo",
        alias = "guestOsInfo",
        skip_serializing_if = "Option::is_none"
    )]
    pub guest_os_info: Option<GuestOsInfo>,
    /// Memory as running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<VmiMemoryStatus>,
    /// CPU topology as running (key `currentCPUTopology`).
    #[serde(
        rename = "currentCPUTopology",
        alias = "currentCpuTopology",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_cpu_topology: Option<Cpu>,
    /// Live migration state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_state: Option<MigrationState>,
    /// Volumes as attached, with the capacity of the claims behind them.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub volume_status: Vec<VolumeStatus>,
    /// Conditions (only type and status are read: `AgentConnected`).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub conditions: Vec<VmiCondition>,
}

impl VmiStatus {
    /// The guest agent is connected now. virt-handler adds `AgentConnected: True` while the
    /// agent's channel is connected and removes the condition when it goes.
    pub fn agent_connected(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.type_ == "AgentConnected" && c.status == "True")
    }
}

/// A VMI condition (subset).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct VmiCondition {
    /// Ready, LiveMigratable, AgentConnected, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False, Unknown.
    pub status: String,
}

/// One volume of a running VMI (`status.volumeStatus[]`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeStatus {
    /// The spec volume name.
    pub name: String,
    /// The PVC (also behind a DataVolume), when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_info: Option<PvcInfo>,
}

/// A claim's sizes, as the VMI reports them.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PvcInfo {
    /// Capacity (`storage`).
    #[serde(
        skip_serializing_if = "Labels::is_empty",
        deserialize_with = "quantity_map"
    )]
    pub capacity: Labels,
}

/// One interface of a running VMI.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VmiInterfaceStatus {
    /// The spec network name; absent for guest-only NICs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MAC address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// First IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// All IPs.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ip_addresses: Vec<String>,
    /// Name inside the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
    /// domain, guest-agent, multus-status, joined by ", ".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_source: Option<String>,
    /// `up` or `down` (KubeVirt 1.5+; absent counts as up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_state: Option<String>,
    /// The interface's name in the virt-launcher pod (KubeVirt 1.4+): `eth0`, `pod<hash>`,
    /// `net1`; what the pod's `k8s.v1.cni.cncf.io/network-status` calls `interface`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_interface_name: Option<String>,
}

/// Guest OS information from the guest agent.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct GuestOsInfo {
    /// e.g. "Fedora Linux".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// e.g. "fedora".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// e.g. "40 (Cloud Edition)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// e.g. "40".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// e.g. "Fedora Linux 40 (Cloud Edition)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// Kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
}

/// Memory of a running VMI.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VmiMemoryStatus {
    /// Memory at boot.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_quantity"
    )]
    pub guest_at_boot: Option<String>,
    /// Memory now (after hotplug).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_quantity"
    )]
    pub guest_current: Option<String>,
    /// Memory requested.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_quantity"
    )]
    pub guest_requested: Option<String>,
}

/// Live migration state.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MigrationState {
    /// Where the VMI comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_node: Option<String>,
    /// Where it goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node: Option<String>,
    /// Finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    /// Failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<bool>,
}

/// `instancetype.kubevirt.io/v1beta1` VirtualMachineClusterInstancetype (cluster-scoped).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "instancetype.kubevirt.io",
    version = "v1beta1",
    kind = "VirtualMachineClusterInstancetype",
    plural = "virtualmachineclusterinstancetypes",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInstancetypeSpec {
    /// Guest CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<InstancetypeCpu>,
    /// Guest memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

/// `instancetype.kubevirt.io/v1beta1` VirtualMachineInstancetype (namespaced).
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "instancetype.kubevirt.io",
    version = "v1beta1",
    kind = "VirtualMachineInstancetype",
    plural = "virtualmachineinstancetypes",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase", default)]
pub struct InstancetypeSpec {
    /// Guest CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<InstancetypeCpu>,
    /// Guest memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
}

/// Instancetype CPU: `guest` vCPUs.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct InstancetypeCpu {
    /// vCPUs of the guest.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_u32"
    )]
    pub guest: Option<u32>,
}

/// CPU and memory of an instancetype, whichever its scope.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstancetypeSize {
    /// vCPUs.
    pub vcpus: Option<u32>,
    /// Guest memory quantity.
    pub memory: Option<String>,
}

impl From<&ClusterInstancetypeSpec> for InstancetypeSize {
    fn from(s: &ClusterInstancetypeSpec) -> Self {
        InstancetypeSize {
            vcpus: s.cpu.as_ref().and_then(|c| c.guest),
            memory: s.memory.as_ref().and_then(|m| m.guest.clone()),
        }
    }
}

impl From<&InstancetypeSpec> for InstancetypeSize {
    fn from(s: &InstancetypeSpec) -> Self {
        InstancetypeSize {
            vcpus: s.cpu.as_ref().and_then(|c| c.guest),
            memory: s.memory.as_ref().and_then(|m| m.guest.clone()),
        }
    }
}

impl VirtualMachineInstanceSpec {
    /// The claims its volumes use.
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.volumes.iter().filter_map(Volume::claim)
    }
}

impl VirtualMachineSpec {
    /// The claims the VM template's volumes use.
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .into_iter()
            .flat_map(VirtualMachineInstanceSpec::claims)
    }
}

/// `null` deserialises as the type's default (Kubernetes clients write `null` for empty lists).
pub(crate) fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A count written as a number or a numeric string; anything else is treated as unset.
fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A quantity written as a string or a bare number (both are accepted by the API server).
fn lenient_quantity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn quantity_map<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
    let v = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(v.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect::<BTreeMap<_, _>>()
        .into())
}
