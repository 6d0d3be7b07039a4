//! A kube-runtime Controller on a dynamic custom kind: server-side apply on /status, an Event per reconcile, and
//! no reconcile loop from its own no-op writes.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::until;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use kube_stand_in::StandIn;
use serde_json::json;

const API_VERSION: &str = "nautobot.example.com/v1alpha1";

struct Context {
    api: Api<DynamicObject>,
    recorder: Recorder,
    resource: ApiResource,
    reconciles: Mutex<HashMap<String, usize>>,
}

/// The reconciler's error: the Controller needs an `std::error::Error`.
#[derive(Debug)]
struct Failed(kube::Error);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for Failed {}

async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action, Failed> {
    let name = obj.name_any();
    *ctx.reconciles
        .lock()
        .unwrap()
        .entry(name.clone())
        .or_default() += 1;
    let status = json!({
        "apiVersion": API_VERSION,
        "kind": "NautobotSync",
        "status": {
            "observedGeneration": obj.metadata.generation,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Synced"}],
        },
    });
    let apply = PatchParams::apply("nautobot-sync-operator").force();
    ctx.api
        .patch_status(&name, &apply, &Patch::Apply(&status))
        .await
        .map_err(Failed)?;
    let event = Event {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some(format!("generation {:?}", obj.metadata.generation)),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = obj.object_ref(&ctx.resource);
    ctx.recorder
        .publish(&event, &reference)
        .await
        .map_err(Failed)?;
    Ok(Action::requeue(Duration::from_secs(3600)))
}

fn nautobot_sync(name: &str, url: &str) -> serde_json::Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "NautobotSync",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"url": url},
    })
}

#[tokio::test]
async fn controller_applies_status_and_settles() {
    let stand_in = StandIn::start().await;
    stand_in.register_crd(
        "nautobot.example.com",
        "v1alpha1",
        "NautobotSync",
        "nautobotsyncs",
        true,
        &["nbs"],
    );
    let client = stand_in.client();
    let gvk = GroupVersionKind::gvk("nautobot.example.com", "v1alpha1", "NautobotSync");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "nautobotsyncs");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    stand_in
        .apply_json(nautobot_sync("main", "http://a"))
        .unwrap();

    let ctx = Arc::new(Context {
        api: api.clone(),
        recorder: Recorder::new(client.clone(), Reporter::from("nautobot-sync-operator")),
        resource: resource.clone(),
        reconciles: Mutex::default(),
    });
    let controller = Controller::new_with(api, watcher::Config::default(), resource.clone())
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_millis(100)),
            Arc::clone(&ctx),
        )
        .for_each(|_| async {});
    let task = tokio::spawn(controller);

    let ready = |name: &str, generation: i64| {
        stand_in
            .get(API_VERSION, "NautobotSync", Some("default"), name)
            .is_some_and(|o| {
                o["status"]["conditions"][0]["status"] == "True"
                    && o["status"]["observedGeneration"] == generation
            })
    };
    until("main Ready", || ready("main", 1)).await;
    until("an Event for main", || {
        stand_in
            .list("events.k8s.io/v1", "Event", Some("default"))
            .iter()
            .any(|e| e["regarding"]["name"] == "main" && e["reason"] == "Synced")
    })
    .await;

    let mut changed = nautobot_sync("main", "http://b");
    changed["status"] = stand_in
        .get(API_VERSION, "NautobotSync", Some("default"), "main")
        .unwrap()["status"]
        .clone();
    stand_in.apply_json(changed).unwrap();
    until("main Ready at generation 2", || ready("main", 2)).await;

    // A second object acts as a fence: once it is reconciled, a loop on "main" would have shown.
    stand_in
        .apply_json(nautobot_sync("fence", "http://c"))
        .unwrap();
    until("fence Ready", || ready("fence", 1)).await;
    let reconciles = ctx
        .reconciles
        .lock()
        .unwrap()
        .get("main")
        .copied()
        .unwrap_or_default();
    assert!(
        (2..=4).contains(&reconciles),
        "main reconciled {reconciles} times"
    );
    task.abort();
    stand_in.shutdown().await;
}
