//! Faults on the Kubernetes side, and people editing Nautobot while the operator runs: the real
//! operator binary, the API stand-in (with its fault hooks) and a real Nautobot. Nothing may be
//! lost, duplicated or removed without a person allowing it. Results: docs/reliability.md.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/nautobot.rs"]
mod nautobot;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::*;
use nautobot::*;
use nbsync::model::Kind;
use nbsync::nautobot::NautobotApi;
use nbsync::plan::ObservedObject;
use serde_json::{Value, json};
use uuid::Uuid;

const T: Duration = Duration::from_secs(120);

async fn synced(k8s: &kube_stand_in::StandIn, op: &Operator) {
    wait_for("Synced", T, op, async || {
        condition(&nbsync_status(k8s), "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;
}

/// A clean Nautobot, the sample cluster (with or without KubeVirt) with `spec` merged into its
/// NautobotSync, the operator, its first sync done, and what Nautobot then holds.
async fn synced_with(
    kubevirt: bool,
    spec: Value,
) -> Option<(
    Nautobot,
    kube_stand_in::StandIn,
    Operator,
    BTreeMap<Uuid, ObservedObject>,
)> {
    let nb = clean().await?;
    let k8s = cluster(kubevirt, &nb.url, spec).await;
    let op = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);
    synced(&k8s, &op).await;
    let before = owned(&nb.api, "ocp-lab").await;
    Some((nb, k8s, op, before))
}

/// No two owned objects of one kind with the same name, for the kinds whose names are unique
/// within a cluster (interfaces, for one, are all called `default` or `eth0`).
fn assert_no_duplicates(objects: &BTreeMap<Uuid, ObservedObject>) {
    let mut seen = BTreeSet::new();
    let unique = [
        Kind::Cluster,
        Kind::Tenant,
        Kind::Device,
        Kind::VirtualMachine,
        Kind::CloudService,
        Kind::Prefix,
    ];
    for o in objects.values().filter(|o| unique.contains(&o.kind)) {
        assert!(
            seen.insert((o.kind, o.display.clone())),
            "duplicate {:?} {}",
            o.kind,
            o.display
        );
    }
}

fn vms(objects: &BTreeMap<Uuid, ObservedObject>) -> BTreeSet<Uuid> {
    objects
        .values()
        .filter(|o| o.kind == Kind::VirtualMachine)
        .map(|o| o.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_with_lost_watch_history_loses_nothing() {
    let Some((nb, k8s, op, before)) =
        synced_with(true, json!({"deletion": {"policy": "Delete"}})).await
    else {
        return;
    };

    // the API server goes away; meanwhile a Service is deleted and a VM resized, and the watch
    // history is compacted, so the operator must re-list to learn about either
    k8s.set_unavailable(true);
    k8s.drop_watches();
    k8s.delete("v1", "Service", Some("shop-staging"), "legacy-billing")
        .unwrap();
    edit_fedora_vm(&k8s, |spec| spec["domain"]["cpu"]["cores"] = json!(6));
    k8s.compact();
    tokio::time::sleep(Duration::from_secs(20)).await; // the outage itself
    let during = owned(&nb.api, "ocp-lab").await;
    assert_eq!(
        during.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "nothing is removed or added while the API server is away"
    );
    // kube's client retries the 503s itself (Retry-After), and says so
    assert!(
        op.logs().contains("503 Service Unavailable"),
        "the outage shows in the log"
    );
    k8s.set_unavailable(false);

    wait_for("the re-list seen in Nautobot", T, &op, async || {
        let o = owned(&nb.api, "ocp-lab").await;
        let service_gone = !o
            .values()
            .any(|o| o.display == "ocp-lab/shop-staging/service/legacy-billing");
        let resized = o.values().any(|o| {
            o.kind == Kind::VirtualMachine
                && o.display == "fedora-db-01"
                && o.fields.get("vcpus") == Some(&json!(6))
        });
        service_gone && resized
    })
    .await;
    let after = owned(&nb.api, "ocp-lab").await;
    assert_no_duplicates(&after);
    let lost: Vec<&str> = before
        .iter()
        .filter(|(id, o)| {
            !after.contains_key(id)
                && !o.display.contains("legacy-billing")
                && !o.display.starts_with("172.30.200.15")
        })
        .map(|(_, o)| o.display.as_str())
        .collect();
    assert!(lost.is_empty(), "lost in the outage: {lost:?}");
    wait_for("Ready again", T, &op, async || {
        condition(&nbsync_status(&k8s), "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubevirt_removed_holds_every_removal_and_its_return_duplicates_nothing() {
    let Some((nb, k8s, op, before)) =
        synced_with(true, json!({"deletion": {"policy": "Delete"}})).await
    else {
        return;
    };
    let vms_before = vms(&before);
    assert_eq!(vms_before.len(), 6);

    // KubeVirt is uninstalled, as the API server does it: the VirtualMachine CRD (which carries
    // the API server's cleanup finalizer) gets a deletionTimestamp, then every VM and VMI is
    // deleted (a DELETED event each, like a person deleting them), then the CRDs go
    let crd = "virtualmachines.kubevirt.io";
    let cleanup = "customresourcecleanup.apiextensions.k8s.io";
    edit_object(
        &k8s,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        crd,
        |o| o["metadata"]["finalizers"] = json!([cleanup]),
    );
    k8s.delete(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        crd,
    )
    .unwrap();
    wait_for("the uninstall noticed", T, &op, async || {
        op.logs().contains("KubeVirt is being uninstalled")
    })
    .await;
    for kind in ["VirtualMachineInstance", "VirtualMachine"] {
        for o in k8s.list("kubevirt.io/v1", kind, None) {
            let (ns, name) = (
                o["metadata"]["namespace"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
            );
            edit_object(&k8s, "kubevirt.io/v1", kind, Some(&ns), &name, |o| {
                o["metadata"]["finalizers"] = json!([])
            });
            k8s.delete("kubevirt.io/v1", kind, Some(&ns), &name)
                .unwrap();
        }
    }
    edit_object(
        &k8s,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        crd,
        |o| o["metadata"]["finalizers"] = json!([]),
    );
    k8s.delete(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        "virtualmachineinstances.kubevirt.io",
    )
    .unwrap();
    wait_for("the removals held, and why", T, &op, async || {
        let s = nbsync_status(&k8s);
        s["kubevirtDetected"] == json!(false)
            && condition(&s, "Degraded") == Some(("True".into(), "DeletionsHeld".into()))
            && s["heldDeletions"].as_i64().unwrap_or(0) > 0
    })
    .await;
    let message = nbsync_status(&k8s)["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Degraded")
        .unwrap()["message"]
        .to_string();
    assert!(message.contains("KubeVirt"), "{message}");
    assert_eq!(
        owned(&nb.api, "ocp-lab").await.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "nothing removed while KubeVirt is missing"
    );

    // KubeVirt comes back with the same VMs: the same records, no duplicates, nothing held
    install_kubevirt(&k8s);
    wait_for("back to normal", T, &op, async || {
        let s = nbsync_status(&k8s);
        s["kubevirtDetected"] == json!(true)
            && s["heldDeletions"] == json!(0)
            && condition(&s, "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;
    let after = owned(&nb.api, "ocp-lab").await;
    assert_no_duplicates(&after);
    assert_eq!(vms(&after), vms_before, "the same VM records");
    assert_eq!(after.len(), before.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_that_excludes_everything_is_held_until_a_person_allows_it() {
    let Some((nb, k8s, op, before)) =
        synced_with(false, json!({"deletion": {"policy": "Delete"}})).await
    else {
        return;
    };
    let tenants =
        |o: &BTreeMap<Uuid, ObservedObject>| o.values().filter(|o| o.kind == Kind::Tenant).count();
    assert!(tenants(&before) > 0);

    edit_nbsync(&k8s, |o| {
        o["spec"]["namespaceFilter"] = json!({"exclude": [".*"]})
    });
    wait_for("the guard holding", T, &op, async || {
        let s = nbsync_status(&k8s);
        condition(&s, "Degraded") == Some(("True".into(), "DeletionsHeld".into()))
            && s["heldDeletions"].as_i64().unwrap_or(0) > 5
    })
    .await;
    assert_eq!(
        owned(&nb.api, "ocp-lab").await.len(),
        before.len(),
        "nothing removed"
    );

    // a person allows it once: the removals happen, and the annotation is used up
    edit_nbsync(&k8s, |o| {
        o["metadata"]["annotations"]["nbsync.dev/allow-mass-deletion"] = json!("true")
    });
    wait_for("the tenants removed", T, &op, async || {
        tenants(&owned(&nb.api, "ocp-lab").await) == 0
    })
    .await;
    wait_for("the annotation removed after use", T, &op, async || {
        k8s.get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
            .is_some_and(|o| {
                o["metadata"]["annotations"]["nbsync.dev/allow-mass-deletion"].is_null()
            })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_editing_nautobot_are_repaired_or_respected() {
    let Some((nb, k8s, op, before)) = synced_with(true, json!({})).await else {
        return;
    };
    let vm = |name: &str| {
        before
            .values()
            .find(|o| o.kind == Kind::VirtualMachine && o.display == name)
            .unwrap_or_else(|| panic!("no VM {name}"))
            .id
    };
    let (deleted, renamed, tagged) = (vm("fedora-db-01"), vm("rhel9-app-01"), vm("win2022-vdi-01"));
    let endpoint = "virtualization/virtual-machines/";

    // by hand: delete one owned VM, rename another, add a tag of one's own to a third, and
    // create an unowned VM with a name the operator will want
    nb.api.delete(endpoint, vec![deleted]).await.unwrap();
    nb.api
        .update(
            endpoint,
            vec![json!({"id": renamed, "name": "renamed-by-hand"})],
        )
        .await
        .unwrap();
    let mine = nb
        .api
        .create(
            "extras/tags/",
            vec![json!({"name": "hand-made", "content_types": ["virtualization.virtualmachine"]})],
        )
        .await
        .unwrap();
    let tags: Vec<Value> = nb.api.get(endpoint, tagged).await.unwrap().unwrap()["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json!({"id": t["id"]}))
        .chain([json!({"id": mine[0]["id"]})])
        .collect();
    nb.api
        .update(endpoint, vec![json!({"id": tagged, "tags": tags})])
        .await
        .unwrap();

    // the next full pass (a spec change starts one; otherwise the resync interval) repairs
    edit_nbsync(&k8s, |o| o["spec"]["fullResyncInterval"] = json!("59m"));
    wait_for(
        "the deleted VM recreated and the rename undone",
        T,
        &op,
        async || {
            let Ok(Some(d)) = nb.api.get(endpoint, deleted).await else {
                return false;
            };
            let Ok(Some(r)) = nb.api.get(endpoint, renamed).await else {
                return false;
            };
            d["name"] == "fedora-db-01" && r["name"] == "rhel9-app-01"
        },
    )
    .await;
    let t = nb.api.get(endpoint, tagged).await.unwrap().unwrap();
    let ids: Vec<&Value> = t["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert!(
        ids.contains(&&mine[0]["id"]),
        "a tag added by hand is kept: {ids:?}"
    );
    assert!(ids.len() >= 2, "and the operator's own tags too: {ids:?}");
    let after = owned(&nb.api, "ocp-lab").await;
    assert_no_duplicates(&after);
    assert_eq!(after.len(), before.len(), "nothing lost, nothing extra");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_cluster_leaves_the_old_objects_alone_and_says_how_to_remove_them() {
    let Some((nb, k8s, op, before)) =
        synced_with(false, json!({"deletion": {"policy": "Delete"}})).await
    else {
        return;
    };
    assert_eq!(
        nbsync_status(&k8s)["syncedClusterName"].as_str(),
        Some("ocp-lab")
    );
    let n = before.len();
    edit_nbsync(&k8s, |o| o["spec"]["clusterName"] = json!("ocp-renamed"));
    // at once "not counted yet"; counted by the first full pass under the new name
    wait_for("the rename reported with a count", T, &op, async || {
        let s = nbsync_status(&k8s);
        condition(&s, "Degraded") == Some(("True".into(), "ClusterRenamed".into()))
            && condition(&s, "Synced").is_some_and(|c| c.0 == "True")
            && s["leftBehind"][0]["objects"].is_number()
    })
    .await;
    let s = nbsync_status(&k8s);
    assert_eq!(s["syncedClusterName"].as_str(), Some("ocp-renamed"));
    assert_eq!(
        s["leftBehind"],
        json!([{"clusterName": "ocp-lab", "objects": n}])
    );
    let message = condition_message(&s, "Degraded");
    assert!(
        message.contains(&format!("{n} objects owned under \"ocp-lab\"")),
        "{message}"
    );
    // the old objects are untouched, and the cluster is synced again under its new name
    let old = owned(&nb.api, "ocp-lab").await;
    assert_eq!(old.len(), n, "nothing of the old name removed");
    assert!(old.iter().all(|(id, o)| before[id].fields == o.fields));
    let renamed = owned(&nb.api, "ocp-renamed").await;
    assert_eq!(renamed.len(), n);
    assert_no_duplicates(&renamed);

    // renamed again before anyone cleaned up: both earlier names are followed
    edit_nbsync(&k8s, |o| o["spec"]["clusterName"] = json!("ocp-third"));
    wait_for("the second rename reported", T, &op, async || {
        let s = nbsync_status(&k8s);
        s["syncedClusterName"].as_str() == Some("ocp-third")
            && s["leftBehind"]
                .as_array()
                .is_some_and(|l| l.len() == 2 && l.iter().all(|e| e["objects"].is_number()))
            && condition(&s, "Degraded") == Some(("True".into(), "ClusterRenamed".into()))
    })
    .await;
    let s = nbsync_status(&k8s);
    assert_eq!(
        s["leftBehind"],
        json!([{"clusterName": "ocp-lab", "objects": n},
               {"clusterName": "ocp-renamed", "objects": n}])
    );
    let message = condition_message(&s, "Degraded");
    assert!(
        message.contains(&format!(
            "{n} objects owned under \"ocp-lab\", {n} objects owned under \"ocp-renamed\""
        )),
        "{message}"
    );
    assert_eq!(owned(&nb.api, "ocp-lab").await.len(), n);
    assert_eq!(owned(&nb.api, "ocp-renamed").await.len(), n);
    let third = owned(&nb.api, "ocp-third").await;
    assert_eq!(third.len(), n);
    assert_no_duplicates(&third);

    // the way out the message gives: a suspended NautobotSync under the old name with
    // onDelete: Delete, deleted once it is Ready
    let cleaner = nbsync_copy(
        &k8s,
        "old-name",
        json!({"clusterName": "ocp-lab", "suspend": true, "onDelete": "Delete"}),
    );
    k8s.apply_json(cleaner).unwrap();
    wait_for("the cleaner ready", T, &op, async || {
        k8s.get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "old-name")
            .is_some_and(|o| {
                condition(&o["status"], "Ready").is_some_and(|c| c.0 == "True")
                    && o["metadata"]["finalizers"]
                        .as_array()
                        .is_some_and(|f| !f.is_empty())
            })
    })
    .await;
    k8s.delete("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "old-name")
        .unwrap();
    wait_for("the old objects removed", T, &op, async || {
        owned(&nb.api, "ocp-lab").await.is_empty()
    })
    .await;
    assert_eq!(owned(&nb.api, "ocp-renamed").await.len(), n, "untouched");
    assert_eq!(owned(&nb.api, "ocp-third").await.len(), n, "untouched");
    // the next full pass (a spec change starts one) finds only the second name left behind
    edit_nbsync(&k8s, |o| o["spec"]["fullResyncInterval"] = json!("30m"));
    wait_for("ocp-lab no longer listed", T, &op, async || {
        nbsync_status(&k8s)["leftBehind"] == json!([{"clusterName": "ocp-renamed", "objects": n}])
    })
    .await;
    let s = nbsync_status(&k8s);
    assert_eq!(s["syncedClusterName"].as_str(), Some("ocp-third"));
    let message = condition_message(&s, "Degraded");
    assert!(
        !message.contains("ocp-lab") && message.contains("ocp-renamed"),
        "{message}"
    );
}

/// A copy of the sample NautobotSync under another name, with `spec` merged in.
fn nbsync_copy(k8s: &kube_stand_in::StandIn, name: &str, spec: Value) -> Value {
    let mut copy = k8s
        .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
        .unwrap();
    copy["metadata"] = json!({"name": name, "namespace": NS, "generation": 1});
    copy.as_object_mut().unwrap().remove("status");
    json_patch::merge(&mut copy["spec"], &spec);
    copy
}

fn nbsync_of(k8s: &kube_stand_in::StandIn, name: &str) -> Option<Value> {
    k8s.get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_for_the_same_cluster_name_is_refused_and_its_deletion_wipes_nothing() {
    let Some((nb, k8s, op, before)) = synced_with(false, json!({})).await else {
        return;
    };
    let n = before.len();
    // a copy that would delete what it does not select, and everything on deletion
    let copy = json!({"namespaceFilter": {"include": ["shop-prod"]},
                      "deletion": {"policy": "Delete"}, "onDelete": "Delete"});
    k8s.apply_json(nbsync_copy(&k8s, "copy", copy.clone()))
        .unwrap();
    wait_for("the copy refused", T, &op, async || {
        nbsync_of(&k8s, "copy").is_some_and(|o| {
            condition(&o["status"], "Ready")
                == Some(("False".into(), "DuplicateClusterName".into()))
        })
    })
    .await;
    let msg = condition_message(&nbsync_of(&k8s, "copy").unwrap()["status"], "Ready");
    eprintln!("copy: {msg}");
    assert!(
        msg.contains(&format!("{NS}/ocp-lab")) && msg.contains("ocp-lab"),
        "{msg}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let now = owned(&nb.api, "ocp-lab").await;
    assert_eq!(now.len(), n, "the copy changed nothing");
    assert!(now.iter().all(|(id, o)| before[id].fields == o.fields));
    // deleting it (onDelete: Delete) leaves the live sync's objects alone
    k8s.delete("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "copy")
        .unwrap();
    wait_for("the copy gone", T, &op, async || {
        nbsync_of(&k8s, "copy").is_none()
    })
    .await;
    let events = k8s.list("events.k8s.io/v1", "Event", Some(NS));
    assert!(
        events.iter().any(|e| e["reason"] == "CleanupSkipped"),
        "a Warning Event says why: {events:#?}"
    );
    assert_eq!(owned(&nb.api, "ocp-lab").await.len(), n, "nothing deleted");
    assert!(condition(&nbsync_status(&k8s), "Ready").is_some_and(|c| c.0 == "True"));

    // a copy like the original waits its turn, and takes over when the original goes
    k8s.apply_json(nbsync_copy(&k8s, "copy", json!({})))
        .unwrap();
    wait_for("the copy refused again", T, &op, async || {
        nbsync_of(&k8s, "copy").is_some_and(|o| {
            condition(&o["status"], "Ready")
                == Some(("False".into(), "DuplicateClusterName".into()))
        })
    })
    .await;
    k8s.delete("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
        .unwrap();
    let gone = std::time::Instant::now();
    wait_for("the copy took over", T, &op, async || {
        nbsync_of(&k8s, "copy").is_some_and(|o| {
            condition(&o["status"], "Ready") == Some(("True".into(), "Ready".into()))
                && condition(&o["status"], "Synced").is_some_and(|c| c.0 == "True")
        })
    })
    .await;
    eprintln!(
        "the copy synced {:.1}s after the original was deleted",
        gone.elapsed().as_secs_f64()
    );
    let after = owned(&nb.api, "ocp-lab").await;
    assert_no_duplicates(&after);
    assert_eq!(
        after.len(),
        n,
        "the same objects, adopted by the new writer"
    );
}
