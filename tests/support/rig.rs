//! The fault rig shared by the end-to-end fault suites (`tests/faults.rs`, `tests/tls.rs`,
//! `tests/replicas.rs`): a clean Nautobot, the fault proxy in front of it, the sample cluster in
//! the API stand-in, and the checks every scenario ends with (converged, nothing lost, nothing
//! extra, no duplicates).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube_stand_in::StandIn;
use nbsync::config::SyncConfig;
use nbsync::model::Kind;
use nbsync::nautobot::NautobotApi;
use serde_json::{Value, json};

use super::e2e::*;
use super::fault_proxy::{FaultProxy, Mode};
use super::nautobot::*;

/// How long any one wait may take.
pub const T: Duration = Duration::from_secs(120);

/// A clean Nautobot, a proxy in front of it, and the sample cluster whose NautobotSync points
/// at the proxy (or at whatever `url` says).
pub struct Rig {
    pub nb: Nautobot,
    pub proxy: FaultProxy,
    pub k8s: StandIn,
    pub started: Instant,
}

pub async fn rig(mode: Mode) -> Option<Rig> {
    rig_with(mode, json!({})).await
}

/// The same with a merge patch on the NautobotSync's spec.
pub async fn rig_with(mode: Mode, spec_patch: Value) -> Option<Rig> {
    let nb = clean().await?;
    let proxy = FaultProxy::start(&nb.url).await;
    proxy.set(mode);
    let k8s = cluster(true, &proxy.url, spec_patch).await;
    Some(Rig {
        nb,
        proxy,
        k8s,
        started: Instant::now(),
    })
}

/// The operator without leader election.
pub fn start(r: &Rig) -> Operator {
    Operator::start(&r.k8s, "op-0", &["--disable-leader-election"])
}

pub fn reason_is(r: &Rig, type_: &str, status: &str, reason: &str) -> bool {
    condition(&nbsync_status(&r.k8s), type_) == Some((status.into(), reason.into()))
}

/// Waits until Ready=False with `reason`; returns the condition message.
pub async fn wait_ready_false(r: &Rig, op: &Operator, reason: &str) -> String {
    wait_for(&format!("Ready=False {reason}"), T, op, async || {
        reason_is(r, "Ready", "False", reason)
    })
    .await;
    message(r, "Ready")
}

pub fn message(r: &Rig, type_: &str) -> String {
    condition_message(&nbsync_status(&r.k8s), type_)
}

/// The cluster as the stand-in holds it now, as a snapshot List (the kinds of the sample).
pub fn snapshot_of(k8s: &StandIn) -> Value {
    let sample = sample_snapshot();
    let mut kinds: Vec<(String, String)> = sample["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["apiVersion"].as_str().unwrap().to_string(),
                i["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    let items: Vec<Value> = kinds
        .iter()
        .flat_map(|(v, k)| k8s.list(v, k, None))
        .collect();
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// The NautobotSync's spec as the stand-in holds it now.
pub fn config_of(k8s: &StandIn) -> SyncConfig {
    let obj = k8s
        .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
        .expect("the NautobotSync exists");
    SyncConfig::from_spec(&serde_json::from_value(obj["spec"].clone()).unwrap()).unwrap()
}

/// What Nautobot must hold: the projection of the cluster as the stand-in holds it now, with
/// the NautobotSync's spec. (For the untouched sample: its 103 objects, the operator's own
/// namespace being one more tenant.)
pub fn expected(k8s: &StandIn) -> BTreeMap<uuid::Uuid, Kind> {
    project(&config_of(k8s), &snapshot_of(k8s))
        .records
        .iter()
        .map(|(id, rec)| (*id, rec.kind))
        .collect()
}

/// What a fresh full pass would still write to make Nautobot match the cluster as the stand-in
/// holds it now (a dry run from the test's own client): nothing, once converged.
pub async fn pending_writes(r: &Rig) -> Vec<String> {
    let cfg = config_of(&r.k8s);
    let projection = project(&cfg, &snapshot_of(&r.k8s));
    let policy = nbsync::plan::Policy::new(&cfg, jiff::Timestamp::now(), false);
    let outcome = nbsync::nautobot::full_sync(
        &r.nb.api,
        &cfg,
        &projection,
        &policy,
        true,
        Default::default(),
    )
    .await
    .unwrap();
    let plan = outcome.plan;
    [
        ("create", &plan.creates),
        ("update", &plan.updates),
        ("update", &plan.late_updates),
        ("delete", &plan.deletes),
    ]
    .into_iter()
    .flat_map(|(what, ops)| {
        ops.iter()
            .map(move |op| format!("{what} {} {} ({})", op.kind, op.name, op.reason))
    })
    .collect()
}

/// Waits until a dry run finds nothing to write (after a restart the status may still show
/// the previous process's last pass, so conditions alone do not prove convergence).
pub async fn wait_nothing_pending(r: &Rig, op: &Operator) {
    wait_for("nothing left to write", T, op, async || {
        pending_writes(r).await.is_empty()
    })
    .await;
}

/// Asserts the operator is alive and never panicked.
pub fn assert_alive(op: &mut Operator) {
    assert!(op.running(), "the operator process exited");
    assert!(!op.logs().contains("panicked"), "the operator panicked");
}

/// Waits for Ready=True and Synced=True and Degraded=False after the fault ended, then checks
/// Nautobot: exactly the projection (nothing lost, nothing extra) and every collection holds
/// no more objects than we own (no duplicates, owned or not). Returns the recovery time.
pub async fn assert_converged(r: &Rig, op: &mut Operator) -> Duration {
    assert_converged_with(r, op, &[]).await
}

/// [`assert_converged`] where the test put `unowned` objects of its own in some collections
/// (they must still be there, each exactly once).
pub async fn assert_converged_with(
    r: &Rig,
    op: &mut Operator,
    unowned: &[(Kind, usize)],
) -> Duration {
    let fault_ended = Instant::now();
    wait_for(
        "converged: Ready, Synced, not Degraded",
        T,
        op,
        async || {
            reason_is(r, "Ready", "True", "Ready")
                && reason_is(r, "Synced", "True", "Synced")
                && reason_is(r, "Degraded", "False", "AsExpected")
        },
    )
    .await;
    let recovery = fault_ended.elapsed();
    eprintln!(
        "converged {:.1}s after the fault ended",
        recovery.as_secs_f64()
    );
    assert_nautobot_matches(r, op, unowned).await;
    recovery
}

/// The checks of [`assert_converged_with`] without the wait: the operator is alive, Nautobot
/// holds exactly the projection, and every collection exactly as many objects as it should.
pub async fn assert_nautobot_matches(r: &Rig, op: &mut Operator, unowned: &[(Kind, usize)]) {
    assert_alive(op);
    let want = expected(&r.k8s);
    let have = owned(&r.nb.api, "ocp-lab").await;
    let missing: Vec<_> = want.keys().filter(|id| !have.contains_key(id)).collect();
    let extra: Vec<_> = have
        .values()
        .filter(|o| !want.contains_key(&o.id))
        .map(|o| &o.display)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "lost: {missing:?}, extra: {extra:?}"
    );
    assert_eq!(
        nbsync_status(&r.k8s)["objectsInSync"],
        json!(want.len()),
        "objectsInSync"
    );
    // every owned field as the cluster says (an update lost would show here)
    let pending = pending_writes(r).await;
    assert!(pending.is_empty(), "not in sync: {pending:#?}");
    // duplicates: a second object with the same name would be an extra object in its
    // collection (the database was empty of these kinds before the test)
    for kind in Kind::ALL {
        let wanted = want.values().filter(|k| **k == kind).count()
            + unowned
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| n)
                .sum::<usize>();
        let all =
            r.nb.api
                .list(kind.endpoint(), &[("exclude_m2m", "true".into())])
                .await
                .unwrap();
        assert_eq!(
            all.len(),
            wanted,
            "{kind}: {} objects in Nautobot, {wanted} expected: {:#?}",
            all.len(),
            all.iter()
                .map(|o| o["display"].clone())
                .collect::<Vec<Value>>()
        );
    }
    eprintln!(
        "Nautobot matches the cluster {:.1}s into the test; {} objects; \
         proxy: {} faults, {} GET, {} POST, {} PATCH, {} DELETE",
        r.started.elapsed().as_secs_f64(),
        want.len(),
        r.proxy.faults(),
        r.proxy.count("GET"),
        r.proxy.count("POST"),
        r.proxy.count("PATCH"),
        r.proxy.count("DELETE"),
    );
}

/// Waits until the operator has written at least `n` times to Nautobot (through the proxy).
pub async fn wait_writes(r: &Rig, op: &Operator, n: u64) {
    wait_for(&format!("{n} writes applied"), T, op, async || {
        r.proxy.writes_applied() >= n
    })
    .await;
}
