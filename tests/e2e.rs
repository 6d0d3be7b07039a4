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
use nbsync::nautobot::NautobotApi;
use nbsync::records::Kind;
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

    // a VM gets more CPUs: Nautobot follows within seconds
    let mut vm = k8s
        .get(
            "kubevirt.io/v1",
            "VirtualMachine",
            Some("shop-prod"),
            "fedora-db-01",
        )
        .unwrap();
    vm["spec"]["template"]["spec"]["domain"]["cpu"]["cores"] = json!(6);
    k8s.apply_json(vm).unwrap();
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
