//! Write semantics through a real kube client: SSA on status, optimistic concurrency, finalizers, no-op writes,
//! generation, and Status error bodies.

mod common;

use axum::http::{Request, header};
use common::within;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::{Error, ResourceExt};
use kube_stand_in::StandIn;
use serde_json::{Value, json};

fn api_error(err: Error) -> (u16, String) {
    match err {
        Error::Api(status) => (status.code, status.reason),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn server_side_apply_on_status_changes_only_status() {
    let stand_in = StandIn::start().await;
    stand_in.register_crd(
        "nautobot.example.com",
        "v1alpha1",
        "NautobotSync",
        "nautobotsyncs",
        true,
        &[],
    );
    let gvk = GroupVersionKind::gvk("nautobot.example.com", "v1alpha1", "NautobotSync");
    let api: Api<DynamicObject> =
        Api::namespaced_with(stand_in.client(), "default", &ApiResource::from_gvk(&gvk));
    let object = |body: Value| {
        let mut obj = DynamicObject::new("main", &ApiResource::from_gvk(&gvk)).within("default");
        obj.data = body;
        obj
    };
    let created = api
        .create(
            &PostParams::default(),
            &object(json!({"spec": {"url": "a"}, "status": {"ignored": true}})),
        )
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );

    let apply = PatchParams::apply("nautobot-sync-operator").force();
    let status = json!({
        "apiVersion": "nautobot.example.com/v1alpha1",
        "kind": "NautobotSync",
        "spec": {"url": "changed-through-status"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    });
    let patched = api
        .patch_status("main", &apply, &Patch::Apply(&status))
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["url"], "a");
    assert_eq!(patched.data["status"]["conditions"][0]["status"], "True");
    assert_eq!(patched.metadata.generation, Some(1));
    let recorded = stand_in.requests();
    let last = recorded.last().unwrap();
    assert!(last.path.ends_with("/nautobotsyncs/main/status") && last.query.contains("force=true"));

    // The main resource ignores status and bumps generation on spec changes only.
    let main = json!({
        "apiVersion": "nautobot.example.com/v1alpha1",
        "kind": "NautobotSync",
        "spec": {"url": "b"},
        "status": {"conditions": []},
    });
    let patched = api
        .patch("main", &apply, &Patch::Apply(&main))
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["url"], "b");
    assert_eq!(patched.data["status"]["conditions"][0]["status"], "True");
    assert_eq!(patched.metadata.generation, Some(2));
    let labelled = api
        .patch(
            "main",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(2));

    // Apply without a field manager is rejected; apply to a missing object creates it.
    let err = api
        .patch("main", &PatchParams::default(), &Patch::Apply(&main))
        .await
        .unwrap_err();
    assert_eq!(api_error(err).0, 422);
    let created = api
        .patch("other", &apply, &Patch::Apply(&main))
        .await
        .unwrap();
    assert_eq!(created.name_any(), "other");
    stand_in.shutdown().await;
}

#[tokio::test]
async fn lease_replace_with_stale_resource_version_conflicts() {
    let stand_in = StandIn::start().await;
    let leases: Api<Lease> = Api::namespaced(stand_in.client(), "default");
    let lease: Lease = typed(json!({
        "metadata": {"name": "nautobot-sync-operator"},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15},
    }));
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let err = leases
        .create(&PostParams::default(), &lease)
        .await
        .unwrap_err();
    assert_eq!(api_error(err), (409, "AlreadyExists".to_string()));

    let mut renewed = created.clone();
    renewed.spec.as_mut().unwrap().holder_identity = Some("pod-b".into());
    let replaced = leases
        .replace("nautobot-sync-operator", &PostParams::default(), &renewed)
        .await
        .unwrap();
    assert_ne!(replaced.resource_version(), created.resource_version());

    let mut stale = created;
    stale.spec.as_mut().unwrap().holder_identity = Some("pod-c".into());
    let err = leases
        .replace("nautobot-sync-operator", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(api_error(err), (409, "Conflict".to_string()));
    let current = leases.get("nautobot-sync-operator").await.unwrap();
    assert_eq!(
        current.spec.unwrap().holder_identity.as_deref(),
        Some("pod-b")
    );
    stand_in.shutdown().await;
}

#[tokio::test]
async fn finalizer_delete_flow() {
    let stand_in = StandIn::start().await;
    let maps: Api<ConfigMap> = Api::namespaced(stand_in.client(), "default");
    let map: ConfigMap = typed(json!({
        "metadata": {"name": "guarded", "finalizers": ["nautobot.example.com/cleanup"]},
        "data": {"k": "v"},
    }));
    let created = maps.create(&PostParams::default(), &map).await.unwrap();
    let mut events = maps
        .watch(
            &WatchParams::default().fields("metadata.name=guarded"),
            &created.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();

    let deleting = maps
        .delete("guarded", &DeleteParams::default())
        .await
        .unwrap();
    let deleting = deleting
        .left()
        .expect("an object while finalizers are pending");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert!(
        maps.get("guarded").await.is_ok(),
        "kept while finalizers are pending"
    );
    let event = within("MODIFIED", events.try_next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(event, WatchEvent::Modified(ref m) if m.metadata.deletion_timestamp.is_some()),
        "{event:?}"
    );

    // Adding a finalizer while deleting is refused; removing the last one (as kube's finalizer helper does,
    // with a JSON patch) completes the deletion.
    let add = Patch::Merge(
        json!({"metadata": {"finalizers": ["nautobot.example.com/cleanup", "other"]}}),
    );
    assert_eq!(
        api_error(
            maps.patch("guarded", &PatchParams::default(), &add)
                .await
                .unwrap_err()
        )
        .0,
        422
    );
    let remove = json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "nautobot.example.com/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]);
    let request = Request::patch("/api/v1/namespaces/default/configmaps/guarded")
        .header(header::CONTENT_TYPE, "application/json-patch+json")
        .body(remove.to_string().into_bytes())
        .unwrap();
    let finished: ConfigMap = stand_in.client().request(request).await.unwrap();
    assert!(finished.metadata.finalizers.unwrap_or_default().is_empty());
    let event = within("DELETED", events.try_next()).await.unwrap().unwrap();
    assert!(matches!(event, WatchEvent::Deleted(_)), "{event:?}");
    assert_eq!(api_error(maps.get("guarded").await.unwrap_err()).0, 404);
    stand_in.shutdown().await;
}

#[tokio::test]
async fn noop_write_does_not_bump_resource_version() {
    let stand_in = StandIn::start().await;
    let maps: Api<ConfigMap> = Api::namespaced(stand_in.client(), "default");
    let created = maps
        .create(
            &PostParams::default(),
            &typed(json!({"metadata": {"name": "cm"}, "data": {"k": "v"}})),
        )
        .await
        .unwrap();
    let rv = created.resource_version().unwrap();
    let mut events = maps
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();

    let same = maps
        .replace("cm", &PostParams::default(), &created)
        .await
        .unwrap();
    assert_eq!(same.resource_version().as_deref(), Some(rv.as_str()));
    let merge = Patch::Merge(json!({"data": {"k": "v"}}));
    let same = maps
        .patch("cm", &PatchParams::default(), &merge)
        .await
        .unwrap();
    assert_eq!(same.resource_version().as_deref(), Some(rv.as_str()));
    let apply = Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}));
    let same = maps
        .patch("cm", &PatchParams::apply("test"), &apply)
        .await
        .unwrap();
    assert_eq!(same.resource_version().as_deref(), Some(rv.as_str()));
    assert_eq!(stand_in.resource_version().to_string(), rv);

    // The first event the watch sees is the first real change.
    maps.patch(
        "cm",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "w"}})),
    )
    .await
    .unwrap();
    let event = within("the real change", events.try_next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(event, WatchEvent::Modified(ref m) if m.data.as_ref().unwrap()["k"] == "w"),
        "{event:?}"
    );
    stand_in.shutdown().await;
}

#[tokio::test]
async fn generation_bumps_only_on_spec_changes() {
    let stand_in = StandIn::start().await;
    let deployments: Api<Deployment> = Api::namespaced(stand_in.client(), "default");
    let deployment: Deployment = typed(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}},
    }));
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let labels = Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}}));
    let patched = deployments
        .patch("web", &PatchParams::default(), &labels)
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(1));
    let status = Patch::Merge(json!({"status": {"readyReplicas": 1}}));
    let patched = deployments
        .patch_status("web", &PatchParams::default(), &status)
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(1));
    assert_eq!(patched.status.unwrap().ready_replicas, Some(1));
    let scale = Patch::Strategic(json!({"spec": {"replicas": 3}}));
    let patched = deployments
        .patch("web", &PatchParams::default(), &scale)
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    assert_eq!(
        patched.status.unwrap().ready_replicas,
        Some(1),
        "status kept by main-resource writes"
    );
    stand_in.shutdown().await;
}

#[tokio::test]
async fn cluster_scoped_status_path_and_errors() {
    let stand_in = StandIn::start().await;
    let client = stand_in.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &typed(json!({"metadata": {"name": "team-a"}})),
        )
        .await
        .unwrap();
    let status = Patch::Merge(json!({"status": {"phase": "Active"}}));
    let patched = namespaces
        .patch_status("team-a", &PatchParams::default(), &status)
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().phase.as_deref(), Some("Active"));

    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    assert_eq!(
        api_error(maps.get("missing").await.unwrap_err()),
        (404, "NotFound".to_string())
    );
    let unnamed: ConfigMap = typed(json!({"metadata": {}}));
    assert_eq!(
        api_error(
            maps.create(&PostParams::default(), &unnamed)
                .await
                .unwrap_err()
        )
        .0,
        422
    );
    let generated: ConfigMap = typed(json!({"metadata": {"generateName": "cm-"}}));
    let created = maps
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    assert!(created.name_any().starts_with("cm-") && created.name_any().len() == 8);
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());

    // Deleting the namespace deletes what is in it.
    namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        maps.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    stand_in.shutdown().await;
}
