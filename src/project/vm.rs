//! KubeVirt VirtualMachines become Nautobot VirtualMachines in the Cluster, with the
//! namespace's tenant, one VMInterface per spec network and the IP addresses the VMI reports.
//! The rules, and why, are in `docs/mapping.md`; the traps they avoid are in the tests.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::cluster::kubevirt::{Cpu, VirtualMachineInstanceSpec};
use crate::cluster::{VmInfo, VmiInfo};
use crate::model::names;
use crate::model::record_id;
use crate::model::{CF_NODE, CF_STATE, Kind, Record, Ref};
use crate::project::quantity::Quantity;

use super::ip::{Space, is_unusable, parse_ip};
use super::{Projector, RootProjection, Warning, source_of};

const MIB: i64 = 1 << 20;
const GIB: i64 = 1 << 30;

/// The Nautobot status a VM is created with when its `printableStatus` maps to none (absent,
/// `Unknown`, or a value this version does not know): Nautobot requires a status. An existing
/// VM keeps the status it has.
pub const UNMAPPED_VM_STATUS: &str = "Unknown";

/// Nautobot VM status for a KubeVirt `printableStatus`; `None` for `Unknown` and values this
/// version does not know (the status is then left as it is in Nautobot, a new VM is created
/// [`UNMAPPED_VM_STATUS`], and the raw value is still recorded in `k8s_state`).
pub fn vm_status(printable: &str) -> Option<&'static str> {
    Some(match printable {
        "Running" | "Migrating" => "Active",
        "Stopped" | "Paused" => "Offline",
        "Provisioning" | "Starting" | "WaitingForVolumeBinding" | "WaitingForReceiver" => "Staged",
        "Stopping" | "Terminating" => "Decommissioning",
        "CrashLoopBackOff"
        | "ErrorUnschedulable"
        | "ErrImagePull"
        | "ImagePullBackOff"
        | "ErrorPvcNotFound"
        | "ErrorDataVolumeNotFound"
        | "DataVolumeError"
        | "Failed" => "Failed",
        _ => return None,
    })
}

/// A VM's interfaces, projected.
struct Nics {
    /// VMInterfaces, IP addresses and their assignments.
    records: Vec<Record>,
    /// The IP address records of the first IPv4 and IPv6 address of the known interfaces, in
    /// spec order; `None` when no VMI runs (every address unknown).
    primary: Option<(Option<uuid::Uuid>, Option<uuid::Uuid>)>,
    /// Interfaces whose addresses are unknown right now (only the guest agent reports them,
    /// and it is not connected): their assignments in Nautobot are kept.
    unknown: Vec<uuid::Uuid>,
}

/// KubeVirt's guest-side masquerade networks when a pod network does not set its own
/// (kubevirt/kubevirt `pkg/virt-launcher/virtwrap/api/defaults.go`, `DefaultVMCIDR`,
/// `DefaultVMIpv6CIDR`): the guest is `.2` behind a NAT to the pod IP. Never an address of
/// the VM (two masquerade VMs would share it).
const MASQUERADE_CIDRS: [&str; 2] = ["10.0.2.0/24", "fd10:0:2::/120"];

/// The guest-side masquerade networks of a pod network (`spec.networks[].pod.vmNetworkCIDR`
/// and `vmIPv6NetworkCIDR`, kubevirt/kubevirt `staging/src/kubevirt.io/api/core/v1/schema.go`,
/// `PodNetwork`), defaults where unset.
fn masquerade_cidrs(pod: &Value) -> Vec<super::Cidr> {
    let field = |key: &str, default: &str| {
        pod.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(default)
            .to_string()
    };
    [
        field("vmNetworkCIDR", MASQUERADE_CIDRS[0]),
        field("vmIPv6NetworkCIDR", MASQUERADE_CIDRS[1]),
    ]
    .iter()
    .filter_map(|c| super::Cidr::parse(c))
    .collect()
}

/// The network-status entry of a VM network in its launcher pod: by the pod interface name the
/// VMI reports (KubeVirt 1.4+), else by the NetworkAttachmentDefinition (`ns/name`; a bare name
/// is in the VM's namespace) when only one VM network uses it.
fn attachment<'a>(
    launcher: Option<&'a crate::cluster::PodInfo>,
    net: &crate::cluster::kubevirt::Network,
    networks: &[crate::cluster::kubevirt::Network],
    st: Option<&crate::cluster::kubevirt::VmiInterfaceStatus>,
    ns: &str,
) -> Option<&'a crate::cluster::NetworkStatus> {
    let entries = &launcher?.network_status;
    if let Some(pod_iface) = st.and_then(|s| s.pod_interface_name.as_deref()) {
        return entries
            .iter()
            .find(|e| e.interface.as_deref() == Some(pod_iface));
    }
    let nad = |n: &crate::cluster::kubevirt::Network| {
        n.multus.as_ref().map(|m| nad_key(&m.network_name, ns))
    };
    let mine = nad(net)?;
    if networks
        .iter()
        .filter(|n| nad(n).as_ref() == Some(&mine))
        .count()
        != 1
    {
        return None;
    }
    entries.iter().find(|e| *e.name == *mine)
}

/// The NetworkAttachmentDefinition a Multus network names, as `namespace/name` (a bare name is
/// in the VM's namespace: kubevirt/kubevirt `staging/src/kubevirt.io/api/core/v1/schema.go`,
/// `MultusNetwork.NetworkName`).
fn nad_key(network_name: &str, ns: &str) -> String {
    match network_name.split_once('/') {
        Some(_) => network_name.to_string(),
        None => format!("{ns}/{network_name}"),
    }
}

impl Projector<'_> {
    pub(super) fn project_vm(&self, ns: &str, name: &str, out: &mut RootProjection) {
        let standalone;
        // the kind, for the console's page of the object
        let (vm, console_kind): (&VmInfo, &str) =
            match (self.index.vm(ns, name), self.index.standalone_vmi(ns, name)) {
                (Some(vm), _) => (vm, "VirtualMachine"),
                (None, Some(vmi)) => {
                    standalone = vm_of_standalone(vmi);
                    (&standalone, "VirtualMachineInstance")
                }
                (None, None) => return,
            };
        if !self.namespace_in_scope(ns) {
            return;
        }
        let meta = &vm.meta;
        let source = source_of("VirtualMachine", meta);
        let vmi = self.index.vmi_of(vm).map(|v| v.as_ref());
        let tenant = self.tenant_ref(ns);
        let warn = |out: &mut RootProjection, message: String| {
            out.warnings.push(Warning {
                source: source.clone(),
                message,
            })
        };

        let vm_id = record_id(
            &self.cfg.cluster_name,
            Kind::VirtualMachine,
            &format!("{ns}/{name}"),
        );
        // Unique per (cluster, tenant, name): the tenant is the namespace, so the VM name is
        // enough; without tenants the namespace goes into the name.
        let vm_name = if tenant.is_some() {
            name.to_string()
        } else {
            format!("{ns}/{name}")
        };
        let printable = vm
            .status
            .as_ref()
            .and_then(|s| s.printable_status.clone())
            .filter(|p| !p.trim().is_empty());
        let status = printable.as_deref().and_then(vm_status);
        if let (Some(p), None) = (&printable, status) {
            warn(
                out,
                format!(
                    "printableStatus {p:?} is not mapped; Nautobot status left unchanged (created {UNMAPPED_VM_STATUS:?})"
                ),
            );
        }
        let template = vm.spec.template.as_ref().and_then(|t| t.spec.as_ref());
        let vcpus = self.vm_vcpus(vm, template, vmi);
        let memory = self.vm_memory_mib(vm, template, vmi, &mut |m| warn(out, m));
        if vcpus.is_none() || memory.is_none() {
            let why = match &vm.spec.instancetype {
                Some(it) => format!(
                    "instancetype {:?} ({}) not found and no running VMI",
                    it.name,
                    it.kind
                        .as_deref()
                        .unwrap_or("VirtualMachineClusterInstancetype")
                ),
                None => "the template declares none and no VMI runs".into(),
            };
            warn(
                out,
                format!("CPU or memory unknown ({why}); left unchanged in Nautobot"),
            );
        }
        let disk = vm_disk_gib(self.index, vm, template, vmi);
        // a VMI that has finished (Succeeded or Failed: a guest shutdown under runStrategy
        // Manual or Once) runs nowhere
        let node = vmi
            .and_then(|v| v.status.as_ref())
            .filter(|s| !matches!(s.phase.as_deref(), Some("Succeeded" | "Failed")))
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());

        let os = vm_platform(vm, vmi);
        let mut rec = Record::new(vm_id, Kind::VirtualMachine, format!("{ns}/{name}"), &source)
            .with("name", names::fit(&vm_name, names::NAME_MAX))
            .with("cluster", Ref::Record(self.cluster_id()))
            .with_opt("tenant", tenant.map(Ref::Record))
            .with_opt("status", status.map(|s| Ref::Status(s.into())))
            .on_create("status", Ref::Status(UNMAPPED_VM_STATUS.into()))
            .with_opt("vcpus", vcpus)
            .with_opt("memory", memory)
            .with_opt("disk", disk)
            .with_opt(
                "platform",
                os.as_ref().map(|o| Ref::Platform(o.platform.clone())),
            );
        // the version as the guest agent reports it; while it does not, Nautobot keeps the one
        // it has (a VM created stopped starts with the declared one)
        if let Some(os) = &os {
            let version =
                |v: &str| crate::model::software_version(&os.platform, &names::fit(v, 100));
            rec = rec.with_opt(
                "software_version",
                os.running_version.as_deref().map(version),
            );
            if let Some(v) = &os.declared_version {
                rec = rec.on_create("software_version", version(v));
            }
        }
        if tenant.is_none() {
            rec.fields.insert("tenant", Value::Null.into());
        }
        self.mark_source(&mut rec, meta, &source);
        // the console's page of a CRD object: /k8s/ns/<ns>/<group>~<version>~<Kind>/<name>
        self.console_link(
            &mut rec,
            &format!("/k8s/ns/{ns}/kubevirt.io~v1~{console_kind}/{name}"),
        );
        rec.custom_fields.insert(
            CF_STATE.into(),
            printable.map_or(Value::Null, Value::String),
        );
        rec.custom_fields
            .insert(CF_NODE.into(), node.map_or(Value::Null, Value::String));

        let nics = self.vm_interfaces(vm, vm_id, template, vmi, &source, &mut |m| warn(out, m));
        let prim =
            |ip: Option<uuid::Uuid>| ip.map_or(Value::Null.into(), |id| Ref::Record(id).into());
        match nics.primary {
            // a VMI that does not run: its addresses are unknown, Nautobot keeps them
            None => out.ips_unknown.push(vm_id),
            Some((v4, v6)) => {
                // an address family none of the known interfaces has may be on one whose
                // addresses are unknown right now: kept as it is
                if v4.is_some() || nics.unknown.is_empty() {
                    rec.fields.insert("primary_ip4", prim(v4));
                }
                if v6.is_some() || nics.unknown.is_empty() {
                    rec.fields.insert("primary_ip6", prim(v6));
                }
            }
        }
        out.ips_unknown.extend(nics.unknown);
        let children = nics.records;
        out.records.push(rec);
        out.records.extend(children);
    }

    /// One VMInterface per spec network that has an interface (hot-unplugged ones, `state:
    /// absent`, are gone), joined with the VMI status by the network name, with the addresses
    /// the VMI reports. Guest-only NICs (no name) are dropped, except to find the addresses of
    /// a NIC whose status entry carries none (SR-IOV without a spec MAC): by MAC.
    fn vm_interfaces(
        &self,
        vm: &VmInfo,
        vm_id: uuid::Uuid,
        template: Option<&VirtualMachineInstanceSpec>,
        vmi: Option<&VmiInfo>,
        source: &str,
        warn: &mut dyn FnMut(String),
    ) -> Nics {
        use crate::cluster::kubevirt::{Interface, Network};
        let (ns, name) = (&*vm.meta.namespace, &*vm.meta.name);
        let running = running(vmi);
        let agent = running.is_some_and(|s| s.agent_connected());
        let launcher = vmi
            .and_then(|v| v.meta.uid.as_deref())
            .and_then(|uid| self.index.launcher_pod(uid))
            .map(|p| p.as_ref());
        let mut nics = Nics {
            records: Vec::new(),
            primary: running.map(|_| (None, None)),
            unknown: Vec::new(),
        };
        // KubeVirt adds the default pod network to a VM that declares none (unless
        // autoattachPodInterface is false): the VMI spec shows it; a stopped VM gets it here, so
        // its interface does not come and go with the VMI.
        let net_spec = template
            .filter(|t| !t.networks.is_empty())
            .or_else(|| vmi.map(|v| &v.spec).filter(|s| !s.networks.is_empty()));
        let autoattach = template
            .and_then(|t| t.domain.as_ref())
            .and_then(|d| d.devices.as_ref())
            .and_then(|d| d.autoattach_pod_interface)
            != Some(false);
        let implicit = [Network {
            name: "default".into(),
            pod: Some(json!({})),
            multus: None,
        }];
        let networks: &[Network] = match net_spec {
            Some(s) => &s.networks,
            None if autoattach => &implicit,
            None => &[],
        };
        let default_iface = Interface::default();
        for net in networks {
            let iface_name = names::fit(&net.name, 64);
            if iface_name.is_empty() {
                // KubeVirt's admission refuses it; an object from a file or an old API may not
                warn("a network without a name; its interface is skipped".into());
                continue;
            }
            let spec_iface = net_spec
                .and_then(|t| t.domain.as_ref())
                .and_then(|d| d.devices.as_ref())
                .and_then(|d| d.interfaces.iter().find(|i| i.name == net.name))
                .unwrap_or(&default_iface);
            if spec_iface.state.as_deref() == Some("absent") {
                // hot-unplugged: KubeVirt detaches it and then removes it from the spec
                continue;
            }
            // a finished VMI still says which MAC KubeVirt gave the NIC
            let st = vmi.and_then(|v| v.status.as_ref()).and_then(|s| {
                s.interfaces
                    .iter()
                    .find(|i| i.name.as_deref() == Some(net.name.as_str()))
            });
            let attached = attachment(launcher, net, networks, st, ns);
            let iface_id = record_id(
                &self.cfg.cluster_name,
                Kind::VmInterface,
                &format!("{ns}/{name}/{}", net.name),
            );
            // an empty spec MAC is unset, as KubeVirt reads it
            let mac = spec_iface
                .mac_address
                .as_deref()
                .and_then(normalize_mac)
                .or_else(|| st.and_then(|s| s.mac.as_deref()).and_then(normalize_mac))
                .or_else(|| {
                    attached
                        .and_then(|a| a.mac.as_deref())
                        .and_then(normalize_mac)
                });
            let network = match (&net.pod, &net.multus) {
                (_, Some(m)) => format!("multus {}", m.network_name),
                (Some(_), None) => "pod network".to_string(),
                (None, None) => "network".to_string(),
            };
            let description = match spec_iface.binding_name() {
                Some(b) => format!("{network} ({b})"),
                None => network,
            };
            // link down as running (KubeVirt 1.5+ `linkState`), else as declared
            let link = running.and(st).and_then(|s| s.link_state.as_deref());
            let down = match link {
                Some(state) => state == "down",
                None => spec_iface.state.as_deref() == Some("down"),
            };
            let mut iface = Record::new(
                iface_id,
                Kind::VmInterface,
                format!("{ns}/{name} {}", net.name),
                source,
            )
            .with("virtual_machine", Ref::Record(vm_id))
            .with("name", iface_name)
            .with("status", Ref::Status("Active".into()))
            .with("enabled", Value::Bool(!down))
            .with(
                "description",
                names::truncate(&description, names::DESCRIPTION_MAX),
            )
            .with_opt("mac_address", mac.clone());
            self.mark(&mut iface);
            nics.records.push(iface);

            let Some(status) = running else { continue };
            let mut reported: Vec<&str> = match st {
                Some(s) if !s.ip_addresses.is_empty() => {
                    s.ip_addresses.iter().map(String::as_str).collect()
                }
                Some(s) => s.ip_address.as_deref().into_iter().collect(),
                None => Vec::new(),
            };
            if reported.is_empty()
                && let Some(mac) = &mac
            {
                // the guest agent's entry for this NIC, when KubeVirt could not join it by MAC
                // (kubevirt/kubevirt `pkg/network/setup/netstat.go`: SR-IOV entries carry only
                // the spec MAC)
                reported.extend(
                    status
                        .interfaces
                        .iter()
                        .filter(|i| i.name.as_deref().is_none_or(str::is_empty))
                        .filter(|i| i.mac.as_deref().and_then(normalize_mac).as_ref() == Some(mac))
                        .flat_map(|i| {
                            if i.ip_addresses.is_empty() {
                                i.ip_address.as_slice()
                            } else {
                                i.ip_addresses.as_slice()
                            }
                        })
                        .map(String::as_str),
                );
            }
            // addresses on the pod network come from the pod (virt-handler's pod interface
            // cache) and are known while the VMI runs; on other networks only the guest agent
            // reports them, so without it they are unknown, not gone
            if net.pod.is_none() && !agent {
                nics.unknown.push(iface_id);
            }
            let masquerade = net.pod.as_ref().map(masquerade_cidrs).unwrap_or_default();
            // the IPAM namespace: a Multus network's, a primary user-defined network's (the pod
            // network of a namespace OVN-Kubernetes isolates), else the cluster's
            let space = match &net.multus {
                Some(m) => self.network_space(&nad_key(&m.network_name, ns)),
                None if self.has_primary_udn(ns) => self.network_space(ns),
                None => Space::Cluster,
            };
            let mut seen: Vec<IpAddr> = Vec::new();
            for raw in reported {
                let Some(ip) = parse_ip(raw) else {
                    warn(format!(
                        "interface {}: {raw:?} is not an IP address; skipped",
                        net.name
                    ));
                    continue;
                };
                if is_unusable(ip)
                    || seen.contains(&ip)
                    || masquerade.iter().any(|c| c.contains(ip))
                {
                    continue;
                }
                seen.push(ip);
                nics.records.extend(self.ip_records(
                    &space,
                    ip,
                    None,
                    format!("VM {ns}/{name} {}", net.name),
                    source,
                ));
                nics.records.push(self.ip_assignment(
                    &space,
                    ip,
                    iface_id,
                    &format!("{ns}/{name} {}", net.name),
                    true,
                    source,
                ));
                if let Some((v4, v6)) = &mut nics.primary {
                    let slot = if ip.is_ipv4() { v4 } else { v6 };
                    slot.get_or_insert(self.ip_id(&space, ip));
                }
            }
        }
        nics
    }

    /// vCPUs: what runs, while a VMI runs (its `status.currentCPUTopology`, else its expanded
    /// spec); else sockets x cores x threads of the template; else the instancetype as KubeVirt
    /// pinned it for this VM (its ControllerRevision), else the instancetype object; else the
    /// CPU resources (KubeVirt turns them into sockets); else KubeVirt's default of 1. Unknown
    /// (`None`) when an instancetype is referenced but neither a revision, the instancetype nor
    /// a running VMI can be seen.
    fn vm_vcpus(
        &self,
        vm: &VmInfo,
        template: Option<&VirtualMachineInstanceSpec>,
        vmi: Option<&VmiInfo>,
    ) -> Option<u32> {
        // the VMI's topology (`status.currentCPUTopology`, else its expanded spec)
        let vmi_topology = vmi
            .and_then(|v| v.status.as_ref())
            .and_then(|s| s.current_cpu_topology.as_ref())
            .and_then(topology)
            .or_else(|| {
                vmi.and_then(|v| v.spec.domain.as_ref())
                    .and_then(|d| d.cpu.as_ref())
                    .and_then(topology)
            });
        if running(vmi).is_some()
            && let Some(n) = vmi_topology
        {
            return Some(n);
        }
        let domain = template.and_then(|t| t.domain.as_ref());
        if let Some(n) = domain.and_then(|d| d.cpu.as_ref()).and_then(topology) {
            return Some(n);
        }
        if let Some(n) = self.vm_instancetype(vm).and_then(|s| s.vcpus) {
            return Some(n);
        }
        // a VMI that has not started yet (Pending, Scheduling) already has its expanded spec
        if let Some(n) = vmi_topology {
            return Some(n);
        }
        if vm.spec.instancetype.is_some() {
            return None;
        }
        let res = domain.and_then(|d| d.resources.as_ref());
        let cpu = res.and_then(|r| r.limits.get("cpu").or_else(|| r.requests.get("cpu")));
        if let Some(n) = cpu
            .and_then(|q| Quantity::parse(q).ok())
            .and_then(|q| q.value_ceil())
            .filter(|n| *n > 0)
        {
            return u32::try_from(n).ok();
        }
        Some(1)
    }

    /// The instancetype a VM runs with: the ControllerRevision KubeVirt pinned it in (a later
    /// edit of the instancetype object does not change what the VM runs), else the object.
    fn vm_instancetype(&self, vm: &VmInfo) -> Option<&crate::cluster::kubevirt::InstancetypeSize> {
        let it = vm.spec.instancetype.as_ref()?;
        self.index.pinned_instancetype(vm).or_else(|| {
            self.index
                .instancetype(it.kind.as_deref(), &vm.meta.namespace, &it.name)
        })
    }

    /// Memory in MiB (Nautobot's "MB"), rounded to the nearest: what runs, while a VMI runs
    /// (`status.memory.guestCurrent`, else `guestAtBoot`, else its expanded guest memory); else
    /// the template's guest memory, else its memory request, else its limit; else the
    /// instancetype as pinned (else the object); else a VMI that has not started yet.
    fn vm_memory_mib(
        &self,
        vm: &VmInfo,
        template: Option<&VirtualMachineInstanceSpec>,
        vmi: Option<&VmiInfo>,
        warn: &mut dyn FnMut(String),
    ) -> Option<i64> {
        let domain = template.and_then(|t| t.domain.as_ref());
        let run = running(vmi);
        let run_memory = run.and_then(|s| s.memory.as_ref());
        let vmi_guest = || {
            vmi.and_then(|v| v.spec.domain.as_ref())
                .and_then(|d| d.memory.as_ref())
                .and_then(|m| m.guest.clone())
        };
        let candidates = [
            run_memory.and_then(|m| m.guest_current.clone()),
            run_memory.and_then(|m| m.guest_at_boot.clone()),
            run.and_then(|_| vmi_guest()),
            domain
                .and_then(|d| d.memory.as_ref())
                .and_then(|m| m.guest.clone()),
            domain
                .and_then(|d| d.resources.as_ref())
                .and_then(|r| r.requests.get("memory").map(String::from)),
            // KubeVirt's default guest memory is the request, else the limit
            domain
                .and_then(|d| d.resources.as_ref())
                .and_then(|r| r.limits.get("memory").map(String::from)),
            self.vm_instancetype(vm).and_then(|s| s.memory.clone()),
            vmi.and_then(|v| v.status.as_ref())
                .and_then(|s| s.memory.as_ref())
                .and_then(|m| m.guest_current.clone()),
            vmi_guest(),
        ];
        for q in candidates.into_iter().flatten() {
            match Quantity::parse(&q) {
                Ok(v) if !v.is_negative() => return v.div_round(MIB),
                _ => warn(format!("memory quantity {q:?} is not valid; ignored")),
            }
        }
        None
    }
}

/// A VirtualMachineInstance created on its own (no VirtualMachine owns it: `kubectl create`
/// of a VMI, a VirtualMachineInstanceReplicaSet) is a virtual machine too: it is projected as
/// a VM whose template is the VMI's spec, with a printable status from its phase.
fn vm_of_standalone(vmi: &VmiInfo) -> VmInfo {
    let phase = vmi.status.as_ref().and_then(|s| s.phase.as_deref());
    let printable = match phase.unwrap_or("") {
        "" | "Pending" | "Scheduling" | "Scheduled" => "Starting",
        "Running" => "Running",
        "Succeeded" => "Stopped",
        other => other,
    };
    VmInfo {
        meta: vmi.meta.clone(),
        spec: crate::cluster::kubevirt::VirtualMachineSpec {
            template: Some(crate::cluster::kubevirt::VmiTemplate {
                metadata: None,
                spec: Some(vmi.spec.clone()),
            }),
            ..Default::default()
        },
        status: Some(crate::cluster::kubevirt::VirtualMachineStatus {
            printable_status: Some(printable.to_string()),
            ..Default::default()
        }),
    }
}

/// The status of a VMI that is running now (phase `Running`, also while paused or migrating).
fn running(vmi: Option<&VmiInfo>) -> Option<&crate::cluster::kubevirt::VmiStatus> {
    vmi.and_then(|v| v.status.as_ref())
        .filter(|s| s.phase.as_deref() == Some("Running"))
}

/// sockets x cores x threads, missing parts counting 1; `None` when nothing is set.
fn topology(cpu: &Cpu) -> Option<u32> {
    if cpu.sockets.is_none() && cpu.cores.is_none() && cpu.threads.is_none() {
        return None;
    }
    let n = [cpu.sockets, cpu.cores, cpu.threads]
        .into_iter()
        .map(|x| u64::from(x.unwrap_or(1).max(1)))
        .fold(1u64, u64::saturating_mul);
    Some(u32::try_from(n.min(32767)).unwrap_or(32767))
}

/// Disk in GiB (Nautobot's "GB"), rounded up: the sum over the volumes backed by a claim (a
/// `dataVolume` or a `persistentVolumeClaim` volume) of the size its DataVolume template
/// declares (`spec.storage` or `spec.pvc` requests), else the capacity a running VMI reports for
/// the volume (a template that clones with no size, which CDI detects; a plain PVC; a
/// DataVolume made beforehand), else the claim's own capacity (`status.capacity`) or request,
/// else its DataVolume's request: a stopped VM's disks are sized by their claims. DataVolume
/// templates no volume uses are not the VM's disks and never count. containerDisks and other
/// ephemeral disks are not counted. `None` when a claim's size is unknown (no claim or
/// DataVolume seen, the VM not running): the total is then kept in Nautobot rather than shown
/// smaller, so it does not change when the VM stops.
fn vm_disk_gib(
    index: &crate::cluster::ClusterIndex,
    vm: &VmInfo,
    template: Option<&VirtualMachineInstanceSpec>,
    vmi: Option<&VmiInfo>,
) -> Option<i64> {
    let volumes = template.map(|t| t.volumes.as_slice()).unwrap_or_default();
    let gib = |q: Option<&str>| {
        q.and_then(|q| Quantity::parse(q).ok())
            .and_then(|q| q.div_ceil(GIB))
    };
    let declared = |claim: &str| {
        let dv = vm
            .spec
            .data_volume_templates
            .iter()
            .find(|dv| dv.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some(claim))?;
        let spec = dv.spec.as_ref()?;
        gib(spec
            .storage
            .as_ref()
            .or(spec.pvc.as_ref())
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.get("storage")))
    };
    let running = running(vmi);
    let reported = |volume: &str| {
        let q = running?
            .volume_status
            .iter()
            .find(|v| v.name == volume)?
            .persistent_volume_claim_info
            .as_ref()?
            .capacity
            .get("storage");
        gib(q)
    };
    let mut total: Option<i64> = None;
    for v in volumes {
        let Some(claim) = v.claim() else {
            continue;
        };
        let ns = &vm.meta.namespace;
        let from_claim = || {
            let c = index.claim(ns, claim);
            gib(c.and_then(|c| c.capacity.as_deref()))
                .or_else(|| gib(c.and_then(|c| c.requested.as_deref())))
                .or_else(|| {
                    gib(index
                        .datavolume(ns, claim)
                        .and_then(|d| d.requested.as_deref()))
                })
        };
        let size = declared(claim)
            .or_else(|| reported(&v.name))
            .or_else(from_claim)?;
        total = Some(total.unwrap_or(0).saturating_add(size));
    }
    total
}

/// The platform (OS family, `super::os`) of a VM. Declared sources come first so the value does
/// not change when a VM stops and its guest agent goes away: the template's `vm.kubevirt.io/os`
/// annotation (then the VM's own), an `os.template.kubevirt.io/<os>` label, the preference
/// name, then the guest agent's OS. An empty value falls through to the next source; a value
/// the family table does not know is the Platform's name as it is.
fn vm_platform(vm: &VmInfo, vmi: Option<&VmiInfo>) -> Option<VmOs> {
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let tmeta = vm.spec.template.as_ref().and_then(|t| t.metadata.as_ref());
    let from_annotation = || {
        tmeta
            .and_then(|m| m.annotations.get("vm.kubevirt.io/os"))
            .and_then(nonempty)
            .or_else(|| vm.meta.annotation("vm.kubevirt.io/os").and_then(nonempty))
    };
    let from_label = || {
        tmeta
            .map(|m| &m.labels)
            .into_iter()
            .chain([&vm.meta.labels])
            .flat_map(|l| l.iter())
            .find(|(k, v)| k.starts_with("os.template.kubevirt.io/") && *v == "true")
            .and_then(|(k, _)| nonempty(&k["os.template.kubevirt.io/".len()..]))
    };
    let from_preference = || vm.spec.preference.as_ref().and_then(|p| nonempty(&p.name));
    let declared = from_annotation()
        .or_else(from_label)
        .or_else(from_preference)
        .map(|d| {
            super::os::from_declared(&d).unwrap_or(super::os::Os {
                family: d,
                version: None,
            })
        });
    let guest = vmi
        .and_then(|v| v.status.as_ref())
        .and_then(|s| s.guest_os_info.as_ref())
        .and_then(|g| {
            super::os::from_guest(
                g.id.as_deref(),
                g.name.as_deref(),
                g.version_id.as_deref(),
                g.pretty_name.as_deref(),
                g.version.as_deref(),
            )
        });
    let fit = |s: &str| Some(names::fit(s.trim(), 100)).filter(|s| !s.is_empty());
    let platform = declared
        .as_ref()
        .or(guest.as_ref())
        .and_then(|os| fit(&os.family))?;
    // the guest agent's version when it runs the declared family (9.4 where the template says
    // rhel9); the declared one otherwise
    let running = guest
        .filter(|g| fit(&g.family).as_deref() == Some(platform.as_str()))
        .and_then(|g| g.version);
    Some(VmOs {
        declared_version: declared.and_then(|d| d.version),
        running_version: running,
        platform,
    })
}

/// A VM's OS: the Platform, and its version as declared and as the guest agent reports it.
struct VmOs {
    platform: String,
    declared_version: Option<String>,
    running_version: Option<String>,
}

/// A MAC address in Nautobot's form (upper-case, colon-separated), or `None` if malformed.
fn normalize_mac(m: &str) -> Option<String> {
    let hex: String = m.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let seps = m.chars().filter(|c| matches!(c, ':' | '-' | '.')).count();
    if hex.len() != 12 || hex.len() + seps != m.trim().len() {
        return None;
    }
    let up = hex.to_ascii_uppercase();
    Some(
        up.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or("00"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printable_status_has_a_status_or_is_left_alone() {
        let known = [
            "Stopped",
            "Provisioning",
            "Starting",
            "Running",
            "Paused",
            "Stopping",
            "Terminating",
            "CrashLoopBackOff",
            "Migrating",
            "ErrorUnschedulable",
            "ErrImagePull",
            "ImagePullBackOff",
            "ErrorPvcNotFound",
            "DataVolumeError",
            "WaitingForVolumeBinding",
            "WaitingForReceiver",
        ];
        for p in known {
            assert!(vm_status(p).is_some(), "{p} must map");
        }
        assert_eq!(vm_status("Unknown"), None);
        assert_eq!(vm_status("SomethingNew"), None);
        assert_eq!(vm_status("Running"), Some("Active"));
        assert_eq!(vm_status("Stopped"), Some("Offline"));
        assert_eq!(vm_status("CrashLoopBackOff"), Some("Failed"));
    }

    #[test]
    fn topology_multiplies_with_defaults() {
        let c = |s, c, t| Cpu {
            sockets: s,
            cores: c,
            threads: t,
        };
        assert_eq!(topology(&c(Some(2), Some(2), Some(2))), Some(8));
        assert_eq!(topology(&c(None, Some(4), None)), Some(4));
        assert_eq!(topology(&c(None, None, None)), None);
        assert_eq!(topology(&c(Some(0), Some(2), None)), Some(2));
        assert_eq!(
            topology(&c(Some(4_000_000), Some(4_000_000), Some(4_000_000))),
            Some(32767)
        );
    }

    #[test]
    fn macs_are_normalised() {
        assert_eq!(
            normalize_mac("02:00:00:aa:bb:cc").as_deref(),
            Some("02:00:00:AA:BB:CC")
        );
        assert_eq!(
            normalize_mac("02-00-00-aa-bb-cc").as_deref(),
            Some("02:00:00:AA:BB:CC")
        );
        assert_eq!(
            normalize_mac("0200.00aa.bbcc").as_deref(),
            Some("02:00:00:AA:BB:CC")
        );
        assert_eq!(normalize_mac("nope"), None);
        assert_eq!(normalize_mac("02:00:00:aa:bb:cc:dd"), None);
    }
}
