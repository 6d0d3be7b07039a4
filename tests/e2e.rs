//! End to end: the real operator binary, the Kubernetes API stand-in loaded with the sample
//! OpenShift + KubeVirt cluster, and a real Nautobot 3.2.7. Waits on conditions and on what
//! Nautobot holds, never on fixed sleeps.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/nautobot.rs"]
mod nautobot;

use std::time::Duration;

use e2e::*;
use nautobot::*;
use nbsync::model::Kind;
use nbsync::nautobot::NautobotApi;
use serde_json::json;

const T: Duration = Duration::from_secs(120);

async fn vm_field(
    api: &nbsync::nautobot::HttpClient,
    name: &str,
    field: &str,
) -> Option<serde_json::Value> {
    owned(api, "ocp-lab")
        .await
        .into_values()
        .find(|o| o.kind == Kind::VirtualMachine && o.display == name)
        .map(|o| o.fields.get(field).cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_syncs_the_cluster_and_follows_changes() {
    let Some(nb) = clean().await else { return };
    let k8s = cluster(true, &nb.url, json!({})).await;
    let op = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);

    wait_for("Ready and Synced", T, &op, async || {
        let s = nbsync_status(&k8s);
        condition(&s, "Ready").is_some_and(|c| c.0 == "True")
            && condition(&s, "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;
    let status = nbsync_status(&k8s);
    assert_eq!(status["kubevirtDetected"], json!(true));
    // which Nautobot it syncs to, and what that one does not store
    let api = nb.api.api_version();
    assert_eq!(status["nautobot"]["version"], json!(installed_release()));
    assert_eq!(status["nautobot"]["apiVersion"], json!(api.to_string()));
    let not_synced = &status["nautobot"]["notSynced"];
    if api.has_device_cluster_assignments() {
        assert!(not_synced.is_null(), "{not_synced}");
    } else {
        assert_eq!(
            not_synced[0]["kind"], "dcim.deviceclusterassignment",
            "{not_synced}"
        );
    }
    let cfg = config(json!({}));
    let mut snap = sample_snapshot();
    // the operator's own namespace is a user namespace too
    snap["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    let expected = project(&cfg, &snap);
    assert_eq!(
        status["objectsInSync"],
        json!(expected.records.len()),
        "{status:#}"
    );
    let in_nautobot = owned(&nb.api, "ocp-lab").await;
    assert_eq!(
        in_nautobot.keys().collect::<Vec<_>>(),
        expected.records.keys().collect::<Vec<_>>(),
        "Nautobot holds exactly the projection"
    );

    // Routes, Ingresses and claims read back as projected, field by field
    for name in [
        "ocp-lab/shop-prod/route/storefront",
        "ocp-lab/shop-staging/ingress/storefront",
        "ocp-lab/shop-prod/persistentvolumeclaim/rhel9-app-01-data",
    ] {
        let got = in_nautobot
            .values()
            .find(|o| o.kind == Kind::CloudService && o.display == name)
            .unwrap_or_else(|| panic!("{name} not in Nautobot"));
        let want = expected.records.values().find(|r| r.name == name).unwrap();
        for field in ["extra_config", "description"] {
            assert_eq!(got.fields.get(field), want.json(field), "{name} {field}");
        }
    }

    // the console's URL read from the cluster's Console: each VM, node, tenant and the
    // Cluster carry their console page, and the custom links that open it exist
    for o in in_nautobot.values().filter(|o| {
        matches!(
            o.kind,
            Kind::VirtualMachine | Kind::Device | Kind::Tenant | Kind::Cluster
        )
    }) {
        let want = &expected.records[&o.id].custom_fields[nbsync::model::CF_CONSOLE];
        assert!(want.is_string(), "{} {}", o.kind, o.display);
        assert_eq!(
            o.custom_fields.get(nbsync::model::CF_CONSOLE),
            Some(want),
            "{} {}",
            o.kind,
            o.display
        );
    }
    let links = nb.api.list("extras/custom-links/", &[]).await.unwrap();
    let types: std::collections::BTreeSet<&str> = links
        .iter()
        .filter(|l| l["target_url"] == "{{ obj.cf.k8s_console_url }}")
        .filter_map(|l| l["content_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "dcim.device",
            "tenancy.tenant",
            "virtualization.cluster",
            "virtualization.virtualmachine"
        ]
        .into()
    );

    // a new Route: its record appears and its Service lists the host
    k8s.apply_json(json!({"apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "cart", "namespace": "shop-prod", "uid": "route-cart"},
        "spec": {"host": "cart.shop.example.com", "to": {"kind": "Service", "name": "cart-api", "weight": 100},
                 "port": {"targetPort": "http"}, "tls": {"termination": "edge"}},
        "status": {"ingress": [{"host": "cart.shop.example.com", "routerName": "default",
                                "conditions": [{"type": "Admitted", "status": "True"}]}]}}))
    .unwrap();
    wait_for(
        "the new Route and its Service's host",
        Duration::from_secs(30),
        &op,
        async || {
            let all = owned(&nb.api, "ocp-lab").await;
            let field = |name: &str| {
                all.values()
                    .find(|o| o.kind == Kind::CloudService && o.display == name)
                    .and_then(|o| o.fields.get("extra_config").cloned())
            };
            field("ocp-lab/shop-prod/route/cart")
                .is_some_and(|e| e["hosts"] == json!(["cart.shop.example.com"]))
                && field("ocp-lab/shop-prod/service/cart-api")
                    .is_some_and(|e| e["externalHosts"] == json!(["cart.shop.example.com"]))
        },
    )
    .await;

    // a VM gets more CPUs: Nautobot follows within seconds
    edit_fedora_vm(&k8s, |spec| spec["domain"]["cpu"]["cores"] = json!(6));
    wait_for(
        "the VM resize in Nautobot",
        Duration::from_secs(30),
        &op,
        async || vm_field(&nb.api, "fedora-db-01", "vcpus").await == Some(json!(6)),
    )
    .await;

    // a new namespace becomes a tenant; a deleted Service goes (policy MarkOffline: marked)
    k8s.apply_json(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team-new", "annotations": {"openshift.io/display-name": "New team"}}}))
        .unwrap();
    wait_for("the new tenant", Duration::from_secs(30), &op, async || {
        nb.api
            .list("tenancy/tenants/", &[("name", "ocp-lab/team-new".into())])
            .await
            .is_ok_and(|t| t.len() == 1)
    })
    .await;

    // idle: no Nautobot request while nothing changes (between full passes)
    let log_len = op.logs().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let new_lines: String = op.logs()[log_len..].to_string();
    assert!(
        !new_lines.contains("sync pass done"),
        "idle passes ran: {new_lines}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_reported_and_fixing_it_resumes() {
    let Some(nb) = clean().await else { return };
    let k8s = cluster(false, &nb.url, json!({"sync": {"virtualMachines": false}})).await;
    k8s.delete("v1", "Secret", Some(NS), "nautobot-token")
        .unwrap();
    let op = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);
    wait_for("Ready=False SecretNotFound", T, &op, async || {
        condition(&nbsync_status(&k8s), "Ready") == Some(("False".into(), "SecretNotFound".into()))
    })
    .await;
    // a wrong token: Nautobot refuses it
    k8s.apply_json(token_secret(
        "nautobot-token",
        "0000000000000000000000000000000000000000",
    ))
    .unwrap();
    wait_for("Ready=False NautobotUnauthorized", T, &op, async || {
        condition(&nbsync_status(&k8s), "Ready")
            == Some(("False".into(), "NautobotUnauthorized".into()))
    })
    .await;
    // the right token, without a restart
    k8s.apply_json(token_secret("nautobot-token", TEST_TOKEN))
        .unwrap();
    wait_for("Ready=True after the token rotation", T, &op, async || {
        condition(&nbsync_status(&k8s), "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(nbsync_status(&k8s)["kubevirtDetected"], json!(false));
    let logs = op.logs();
    assert!(!logs.contains(TEST_TOKEN), "the token must never be logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubevirt_installed_later_is_picked_up_without_a_restart() {
    let Some(nb) = clean().await else { return };
    let k8s = cluster(false, &nb.url, json!({})).await;
    let op = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);
    wait_for("Synced without KubeVirt", T, &op, async || {
        let s = nbsync_status(&k8s);
        condition(&s, "Synced").is_some_and(|c| c.0 == "True")
            && s["kubevirtDetected"] == json!(false)
    })
    .await;
    assert!(
        owned(&nb.api, "ocp-lab")
            .await
            .values()
            .all(|o| o.kind != Kind::VirtualMachine)
    );
    // KubeVirt arrives: its CRDs, then the VMs and VMIs of the sample
    install_kubevirt(&k8s);
    wait_for("the VMs in Nautobot", T, &op, async || {
        owned(&nb.api, "ocp-lab")
            .await
            .values()
            .filter(|o| o.kind == Kind::VirtualMachine)
            .count()
            == 6
    })
    .await;
    wait_for(
        "kubevirtDetected in status",
        Duration::from_secs(30),
        &op,
        async || nbsync_status(&k8s)["kubevirtDetected"] == json!(true),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_writer_and_the_standby_takes_over() {
    let Some(nb) = clean().await else { return };
    let k8s = cluster(true, &nb.url, json!({})).await;
    let mut ops = [
        Operator::start(&k8s, "op-a", &[]),
        Operator::start(&k8s, "op-b", &[]),
    ];
    wait_for("Synced by the leader", T, &ops[0], async || {
        condition(&nbsync_status(&k8s), "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;
    let lease = k8s
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            Some(NS),
            "nautobot-sync-operator",
        )
        .unwrap();
    let holder = lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap()
        .to_string();
    let (l, s) = if holder == "op-a" { (0, 1) } else { (1, 0) };
    let standby_name = if s == 0 { "op-a" } else { "op-b" };
    assert!(
        !ops[s].logs().contains("sync pass done"),
        "the standby never writes"
    );
    let [first, second] = &mut ops;
    let (leader, standby) = if l == 0 {
        (first, &*second)
    } else {
        (second, &*first)
    };
    // the leader dies without releasing the Lease; the standby takes over and follows changes
    leader.kill().await;
    edit_fedora_vm(&k8s, |spec| {
        spec["domain"]["memory"]["guest"] = json!("3Gi")
    });
    wait_for("the standby applied the change", T, standby, async || {
        vm_field(&nb.api, "fedora-db-01", "memory").await == Some(json!(3072))
    })
    .await;
    let lease = k8s
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            Some(NS),
            "nautobot-sync-operator",
        )
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], json!(standby_name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_the_first_sync_makes_no_duplicates() {
    let Some(nb) = clean().await else { return };
    let k8s = cluster(true, &nb.url, json!({"sync": {"podIps": true}})).await;
    let mut first = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);
    // kill it as soon as it has written something
    wait_for("the first writes", T, &first, async || {
        nb.api
            .list("virtualization/clusters/", &[("name", "ocp-lab".into())])
            .await
            .is_ok_and(|c| !c.is_empty())
    })
    .await;
    first.kill().await;
    let second = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);
    wait_for("Synced after the restart", T, &second, async || {
        condition(&nbsync_status(&k8s), "Synced").is_some_and(|c| c.0 == "True")
            && nbsync_status(&k8s)["observedGeneration"] == json!(1)
    })
    .await;
    let vms = nb
        .api
        .list("virtualization/virtual-machines/", &[])
        .await
        .unwrap();
    let names: Vec<&str> = vms.iter().filter_map(|v| v["name"].as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "no duplicates: {names:?}");
    // one address per IPAM namespace (an address's namespace is its parent prefix's: the
    // sample has 192.0.2.10 twice, a load balancer's and a VM's on an isolated network)
    let ips = nb.api.list("ipam/ip-addresses/", &[]).await.unwrap();
    let hosts: Vec<(&str, &str)> = ips
        .iter()
        .filter_map(|v| Some((v["parent"]["id"].as_str()?, v["host"].as_str()?)))
        .collect();
    assert_eq!(hosts.len(), ips.len());
    let unique: std::collections::BTreeSet<_> = hosts.iter().copied().collect();
    assert_eq!(hosts.len(), unique.len(), "no duplicate addresses");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_dry_run_metrics_and_cleanup_on_delete() {
    let Some(nb) = clean().await else { return };
    let k8s = cluster(
        true,
        &nb.url,
        json!({"deletion": {"policy": "Delete"}, "onDelete": "Delete"}),
    )
    .await;
    let op = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);
    wait_for("Synced", T, &op, async || {
        condition(&nbsync_status(&k8s), "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;

    // a VM deleted as KubeVirt does it: a deletionTimestamp first (finalizers pending), the VMI
    // goes, then the finalizer is removed and the VM goes: Nautobot follows
    let vm_gone = async || {
        !owned(&nb.api, "ocp-lab")
            .await
            .values()
            .any(|o| o.kind == Kind::VirtualMachine && o.display == "legacy-cirros")
    };
    assert!(!vm_gone().await, "the VM is in Nautobot to begin with");
    k8s.delete(
        "kubevirt.io/v1",
        "VirtualMachine",
        Some("shop-staging"),
        "legacy-cirros",
    )
    .unwrap();
    for kind in ["VirtualMachineInstance", "VirtualMachine"] {
        edit_object(
            &k8s,
            "kubevirt.io/v1",
            kind,
            Some("shop-staging"),
            "legacy-cirros",
            |o| o["metadata"]["finalizers"] = json!([]),
        );
        k8s.delete(
            "kubevirt.io/v1",
            kind,
            Some("shop-staging"),
            "legacy-cirros",
        )
        .ok();
    }
    wait_for(
        "the VM gone from Nautobot",
        Duration::from_secs(30),
        &op,
        vm_gone,
    )
    .await;

    // deleting a Service removes its CloudService and its address from Nautobot
    k8s.delete("v1", "Service", Some("shop-staging"), "legacy-billing")
        .unwrap();
    wait_for(
        "the Service gone from Nautobot",
        Duration::from_secs(30),
        &op,
        async || {
            let o = owned(&nb.api, "ocp-lab").await;
            !o.values()
                .any(|o| o.display == "ocp-lab/shop-staging/service/legacy-billing")
                && !o
                    .values()
                    .any(|o| o.kind == Kind::IpAddress && o.display.starts_with("172.30.200.15"))
        },
    )
    .await;

    // metrics: the bound address is in the log
    let addr = metrics_addr(&op);
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for family in [
        "nbsync_nautobot_requests_total",
        "nbsync_writes_total",
        "nbsync_last_success_timestamp_seconds",
        "nbsync_leader 1",
        // the Kubernetes client's requests, counted by its tower layer: lists and watches
        r#"nbsync_kube_requests_total{status_class="2xx",verb="get"}"#,
        r#"nbsync_kube_requests_total{status_class="2xx",verb="watch"}"#,
        r#"nbsync_kube_requests_total{status_class="2xx",verb="patch"}"#,
        // the standard process families, under their standard names
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
    ] {
        assert!(body.contains(family), "{family} missing from /metrics");
    }
    assert!(!body.contains(TEST_TOKEN));
    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    // dry run: changes are computed and reported, not written
    edit_nbsync(&k8s, |o| o["spec"]["dryRun"] = json!(true));
    let generation = k8s
        .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
        .unwrap()["metadata"]["generation"]
        .clone();
    wait_for(
        "the dry run in effect",
        Duration::from_secs(60),
        &op,
        async || {
            let s = nbsync_status(&k8s);
            s["observedGeneration"] == generation
                && condition(&s, "Synced") == Some(("False".into(), "DryRun".into()))
        },
    )
    .await;
    edit_fedora_vm(&k8s, |spec| spec["domain"]["cpu"]["cores"] = json!(8));
    wait_for(
        "Synced=False DryRun",
        Duration::from_secs(60),
        &op,
        async || {
            condition(&nbsync_status(&k8s), "Synced") == Some(("False".into(), "DryRun".into()))
                && nbsync_status(&k8s)["pendingChanges"].as_i64().unwrap_or(0) >= 1
        },
    )
    .await;
    assert_eq!(
        vm_field(&nb.api, "fedora-db-01", "vcpus").await,
        Some(json!(2)),
        "nothing written in a dry run"
    );

    // deleting the NautobotSync with onDelete: Delete removes every owned object
    k8s.delete("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
        .unwrap();
    wait_for(
        "Nautobot cleaned up and the NautobotSync gone",
        T,
        &op,
        async || {
            owned(&nb.api, "ocp-lab").await.is_empty()
                && k8s
                    .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
                    .is_none()
        },
    )
    .await;
}
