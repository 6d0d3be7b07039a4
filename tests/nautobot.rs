//! Against a real Nautobot 3.2.7 (scripts/nautobot.sh), each test from a clean database:
//! the first sync, idempotence, incremental changes, hand edits, conflicts, bad objects,
//! interrupted applies, the mass-deletion guard and two clusters side by side.

#[path = "support/nautobot.rs"]
mod support;

use std::collections::BTreeSet;

use nbsync::model::{CF_MISSING_SINCE, Kind};
use nbsync::nautobot::{self, ApplyOptions, NautobotApi};
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_creates_exactly_the_projection_and_the_second_writes_nothing() {
    let Some(nb) = clean().await else { return };
    let cfg = config(json!({}));
    let p = project(&cfg, &sample_snapshot());

    let before = nb.api.stats();
    let first = sync(&nb.api, &cfg, &p).await;
    let report = first.report.as_ref().unwrap();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(first.plan.creates.len(), p.records.len());
    let first_requests = nb.api.stats().since(&before);
    eprintln!(
        "first sync of {} records: {first_requests:?}",
        p.records.len()
    );

    // read back: exactly the projected ids, nothing else owned
    let owned = owned(&nb.api, "ocp-lab").await;
    let want: BTreeSet<_> = p.records.keys().copied().collect();
    let have: BTreeSet<_> = owned.keys().copied().collect();
    assert_eq!(have, want, "Nautobot holds exactly the projected objects");
    let vm = owned
        .values()
        .find(|o| o.kind == Kind::VirtualMachine && o.display == "fedora-db-01")
        .expect("VM read back");
    assert_eq!(vm.fields["vcpus"], json!(2));
    assert_eq!(vm.fields["memory"], json!(2048));
    assert_eq!(vm.fields["disk"], json!(30));
    assert!(
        vm.fields["primary_ip4"].is_string(),
        "primary IP set after its assignment"
    );
    assert!(vm.tags.contains("k8s-managed"));
    assert_eq!(vm.custom_fields["k8s_node"], json!("ocp-lab-worker-0"));

    // a second pass writes nothing: list reads only
    let before = nb.api.stats();
    let second = sync(&nb.api, &cfg, &p).await;
    let requests = nb.api.stats().since(&before);
    assert!(second.plan.is_empty(), "{:#?}", second.plan);
    assert_eq!(requests.writes(), 0, "{requests:?}");
    assert_eq!(second.plan.unchanged, p.records.len());
    eprintln!("idempotent pass: {requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_update_only_what_changed_and_removals_follow_the_policy() {
    let Some(nb) = clean().await else { return };
    let cfg = config(json!({"deletion": {"policy": "Delete"}}));
    let mut snap = sample_snapshot();
    sync(&nb.api, &cfg, &project(&cfg, &snap)).await;

    // one VM resized, one node cordoned, one deployment scaled, one service port changed
    edit(&mut snap, "VirtualMachine", "fedora-db-01", |vm| {
        vm["spec"]["template"]["spec"]["domain"]["cpu"]["cores"] = json!(4);
    });
    // the VM runs: KubeVirt's live update (CPU hotplug) brings its VMI along, and a running VM
    // syncs what runs
    edit(&mut snap, "VirtualMachineInstance", "fedora-db-01", |vmi| {
        vmi["spec"]["domain"]["cpu"]["cores"] = json!(4);
        vmi["status"]["currentCPUTopology"]["cores"] = json!(4);
    });
    edit(&mut snap, "Node", "ocp-lab-worker-2", |n| {
        n["spec"]["unschedulable"] = json!(true)
    });
    edit(&mut snap, "Deployment", "cart-api", |d| {
        d["spec"]["replicas"] = json!(5)
    });
    edit(&mut snap, "Service", "legacy-billing", |s| {
        s["spec"]["ports"][0]["port"] = json!(9443)
    });
    let p = project(&cfg, &snap);
    let before = nb.api.stats();
    let out = sync(&nb.api, &cfg, &p).await;
    let changed: BTreeSet<(Kind, String)> = out
        .plan
        .updates
        .iter()
        .map(|o| (o.kind, o.name.clone()))
        .collect();
    let expected: BTreeSet<(Kind, String)> = [
        (Kind::VirtualMachine, "shop-prod/fedora-db-01".to_string()),
        (Kind::Device, "ocp-lab-worker-2.ocp-lab".to_string()),
        (
            Kind::CloudService,
            "ocp-lab/shop-prod/deployment/cart-api".to_string(),
        ),
        (
            Kind::CloudService,
            "ocp-lab/shop-staging/service/legacy-billing".to_string(),
        ),
    ]
    .into();
    assert_eq!(changed, expected);
    assert!(out.plan.creates.is_empty() && out.plan.deletes.is_empty());
    let requests = nb.api.stats().since(&before);
    assert_eq!(
        requests.writes(),
        3,
        "one bulk PATCH per kind: {requests:?}"
    );
    let vm = owned(&nb.api, "ocp-lab")
        .await
        .into_values()
        .find(|o| o.display == "fedora-db-01")
        .unwrap();
    assert_eq!(vm.fields["vcpus"], json!(4));

    // a removed VM is deleted with its interfaces, addresses and services; nothing else
    remove(&mut snap, "VirtualMachine", "fedora-db-01");
    remove(&mut snap, "VirtualMachineInstance", "fedora-db-01");
    let p = project(&cfg, &snap);
    let out = sync(&nb.api, &cfg, &p).await;
    // updated: the Service that selected it, and its disk's claim (which stays, used by no one)
    assert!(
        out.plan
            .updates
            .iter()
            .all(|o| o.name.contains("db-vm")
                || o.name.ends_with("/persistentvolumeclaim/fedora-db-01")),
        "{:#?}",
        out.plan.updates
    );
    let deleted: BTreeSet<Kind> = out.plan.deletes.iter().map(|o| o.kind).collect();
    assert!(deleted.contains(&Kind::VirtualMachine));
    let now_owned = owned(&nb.api, "ocp-lab").await;
    assert_eq!(
        now_owned.keys().copied().collect::<BTreeSet<_>>(),
        p.records.keys().copied().collect()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_offline_then_delete_after_the_grace_period() {
    let Some(nb) = clean().await else { return };
    let cfg = config(json!({"deletion": {"policy": "MarkOffline", "gracePeriod": "1h"}}));
    let mut snap = sample_snapshot();
    sync(&nb.api, &cfg, &project(&cfg, &snap)).await;
    remove(&mut snap, "VirtualMachine", "centos-build-01");
    let p = project(&cfg, &snap);
    let t0: jiff::Timestamp = jiff::Timestamp::now();
    sync_at(&nb.api, &cfg, &p, t0, false).await;
    let vm = owned(&nb.api, "ocp-lab")
        .await
        .into_values()
        .find(|o| o.display == "centos-build-01")
        .unwrap();
    assert!(vm.custom_fields[CF_MISSING_SINCE].is_string(), "marked");
    let offline = nb
        .api
        .list("extras/statuses/", &[("name", "Offline".into())])
        .await
        .unwrap();
    assert_eq!(vm.fields["status"], offline[0]["id"]);
    // within the grace period nothing happens; after it, the VM goes
    let out = sync_at(
        &nb.api,
        &cfg,
        &p,
        t0 + jiff::SignedDuration::from_mins(30),
        false,
    )
    .await;
    assert!(out.plan.is_empty(), "{:#?}", out.plan);
    let out = sync_at(
        &nb.api,
        &cfg,
        &p,
        t0 + jiff::SignedDuration::from_mins(61),
        false,
    )
    .await;
    assert!(
        out.plan
            .deletes
            .iter()
            .any(|o| o.kind == Kind::VirtualMachine)
    );
    assert!(
        !owned(&nb.api, "ocp-lab")
            .await
            .values()
            .any(|o| o.display == "centos-build-01")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edits_survive_and_unowned_objects_are_never_touched() {
    let Some(nb) = clean().await else { return };
    let cfg = config(json!({}));
    let mut snap = sample_snapshot();

    // someone already made a VM with one of our names in the cluster/tenant we will use: to
    // collide, create our cluster and tenant first through a sync without VMs
    let no_vms = config(json!({"sync": {"virtualMachines": false}}));
    sync(&nb.api, &no_vms, &project(&no_vms, &snap)).await;
    let hand = hand_made_vm(&nb.api, json!({"vcpus": 64, "comments": "made by hand"})).await;
    let hand_id = hand["id"].as_str().unwrap().to_string();

    let out = sync(&nb.api, &cfg, &project(&cfg, &snap)).await;
    let report = out.report.unwrap();
    let failure = report
        .failures
        .iter()
        .find(|f| f.name == "shop-prod/rhel9-app-01")
        .expect("reported");
    assert!(
        failure.message.contains("already exists"),
        "{}",
        failure.message
    );
    let still = nb
        .api
        .get("virtualization/virtual-machines/", hand_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still["vcpus"], json!(64), "the hand-made VM is untouched");
    assert_eq!(still["comments"], json!("made by hand"));
    // other VMs were synced in spite of it
    assert!(
        owned(&nb.api, "ocp-lab")
            .await
            .values()
            .any(|o| o.display == "fedora-db-01")
    );

    // a tag and a custom field added by hand on a synced VM survive an update
    let vm = owned(&nb.api, "ocp-lab")
        .await
        .into_values()
        .find(|o| o.display == "fedora-db-01")
        .unwrap();
    nb.api
        .create(
            "extras/tags/",
            vec![
                json!({"name": "backup-daily", "content_types": ["virtualization.virtualmachine"]}),
            ],
        )
        .await
        .unwrap();
    nb.api
        .create(
            "extras/custom-fields/",
            vec![json!({"key": "owner_team", "label": "Owner team", "type": "text", "content_types": ["virtualization.virtualmachine"]})],
        )
        .await
        .unwrap();
    let mut tags: Vec<Value> = vm.tags.iter().map(|t| json!({"name": t})).collect();
    tags.push(json!({"name": "backup-daily"}));
    nb.api
        .update(
            "virtualization/virtual-machines/",
            vec![json!({"id": vm.id.to_string(), "tags": tags, "custom_fields": {"owner_team": "dba"}, "comments": "notes"})],
        )
        .await
        .unwrap();
    edit(&mut snap, "VirtualMachine", "fedora-db-01", |v| {
        v["spec"]["template"]["spec"]["domain"]["memory"]["guest"] = json!("4Gi");
    });
    // a memory hotplug: the running VMI reports the memory it now has
    edit(&mut snap, "VirtualMachineInstance", "fedora-db-01", |vmi| {
        vmi["status"]["memory"]["guestCurrent"] = json!("4Gi");
        vmi["status"]["memory"]["guestRequested"] = json!("4Gi");
    });
    let out = sync(&nb.api, &cfg, &project(&cfg, &snap)).await;
    assert!(
        out.report
            .unwrap()
            .failures
            .iter()
            .all(|f| f.name != "shop-prod/fedora-db-01")
    );
    let after = owned(&nb.api, "ocp-lab").await.remove(&vm.id).unwrap();
    assert_eq!(after.fields["memory"], json!(4096));
    assert!(after.tags.contains("backup-daily"), "{:?}", after.tags);
    assert!(after.tags.contains("k8s-managed"));
    assert_eq!(after.custom_fields["owner_team"], json!("dba"));
    assert_eq!(after.fields["comments"], json!("notes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_object_in_a_batch_does_not_block_the_others() {
    let Some(nb) = clean().await else { return };
    let cfg = config(json!({}));
    let mut p = project(&cfg, &sample_snapshot());
    let bad = p
        .records
        .values_mut()
        .find(|r| r.kind == Kind::VirtualMachine && r.name == "shop-prod/fedora-db-01")
        .unwrap();
    bad.fields.insert("vcpus", json!(-5).into());
    let bad_id = bad.id;
    let policy = nbsync::plan::Policy::new(&cfg, jiff::Timestamp::now(), false);
    let out = nautobot::full_sync(&nb.api, &cfg, &p, &policy, false, ApplyOptions::default())
        .await
        .unwrap();
    let report = out.report.unwrap();
    let f = report
        .failures
        .iter()
        .find(|f| f.id == bad_id)
        .expect("the bad VM is reported");
    assert!(
        f.message.contains("vcpus"),
        "Nautobot's message: {}",
        f.message
    );
    let owned = owned(&nb.api, "ocp-lab").await;
    let vms = owned
        .values()
        .filter(|o| o.kind == Kind::VirtualMachine)
        .count();
    assert_eq!(vms, 5, "the five good VMs of the batch were created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_apply_converges_without_duplicates() {
    let Some(nb) = clean().await else { return };
    let cfg = config(json!({"sync": {"podIps": true}}));
    let p = project(&cfg, &sample_snapshot());
    let policy = nbsync::plan::Policy::new(&cfg, jiff::Timestamp::now(), false);
    // cut the first pass short after a few small batches
    let first = nautobot::full_sync(
        &nb.api,
        &cfg,
        &p,
        &policy,
        false,
        ApplyOptions {
            batch_size: 5,
            streams: 1,
        },
    );
    let _ = tokio::time::timeout(std::time::Duration::from_millis(2500), first).await;
    let partial = owned(&nb.api, "ocp-lab").await.len();
    assert!(
        partial < p.records.len(),
        "the first pass was interrupted ({partial} of {})",
        p.records.len()
    );
    // a new pass (as after a restart) finishes the job; every object exists once
    let out = sync(&nb.api, &cfg, &p).await;
    assert!(out.report.unwrap().failures.is_empty());
    let owned = owned(&nb.api, "ocp-lab").await;
    assert_eq!(owned.len(), p.records.len());
    let vms = nb
        .api
        .list("virtualization/virtual-machines/", &[])
        .await
        .unwrap();
    let names: Vec<&str> = vms.iter().filter_map(|v| v["name"].as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "no duplicate VMs: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mass_deletion_guard_holds_until_allowed() {
    let Some(nb) = clean().await else { return };
    let cfg = config(json!({"deletion": {"policy": "Delete"}}));
    let snap = sample_snapshot();
    sync(&nb.api, &cfg, &project(&cfg, &snap)).await;
    let before = owned(&nb.api, "ocp-lab").await.len();
    // a filter change that excludes every namespace
    let narrowed = config(
        json!({"deletion": {"policy": "Delete"}, "namespaceFilter": {"include": ["nothing"]}}),
    );
    let p = project(&narrowed, &snap);
    let out = sync(&nb.api, &narrowed, &p).await;
    assert!(out.plan.deletes.is_empty());
    assert!(!out.plan.held.is_empty());
    assert!(
        out.plan
            .held_reason
            .as_deref()
            .unwrap()
            .contains("nothing is removed")
    );
    assert_eq!(
        owned(&nb.api, "ocp-lab").await.len(),
        before,
        "nothing deleted"
    );
    // a person allows it
    let out = sync_at(&nb.api, &narrowed, &p, jiff::Timestamp::now(), true).await;
    assert!(!out.plan.deletes.is_empty());
    assert_eq!(owned(&nb.api, "ocp-lab").await.len(), p.records.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_in_one_nautobot_do_not_disturb_each_other() {
    let Some(nb) = clean().await else { return };
    let a = config(json!({}));
    let b = config(json!({"clusterName": "ocp-other"}));
    let snap = sample_snapshot();
    let pa = project(&a, &snap);
    let pb = project(&b, &snap);
    sync(&nb.api, &a, &pa).await;
    let out = sync(&nb.api, &b, &pb).await;
    assert!(out.report.unwrap().failures.is_empty());
    assert_eq!(owned(&nb.api, "ocp-lab").await.len(), pa.records.len());
    assert_eq!(owned(&nb.api, "ocp-other").await.len(), pb.records.len());
    // each is still in sync after the other wrote
    let before = nb.api.stats();
    assert!(sync(&nb.api, &a, &pa).await.plan.is_empty());
    assert!(sync(&nb.api, &b, &pb).await.plan.is_empty());
    assert_eq!(nb.api.stats().since(&before).writes(), 0);
}

/// Isolated networks in a real Nautobot: the VLAN and the primary user-defined network of the
/// sample land in IPAM namespaces of their own (created by bootstrap, with their fallback
/// prefixes); a network mapped to `Global` puts its address beside a person's prefix there,
/// adds no prefix and leaves the person's untouched; a mapped namespace that does not exist
/// is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_networks_land_in_their_own_ipam_namespaces() {
    let Some(nb) = clean().await else { return };
    // an address's namespace is its parent prefix's (Nautobot writes `namespace`, reads `parent`)
    let namespace_of = async |ip: &Value| -> String {
        let parent: uuid::Uuid = ip["parent"]["id"].as_str().unwrap().parse().unwrap();
        let prefix = nb.api.get("ipam/prefixes/", parent).await.unwrap().unwrap();
        prefix["namespace"]["id"].as_str().unwrap().to_string()
    };
    let namespace_id = async |name: &str| -> String {
        let found = nb
            .api
            .list("ipam/namespaces/", &[("name", name.into())])
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "IPAM namespace {name:?}: {found:?}");
        found[0]["id"].as_str().unwrap().to_string()
    };
    let ips = async |address: &str| -> Vec<Value> {
        nb.api
            .list("ipam/ip-addresses/", &[("address", address.into())])
            .await
            .unwrap()
    };

    let cfg = config(json!({}));
    let out = sync(&nb.api, &cfg, &project(&cfg, &sample_snapshot())).await;
    assert!(out.report.unwrap().failures.is_empty());
    // the same address is a load balancer's in the cluster's namespace and the UDN VM's in
    // its network's: two objects
    let mut same = BTreeSet::new();
    for ip in ips("192.0.2.10").await {
        same.insert(namespace_of(&ip).await);
    }
    assert_eq!(
        same,
        BTreeSet::from([
            namespace_id("ocp-lab").await,
            namespace_id("ocp-lab/tenant-blue").await
        ])
    );
    let vlan = ips("2001:db8:100::23").await;
    assert_eq!(vlan.len(), 1);
    let vlan_ns = namespace_id("ocp-lab/shop-prod/vlan100").await;
    assert_eq!(namespace_of(&vlan[0]).await, vlan_ns);
    let prefixes = nb
        .api
        .list("ipam/prefixes/", &[("namespace", vlan_ns.clone())])
        .await
        .unwrap();
    let names: Vec<&str> = prefixes
        .iter()
        .filter_map(|p| p["prefix"].as_str())
        .collect();
    assert_eq!(
        names,
        ["192.168.100.0/24", "2001:db8:100::/64"],
        "the VLAN's fallback prefixes"
    );

    // the network team documents the VLAN in Global; the operator is told to use it
    let global = namespace_id("Global").await;
    let theirs = nb
        .api
        .create(
            "ipam/prefixes/",
            ["192.168.100.0/22", "2001:db8:100::/56"]
                .iter()
                .map(|p| json!({"prefix": p, "namespace": global, "status": {"name": "Active"},
                                "type": "network", "description": "VLAN 100, kept by the network team"}))
                .collect(),
        )
        .await
        .unwrap();
    let mapped =
        config(json!({"placement": {"networkIpamNamespaces": {"shop-prod/vlan100": "Global"}}}));
    let p = project(&mapped, &sample_snapshot());
    let out = sync_at(&nb.api, &mapped, &p, jiff::Timestamp::now(), true).await;
    let report = out.report.unwrap();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    // moved: the new address in Global, the old one marked missing (deletion policy
    // MarkOffline) until its grace period ends
    let vlan = ips("2001:db8:100::23").await;
    assert_eq!(vlan.len(), 2, "{vlan:?}");
    for ip in &vlan {
        let missing = !ip["custom_fields"][CF_MISSING_SINCE].is_null();
        let ns = namespace_of(ip).await;
        assert_eq!(ns == global, !missing, "{ip}");
        assert!(ns == global || ns == vlan_ns, "{ip}");
    }
    let in_global: Vec<Value> = nb
        .api
        .list("ipam/prefixes/", &[("namespace", global.clone())])
        .await
        .unwrap();
    let ids = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .map(|p| format!("{} {}", p["id"], p["description"]))
            .collect()
    };
    assert_eq!(
        ids(&in_global),
        ids(&theirs),
        "no prefix of ours in Global, theirs untouched"
    );
    assert!(sync(&nb.api, &mapped, &p).await.plan.is_empty(), "in sync");

    // a mapped namespace that does not exist: refused, nothing written
    let missing = config(
        json!({"placement": {"networkIpamNamespaces": {"shop-prod/vlan100": "No Such Namespace"}}}),
    );
    let p = project(&missing, &sample_snapshot());
    let before = nb.api.stats();
    let policy = nbsync::plan::Policy::new(&missing, jiff::Timestamp::now(), false);
    let err = nautobot::full_sync(
        &nb.api,
        &missing,
        &p,
        &policy,
        false,
        ApplyOptions::default(),
    )
    .await
    .expect_err("refused");
    assert!(
        err.to_string().contains("No Such Namespace")
            && err.to_string().contains("networkIpamNamespaces"),
        "{err}"
    );
    assert_eq!(nb.api.stats().since(&before).writes(), 0);
}

/// The command line's exit codes against a real Nautobot, as a script sees them: `plan
/// --nautobot` exits 2 while changes are pending and 0 when there are none; `apply` exits 0
/// when everything was written and 1 when an object could not be (a VM a person made under our
/// name), with the report on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_exit_codes_tell_a_script_what_happened() {
    let Some(nb) = clean().await else { return };
    let dir = std::env::temp_dir().join(format!("nbsync-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = |name: &str, patch: &str| {
        let text = std::fs::read_to_string(repo("examples/nautobotsync.yaml"))
            .unwrap()
            .replace("spec:\n", &format!("spec:\n{patch}"));
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let full = manifest("full.yaml", "");
    let no_vms = manifest("no-vms.yaml", "  sync:\n    virtualMachines: false\n");
    let run = |command: &str, file: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nautobot-sync-operator"))
            .args([command, "-s", &repo("examples/snapshot.json"), "-f", file])
            .args(["--nautobot", &nb.url])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, _, err) = run("plan", &no_vms);
    assert_eq!(code, Some(2), "changes pending on an empty Nautobot: {err}");
    let (code, _, err) = run("apply", &no_vms);
    assert_eq!(code, Some(0), "{err}");
    let (code, plan, err) = run("plan", &no_vms);
    assert_eq!(code, Some(0), "nothing to change: {err}");
    // the plan names the Nautobot it read, and what that one does not store
    let api = nb.api.api_version();
    let first = plan.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("Nautobot {} (REST API {api})", installed_release()),
        "{plan}"
    );
    assert_eq!(
        plan.contains("not synced: dcim.deviceclusterassignment"),
        !api.has_device_cluster_assignments(),
        "{plan}"
    );

    // a person made a VM under one of our names in our cluster and tenant
    hand_made_vm(&nb.api, json!({})).await;
    let (code, report, err) = run("apply", &full);
    assert_eq!(code, Some(1), "{report}\n{err}");
    assert!(err.contains("could not be written"), "{err}");
    assert!(
        report.contains("rhel9-app-01"),
        "the report names it: {report}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
