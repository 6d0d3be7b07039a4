//! kube-runtime reflectors and watchers against the stand-in: selectors, streaming lists, 410 recovery and
//! dynamic objects.

mod common;

use common::{pod, until, virtual_machine, within};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::runtime::reflector::{self, Store, reflector, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt, discovery};
use kube_stand_in::StandIn;
use serde_json::json;
use tokio::task::JoinHandle;

/// Runs a Pod reflector in the background and waits until it is ready.
async fn pod_reflector(client: Client, config: watcher::Config) -> (Store<Pod>, JoinHandle<()>) {
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(Api::<Pod>::namespaced(client, "default"), config),
    )
    .default_backoff()
    .applied_objects();
    let task = tokio::spawn(stream.for_each(|_| async {}));
    within("the reflector to become ready", reader.wait_until_ready())
        .await
        .unwrap();
    (reader, task)
}

fn names(store: &Store<Pod>) -> Vec<String> {
    let mut names: Vec<String> = store.state().iter().map(|p| p.name_any()).collect();
    names.sort();
    names
}

/// Creates, relabels and deletes Pods through the API and checks the selector-filtered store follows.
async fn follows_selection(stand_in: &StandIn, config: watcher::Config) {
    let pods: Api<Pod> = Api::namespaced(stand_in.client(), "default");
    let create = |value| {
        let pods = pods.clone();
        async move {
            pods.create(
                &PostParams::default(),
                &serde_json::from_value(value).unwrap(),
            )
            .await
            .unwrap()
        }
    };
    create(pod("web-0", "web")).await;
    create(pod("db-0", "db")).await;
    let (store, task) = pod_reflector(stand_in.client(), config).await;
    assert_eq!(names(&store), ["web-0"]);

    create(pod("web-1", "web")).await;
    create(pod("db-1", "db")).await;
    until("web-1 in the store", || names(&store) == ["web-0", "web-1"]).await;

    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    pods.patch("db-0", &PatchParams::default(), &relabel("api"))
        .await
        .unwrap();
    until("db-0 entering the selection", || {
        names(&store) == ["db-0", "web-0", "web-1"]
    })
    .await;
    pods.patch("web-0", &PatchParams::default(), &relabel("db"))
        .await
        .unwrap();
    until("web-0 leaving the selection", || {
        names(&store) == ["db-0", "web-1"]
    })
    .await;

    let status = Patch::Merge(json!({"status": {"phase": "Running"}}));
    pods.patch_status("web-1", &PatchParams::default(), &status)
        .await
        .unwrap();
    until("the status update", || {
        store
            .state()
            .iter()
            .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;

    pods.delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    until("web-1 deleted", || names(&store) == ["db-0"]).await;
    task.abort();
}

#[tokio::test]
async fn list_watch_reflector_follows_label_selector() {
    let stand_in = StandIn::start().await;
    follows_selection(
        &stand_in,
        watcher::Config::default().labels("app in (web,api)"),
    )
    .await;
    let requests = stand_in.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.query.contains("labelSelector=app+in+%28web%2Capi%29")
                || r.query.contains("labelSelector=app%20in%20%28web%2Capi%29"))
    );
    assert!(requests.iter().any(|r| r.query.contains("watch=true")));
    stand_in.shutdown().await;
}

#[tokio::test]
async fn streaming_list_reflector_follows_label_selector() {
    let stand_in = StandIn::start().await;
    let config = watcher::Config::default()
        .labels("app!=db")
        .streaming_lists();
    follows_selection(&stand_in, config).await;
    let requests = stand_in.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.query.contains("sendInitialEvents=true"))
    );
    let lists = requests
        .iter()
        .filter(|r| r.method == "GET" && !r.query.contains("watch=true"));
    assert_eq!(lists.count(), 0, "a streaming list needs no list request");
    stand_in.shutdown().await;
}

#[tokio::test]
async fn reflector_relists_after_compaction_and_dropped_watches() {
    let stand_in = StandIn::start().await;
    for name in ["a", "b", "c"] {
        stand_in.apply_json(pod(name, "web")).unwrap();
    }
    let (store, task) = pod_reflector(stand_in.client(), watcher::Config::default()).await;
    assert_eq!(names(&store), ["a", "b", "c"]);
    let is_list =
        |r: &kube_stand_in::RecordedRequest| r.method == "GET" && !r.query.contains("watch=true");
    let lists_before = stand_in.requests().iter().filter(|r| is_list(r)).count();

    stand_in.compact();
    stand_in.drop_watches();
    stand_in.delete("v1", "Pod", Some("default"), "a").unwrap();
    stand_in.apply_json(pod("d", "web")).unwrap();
    until("the store to match the server after the re-list", || {
        names(&store) == ["b", "c", "d"]
    })
    .await;
    until("a re-list", || {
        stand_in.requests().iter().filter(|r| is_list(r)).count() > lists_before
    })
    .await;

    // Further changes still flow on the new watch.
    stand_in.apply_json(pod("e", "web")).unwrap();
    until("e in the store", || names(&store) == ["b", "c", "d", "e"]).await;
    task.abort();
    stand_in.shutdown().await;
}

#[tokio::test]
async fn reflector_resumes_from_history_without_relisting() {
    let stand_in = StandIn::start().await;
    stand_in.apply_json(pod("a", "web")).unwrap();
    let (store, task) = pod_reflector(stand_in.client(), watcher::Config::default()).await;
    stand_in.clear_requests();
    stand_in.drop_watches();
    stand_in.apply_json(pod("b", "web")).unwrap();
    until("b in the store", || names(&store) == ["a", "b"]).await;
    until("a re-watch", || {
        stand_in
            .requests()
            .iter()
            .any(|r| r.query.contains("watch=true"))
    })
    .await;
    assert!(
        stand_in
            .requests()
            .iter()
            .all(|r| r.query.contains("watch=true")),
        "re-listed"
    );
    task.abort();
    stand_in.shutdown().await;
}

/// The next item of a watcher stream, within the test deadline.
async fn next<T, E: std::fmt::Debug>(
    events: &mut (impl futures::Stream<Item = Result<T, E>> + Unpin),
) -> T {
    within("a watcher event", events.try_next())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn dynamic_watcher_on_virtual_machines() {
    let stand_in = StandIn::start().await;
    let client = stand_in.client();
    stand_in.register_crd(
        "kubevirt.io",
        "v1",
        "VirtualMachine",
        "virtualmachines",
        true,
        &["vm"],
    );
    let gvk = GroupVersionKind::gvk("kubevirt.io", "v1", "VirtualMachine");
    let (resource, _) = discovery::pinned_kind(&client, &gvk).await.unwrap();
    stand_in.apply_json(virtual_machine("vm-0")).unwrap();

    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let writer = Writer::new(resource.clone());
    let reader = writer.as_reader();
    let mut events = reflector(
        writer,
        watcher(api, watcher::Config::default().streaming_lists()),
    )
    .default_backoff()
    .boxed();
    assert!(matches!(next(&mut events).await, watcher::Event::Init));
    assert!(
        matches!(next(&mut events).await, watcher::Event::InitApply(vm) if vm.name_any() == "vm-0")
    );
    assert!(matches!(next(&mut events).await, watcher::Event::InitDone));

    stand_in.apply_json(virtual_machine("vm-1")).unwrap();
    assert!(
        matches!(next(&mut events).await, watcher::Event::Apply(vm) if vm.name_any() == "vm-1")
    );
    let mut stopped = virtual_machine("vm-1");
    stopped["spec"]["runStrategy"] = "Halted".into();
    stand_in.apply_json(stopped).unwrap();
    let event = next(&mut events).await;
    assert!(
        matches!(&event, watcher::Event::Apply(vm) if vm.data["spec"]["runStrategy"] == "Halted"),
        "{event:?}"
    );
    stand_in
        .delete("kubevirt.io/v1", "VirtualMachine", Some("default"), "vm-0")
        .unwrap();
    assert!(
        matches!(next(&mut events).await, watcher::Event::Delete(vm) if vm.name_any() == "vm-0")
    );
    let names: Vec<String> = reader.state().iter().map(|o| o.name_any()).collect();
    assert_eq!(names, ["vm-1"]);

    // KubeVirt going away: its objects are deleted for watchers, then its watches end.
    assert!(stand_in.unregister("kubevirt.io", "virtualmachines"));
    assert!(
        matches!(next(&mut events).await, watcher::Event::Delete(vm) if vm.name_any() == "vm-1")
    );
    assert!(reader.state().is_empty());
    stand_in.shutdown().await;
}
