//! Raw watch semantics (410, bookmarks, timeouts, streaming lists), paging, fault hooks, request recording and
//! the store helpers.

mod common;

use std::time::{Duration, Instant};

use common::{pod, until, within};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, Config, ResourceExt};
use kube_stand_in::{Options, StandIn};
use serde_json::json;

async fn config_maps(stand_in: &StandIn, names: &[&str]) -> Api<ConfigMap> {
    let api: Api<ConfigMap> = Api::namespaced(stand_in.client(), "default");
    for name in names {
        let map = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &map).await.unwrap();
    }
    api
}

#[tokio::test]
async fn watch_from_compacted_version_gets_in_stream_410() {
    let stand_in = StandIn::start().await;
    let api = config_maps(&stand_in, &["a"]).await;
    let old = stand_in.resource_version().to_string();
    stand_in.compact();
    let mut events = api
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    match within("the 410", events.try_next()).await.unwrap() {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"))
        }
        other => panic!("expected an in-stream 410, got {other:?}"),
    }
    assert!(
        within("the stream end", events.try_next())
            .await
            .unwrap()
            .is_none()
    );

    // The current resourceVersion is still valid after compaction.
    let now = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = api
        .watch(&WatchParams::default(), &now)
        .await
        .unwrap()
        .boxed();
    config_maps(&stand_in, &["b"]).await;
    let event = within("ADDED b", events.try_next()).await.unwrap().unwrap();
    assert!(
        matches!(event, WatchEvent::Added(ref m) if m.name_any() == "b"),
        "{event:?}"
    );
    stand_in.shutdown().await;
}

#[tokio::test]
async fn bookmarks_and_timeout_seconds() {
    let stand_in = StandIn::start_with(Options {
        bookmark_interval: Duration::from_millis(50),
        ..Options::default()
    })
    .await;
    let api = config_maps(&stand_in, &[]).await;
    let rv = stand_in.resource_version().to_string();
    let started = Instant::now();
    let params = WatchParams::default().timeout(1);
    let mut events = api.watch(&params, &rv).await.unwrap().boxed();
    let event = within("a bookmark", events.try_next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(event, WatchEvent::Bookmark(ref b) if b.metadata.resource_version == rv),
        "{event:?}"
    );
    let rest: Vec<_> = within("the timeout", events.try_collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(rest.iter().all(|e| matches!(e, WatchEvent::Bookmark(_))));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    stand_in.shutdown().await;
}

#[tokio::test]
async fn streaming_list_ends_with_initial_events_bookmark() {
    let stand_in = StandIn::start().await;
    let api = config_maps(&stand_in, &["a", "b"]).await;
    let params = WatchParams {
        send_initial_events: true,
        ..WatchParams::default()
    };
    let events: Vec<_> = api
        .watch(&params, "0")
        .await
        .unwrap()
        .take(3)
        .try_collect()
        .await
        .unwrap();
    let names: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Added(m) => Some(m.name_any()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["a", "b"]);
    let WatchEvent::Bookmark(bookmark) = &events[2] else {
        panic!("{:?}", events[2])
    };
    assert_eq!(
        bookmark
            .metadata
            .annotations
            .get("k8s.io/initial-events-end")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        bookmark.metadata.resource_version,
        stand_in.resource_version().to_string()
    );
    stand_in.shutdown().await;
}

#[tokio::test]
async fn paged_list_walks_every_object() {
    let stand_in = StandIn::start().await;
    let api = config_maps(&stand_in, &["e", "d", "c", "b", "a"]).await;
    let mut params = ListParams::default().limit(2);
    let (mut names, mut versions) = (Vec::new(), Vec::new());
    loop {
        let page = api.list(&params).await.unwrap();
        names.extend(page.items.iter().map(ResourceExt::name_any));
        versions.push(page.metadata.resource_version.clone().unwrap());
        // A change between pages must not shift the pages.
        config_maps(&stand_in, &[&format!("z{}", versions.len())]).await;
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(names[..5], ["a", "b", "c", "d", "e"]);
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
    stand_in.shutdown().await;
}

#[tokio::test]
async fn injected_failures_delay_and_unavailability() {
    let stand_in = StandIn::start().await;
    let api = config_maps(&stand_in, &["a", "b"]).await;
    let code = |r: Result<ConfigMap, kube::Error>| match r {
        Ok(_) => 200,
        Err(kube::Error::Api(status)) => status.code,
        Err(other) => panic!("{other:?}"),
    };
    stand_in.fail_next(1, 500);
    assert_eq!(code(api.get("a").await), 500);
    assert_eq!(code(api.get("a").await), 200);

    stand_in.fail_matching("/configmaps/b", 404, 1);
    assert_eq!(code(api.get("a").await), 200);
    assert_eq!(code(api.get("b").await), 404);
    assert_eq!(code(api.get("b").await), 200);

    // kube retries 503 itself (honouring Retry-After: 1), so the call succeeds once the server is back.
    stand_in.set_unavailable(true);
    stand_in.clear_requests();
    let pending = tokio::spawn({
        let api = api.clone();
        async move { api.get("a").await }
    });
    until("two attempts", || stand_in.requests().len() >= 2).await;
    stand_in.set_unavailable(false);
    assert_eq!(code(within("the retried get", pending).await.unwrap()), 200);

    stand_in.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(code(api.get("a").await), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    stand_in.set_delay(Duration::ZERO);

    stand_in.clear_requests();
    api.list(&ListParams::default().labels("app in (x,y)"))
        .await
        .unwrap();
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/api/v1/namespaces/default/configmaps")
    );
    assert!(
        requests[0].query.contains("labelSelector="),
        "{}",
        requests[0].query
    );
    stand_in.shutdown().await;
}

#[tokio::test]
async fn reflector_survives_failing_watch_requests() {
    let stand_in = StandIn::start().await;
    stand_in.apply_json(pod("a", "web")).unwrap();
    stand_in.fail_matching("watch=true", 500, 2);
    let (reader, writer) = reflector::store::<Pod>();
    let api: Api<Pod> = Api::all(stand_in.client());
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let task = tokio::spawn(stream.for_each(|_| async {}));
    within("ready", reader.wait_until_ready()).await.unwrap();
    stand_in.apply_json(pod("b", "web")).unwrap();
    until("b after the watch failures", || reader.state().len() == 2).await;
    assert!(
        stand_in
            .requests()
            .iter()
            .filter(|r| r.query.contains("watch=true"))
            .count()
            >= 3
    );
    task.abort();
    stand_in.shutdown().await;
}

#[tokio::test]
async fn kubeconfig_and_load_list() {
    let stand_in = StandIn::start().await;
    let path = std::env::temp_dir().join(format!("stand-in-kubeconfig-{}", std::process::id()));
    stand_in.write_kubeconfig(&path).unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    assert_eq!(
        config.cluster_url.to_string().trim_end_matches('/'),
        stand_in.url()
    );
    let client = Client::try_from(config).unwrap();

    let count = stand_in
        .load_list(json!({"kind": "List", "apiVersion": "v1", "items": [
            {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
             "metadata": {"name": "vm-0", "namespace": "vms", "uid": "fixed-uid"}, "status": {"ready": true}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vms"}},
            {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
             "metadata": {"name": "virtualmachines.kubevirt.io"},
             "spec": {"group": "kubevirt.io", "scope": "Namespaced",
                      "names": {"kind": "VirtualMachine", "plural": "virtualmachines"},
                      "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}}]}},
        ]}))
        .unwrap();
    assert_eq!(count, 3);
    let vm = stand_in
        .get("kubevirt.io/v1", "VirtualMachine", Some("vms"), "vm-0")
        .unwrap();
    assert_eq!(
        (
            vm["metadata"]["uid"].as_str(),
            vm["status"]["ready"].as_bool()
        ),
        (Some("fixed-uid"), Some(true))
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    assert_eq!(
        namespaces
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(stand_in.load_list(json!({"kind": "List"})).is_err());
    stand_in.shutdown().await;
}
