//! NautobotSyncs outside the served namespaces are refused, visibly.
//!
//! The operator acts only on NautobotSyncs in the namespaces it serves, so that nobody who may
//! create a NautobotSync elsewhere can send the cluster's inventory to a URL of their choosing.
//! Ignoring such an object silently would leave its author guessing; instead (while this
//! replica leads) its status says `Ready=False`, reason `NamespaceNotServed`, with the served
//! namespaces, and one Warning Event is published. Nothing else is done with it: its Secret is
//! never read and its URL never contacted.
//!
//! Needs cluster-wide `list`/`watch` on `nautobotsyncs` and `patch` on `nautobotsyncs/status`
//! (the chart grants them when `reportUnservedNamespaces` is on). When several installations
//! split the namespaces of one cluster among themselves, turn the report off on all of them:
//! each would otherwise flag the others' objects.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::watch;

use crate::api::conditions::{
    ConditionStatus, NewCondition, same_conditions, set_condition, types,
};
use crate::api::{NautobotSync, NautobotSyncStatus};

/// The condition reason.
pub const REASON: &str = "NamespaceNotServed";

/// The status an unserved NautobotSync should have, or `None` when it already has it.
pub fn refusal(served: &[String], obj: &NautobotSync, now: &Time) -> Option<NautobotSyncStatus> {
    let prev = obj.status.as_ref();
    let message = format!(
        "this operator serves NautobotSync objects only in the namespace(s) {}; this one is ignored: \
         its Secret is not read and nothing is sent to its URL. Create it in a served namespace, \
         or add this namespace to the operator's --namespaces (chart value watchNamespaces).",
        served.join(", ")
    );
    let mut conditions = prev.map(|s| s.conditions.clone()).unwrap_or_default();
    conditions.retain(|c| c.type_ != types::DEGRADED);
    for type_ in [types::READY, types::SYNCED] {
        set_condition(
            &mut conditions,
            NewCondition {
                type_,
                status: ConditionStatus::False,
                reason: REASON,
                message: message.clone(),
            },
            obj.metadata.generation,
            now,
        );
    }
    let new = NautobotSyncStatus {
        observed_generation: obj.metadata.generation,
        conditions,
        last_error: Some(message),
        ..NautobotSyncStatus::default()
    };
    let unchanged = prev.is_some_and(|p| {
        same_conditions(&p.conditions, &new.conditions)
            && p.observed_generation == new.observed_generation
            && p.last_error == new.last_error
    });
    (!unchanged).then_some(new)
}

/// Watches NautobotSyncs in every namespace and marks those outside `served` (while leading).
/// Returns when the cluster-wide watch is forbidden (logged once) or `stop` fires.
pub async fn run(
    client: Client,
    served: Vec<String>,
    mut leader: watch::Receiver<bool>,
    recorder: Recorder,
    mut stop: watch::Receiver<bool>,
) {
    let api: Api<NautobotSync> = Api::all(client.clone());
    let (store, writer) = reflector::store();
    let stream = reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .boxed();
    futures::pin_mut!(stream);
    let served = Arc::new(served);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            changed = leader.changed() => if changed.is_err() { return },
            ev = stream.next() => match ev {
                None => return,
                Some(Err(watcher::Error::InitialListFailed(kube::Error::Api(e)))) if e.code == 403 => {
                    tracing::warn!(error = %e.message, "cannot list NautobotSyncs in all namespaces: \
                        objects outside the served namespaces will not be marked NamespaceNotServed \
                        (grant list/watch on nautobotsyncs cluster-wide, or turn --report-unserved-namespaces off)");
                    return;
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "NautobotSync watch (all namespaces)");
                    continue;
                }
                Some(Ok(_)) => {}
            },
        }
        if !*leader.borrow() {
            continue;
        }
        let now = Time(jiff::Timestamp::now());
        for obj in store.state() {
            let ns = obj.namespace().unwrap_or_default();
            if served.contains(&ns) || obj.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(status) = refusal(&served, &obj, &now) else {
                continue;
            };
            tracing::warn!(namespace = %ns, name = %obj.name_any(), served = ?served,
                "refusing a NautobotSync outside the served namespaces");
            let patch = serde_json::json!({
                "apiVersion": "nbsync.dev/v1alpha1", "kind": "NautobotSync", "status": status,
            });
            let ns_api: Api<NautobotSync> = Api::namespaced(client.clone(), &ns);
            if let Err(e) = ns_api
                .patch_status(
                    &obj.name_any(),
                    &PatchParams::apply(super::reconcile::MANAGER).force(),
                    &Patch::Apply(&patch),
                )
                .await
            {
                tracing::warn!(namespace = %ns, name = %obj.name_any(), error = %e, "cannot write the status of an unserved NautobotSync");
                continue;
            }
            let ev = Event {
                type_: EventType::Warning,
                reason: REASON.into(),
                note: status.last_error.clone(),
                action: "Refuse".into(),
                secondary: None,
            };
            if let Err(e) = recorder.publish(&ev, &obj.object_ref(&())).await {
                tracing::debug!(error = %e, "cannot publish an event");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(generation: i64) -> NautobotSync {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "nbsync.dev/v1alpha1", "kind": "NautobotSync",
            "metadata": {"name": "elsewhere", "namespace": "team-a", "generation": generation},
            "spec": {"clusterName": "ocp", "placement": {"location": "dc1"},
                     "nautobot": {"url": "https://nautobot.example.com", "tokenSecretRef": {"name": "t"}}}
        }))
        .unwrap()
    }

    #[test]
    fn an_unserved_object_is_refused_once_per_generation() {
        let served = vec!["nautobot-sync".to_string()];
        let now = Time(jiff::Timestamp::from_second(1_800_000_000).unwrap());
        let mut o = obj(1);
        let st = refusal(&served, &o, &now).expect("a first refusal");
        let ready = st.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", REASON)
        );
        assert!(ready.message.contains("nautobot-sync"), "{}", ready.message);
        assert_eq!(st.observed_generation, Some(1));
        o.status = Some(st);
        let later = Time(jiff::Timestamp::from_second(1_800_000_100).unwrap());
        assert!(
            refusal(&served, &o, &later).is_none(),
            "nothing new to write"
        );
        o.metadata.generation = Some(2);
        let again = refusal(&served, &o, &later).expect("a new generation is answered");
        let ready = again
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            ready.last_transition_time, now,
            "the transition time is kept"
        );
    }
}
