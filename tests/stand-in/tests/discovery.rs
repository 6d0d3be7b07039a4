//! Discovery as kube's client performs it, including kinds that appear and disappear at run time.

mod common;

use axum::http::{Request, header};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::{self, Discovery, Scope};
use kube_stand_in::{Options, StandIn};
use serde_json::{Value, json};

#[tokio::test]
async fn version_and_builtin_discovery() {
    let stand_in = StandIn::start().await;
    let client = stand_in.client();
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    for group in [
        "",
        "apps",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
    ] {
        assert!(discovery.has_group(group), "group {group:?} missing");
    }
    assert!(!discovery.has_group("config.openshift.io"));
    let (pods, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Pod"))
        .unwrap();
    assert_eq!(pods.plural, "pods");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.supports_operation("watch"));
    assert!(
        caps.subresources
            .iter()
            .any(|(sub, _)| sub.plural == "status")
    );
    let (_, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
        .unwrap();
    assert_eq!(caps.scope, Scope::Cluster);

    let openshift = StandIn::start_with(Options {
        openshift: true,
        ..Options::default()
    })
    .await;
    let gvk = GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterVersion");
    let (_, caps) = discovery::pinned_kind(&openshift.client(), &gvk)
        .await
        .unwrap();
    assert_eq!(caps.scope, Scope::Cluster);
    stand_in.shutdown().await;
    openshift.shutdown().await;
}

#[tokio::test]
async fn pinned_kind_follows_late_kubevirt_registration() {
    let stand_in = StandIn::start().await;
    let client = stand_in.client();
    let gvk = GroupVersionKind::gvk("kubevirt.io", "v1", "VirtualMachine");
    assert!(
        discovery::pinned_kind(&client, &gvk).await.is_err(),
        "served before registration"
    );

    stand_in.register_crd(
        "kubevirt.io",
        "v1",
        "VirtualMachine",
        "virtualmachines",
        true,
        &["vm", "vms"],
    );
    stand_in.register_crd(
        "kubevirt.io",
        "v1",
        "VirtualMachineInstance",
        "virtualmachineinstances",
        true,
        &["vmi"],
    );
    let (resource, caps) = discovery::pinned_kind(&client, &gvk).await.unwrap();
    assert_eq!(resource.plural, "virtualmachines");
    assert_eq!(resource.api_version, "kubevirt.io/v1");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(
        caps.subresources
            .iter()
            .any(|(sub, _)| sub.plural == "status")
    );
    let full = Discovery::new(client.clone()).run().await.unwrap();
    assert!(full.has_group("kubevirt.io"));

    stand_in
        .apply_json(common::virtual_machine("vm-1"))
        .unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    assert_eq!(api.list(&Default::default()).await.unwrap().items.len(), 1);

    assert!(stand_in.unregister("kubevirt.io", "virtualmachines"));
    assert!(
        discovery::pinned_kind(&client, &gvk).await.is_err(),
        "served after removal"
    );
    let vmi = GroupVersionKind::gvk("kubevirt.io", "v1", "VirtualMachineInstance");
    assert!(discovery::pinned_kind(&client, &vmi).await.is_ok());
    let err = api.list(&Default::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    stand_in.shutdown().await;
}

fn nautobot_sync_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "nautobotsyncs.nautobot.example.com"},
        "spec": {
            "group": "nautobot.example.com",
            "scope": "Namespaced",
            "names": {"kind": "NautobotSync", "plural": "nautobotsyncs", "singular": "nautobotsync",
                      "shortNames": ["nbs"]},
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Synced", "type": "integer", "jsonPath": ".status.syncedObjects"},
                    {"name": "URL", "type": "string", "jsonPath": ".spec.url", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }],
        },
    })
}

#[tokio::test]
async fn crd_object_registers_kind_and_serves_tables() {
    let stand_in = StandIn::start().await;
    let client = stand_in.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = serde_json::from_value(nautobot_sync_crd()).unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();

    let gvk = GroupVersionKind::gvk("nautobot.example.com", "v1alpha1", "NautobotSync");
    let (resource, caps) = discovery::pinned_kind(&client, &gvk).await.unwrap();
    assert!(
        caps.subresources
            .iter()
            .any(|(sub, _)| sub.plural == "status")
    );
    stand_in
        .apply_json(json!({
            "apiVersion": "nautobot.example.com/v1alpha1",
            "kind": "NautobotSync",
            "metadata": {"name": "main", "namespace": "default"},
            "spec": {"url": "http://nautobot"},
            "status": {"syncedObjects": 7, "conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .unwrap();

    let request = Request::get(
        "/apis/nautobot.example.com/v1alpha1/namespaces/default/nautobotsyncs?limit=500",
    )
    .header(
        header::ACCEPT,
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    .body(Vec::new())
    .unwrap();
    let table: Value = client.request(request).await.unwrap();
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Ready", "Synced", "URL", "Age"]);
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "main");
    assert_eq!(cells[1], "True");
    assert_eq!(cells[2], 7);
    assert_eq!(cells[3], "http://nautobot");
    assert!(
        cells[4].as_str().unwrap().ends_with('s'),
        "age cell {}",
        cells[4]
    );
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");

    // Deleting the CRD object removes the kind again.
    crds.delete("nautobotsyncs.nautobot.example.com", &Default::default())
        .await
        .unwrap();
    assert!(discovery::pinned_kind(&client, &gvk).await.is_err());
    assert!(
        stand_in
            .list(&resource.api_version, "NautobotSync", None)
            .is_empty()
    );
    stand_in.shutdown().await;
}
