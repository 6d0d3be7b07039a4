//! Projection rules, checked on the sample snapshot (written from the published KubeVirt and
//! OpenShift shapes) and on small inline fixtures for the traps.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::testing::*;
use super::{Projector, Root};
use crate::model::record_id;
use crate::model::{CF_CLUSTER, CF_NODE, CF_STATE, CF_UID, Field, Kind, OWNERSHIP_TAG, Ref};

fn status_of(r: &crate::model::Record) -> Option<&str> {
    match r.reference("status") {
        Some(Ref::Status(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn num(r: &crate::model::Record, f: &str) -> Option<i64> {
    r.json(f).and_then(Value::as_i64)
}

#[test]
fn the_sample_projects_to_the_expected_records() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let counts: BTreeMap<Kind, usize> = p.counts();
    let expect = [
        (Kind::Cluster, 1),
        (Kind::CloudAccount, 1),
        (Kind::Tenant, 5),
        (Kind::Device, 6),
        (Kind::DeviceInterface, 6),
        (Kind::DeviceClusterAssignment, 6),
        (Kind::VirtualMachine, 6),
        (Kind::VmInterface, 7),
        // 18 Deployments and Services in scope, 2 Routes (not the one made from the
        // Ingress), 1 Ingress, 6 claims
        (Kind::CloudService, 27),
        (Kind::IpamService, 3),
    ];
    for (kind, n) in expect {
        assert_eq!(counts.get(&kind).copied().unwrap_or(0), n, "{kind}");
    }
    // system namespaces are excluded by default, with everything in them
    assert!(
        p.records.values().all(|r| !r.source.contains("openshift-")),
        "system objects leaked"
    );
    assert!(p.records.values().all(|r| !r.source.contains(" default/")));
    // the VM on tenant-blue's primary user-defined network: its address in that network's own
    // IPAM namespace
    let blue = get(&p, &cfg, Kind::VirtualMachine, "tenant-blue/blue-web-01");
    assert_eq!(
        ref_id(blue, "primary_ip4"),
        Some(record_id(
            "ocp-lab",
            Kind::IpAddress,
            "ocp-lab/tenant-blue/192.0.2.10"
        ))
    );
}

#[test]
fn projection_is_deterministic() {
    let cfg = config(json!({}));
    let a = project(&cfg, &sample());
    let b = project(&cfg, &sample());
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    // ids derive from the cluster name and the object's namespace/name
    let vm = get(&a, &cfg, Kind::VirtualMachine, "shop-prod/fedora-db-01");
    assert_eq!(
        vm.id,
        record_id("ocp-lab", Kind::VirtualMachine, "shop-prod/fedora-db-01")
    );
}

#[test]
fn every_record_is_marked_and_every_reference_resolves() {
    let cfg = config(json!({"sync": {"podIps": true}}));
    let p = project(&cfg, &sample());
    for r in p.records.values() {
        if r.kind.carries_marker() {
            assert!(
                r.tags.contains(OWNERSHIP_TAG),
                "{} {} has no ownership tag",
                r.kind,
                r.name
            );
            assert_eq!(
                r.custom_fields.get(CF_CLUSTER),
                Some(&json!("ocp-lab")),
                "{}",
                r.name
            );
        }
        for reference in r.refs() {
            if let Ref::Record(id) = reference {
                assert!(
                    p.records.contains_key(id),
                    "{} {} points to a missing record",
                    r.kind,
                    r.name
                );
            }
        }
    }
}

#[test]
fn one_root_at_a_time_gives_the_same_records() {
    let cfg = config(json!({"sync": {"podIps": true}}));
    let idx = sample();
    let projector = Projector::new(&cfg, &idx);
    let all = projector.project_all();
    let mut union = BTreeSet::new();
    for root in projector.roots() {
        for r in projector.project_root(&root).records {
            assert_eq!(
                all.records.get(&r.id).map(|x| x.kind),
                Some(r.kind),
                "{root}"
            );
            union.insert(r.id);
        }
    }
    assert_eq!(union, all.records.keys().copied().collect());
    // a root that no longer exists projects to nothing
    let gone = projector.project_root(&Root::VirtualMachine(("shop-prod".into(), "nope".into())));
    assert!(gone.records.is_empty());
}

#[test]
fn running_vm_with_topology_guest_agent_and_guest_only_nics() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let vm = get(&p, &cfg, Kind::VirtualMachine, "shop-prod/fedora-db-01");
    assert_eq!(vm.json("name"), Some(&json!("fedora-db-01")));
    assert_eq!(status_of(vm), Some("Active"));
    assert_eq!(num(vm, "vcpus"), Some(2), "maxSockets must not count");
    assert_eq!(num(vm, "memory"), Some(2048));
    assert_eq!(num(vm, "disk"), Some(30));
    assert_eq!(
        vm.reference("platform"),
        Some(&Ref::Platform("Fedora".into())),
        "the template's vm.kubevirt.io/os, as its family"
    );
    assert_eq!(
        vm.custom_fields.get(CF_NODE),
        Some(&json!("ocp-lab-worker-0"))
    );
    assert_eq!(vm.custom_fields.get(CF_STATE), Some(&json!("Running")));
    assert_eq!(
        vm.custom_fields.get(CF_UID),
        Some(&json!("2951c493-769f-4113-b90b-10cda6f880fd"))
    );
    assert_eq!(
        ref_id(vm, "tenant"),
        Some(record_id("ocp-lab", Kind::Tenant, "shop-prod"))
    );
    let ip = record_id("ocp-lab", Kind::IpAddress, "ocp-lab/10.131.0.57");
    assert_eq!(ref_id(vm, "primary_ip4"), Some(ip));
    assert_eq!(vm.json("primary_ip6"), Some(&Value::Null));
    // guest-only NICs (docker0, virbr0) and link-local addresses never appear
    let vm_ips: Vec<&str> = p
        .records
        .values()
        .filter(|r| r.kind == Kind::IpAddress && r.source.contains("fedora-db-01"))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(vm_ips, vec!["10.131.0.57"]);
    assert!(!p.records.values().any(|r| r.name.starts_with("fe80")
        || r.name == "172.17.0.1"
        || r.name == "192.168.122.1"));
    let iface = get(
        &p,
        &cfg,
        Kind::VmInterface,
        "shop-prod/fedora-db-01/default",
    );
    assert_eq!(iface.json("name"), Some(&json!("default")));
    assert_eq!(
        iface.json("description"),
        Some(&json!("pod network (masquerade)"))
    );
}

#[test]
fn instancetype_vm_with_multus_while_migrating() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let vm = get(&p, &cfg, Kind::VirtualMachine, "shop-prod/rhel9-app-01");
    assert_eq!(status_of(vm), Some("Active"), "Migrating is still Active");
    assert_eq!(vm.custom_fields.get(CF_STATE), Some(&json!("Migrating")));
    assert_eq!(num(vm, "vcpus"), Some(2), "from instancetype u1.large");
    assert_eq!(num(vm, "memory"), Some(8192), "from instancetype u1.large");
    assert_eq!(
        num(vm, "disk"),
        Some(150),
        "the spec.pvc DataVolume (50Gi) and the plain PVC at the capacity the VMI reports (100Gi)"
    );
    // the VLAN network's address, in its own IPAM namespace (isolatedNetworks: Separate)
    let v6 = record_id(
        "ocp-lab",
        Kind::IpAddress,
        "ocp-lab/shop-prod/vlan100/2001:db8:100::23",
    );
    assert_eq!(ref_id(vm, "primary_ip6"), Some(v6));
    let ifaces: Vec<&str> = p
        .records
        .values()
        .filter(|r| r.kind == Kind::VmInterface && r.source.contains("rhel9-app-01"))
        .filter_map(|r| r.json("name").and_then(Value::as_str))
        .collect();
    assert_eq!(ifaces.len(), 2);
    let multus = p
        .records
        .values()
        .find(|r| {
            r.kind == Kind::VmInterface
                && r.json("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("multus"))
        })
        .unwrap();
    assert_eq!(
        multus.json("mac_address"),
        Some(&json!("02:1A:2B:00:00:23"))
    );
}

#[test]
fn stopped_vm_keeps_its_ips_and_has_no_node() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let vm = get(
        &p,
        &cfg,
        Kind::VirtualMachine,
        "data-platform/centos-build-01",
    );
    assert_eq!(status_of(vm), Some("Offline"));
    assert_eq!(num(vm, "vcpus"), Some(4), "cores 4, nothing else");
    assert_eq!(
        num(vm, "memory"),
        Some(1024),
        "requests.memory when no guest memory"
    );
    assert_eq!(vm.custom_fields.get(CF_NODE), Some(&Value::Null));
    assert!(
        !vm.fields.contains_key("primary_ip4"),
        "unknown: left as it is"
    );
    assert!(p.ips_unknown.contains(&vm.id));
    // its interface is still desired
    get(
        &p,
        &cfg,
        Kind::VmInterface,
        "data-platform/centos-build-01/default",
    );
}

#[test]
fn crashlooping_vm_with_cpu_limits_and_container_disk() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let vm = get(&p, &cfg, Kind::VirtualMachine, "shop-staging/legacy-cirros");
    assert_eq!(status_of(vm), Some("Failed"));
    assert_eq!(num(vm, "vcpus"), Some(2), "sockets from limits.cpu");
    assert_eq!(num(vm, "memory"), Some(512));
    assert!(
        !vm.fields.contains_key("disk"),
        "containerDisk: size unknown"
    );
    assert!(p.ips_unknown.contains(&vm.id), "VMI still Scheduling");
}

#[test]
fn paused_windows_vm_with_many_guest_nics() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let vm = get(&p, &cfg, Kind::VirtualMachine, "vdi-windows/win2022-vdi-01");
    assert_eq!(status_of(vm), Some("Offline"));
    assert_eq!(num(vm, "vcpus"), Some(8), "2 sockets x 2 cores x 2 threads");
    assert_eq!(
        num(vm, "memory"),
        Some(16384),
        "guest 16Gi wins over requests 8Gi"
    );
    let ips = p
        .records
        .values()
        .filter(|r| {
            r.kind == Kind::IpAddress
                && r.source.contains("win2022-vdi-01")
                && r.source.starts_with("VirtualMachine")
        })
        .count();
    assert_eq!(ips, 1, "30 guest-only NICs are dropped");
}

#[test]
fn unknown_values_are_left_alone_with_a_warning() {
    let cfg = config(json!({}));
    let mut items = vec![ns("team")];
    let mut vm = vm_with_vmi("team", "x", json!({}), json!({"phase": "Pending"}));
    vm[0]["status"]["printableStatus"] = json!("Hibernating");
    vm[0]["spec"]["instancetype"] = json!({"name": "does-not-exist"});
    items.extend(vm);
    let p = project(&cfg, &index(items));
    let r = get(&p, &cfg, Kind::VirtualMachine, "team/x");
    assert!(!r.fields.contains_key("status"));
    assert!(!r.fields.contains_key("vcpus"));
    assert!(!r.fields.contains_key("memory"));
    assert_eq!(r.custom_fields.get(CF_STATE), Some(&json!("Hibernating")));
    let msgs: Vec<&str> = p.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(msgs.iter().any(|m| m.contains("Hibernating")), "{msgs:?}");
    assert!(
        msgs.iter().any(|m| m.contains("CPU or memory unknown")),
        "{msgs:?}"
    );
}

/// Shapes of real KubeVirt objects that hand-made fixtures got wrong: the acronym keys
/// (`guestOSInfo`, `currentCPUTopology`), instancetype kinds in any case and plural, a
/// DataVolume template used through a `persistentVolumeClaim` volume, plain PVCs sized from
/// the VMI's `volumeStatus`, a finished VMI, memory from limits only, an empty spec MAC, and
/// the newer `ErrorDataVolumeNotFound` status.
#[test]
fn real_kubevirt_spellings_and_shapes() {
    let cfg = config(json!({}));
    let mut items = vec![ns("team")];
    let os = json!({"name": "Red Hat Enterprise Linux", "versionId": "9.4", "prettyName": "Red Hat Enterprise Linux 9.4 (Plow)"});
    // guest agent OS and the running CPU topology, with no declared OS and no declared CPU
    let mut agent = vm_with_vmi(
        "team",
        "agent",
        json!({"memory": {"guest": "2Gi"}}),
        json!({"phase": "Running", "nodeName": "w1", "guestOSInfo": os,
               "currentCPUTopology": {"sockets": 2, "cores": 1, "threads": 1}}),
    );
    agent[1]["spec"]["domain"] = json!({"cpu": {"sockets": 4}});
    items.extend(agent);
    // instancetype kinds as people write them
    items.push(json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineInstancetype",
        "metadata": {"name": "small", "namespace": "team"}, "spec": {"cpu": {"guest": 2}, "memory": {"guest": "4Gi"}}}));
    items.push(json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
        "metadata": {"name": "small"}, "spec": {"cpu": {"guest": 1}, "memory": {"guest": "1Gi"}}}));
    for (name, kind) in [
        ("plural", "virtualmachineinstancetypes"),
        ("camel", "VirtualMachineInstanceType"),
    ] {
        let mut v = vm_with_vmi("team", name, json!({}), json!({"phase": "Pending"}));
        v[0]["spec"]["instancetype"] = json!({"name": "small", "kind": kind});
        items.extend(v);
    }
    // disks: a template used through a PVC volume, a plain PVC sized by the running VMI
    let mut disks = vm_with_vmi(
        "team",
        "disks",
        json!({"cpu": {"cores": 1}, "memory": {"guest": "1Gi"}}),
        json!({"phase": "Running", "volumeStatus": [
            {"name": "root", "persistentVolumeClaimInfo": {"claimName": "disks-root", "capacity": {"storage": "31Gi"}}},
            {"name": "extra", "persistentVolumeClaimInfo": {"claimName": "disks-extra", "capacity": {"storage": "100Gi"}}},
            {"name": "plain", "persistentVolumeClaimInfo": {"claimName": "plain-pvc", "capacity": {"storage": "40Gi"}}}]}),
    );
    disks[0]["spec"]["dataVolumeTemplates"] = json!([
        {"metadata": {"name": "disks-root"}, "spec": {"storage": {"resources": {"requests": {"storage": "30Gi"}}}}},
        {"metadata": {"name": "disks-extra"}, "spec": {"pvc": {"resources": {"requests": {"storage": "100Gi"}}}}}]);
    disks[0]["spec"]["template"]["spec"]["volumes"] = json!([
        {"name": "root", "dataVolume": {"name": "disks-root"}},
        {"name": "extra", "persistentVolumeClaim": {"claimName": "disks-extra"}},
        {"name": "plain", "persistentVolumeClaim": {"claimName": "plain-pvc"}}]);
    let mut stopped_disks = disks.clone();
    items.extend(disks);
    // the same VM stopped: the plain PVC's size is unknown, so the total is unknown (kept)
    stopped_disks[0]["metadata"]["name"] = json!("disks-stopped");
    stopped_disks[0]["metadata"]["uid"] = json!("vm-disks-stopped");
    stopped_disks[0]["status"]["printableStatus"] = json!("Stopped");
    items.push(stopped_disks[0].clone());
    // a guest shutdown under runStrategy Manual: the VM is Stopped, its VMI Succeeded
    let mut done = vm_with_vmi(
        "team",
        "done",
        json!({"resources": {"limits": {"memory": "4Gi", "cpu": "2"}}}),
        json!({"phase": "Succeeded", "nodeName": "w2"}),
    );
    done[0]["status"]["printableStatus"] = json!("Stopped");
    done[0]["spec"]["template"]["spec"]["domain"]["devices"] =
        json!({"interfaces": [{"name": "default", "masquerade": {}, "macAddress": ""}]});
    done[1]["status"]["interfaces"] = json!([{"name": "default", "mac": "02:00:00:00:00:02"}]);
    items.extend(done);
    let mut dv = vm_with_vmi("team", "dv", json!({}), json!({"phase": "Pending"}));
    dv[0]["status"]["printableStatus"] = json!("ErrorDataVolumeNotFound");
    items.extend(dv);
    let mut blank = vm_with_vmi("team", "blank", json!({}), json!({"phase": "Pending"}));
    blank[0]["status"]["printableStatus"] = json!("");
    items.extend(blank);

    let p = project(&cfg, &index(items));
    let vm = |name: &str| get(&p, &cfg, Kind::VirtualMachine, &format!("team/{name}"));
    let agent = vm("agent");
    assert_eq!(
        agent.reference("platform"),
        Some(&Ref::Platform("Red Hat Enterprise Linux".into())),
        "the family; 9.4 is a version, not a platform"
    );
    assert_eq!(
        num(agent, "vcpus"),
        Some(2),
        "currentCPUTopology over the VMI spec"
    );
    for name in ["plural", "camel"] {
        assert_eq!(
            num(vm(name), "vcpus"),
            Some(2),
            "{name}: the namespaced one"
        );
        assert_eq!(num(vm(name), "memory"), Some(4096), "{name}");
    }
    assert_eq!(
        num(vm("disks"), "disk"),
        Some(170),
        "30 + 100 declared, 40 reported"
    );
    assert!(!vm("disks-stopped").fields.contains_key("disk"));
    let done = vm("done");
    assert_eq!(
        done.custom_fields.get(CF_NODE),
        Some(&Value::Null),
        "runs nowhere"
    );
    assert_eq!(num(done, "memory"), Some(4096), "from limits.memory");
    let iface = get(&p, &cfg, Kind::VmInterface, "team/done/default");
    assert_eq!(iface.json("mac_address"), Some(&json!("02:00:00:00:00:02")));
    assert_eq!(status_of(vm("dv")), Some("Failed"));
    assert_eq!(vm("blank").custom_fields.get(CF_STATE), Some(&Value::Null));
    let msgs: Vec<&str> = p.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(!msgs.iter().any(|m| m.contains("not mapped")), "{msgs:?}");
}

/// VMIs no VirtualMachine owns (created on their own, as kubevirt's `examples/vmi-*.yaml`, or
/// by a VirtualMachineInstanceReplicaSet) are virtual machines in Nautobot too; a VMI whose VM
/// is being deleted is not.
#[test]
fn standalone_vmis_are_virtual_machines() {
    let cfg = config(json!({}));
    let vmi = |name: &str, status: Value, owner: Option<&str>| {
        let mut meta = json!({"name": name, "namespace": "team", "uid": format!("vmi-{name}"),
            "labels": {"special": "vmi-masquerade"}});
        if let Some(uid) = owner {
            meta["ownerReferences"] = json!([{"apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine", "name": name, "uid": uid, "controller": true}]);
        }
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": meta,
          "spec": {"domain": {"cpu": {"cores": 2}, "memory": {"guest": "1Gi"},
                              "devices": {"interfaces": [{"name": "testmasquerade", "masquerade": {}}]}},
                   "networks": [{"name": "testmasquerade", "pod": {}}]},
          "status": status})
    };
    let items = vec![
        ns("team"),
        vmi(
            "vmi-masquerade",
            json!({"phase": "Running", "nodeName": "w1",
                   "interfaces": [{"name": "testmasquerade", "ipAddress": "10.128.2.77",
                                   "ipAddresses": ["10.128.2.77", "fd02::4d"], "mac": "02:42:0a:80:02:4d"}],
                   "guestOSInfo": {"name": "Fedora Linux", "versionId": "39"}}),
            None,
        ),
        vmi(
            "done",
            json!({"phase": "Succeeded", "nodeName": "w1"}),
            None,
        ),
        vmi(
            "orphan",
            json!({"phase": "Running"}),
            Some("uid-of-a-deleted-vm"),
        ),
    ];
    let p = project(&cfg, &index(items));
    let vm = get(&p, &cfg, Kind::VirtualMachine, "team/vmi-masquerade");
    assert_eq!(status_of(vm), Some("Active"));
    assert_eq!(num(vm, "vcpus"), Some(2));
    assert_eq!(num(vm, "memory"), Some(1024));
    assert_eq!(vm.custom_fields.get(CF_NODE), Some(&json!("w1")));
    assert_eq!(
        vm.reference("platform"),
        Some(&Ref::Platform("Fedora".into()))
    );
    let iface = get(
        &p,
        &cfg,
        Kind::VmInterface,
        "team/vmi-masquerade/testmasquerade",
    );
    assert_eq!(iface.json("mac_address"), Some(&json!("02:42:0A:80:02:4D")));
    let v4 = record_id("ocp-lab", Kind::IpAddress, "ocp-lab/10.128.2.77");
    assert_eq!(ref_id(vm, "primary_ip4"), Some(v4));
    let done = get(&p, &cfg, Kind::VirtualMachine, "team/done");
    assert_eq!(status_of(done), Some("Offline"));
    assert_eq!(done.custom_fields.get(CF_NODE), Some(&Value::Null));
    let orphan = record_id("ocp-lab", Kind::VirtualMachine, "team/orphan");
    assert!(!p.records.contains_key(&orphan), "its VM is being deleted");
    // a change to a standalone VMI touches its root, as a VM's VMI does
    let idx = index(vec![
        ns("team"),
        vmi("x", json!({"phase": "Running"}), None),
    ]);
    assert!(
        idx.namespace_roots("team")
            .contains(&super::Root::VirtualMachine(("team".into(), "x".into())))
    );
}

#[test]
fn odd_vm_values_never_panic() {
    let cfg = config(json!({}));
    let mut items = vec![ns("team")];
    items.extend(vm_with_vmi(
        "team",
        "odd",
        json!({"cpu": {"sockets": "2", "cores": -1, "threads": null},
               "memory": {"guest": "lots"},
               "resources": {"requests": {"memory": "1.5Gi"}}}),
        json!({"phase": "Running", "interfaces": [
            {"name": "default", "ipAddress": "not-an-ip", "ipAddresses": ["not-an-ip", "10.128.0.9/23", "10.128.0.9"]},
            {"interfaceName": "eth9", "ipAddress": "10.9.9.9"}]}),
    ));
    let p = project(&cfg, &index(items));
    let r = get(&p, &cfg, Kind::VirtualMachine, "team/odd");
    assert_eq!(
        num(r, "vcpus"),
        Some(2),
        "numeric strings are read, bad numbers ignored"
    );
    assert_eq!(
        num(r, "memory"),
        Some(1536),
        "bad guest memory falls through to the request"
    );
    let ips: Vec<&str> = p
        .records
        .values()
        .filter(|r| r.kind == Kind::IpAddress)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(ips, vec!["10.128.0.9"]);
    assert!(p.warnings.iter().any(|w| w.message.contains("not-an-ip")));
    assert!(p.warnings.iter().any(|w| w.message.contains("\"lots\"")));
}

#[test]
fn without_tenants_vm_names_carry_the_namespace() {
    let cfg = config(json!({"sync": {"namespaces": false}}));
    let p = project(&cfg, &sample());
    let vm = get(&p, &cfg, Kind::VirtualMachine, "shop-prod/fedora-db-01");
    assert_eq!(vm.json("name"), Some(&json!("shop-prod/fedora-db-01")));
    assert_eq!(vm.json("tenant"), Some(&Value::Null));
    assert_eq!(p.counts().get(&Kind::Tenant), None);
}

#[test]
fn same_names_in_two_namespaces_and_two_clusters_never_collide() {
    let a = config(json!({}));
    let b = config(json!({"clusterName": "ocp-other"}));
    let idx = sample();
    let pa = project(&a, &idx);
    let pb = project(&b, &idx);
    assert!(
        pa.records.keys().all(|id| !pb.records.contains_key(id)),
        "ids are per cluster"
    );
    let names = |p: &super::Projection, kind: Kind| -> BTreeSet<String> {
        p.records
            .values()
            .filter(|r| r.kind == kind)
            .filter_map(|r| r.json("name").and_then(Value::as_str).map(String::from))
            .collect()
    };
    for kind in [
        Kind::Tenant,
        Kind::CloudService,
        Kind::Device,
        Kind::Cluster,
        Kind::CloudAccount,
    ] {
        let na = names(&pa, kind);
        assert_eq!(
            na.len(),
            pa.counts()[&kind],
            "{kind} names unique within a cluster"
        );
        assert!(
            na.is_disjoint(&names(&pb, kind)),
            "{kind} names unique across clusters"
        );
    }
    // storefront exists as a Deployment and a Service in two namespaces, with a Route in one
    // and an Ingress in the other: six names
    let storefront: Vec<String> = names(&pa, Kind::CloudService)
        .into_iter()
        .filter(|n| n.ends_with("/storefront"))
        .collect();
    assert_eq!(storefront.len(), 6, "{storefront:?}");
}

#[test]
fn long_names_are_fitted() {
    let long = "n".repeat(63);
    let cfg = config(json!({}));
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d".repeat(253), "namespace": long, "uid": "d1"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    let p = project(&cfg, &index(vec![ns(&long), dep]));
    let cs = p
        .records
        .values()
        .find(|r| r.kind == Kind::CloudService)
        .unwrap();
    let name = cs.json("name").and_then(Value::as_str).unwrap();
    assert_eq!(name.chars().count(), 255);
    assert!(name.starts_with(&format!("ocp-lab/{long}/deployment/ddd")));
}

#[test]
fn nodes_map_roles_status_platform_and_addresses() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let dev = |n: &str| get(&p, &cfg, Kind::Device, n);
    let m0 = dev("ocp-lab-master-0");
    assert_eq!(m0.json("name"), Some(&json!("ocp-lab-master-0.ocp-lab")));
    assert_eq!(
        m0.reference("role"),
        Some(&Ref::Role("k8s-control-plane".into()))
    );
    assert_eq!(
        m0.reference("device_type"),
        Some(&Ref::DeviceType("m5.2xlarge".into()))
    );
    assert_eq!(
        m0.reference("platform"),
        Some(&Ref::Platform("Red Hat Enterprise Linux CoreOS".into()))
    );
    // versions and capacity (status.nodeInfo, status.capacity)
    assert_eq!(
        m0.reference("software_version"),
        Some(&crate::model::software_version(
            "Red Hat Enterprise Linux CoreOS",
            "416.94.202409191851-0"
        ))
    );
    assert_eq!(
        m0.custom_fields.get(crate::model::CF_VERSION),
        Some(&json!("v1.29.8+f10c92d"))
    );
    assert_eq!(
        m0.custom_fields.get(crate::model::CF_CAPACITY),
        Some(&json!("cpu 8, memory 31.1 GiB, pods 250"))
    );
    assert!(
        m0.custom_fields[crate::model::CF_RUNTIME]
            .as_str()
            .is_some_and(|r| r.starts_with("cri-o://")),
        "{:?}",
        m0.custom_fields
    );
    assert_eq!(
        m0.reference("location"),
        Some(&Ref::Location("ocp-lab-dc1".into()))
    );
    assert_eq!(status_of(m0), Some("Active"));
    let w0 = dev("ocp-lab-worker-0");
    assert_eq!(
        w0.reference("role"),
        Some(&Ref::Role("k8s-infra".into())),
        "infra before worker"
    );
    assert!(ref_id(w0, "primary_ip6").is_some(), "dual-stack node");
    let w1 = dev("ocp-lab-worker-1");
    assert_eq!(status_of(w1), Some("Offline"));
    assert_eq!(
        w1.custom_fields.get(CF_STATE),
        Some(&json!("Ready,SchedulingDisabled"))
    );
    assert_eq!(
        w1.reference("device_type"),
        Some(&Ref::DeviceType("Kubernetes Node".into()))
    );
    let w2 = dev("ocp-lab-worker-2");
    assert_eq!(status_of(w2), Some("Failed"));
    let assign = get(&p, &cfg, Kind::DeviceClusterAssignment, "ocp-lab-worker-2");
    assert_eq!(ref_id(assign, "device"), Some(w2.id));
}

#[test]
fn fqdn_node_names_are_qualified_by_the_cluster_and_roles_have_a_default() {
    let cfg = config(json!({}));
    let node = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "worker-7.ocp.example.com", "uid": "n7", "labels": {"node-role.kubernetes.io/gpu": ""}},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.9.0.7"}, {"type": "InternalIP", "address": "fe80::7"}],
                   "nodeInfo": {"osImage": "Ubuntu 22.04.4 LTS", "systemUUID": "abc", "machineID": "", "kernelVersion": "", "containerRuntimeVersion": "", "kubeletVersion": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64", "bootID": ""}}});
    let bare = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0", "uid": "n0"}});
    let p = project(&cfg, &index(vec![node.clone(), bare]));
    let d = get(&p, &cfg, Kind::Device, "worker-7.ocp.example.com");
    assert_eq!(
        d.json("name"),
        Some(&json!("worker-7.ocp.example.com.ocp-lab"))
    );
    // the same FQDN node in another cluster at the same Location is another Device
    let other_cfg = config(json!({"clusterName": "ocp-lab-2"}));
    let other = project(&other_cfg, &index(vec![node]));
    let d2 = get(&other, &other_cfg, Kind::Device, "worker-7.ocp.example.com");
    assert_ne!(d2.json("name"), d.json("name"));
    assert_eq!(d2.reference("location"), d.reference("location"));
    assert_eq!(d.reference("role"), Some(&Ref::Role("k8s-gpu".into())));
    assert_eq!(
        d.reference("platform"),
        Some(&Ref::Platform("Ubuntu".into()))
    );
    assert_eq!(status_of(d), Some("Failed"), "no Ready condition: Unknown");
    let ips: Vec<&str> = p
        .records
        .values()
        .filter(|r| r.kind == Kind::IpAddress)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(ips, vec!["10.9.0.7"], "link-local dropped");
    let n0 = get(&p, &cfg, Kind::Device, "n0");
    assert_eq!(n0.reference("role"), Some(&Ref::Role("k8s-node".into())));
    assert!(!n0.fields.contains_key("platform"));
    assert!(!n0.fields.contains_key("primary_ip4"));
}

#[test]
fn services_become_cloud_services_and_ips() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let ip = |a: &str| {
        p.records.get(&record_id(
            "ocp-lab",
            Kind::IpAddress,
            &format!("ocp-lab/{a}"),
        ))
    };
    let lb = ip("192.0.2.10").expect("load-balancer ingress IP");
    assert_eq!(
        lb.json("dns_name"),
        Some(&json!("storefront-public.shop-prod.svc.cluster.local"))
    );
    assert_eq!(lb.json("address"), Some(&json!("192.0.2.10/32")));
    assert!(ip("198.51.100.20").is_some(), "external IP");
    assert!(ip("fd02::7a1c").is_some(), "dual-stack ClusterIP");
    // headless and ExternalName services have no IP
    let headless = get(
        &p,
        &cfg,
        Kind::CloudService,
        "Service/shop-prod/cart-api-headless",
    );
    assert_eq!(
        headless.json("extra_config").unwrap()["clusterIPs"],
        json!([])
    );
    let ext = get(
        &p,
        &cfg,
        Kind::CloudService,
        "Service/shop-staging/payments-gateway",
    );
    assert!(ext.json("extra_config").unwrap()["externalName"].is_string());
    assert_eq!(
        ext.reference("cloud_resource_type"),
        Some(&Ref::CloudResourceType("Kubernetes Service".into()))
    );
    // prefixes exist for every address
    for r in p.records.values().filter(|r| r.kind == Kind::IpAddress) {
        let addr: std::net::IpAddr = r.name.parse().unwrap();
        let covered = p
            .records
            .values()
            .filter(|x| x.kind == Kind::Prefix)
            .any(|x| {
                super::Cidr::parse(x.json("prefix").and_then(Value::as_str).unwrap())
                    .unwrap()
                    .contains(addr)
            });
        assert!(covered, "no prefix for {}", r.name);
    }
}

#[test]
fn services_selecting_vms_become_ipam_services_on_them() {
    let cfg = config(json!({}));
    let p = project(&cfg, &sample());
    let s = get(
        &p,
        &cfg,
        Kind::IpamService,
        "shop-prod/db-vm/fedora-db-01/tcp",
    );
    assert_eq!(s.json("ports"), Some(&json!([5432])));
    assert_eq!(
        ref_id(s, "virtual_machine"),
        Some(record_id(
            "ocp-lab",
            Kind::VirtualMachine,
            "shop-prod/fedora-db-01"
        ))
    );
    get(
        &p,
        &cfg,
        Kind::IpamService,
        "shop-prod/headless/rhel9-app-01/tcp",
    );
    get(
        &p,
        &cfg,
        Kind::IpamService,
        "vdi-windows/win2022-vdi-01-rdp/win2022-vdi-01/tcp",
    );
}

#[test]
fn deployments_carry_images_replicas_and_nodes_never_env() {
    let cfg = config(json!({"sync": {"podIps": true}}));
    let p = project(&cfg, &sample());
    let d = get(
        &p,
        &cfg,
        Kind::CloudService,
        "Deployment/shop-prod/storefront",
    );
    let extra = d.json("extra_config").unwrap();
    assert_eq!(extra["replicas"], json!(3));
    // readiness is not inventory: it changes with every pod that starts or stops
    assert!(extra.get("readyReplicas").is_none());
    assert!(extra["images"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(extra["nodes"].as_array().is_some_and(|a| !a.is_empty()));
    let etl = get(
        &p,
        &cfg,
        Kind::CloudService,
        "Deployment/data-platform/etl-worker",
    );
    assert_eq!(etl.json("extra_config").unwrap()["replicas"], json!(1));
    let all = serde_json::to_string(&p).unwrap();
    for secret in ["s3cr3t", "sk_test", "STRIPE_API_KEY"] {
        assert!(!all.contains(secret), "{secret} leaked into the projection");
    }
}

#[test]
fn pod_ips_are_optional_and_skip_launchers_and_host_network() {
    let off = project(&config(json!({})), &sample());
    assert!(!off.records.values().any(|r| r.source.starts_with("Pod ")));
    let cfg = config(json!({"sync": {"podIps": true}}));
    let p = project(&cfg, &sample());
    let pod_ips: Vec<&crate::model::Record> = p
        .records
        .values()
        .filter(|r| r.source.starts_with("Pod "))
        .collect();
    assert!(!pod_ips.is_empty());
    for r in &pod_ips {
        assert!(!r.source.contains("virt-launcher"), "{}", r.source);
        assert!(
            !r.source.contains("router-default"),
            "host-network pod {}",
            r.source
        );
        let dns = r.json("dns_name").and_then(Value::as_str).unwrap();
        assert!(dns.ends_with(".pod.cluster.local"), "{dns}");
    }
    // the VM's address is still the VM's, not a pod's
    let vm_ip = get(&p, &cfg, Kind::IpAddress, "ocp-lab/10.131.0.57");
    assert!(vm_ip.source.starts_with("VirtualMachine"));
}

#[test]
fn namespace_filters_and_label_mappings_apply() {
    let cfg = config(json!({
        "namespaceFilter": {"include": ["shop-.*"], "exclude": ["shop-staging"]},
        "labels": {"toCustomFields": [{"label": "team", "customField": "team"}]}
    }));
    let p = project(&cfg, &sample());
    let tenants: Vec<&str> = p
        .records
        .values()
        .filter(|r| r.kind == Kind::Tenant)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(tenants, vec!["ocp-lab/shop-prod"]);
    assert!(
        p.records
            .values()
            .all(|r| !r.source.contains("shop-staging/") && !r.source.contains("data-platform/"))
    );
    let t = get(&p, &cfg, Kind::Tenant, "shop-prod");
    assert_eq!(t.custom_fields.get("team"), Some(&json!("commerce")));
    assert!(t.tags.contains("app.kubernetes.io/part-of=shop"));
    assert_eq!(t.json("description"), Some(&json!("Shop (production)")));
    // everything outside the filter is gone, including VMs and their IPs
    assert!(
        !p.records
            .values()
            .any(|r| r.kind == Kind::VirtualMachine && r.name.starts_with("vdi-windows"))
    );
}

#[test]
fn the_cluster_and_known_networks() {
    let cfg = config(json!({"placement": {"clusterGroup": "prod", "tenantGroup": "openshift"}}));
    let p = project(&cfg, &sample());
    let c = get(&p, &cfg, Kind::Cluster, "");
    assert_eq!(
        c.reference("cluster_type"),
        Some(&Ref::ClusterType("OpenShift".into()))
    );
    assert_eq!(
        c.reference("cluster_group"),
        Some(&Ref::ClusterGroup("prod".into()))
    );
    assert_eq!(
        c.custom_fields.get(CF_UID),
        Some(&json!("7131176b-a0c2-4f3f-8f44-b0637eabc23b"))
    );
    let t = get(&p, &cfg, Kind::Tenant, "shop-prod");
    assert_eq!(
        t.reference("tenant_group"),
        Some(&Ref::TenantGroup("openshift".into()))
    );
    let pod_net = get(&p, &cfg, Kind::Prefix, "ocp-lab/10.128.0.0/14");
    assert_eq!(pod_net.json("type"), Some(&json!("container")));
    assert_eq!(
        pod_net.reference("namespace"),
        Some(&Ref::IpamNamespace("ocp-lab".into()))
    );
    // no known network holds node addresses: they get their /24
    get(&p, &cfg, Kind::Prefix, "ocp-lab/10.0.1.0/24");
    // a plain Kubernetes cluster: the kube-system UID identifies it
    let idx = index(vec![ns("kube-system")]);
    let p = project(&cfg, &idx);
    assert_eq!(
        get(&p, &cfg, Kind::Cluster, "").custom_fields.get(CF_UID),
        Some(&json!("ns-kube-system"))
    );
    assert!(matches!(
        get(&p, &cfg, Kind::CloudAccount, "").fields.get("account_number"),
        Some(Field::Json(v)) if v == "ns-kube-system"
    ));
}

/// The VM network rules, on shapes as KubeVirt writes them (kubevirt/kubevirt
/// `pkg/network/setup/netstat.go`, `staging/src/kubevirt.io/api/core/v1/{schema,types}.go`,
/// and Multus' network-status annotation on the launcher pod): masquerade guest addresses,
/// hot-unplugged and link-down interfaces, a guest agent that went away, and an SR-IOV NIC
/// whose status entry carries neither MAC nor IP.
#[test]
fn vm_networks_as_kubevirt_reports_them() {
    let cfg = config(json!({}));
    let mut items = vec![ns("team")];
    // two masquerade VMs whose status shows the guest side (kubevirt/kubevirt#18760), one with
    // its own vmNetworkCIDR
    for (name, pod_ip, guest, cidr) in [
        ("masq-a", "10.128.2.15", "10.0.2.2", json!({})),
        ("masq-b", "10.128.2.16", "10.0.2.2", json!({})),
        (
            "masq-c",
            "10.128.2.17",
            "10.11.12.2",
            json!({"vmNetworkCIDR": "10.11.12.0/24"}),
        ),
    ] {
        let mut v = vm_with_vmi(
            "team",
            name,
            json!({"cpu": {"cores": 1}}),
            json!({"phase": "Running", "conditions": [{"type": "AgentConnected", "status": "True"}],
                   "interfaces": [{"name": "default", "mac": "02:00:00:00:00:aa", "ipAddress": guest,
                                   "ipAddresses": [guest, "fd10:0:2::2"], "infoSource": "domain, guest-agent"}]}),
        );
        v[0]["spec"]["template"]["spec"]["networks"] = json!([{"name": "default", "pod": cidr}]);
        items.extend(v.clone());
        // and its twin that reports the pod IP, as KubeVirt normally does
        let twin = format!("{name}-ok");
        v[0]["metadata"]["name"] = json!(twin);
        v[0]["metadata"]["uid"] = json!(format!("vm-{twin}"));
        v[1]["metadata"]["name"] = json!(twin);
        v[1]["metadata"]["uid"] = json!(format!("vmi-{twin}"));
        v[1]["metadata"]["ownerReferences"][0]["uid"] = json!(format!("vm-{twin}"));
        v[1]["status"]["interfaces"][0]["ipAddress"] = json!(pod_ip);
        v[1]["status"]["interfaces"][0]["ipAddresses"] = json!([pod_ip, "fd10:0:2::2"]);
        items.extend(v);
    }
    // pod network (masquerade), a bridge on a multus network (link down, agent gone), a
    // hot-unplugged one, and an SR-IOV NIC without a spec MAC
    let mut multi = vm_with_vmi(
        "team",
        "multi",
        json!({"cpu": {"cores": 2}, "devices": {"interfaces": [
            {"name": "default", "masquerade": {}},
            {"name": "storage", "bridge": {}, "state": "down", "ports": []},
            {"name": "old", "bridge": {}, "state": "absent"},
            {"name": "fast", "sriov": {}}]}}),
        json!({"phase": "Running", "interfaces": [
            {"name": "default", "mac": "02:00:00:00:01:01", "ipAddress": "10.128.3.9", "ipAddresses": ["10.128.3.9"],
             "infoSource": "domain", "podInterfaceName": "eth0", "linkState": "up"},
            {"name": "storage", "mac": "02:00:00:00:01:02", "infoSource": "domain, multus-status",
             "podInterfaceName": "pod6446d58d6df", "linkState": "down"},
            {"name": "old", "mac": "02:00:00:00:01:03", "ipAddress": "192.168.50.7", "ipAddresses": ["192.168.50.7"],
             "infoSource": "domain, guest-agent, multus-status"},
            {"name": "fast", "infoSource": "domain, multus-status", "podInterfaceName": "pod778c553efa0"},
            {"interfaceName": "eth3", "mac": "9a:f1:0e:22:33:44", "ipAddress": "172.30.9.4",
             "ipAddresses": ["172.30.9.4"], "infoSource": "guest-agent"}]}),
    );
    multi[0]["spec"]["template"]["spec"]["networks"] = json!([
        {"name": "default", "pod": {}},
        {"name": "storage", "multus": {"networkName": "team/storage-net"}},
        {"name": "old", "multus": {"networkName": "old-net"}},
        {"name": "fast", "multus": {"networkName": "team/sriov-net"}}]);
    items.extend(multi);
    items.push(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "virt-launcher-multi-x7k2p", "namespace": "team", "uid": "pod-multi",
            "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "vmi-team-multi"},
            "annotations": {"kubevirt.io/domain": "multi",
                "k8s.v1.cni.cncf.io/network-status": r#"[{"name":"ovn-kubernetes","interface":"eth0","ips":["10.128.3.9"],"mac":"0a:58:0a:80:03:09","default":true,"dns":{}},{"name":"team/storage-net","interface":"pod6446d58d6df","mac":"02:00:00:00:01:02","dns":{}},{"name":"team/sriov-net","interface":"pod778c553efa0","mac":"9a:f1:0e:22:33:44","dns":{},"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:65:00.3"}}}]"#},
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": "multi", "uid": "vmi-team-multi", "controller": true}]},
        "spec": {"nodeName": "w1", "containers": [{"name": "compute", "image": "virt-launcher"}]},
        "status": {"phase": "Running", "podIP": "10.128.3.9", "podIPs": [{"ip": "10.128.3.9"}]}}));

    let p = project(&cfg, &index(items));
    let vm = |name: &str| get(&p, &cfg, Kind::VirtualMachine, &format!("team/{name}"));
    let ips: BTreeSet<&str> = p
        .records
        .values()
        .filter(|r| r.kind == Kind::IpAddress)
        .map(|r| r.name.as_str())
        .collect();
    // the guest side of masquerade is never an address, never a primary
    for guest in ["10.0.2.2", "10.11.12.2", "fd10:0:2::2"] {
        assert!(
            !ips.iter().any(|ip| ip.starts_with(guest)),
            "{guest}: {ips:?}"
        );
    }
    for name in ["masq-a", "masq-b", "masq-c"] {
        let r = vm(name);
        assert_eq!(
            r.fields.get("primary_ip4"),
            Some(&Field::Json(Value::Null)),
            "{name}"
        );
        let ok = vm(&format!("{name}-ok"));
        assert!(
            matches!(ok.reference("primary_ip4"), Some(Ref::Record(_))),
            "{name}-ok"
        );
    }
    assert!(
        ips.contains("10.128.2.15") && ips.contains("10.128.2.17"),
        "{ips:?}"
    );

    // interfaces: the unplugged one is gone, the link-down one disabled
    let iface = |n: &str| {
        p.records.get(&record_id(
            "ocp-lab",
            Kind::VmInterface,
            &format!("team/multi/{n}"),
        ))
    };
    assert!(iface("old").is_none(), "hot-unplugged");
    assert!(!ips.contains("192.168.50.7"));
    assert_eq!(
        iface("storage").unwrap().json("enabled"),
        Some(&json!(false))
    );
    assert_eq!(
        iface("default").unwrap().json("enabled"),
        Some(&json!(true))
    );
    // SR-IOV: the MAC from network-status, the guest agent's address found by it
    let fast = iface("fast").unwrap();
    assert_eq!(fast.json("mac_address"), Some(&json!("9A:F1:0E:22:33:44")));
    let on_fast = p
        .records
        .values()
        .filter(|r| {
            r.kind == Kind::IpAddressToInterface && ref_id(r, "vm_interface") == Some(fast.id)
        })
        .count();
    assert_eq!(on_fast, 1, "172.30.9.4 lands on the SR-IOV NIC");
    assert!(ips.contains("172.30.9.4"));
    // no guest agent: what only it reports (the multus networks) is unknown and kept; the pod
    // network's address is known
    assert!(p.ips_unknown.contains(&iface("storage").unwrap().id));
    assert!(p.ips_unknown.contains(&fast.id));
    assert!(!p.ips_unknown.contains(&iface("default").unwrap().id));
    assert!(!p.ips_unknown.contains(&vm("multi").id));
    assert!(matches!(
        vm("multi").reference("primary_ip4"),
        Some(Ref::Record(_))
    ));
}

/// A Service's named `targetPort` resolves through the VM interface's named ports
/// (`spec.domain.devices.interfaces[].ports[]`, kubevirt/kubevirt
/// `staging/src/kubevirt.io/api/core/v1/schema.go`, `Port`), and a VMI created on its own gets
/// ipam Services like a VM.
#[test]
fn named_target_ports_and_standalone_vmis_behind_services() {
    let cfg = config(json!({}));
    let launcher = |vmi: &str, uid: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("virt-launcher-{vmi}-abcde"), "namespace": "team", "uid": format!("pod-{vmi}"),
                "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": uid, "app": "web"},
                "annotations": {"kubevirt.io/domain": vmi},
                "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": vmi, "uid": uid, "controller": true}]},
            "spec": {"nodeName": "w1", "containers": [{"name": "compute", "image": "virt-launcher"}]},
            "status": {"phase": "Running", "podIP": "10.128.4.4"}})
    };
    let mut items = vec![ns("team")];
    let mut vm = vm_with_vmi(
        "team",
        "web-vm",
        json!({"cpu": {"cores": 1}, "devices": {"interfaces": [{"name": "default", "masquerade": {},
            "ports": [{"name": "http", "port": 8080}, {"name": "dns", "protocol": "UDP", "port": 5353}]}]}}),
        json!({"phase": "Running"}),
    );
    vm[1]["metadata"]["labels"] = json!({"app": "web"});
    items.extend(vm);
    items.push(launcher("web-vm", "vmi-team-web-vm"));
    // a standalone VMI (kubevirt examples/vmi-masquerade.yaml shape) with the same label
    items.push(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "vmi-solo", "namespace": "team", "uid": "vmi-solo-uid", "labels": {"app": "web"}},
        "spec": {"domain": {"devices": {"interfaces": [{"name": "testmasquerade", "masquerade": {},
                     "ports": [{"name": "http", "port": 80}]}]}},
                 "networks": [{"name": "testmasquerade", "pod": {}}]},
        "status": {"phase": "Running", "interfaces": [{"name": "testmasquerade", "ipAddress": "10.128.4.5"}]}}));
    items.push(launcher("vmi-solo", "vmi-solo-uid"));
    items.push(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "team", "uid": "svc-web"},
        "spec": {"type": "ClusterIP", "clusterIP": "172.30.9.9", "clusterIPs": ["172.30.9.9"], "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
                           {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}]}}));
    let p = project(&cfg, &index(items));
    let svc = |vm: &str, proto: &str| {
        p.records.get(&record_id(
            "ocp-lab",
            Kind::IpamService,
            &format!("team/web/{vm}/{proto}"),
        ))
    };
    assert_eq!(
        svc("web-vm", "tcp").unwrap().json("ports"),
        Some(&json!([8080]))
    );
    assert_eq!(
        svc("web-vm", "udp").unwrap().json("ports"),
        Some(&json!([5353]))
    );
    let solo = svc("vmi-solo", "tcp").expect("a standalone VMI gets ipam Services");
    assert_eq!(solo.json("ports"), Some(&json!([80])));
    assert_eq!(
        ref_id(solo, "virtual_machine"),
        Some(record_id("ocp-lab", Kind::VirtualMachine, "team/vmi-solo"))
    );
    // the standalone VMI has no port named dns: nothing for it on UDP, and a warning says why
    assert!(svc("vmi-solo", "udp").is_none());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.message.contains("\"dns\"") && w.message.contains("vmi-solo"))
    );
}

/// A DataVolume template that clones a DataSource with no size (CDI detects it:
/// kubevirt/containerized-data-importer `pkg/controller/datavolume/pvc-clone-controller.go`,
/// `detectCloneSize`) counts at the capacity the VMI reports; a template no volume uses never
/// counts, whether or not other volumes are claims.
#[test]
fn disks_without_a_declared_size_count_at_their_reported_size() {
    let cfg = config(json!({}));
    let clone_template = json!({"metadata": {"name": "rhel-root"},
        "spec": {"sourceRef": {"kind": "DataSource", "name": "rhel9", "namespace": "openshift-virtualization-os-images"},
                 "storage": {}}});
    let unused = json!({"metadata": {"name": "spare"},
        "spec": {"storage": {"resources": {"requests": {"storage": "500Gi"}}}}});
    let mut items = vec![ns("team")];
    let mut running = vm_with_vmi(
        "team",
        "cloned",
        json!({"cpu": {"cores": 1}}),
        json!({"phase": "Running", "volumeStatus": [
            {"name": "rootdisk", "target": "vda", "persistentVolumeClaimInfo": {"claimName": "rhel-root",
             "accessModes": ["ReadWriteMany"], "volumeMode": "Block", "capacity": {"storage": "30Gi"},
             "requests": {"storage": "30Gi"}, "filesystemOverhead": "0"}},
            {"name": "cloudinitdisk", "target": "vdb"}]}),
    );
    running[0]["spec"]["dataVolumeTemplates"] = json!([clone_template, unused]);
    running[0]["spec"]["template"]["spec"]["volumes"] = json!([
        {"name": "rootdisk", "dataVolume": {"name": "rhel-root"}},
        {"name": "cloudinitdisk", "cloudInitNoCloud": {"userData": "#cloud-config"}}]);
    let mut stopped = running.clone();
    items.extend(running);
    stopped[0]["metadata"]["name"] = json!("cloned-stopped");
    stopped[0]["metadata"]["uid"] = json!("vm-cloned-stopped");
    stopped[0]["status"]["printableStatus"] = json!("Stopped");
    items.push(stopped[0].clone());
    // only a containerDisk: the unused template is not its disk either
    let mut ephemeral = vm_with_vmi(
        "team",
        "ephemeral",
        json!({"cpu": {"cores": 1}}),
        json!({"phase": "Running"}),
    );
    ephemeral[0]["spec"]["dataVolumeTemplates"] = json!([unused]);
    ephemeral[0]["spec"]["template"]["spec"]["volumes"] = json!([{"name": "containerdisk", "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}]);
    items.extend(ephemeral);

    let p = project(&cfg, &index(items));
    let vm = |name: &str| get(&p, &cfg, Kind::VirtualMachine, &format!("team/{name}"));
    assert_eq!(
        num(vm("cloned"), "disk"),
        Some(30),
        "the cloned size, not 0 and not 530"
    );
    assert!(
        !vm("cloned-stopped").fields.contains_key("disk"),
        "unknown: kept"
    );
    assert!(
        !vm("ephemeral").fields.contains_key("disk"),
        "no claim: no disk"
    );
}

/// One Platform per OS family however it is spelt (template annotation, preference, guest
/// agent), and an empty annotation falls through to the next source.
#[test]
fn one_platform_per_os_family() {
    let cfg = config(json!({}));
    let mut items = vec![ns("team")];
    let rhel_agent = |v: &str| {
        json!({"phase": "Running", "guestOSInfo": {"id": "rhel", "name": "Red Hat Enterprise Linux",
            "versionId": v, "prettyName": format!("Red Hat Enterprise Linux {v} (Plow)"), "kernelRelease": "5.14.0-427.13.1.el9_4.x86_64"}})
    };
    for (name, annotation, preference, agent) in [
        ("by-template", Some("rhel9"), None, rhel_agent("9.4")),
        ("by-preference", Some(""), Some("rhel.9"), rhel_agent("9.5")),
        ("by-agent", None, None, rhel_agent("9.5")),
        (
            "win",
            Some(""),
            Some("windows.2k22.virtio"),
            json!({"phase": "Running"}),
        ),
    ] {
        let mut v = vm_with_vmi("team", name, json!({"cpu": {"cores": 1}}), agent);
        if let Some(a) = annotation {
            v[0]["spec"]["template"]["metadata"] = json!({"annotations": {"vm.kubevirt.io/os": a}});
        }
        if let Some(p) = preference {
            v[0]["spec"]["preference"] = json!({"name": p});
        }
        items.extend(v);
    }
    let p = project(&cfg, &index(items));
    let platform = |name: &str| {
        get(&p, &cfg, Kind::VirtualMachine, &format!("team/{name}"))
            .reference("platform")
            .cloned()
    };
    let rhel = Some(Ref::Platform("Red Hat Enterprise Linux".into()));
    assert_eq!(platform("by-template"), rhel);
    assert_eq!(
        platform("by-preference"),
        rhel,
        "the empty annotation falls through"
    );
    assert_eq!(platform("by-agent"), rhel);
    assert_eq!(
        platform("win"),
        Some(Ref::Platform("Microsoft Windows Server".into()))
    );
    // the version goes to the SoftwareVersion: as the agent reports it, else (on create only)
    // as declared
    let version = |name: &str| {
        let r = get(&p, &cfg, Kind::VirtualMachine, &format!("team/{name}"));
        let now = r.reference("software_version").cloned();
        let first = match r.on_create.get("software_version") {
            Some(Field::Ref(x)) => Some(x.clone()),
            _ => None,
        };
        (now, first)
    };
    let sv = |p: &str, v: &str| Some(crate::model::software_version(p, v));
    let rhel = "Red Hat Enterprise Linux";
    assert_eq!(version("by-template"), (sv(rhel, "9.4"), sv(rhel, "9")));
    assert_eq!(version("by-preference"), (sv(rhel, "9.5"), sv(rhel, "9")));
    assert_eq!(version("by-agent"), (sv(rhel, "9.5"), None));
    assert_eq!(
        version("win"),
        (None, sv("Microsoft Windows Server", "2022"))
    );
}

/// A VM runs the instancetype KubeVirt pinned for it in a ControllerRevision
/// (kubevirt/kubevirt `pkg/instancetype/revision/store.go`; `status.instancetypeRef` since
/// KubeVirt 1.5, `spec.instancetype.revisionName` before): a later edit of the instancetype
/// object changes nothing; a running VMI's own topology and memory come first.
#[test]
fn instancetypes_are_pinned_in_their_revision() {
    let cfg = config(json!({}));
    let revision = |name: &str, cpu: u32, memory: &str| {
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": name, "namespace": "team", "uid": format!("cr-{name}"),
                "labels": {"instancetype.kubevirt.io/object-kind": "VirtualMachineClusterInstancetype",
                           "instancetype.kubevirt.io/object-name": "u1.medium",
                           "instancetype.kubevirt.io/object-version": "v1beta1",
                           "instancetype.kubevirt.io/object-generation": "1"},
                "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "x", "uid": "x", "controller": true}]},
            "data": {"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
                "metadata": {"name": "u1.medium", "uid": "it-uid", "generation": 1},
                "spec": {"cpu": {"guest": cpu}, "memory": {"guest": memory}}},
            "revision": 0})
    };
    let mut items = vec![
        ns("team"),
        // the object as it is now: edited after the VMs were started
        json!({"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
            "metadata": {"name": "u1.medium"}, "spec": {"cpu": {"guest": 8}, "memory": {"guest": "32Gi"}}}),
        revision("pinned-u1.medium-v1beta1-it-uid-1", 1, "4Gi"),
        revision("old-u1.medium-v1beta1-it-uid-1", 2, "8Gi"),
        // a preference's revision has no size
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": "pinned-rhel.9-v1beta1-p-1", "namespace": "team",
                "labels": {"instancetype.kubevirt.io/object-kind": "VirtualMachineClusterPreference"}},
            "data": {"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterPreference",
                "spec": {"cpu": {"preferredCPUTopology": "spread"}}}}),
    ];
    let status_ref = json!({"name": "u1.medium", "kind": "VirtualMachineClusterInstancetype",
        "controllerRevisionRef": {"name": "pinned-u1.medium-v1beta1-it-uid-1"}});
    // stopped, KubeVirt 1.5+: the revision in the status
    let mut stopped = vm_with_vmi("team", "pinned", json!({}), json!({}));
    stopped[0]["spec"]["instancetype"] = json!({"name": "u1.medium"});
    stopped[0]["spec"]["preference"] = json!({"name": "rhel.9"});
    stopped[0]["status"] = json!({"printableStatus": "Stopped", "instancetypeRef": status_ref});
    items.push(stopped[0].clone());
    // stopped, KubeVirt <= 1.4: the revision in the spec
    let mut old = stopped.clone();
    old[0]["metadata"]["name"] = json!("old");
    old[0]["metadata"]["uid"] = json!("vm-old");
    old[0]["spec"]["instancetype"]["revisionName"] = json!("old-u1.medium-v1beta1-it-uid-1");
    old[0]["status"] = json!({"printableStatus": "Stopped"});
    items.push(old[0].clone());
    // running: the VMI's topology and memory as running (after a hotplug: 2 sockets, 6Gi)
    let mut run = vm_with_vmi(
        "team",
        "running",
        json!({}),
        json!({"phase": "Running", "currentCPUTopology": {"sockets": 2, "cores": 1, "threads": 1},
               "memory": {"guestAtBoot": "4Gi", "guestCurrent": "6Gi", "guestRequested": "6Gi"}}),
    );
    run[0]["spec"]["instancetype"] = json!({"name": "u1.medium"});
    run[0]["status"]["instancetypeRef"] = status_ref;
    items.extend(run);
    // no revision held (not yet stored): the object as it is
    let mut fresh = vm_with_vmi("team", "fresh", json!({}), json!({}));
    fresh[0]["spec"]["instancetype"] = json!({"name": "u1.medium"});
    fresh[0]["status"] = json!({"printableStatus": "Stopped"});
    items.push(fresh[0].clone());

    let idx = index(items);
    let p = project(&cfg, &idx);
    let vm = |name: &str| get(&p, &cfg, Kind::VirtualMachine, &format!("team/{name}"));
    assert_eq!(
        (num(vm("pinned"), "vcpus"), num(vm("pinned"), "memory")),
        (Some(1), Some(4096))
    );
    assert_eq!(
        (num(vm("old"), "vcpus"), num(vm("old"), "memory")),
        (Some(2), Some(8192))
    );
    assert_eq!(
        (num(vm("running"), "vcpus"), num(vm("running"), "memory")),
        (Some(2), Some(6144))
    );
    assert_eq!(
        (num(vm("fresh"), "vcpus"), num(vm("fresh"), "memory")),
        (Some(8), Some(32768))
    );
    // a revision touches the VMs pinned to it
    use super::Affects;
    let rev = idx
        .revision("team", "pinned-u1.medium-v1beta1-it-uid-1")
        .unwrap();
    let roots = k8s_openapi::api::apps::v1::ControllerRevision::roots(&idx, rev);
    assert_eq!(
        roots.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            Root::VirtualMachine(("team".into(), "pinned".into())),
            Root::VirtualMachine(("team".into(), "running".into()))
        ])
    );
}

/// StatefulSets and DaemonSets become CloudServices as Deployments do; their pods are theirs by
/// the controller ownerReference (k8s.io/api `apps/v1/types.go`: `StatefulSetSpec.Replicas`,
/// `UpdateStrategy`; `DaemonSetStatus.DesiredNumberScheduled`, `NumberReady`).
#[test]
fn statefulsets_and_daemonsets_are_cloud_services() {
    let cfg = config(json!({}));
    let pod = |name: &str, kind: &str, owner: &str, node: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "team", "uid": format!("pod-{name}"),
                "labels": {"app": owner, "controller-revision-hash": "db-7c9d8f6b5"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": format!("{owner}-uid"),
                                     "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x", "env": [{"name": "PASSWORD", "value": "s3cr3t"}]}]},
            "status": {"phase": "Running", "podIP": "10.128.5.5"}})
    };
    let items = vec![
        ns("team"),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "team", "uid": "db-uid", "labels": {"app.kubernetes.io/part-of": "shop"}},
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "postgres", "image": "registry.redhat.io/rhel9/postgresql-15:1-54",
                                           "env": [{"name": "POSTGRESQL_PASSWORD", "value": "s3cr3t"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]},
            "status": {"replicas": 3, "readyReplicas": 2, "currentReplicas": 3, "updatedReplicas": 3}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "team", "uid": "agent-uid"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "updateStrategy": {"type": "OnDelete"},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "quay.io/example/agent:2.1"}]}}},
            "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0, "numberReady": 1}}),
        pod("db-0", "StatefulSet", "db", "w1"),
        pod("db-1", "StatefulSet", "db", "w2"),
        pod("agent-x1", "DaemonSet", "agent", "w1"),
        pod("agent-x2", "DaemonSet", "agent", "w3"),
    ];
    let p = project(&cfg, &index(items.clone()));
    let sts = get(&p, &cfg, Kind::CloudService, "StatefulSet/team/db");
    assert_eq!(
        sts.json("name"),
        Some(&json!("ocp-lab/team/statefulset/db"))
    );
    assert_eq!(
        sts.reference("cloud_resource_type"),
        Some(&Ref::CloudResourceType("Kubernetes StatefulSet".into()))
    );
    let extra = sts.json("extra_config").unwrap();
    assert_eq!(extra["kind"], json!("StatefulSet"));
    assert_eq!(extra["replicas"], json!(3));
    assert_eq!(extra["strategy"], json!("RollingUpdate"));
    assert_eq!(
        extra["images"],
        json!(["registry.redhat.io/rhel9/postgresql-15:1-54"])
    );
    assert_eq!(extra["nodes"], json!(["w1", "w2"]));
    let ds = get(&p, &cfg, Kind::CloudService, "DaemonSet/team/agent");
    let extra = ds.json("extra_config").unwrap();
    assert_eq!(extra["replicas"], json!(2));
    assert_eq!(extra["strategy"], json!("OnDelete"));
    assert_eq!(extra["nodes"], json!(["w1", "w3"]));
    assert!(!serde_json::to_string(&p).unwrap().contains("s3cr3t"));
    // a pod touches its workload
    let idx_pod = super::super::cluster::PodInfo::from(
        serde_json::from_value::<crate::cluster::wire::SlimPod>(pod(
            "db-2",
            "StatefulSet",
            "db",
            "w1",
        ))
        .unwrap(),
    );
    assert!(
        sample()
            .pod_roots(&idx_pod)
            .contains(&Root::StatefulSet(("team".into(), "db".into())))
    );
    // and each can be turned off
    let off = config(json!({"sync": {"statefulSets": false, "daemonSets": false}}));
    let p = project(&off, &index(items));
    assert!(
        p.records
            .values()
            .all(|r| !r.name.contains("/statefulset/") && !r.name.contains("/daemonset/"))
    );
}

/// A rolling restart is not news: pods come and go, `readyReplicas` goes up and down, and the
/// Deployment's record stays the same as long as its pods run on the same nodes (what a
/// record says changes with the spec, the images and where the workload runs).
#[test]
fn a_rolling_restart_changes_no_workload_record() {
    let cfg = config(json!({}));
    let deployment = |ready: u32| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "team", "uid": "web-uid"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "quay.io/acme/web:1.4"}]}}},
            "status": {"replicas": 3, "readyReplicas": ready, "updatedReplicas": 1, "availableReplicas": ready}})
    };
    let pod = |name: &str, hash: &str, node: &str, ready: bool| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "team", "uid": format!("pod-{name}"),
                "labels": {"app": "web", "pod-template-hash": hash},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{hash}"),
                                     "uid": format!("rs-{hash}"), "controller": true}]},
            "spec": {"nodeName": node, "containers": [{"name": "web", "image": "quay.io/acme/web:1.4"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    };
    let before = index(vec![
        ns("team"),
        deployment(2),
        pod("web-6f7d8-a", "6f7d8", "w1", true),
        pod("web-6f7d8-b", "6f7d8", "w2", true),
    ]);
    let during = index(vec![
        ns("team"),
        deployment(1),
        pod("web-6f7d8-b", "6f7d8", "w2", true),
        pod("web-9c4b2-a", "9c4b2", "w1", false),
    ]);
    let record = |idx| {
        project(&cfg, &idx)
            .records
            .values()
            .find(|r| r.name == "ocp-lab/team/deployment/web")
            .cloned()
            .unwrap()
    };
    assert_eq!(record(before), record(during));
}

/// The console's URL comes from `consoles.config.openshift.io/cluster` `status.consoleURL`
/// (openshift/api `config/v1/types_console.go`), or from `spec.consoleUrl`, which wins; each
/// VM, standalone VMI, node Device, Tenant and the Cluster get their page in the console
/// (openshift/console `resource-link.tsx`: `/k8s/cluster/<plural>/<name>`,
/// `/k8s/ns/<ns>/<group>~<version>~<Kind>/<name>`).
#[test]
fn records_link_to_their_page_in_the_openshift_console() {
    use crate::model::CF_CONSOLE;
    let console = json!({"apiVersion": "config.openshift.io/v1", "kind": "Console",
        "metadata": {"name": "cluster"},
        "spec": {},
        "status": {"consoleURL": "https://console-openshift-console.apps.ocp-lab.example.com"}});
    let mut items = vec![ns("team"), console.clone()];
    items.extend(vm_with_vmi(
        "team",
        "db",
        json!({"cpu": {"cores": 1}, "memory": {"guest": "1Gi"}}),
        json!({"phase": "Running"}),
    ));
    items.push(
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "scratch", "namespace": "team", "uid": "vmi-scratch"},
        "spec": {"domain": {"cpu": {"cores": 1}, "memory": {"guest": "1Gi"}, "devices": {}}},
        "status": {"phase": "Running"}}),
    );
    items.push(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "w1", "uid": "node-w1", "labels": {"node-role.kubernetes.io/worker": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
    let idx = index(items.clone());
    let url = |p: &crate::project::Projection, cfg: &crate::config::SyncConfig, kind, key| {
        get(p, cfg, kind, key)
            .custom_fields
            .get(CF_CONSOLE)
            .cloned()
    };
    let base = "https://console-openshift-console.apps.ocp-lab.example.com";
    let cfg = config(json!({}));
    let p = project(&cfg, &idx);
    let expect = [
        (
            Kind::VirtualMachine,
            "team/db",
            format!("{base}/k8s/ns/team/kubevirt.io~v1~VirtualMachine/db"),
        ),
        (
            Kind::VirtualMachine,
            "team/scratch",
            format!("{base}/k8s/ns/team/kubevirt.io~v1~VirtualMachineInstance/scratch"),
        ),
        (Kind::Device, "w1", format!("{base}/k8s/cluster/nodes/w1")),
        (
            Kind::Tenant,
            "team",
            format!("{base}/k8s/cluster/projects/team"),
        ),
    ];
    for (kind, key, want) in &expect {
        assert_eq!(url(&p, &cfg, *kind, key), Some(json!(want)), "{kind} {key}");
    }
    let cluster = p
        .records
        .values()
        .find(|r| r.kind == Kind::Cluster)
        .unwrap();
    assert_eq!(
        cluster.custom_fields.get(CF_CONSOLE),
        Some(&json!(format!("{base}/")))
    );

    // the spec's URL wins (a proxy in front of the console), a trailing slash is no slash
    let cfg = config(json!({"consoleUrl": "https://console.corp.example.com/"}));
    let p = project(&cfg, &idx);
    assert_eq!(
        url(&p, &cfg, Kind::Device, "w1"),
        Some(json!(
            "https://console.corp.example.com/k8s/cluster/nodes/w1"
        ))
    );
    // links off, or no console known: the field is empty (which hides the custom link)
    let cfg = config(json!({"sync": {"consoleLinks": false}}));
    let p = project(&cfg, &idx);
    assert_eq!(
        url(&p, &cfg, Kind::VirtualMachine, "team/db"),
        Some(Value::Null)
    );
    let cfg = config(json!({}));
    let without: Vec<Value> = items.into_iter().filter(|o| o != &console).collect();
    let p = project(&cfg, &index(without));
    assert_eq!(url(&p, &cfg, Kind::Tenant, "team"), Some(Value::Null));
}

/// Isolated networks reuse private ranges: each Multus network (NetworkAttachmentDefinition)
/// and each namespace's primary user-defined network (OVN-Kubernetes, namespace label
/// `k8s.ovn.org/primary-user-defined-network`) gets an IPAM namespace of its own by default;
/// `Shared` puts them in the cluster's and warns where two hosts then share one address; a
/// network mapped to a person's namespace gets its addresses there and no prefix.
#[test]
fn isolated_networks_get_ipam_namespaces_of_their_own() {
    let idx = index(isolated_networks());
    let ips_of = |p: &super::Projection, ip: &str| -> Vec<(String, uuid::Uuid)> {
        p.records
            .values()
            .filter(|r| r.kind == Kind::IpAddress && r.name == ip)
            .map(|r| match r.reference("namespace") {
                Some(Ref::IpamNamespace(n)) => (n.clone(), r.id),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let spaces_of = |p: &super::Projection, ip: &str| -> BTreeSet<String> {
        ips_of(p, ip).into_iter().map(|(n, _)| n).collect()
    };
    let prefixes_in = |p: &super::Projection, ns: &str| -> BTreeSet<String> {
        p.records
            .values()
            .filter(|r| {
                r.kind == Kind::Prefix
                    && r.reference("namespace") == Some(&Ref::IpamNamespace(ns.into()))
            })
            .map(|r| r.name.clone())
            .collect()
    };

    // Separate (the default): four addresses, each VM's primary its own
    let cfg = config(json!({}));
    let p = project(&cfg, &idx);
    let udn = ips_of(&p, "192.0.2.10");
    let spaces: BTreeSet<&str> = udn.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(spaces, BTreeSet::from(["ocp-lab/blue", "ocp-lab/green"]));
    for (ns, id) in &udn {
        let vm_ns = ns.trim_start_matches("ocp-lab/");
        let vm = get(&p, &cfg, Kind::VirtualMachine, &format!("{vm_ns}/web"));
        assert_eq!(ref_id(vm, "primary_ip4"), Some(*id), "{ns}");
        assert_eq!(prefixes_in(&p, ns), BTreeSet::from(["192.0.2.0/24".into()]));
    }
    let vlan = spaces_of(&p, "10.20.30.5");
    assert_eq!(
        vlan,
        BTreeSet::from(["ocp-lab/vms/vlan10".into(), "ocp-lab/team2/vlan10".into()])
    );
    assert!(
        !p.warnings
            .iter()
            .any(|w| w.message.contains("also reported")),
        "{:#?}",
        p.warnings
    );

    // Shared: one address each, and a warning naming both hosts (plan/desired.rs checks the
    // controller's root-by-root state says the same)
    let cfg = config(json!({"placement": {"isolatedNetworks": "Shared"}}));
    let p = project(&cfg, &idx);
    assert_eq!(ips_of(&p, "192.0.2.10").len(), 1);
    assert_eq!(ips_of(&p, "10.20.30.5")[0].0, "ocp-lab");
    let shared: Vec<_> = p
        .warnings
        .iter()
        .filter(|w| w.message.contains("also reported"))
        .collect();
    assert_eq!(shared.len(), 2, "{shared:#?}");
    assert!(
        shared.iter().any(|w| w.source == "VirtualMachine blue/web"
            && w.message.contains("192.0.2.10")
            && w.message.contains("VirtualMachine green/web")),
        "{shared:#?}"
    );

    // a network mapped to a person's namespace: its addresses there, no prefix of ours
    let cfg = config(
        json!({"placement": {"networkIpamNamespaces": {"vms/vlan10": "Global", "green": "ocp-lab"}}}),
    );
    let p = project(&cfg, &idx);
    let vlan = spaces_of(&p, "10.20.30.5");
    assert_eq!(
        vlan,
        BTreeSet::from(["Global".into(), "ocp-lab/team2/vlan10".into()])
    );
    assert!(prefixes_in(&p, "Global").is_empty());
    let udn = spaces_of(&p, "192.0.2.10");
    assert_eq!(
        udn,
        BTreeSet::from(["ocp-lab".into(), "ocp-lab/blue".into()])
    );
    assert!(prefixes_in(&p, "ocp-lab").contains("192.0.2.0/24"));
}
