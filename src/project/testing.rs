//! Test helpers: configs and indexes from the sample snapshot or inline JSON.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::NautobotSync;
use crate::cluster::ClusterIndex;
use crate::config::SyncConfig;
use crate::model::record_id;
use crate::model::{Kind, Record};

use super::{Projection, Projector};

/// The sample snapshot shipped in `examples/`.
pub const SAMPLE: &str = include_str!("../../examples/snapshot.json");
/// The sample NautobotSync.
pub const SAMPLE_SYNC: &str = include_str!("../../examples/nautobotsync.yaml");

/// The sample config with a JSON merge patch applied to its spec.
pub fn config(spec_patch: Value) -> SyncConfig {
    let obj: NautobotSync = serde_saphyr::from_str(SAMPLE_SYNC).unwrap();
    let mut spec = serde_json::to_value(&obj.spec).unwrap();
    json_patch::merge(&mut spec, &spec_patch);
    SyncConfig::from_spec(&serde_json::from_value(spec).unwrap()).unwrap()
}

/// The sample snapshot's index.
pub fn sample() -> ClusterIndex {
    let v: Value = serde_json::from_str(SAMPLE).unwrap();
    let (idx, warnings) = ClusterIndex::from_list(&v).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    idx
}

/// An index of inline objects.
pub fn index(items: Vec<Value>) -> ClusterIndex {
    let (idx, warnings) =
        ClusterIndex::from_list(&json!({"kind": "List", "items": items})).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    idx
}

/// Projects everything.
pub fn project(cfg: &SyncConfig, idx: &ClusterIndex) -> Projection {
    Projector::new(cfg, idx).project_all()
}

/// A record by kind and key (as passed to `record_id`).
pub fn get<'a>(p: &'a Projection, cfg: &SyncConfig, kind: Kind, key: &str) -> &'a Record {
    let id = record_id(&cfg.cluster_name, kind, key);
    p.records
        .get(&id)
        .unwrap_or_else(|| panic!("no {kind} {key}"))
}

/// The id a record's reference field points to.
pub fn ref_id(r: &Record, field: &str) -> Option<Uuid> {
    match r.reference(field) {
        Some(crate::model::Ref::Record(id)) => Some(*id),
        _ => None,
    }
}

/// A namespace object.
pub fn ns(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": format!("ns-{name}")}})
}

/// A minimal running VM with a VMI (pod network, masquerade) and the given template domain.
pub fn vm_with_vmi(ns: &str, name: &str, domain: Value, vmi_status: Value) -> Vec<Value> {
    let vm_uid = format!("vm-{ns}-{name}");
    vec![
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
          "metadata": {"name": name, "namespace": ns, "uid": vm_uid},
          "spec": {"runStrategy": "Always", "template": {"spec": {
              "domain": domain,
              "networks": [{"name": "default", "pod": {}}]}}},
          "status": {"printableStatus": "Running"}}),
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
          "metadata": {"name": name, "namespace": ns, "uid": format!("vmi-{ns}-{name}"),
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": name, "uid": vm_uid, "controller": true}]},
          "spec": {},
          "status": vmi_status}),
    ]
}

/// Two namespaces on primary user-defined networks and two on VLAN networks, each pair with a
/// VM reporting the same address.
pub fn isolated_networks() -> Vec<Value> {
    let agent = json!([{"type": "AgentConnected", "status": "True"}]);
    let mut items = Vec::new();
    for (ns, udn) in [
        ("blue", true),
        ("green", true),
        ("vms", false),
        ("team2", false),
    ] {
        let mut n = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        if udn {
            n["metadata"]["labels"] = json!({"k8s.ovn.org/primary-user-defined-network": ""});
        }
        items.push(n);
    }
    // a VM on each primary UDN, with the same address (l2bridge binding, as OpenShift
    // Virtualization attaches VMs to a primary UDN)
    for ns in ["blue", "green"] {
        items.extend(vm_with_vmi(
            ns,
            "web",
            json!({"devices": {"interfaces": [{"name": "default", "binding": {"name": "l2bridge"}}]}}),
            json!({"phase": "Running", "conditions": agent, "interfaces": [
                {"name": "default", "mac": "0a:58:c0:00:02:0a", "ipAddress": "192.0.2.10",
                 "ipAddresses": ["192.0.2.10"], "infoSource": "domain, guest-agent", "podInterfaceName": "ovn-udn1"}]}),
        ));
    }
    // two VMs on two namespaces' VLAN networks with the same address; the first names its
    // NetworkAttachmentDefinition without a namespace
    for (ns, nad) in [("vms", "vlan10"), ("team2", "team2/vlan10")] {
        let mut v = vm_with_vmi(
            ns,
            "db",
            json!({"devices": {"interfaces": [{"name": "corp", "bridge": {}}]}}),
            json!({"phase": "Running", "conditions": agent, "interfaces": [
                {"name": "corp", "mac": "02:00:00:00:0a:01", "ipAddress": "10.20.30.5",
                 "ipAddresses": ["10.20.30.5"], "infoSource": "domain, guest-agent, multus-status"}]}),
        );
        v[0]["spec"]["template"]["spec"]["networks"] =
            json!([{"name": "corp", "multus": {"networkName": nad}}]);
        items.extend(v);
    }
    items
}
