//! Fault suite (issue #7): the real operator binary against the Kubernetes API stand-in and a
//! real Nautobot 3.2.7, with a fault-injecting proxy (`support/fault_proxy.rs`) between them.
//!
//! Every scenario checks, where it applies: a clear Ready/Synced reason while the fault lasts;
//! the operator process stays up; once the fault ends it converges (Ready=True, Synced=True);
//! Nautobot holds exactly the projection (nothing lost) and no object twice (no duplicates).
//! Waits on conditions, never on fixed sleeps for correctness. Results: docs/reliability.md.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/nautobot.rs"]
mod nautobot;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e::*;
use fault_proxy::{FaultProxy, Mode};
use kube_stand_in::StandIn;
use nautobot::*;
use nbsync::nautobot::NautobotApi;
use nbsync::records::Kind;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);

/// A clean Nautobot, a proxy in front of it, and the sample cluster whose NautobotSync points
/// at the proxy.
struct Rig {
    nb: Nautobot,
    proxy: FaultProxy,
    k8s: StandIn,
    started: Instant,
}

async fn rig(mode: Mode) -> Option<Rig> {
    rig_with(mode, json!({})).await
}

/// The same with a merge patch on the NautobotSync's spec.
async fn rig_with(mode: Mode, spec_patch: Value) -> Option<Rig> {
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

fn start(r: &Rig) -> Operator {
    Operator::start(&r.k8s, "op-0", &["--disable-leader-election"])
}

fn reason_is(r: &Rig, type_: &str, status: &str, reason: &str) -> bool {
    condition(&nbsync_status(&r.k8s), type_) == Some((status.into(), reason.into()))
}

/// Waits until Ready=False with `reason`; returns the condition message.
async fn wait_ready_false(r: &Rig, op: &Operator, reason: &str) -> String {
    wait_for(&format!("Ready=False {reason}"), T, op, async || {
        reason_is(r, "Ready", "False", reason)
    })
    .await;
    message(r, "Ready")
}

fn message(r: &Rig, type_: &str) -> String {
    nbsync_status(&r.k8s)["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// What a clean sync of the sample writes: the projection, with the operator's own namespace
/// as one more tenant.
fn expected() -> BTreeMap<uuid::Uuid, Kind> {
    let mut snap = sample_snapshot();
    snap["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    project(&config(json!({})), &snap)
        .records
        .iter()
        .map(|(id, rec)| (*id, rec.kind))
        .collect()
}

/// Asserts the operator is alive and never panicked.
fn assert_alive(op: &mut Operator) {
    assert!(op.running(), "the operator process exited");
    assert!(!op.logs().contains("panicked"), "the operator panicked");
}

/// Waits for Ready=True and Synced=True and Degraded=False after the fault ended, then checks
/// Nautobot: exactly the projection (nothing lost, nothing extra) and every collection holds
/// no more objects than we own (no duplicates, owned or not). Returns the recovery time.
async fn assert_converged(r: &Rig, op: &mut Operator) -> Duration {
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
    assert_alive(op);
    let want = expected();
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
    // duplicates: a second object with the same name would be an extra object in its
    // collection (the database was empty of these kinds before the test)
    for kind in Kind::ALL {
        let wanted = want.values().filter(|k| **k == kind).count();
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
        "converged {:.1}s after the fault ended ({:.1}s into the test); {} objects; \
         proxy: {} faults, {} GET, {} POST, {} PATCH, {} DELETE",
        recovery.as_secs_f64(),
        r.started.elapsed().as_secs_f64(),
        want.len(),
        r.proxy.faults(),
        r.proxy.count("GET"),
        r.proxy.count("POST"),
        r.proxy.count("PATCH"),
        r.proxy.count("DELETE"),
    );
    recovery
}

/// Waits until the operator has written at least `n` times to Nautobot (through the proxy).
async fn wait_writes(r: &Rig, op: &Operator, n: u64) {
    wait_for(&format!("{n} writes applied"), T, op, async || {
        r.proxy.writes_applied() >= n
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nautobot_down_at_start_then_up() {
    let Some(r) = rig(Mode::Down).await else {
        return;
    };
    let mut op = start(&r);
    let msg = wait_ready_false(&r, &op, "NautobotUnreachable").await;
    assert!(msg.contains(&r.proxy.url), "{msg}");
    assert!(reason_is(&r, "Synced", "False", "NautobotUnreachable"));
    assert_eq!(r.proxy.writes(), 0);
    // stays down a while: the operator backs off and stays up
    wait_for("a few refused connections", T, &op, async || {
        r.proxy.faults() >= 10
    })
    .await;
    assert_alive(&mut op);
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nautobot_down_in_the_middle_of_the_first_sync() {
    let Some(r) = rig(Mode::Pass).await else {
        return;
    };
    let mut op = start(&r);
    wait_writes(&r, &op, 3).await;
    r.proxy.set(Mode::Down);
    let written = r.proxy.writes_applied();
    wait_ready_false(&r, &op, "NautobotUnreachable").await;
    assert!(reason_is(&r, "Synced", "False", "NautobotUnreachable"));
    assert_alive(&mut op);
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
    assert!(written >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_rate_limits_during_the_first_sync() {
    let Some(r) = rig(Mode::Pass).await else {
        return;
    };
    let mut op = start(&r);
    wait_writes(&r, &op, 1).await;
    // short bursts: absorbed by the client's retries, the pass goes on. One request at a time
    // goes through between bursts (back to back, the bursts would be one long outage for the
    // request retrying through them)
    for status in [503, 502, 500, 429] {
        r.proxy.set(Mode::FailNext { n: 3, status });
        wait_for(&format!("three {status}s served"), T, &op, async || {
            r.proxy.mode() == Mode::Pass
        })
        .await;
        let through = r.proxy.forwarded_ok();
        wait_for("a request through", T, &op, async || {
            r.proxy.forwarded_ok() > through
        })
        .await;
    }
    let failed: Vec<String> = op
        .logs()
        .lines()
        .filter(|l| l.contains("sync pass failed") || l.contains("retrying Nautobot request"))
        .map(String::from)
        .collect();
    assert!(
        !failed.iter().any(|l| l.contains("sync pass failed")),
        "short bursts are absorbed by the retries: {failed:#?}"
    );
    // a long outage answering 503: the pass fails after its retries, with a clear reason
    r.proxy.set(Mode::FailNext {
        n: 1000,
        status: 503,
    });
    let msg = wait_ready_false(&r, &op, "NautobotServerError").await;
    assert!(msg.contains("503"), "{msg}");
    assert!(reason_is(&r, "Synced", "False", "NautobotServerError"));
    // throttled for good: a reason of its own, and no object is blamed for it
    r.proxy.set(Mode::FailNext {
        n: 1000,
        status: 429,
    });
    let msg = wait_ready_false(&r, &op, "NautobotRateLimited").await;
    assert!(msg.contains("429"), "{msg}");
    assert_eq!(nbsync_status(&r.k8s)["conflicts"], json!(0));
    assert_alive(&mut op);
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
    let logs = op.logs();
    assert!(logs.contains("retrying Nautobot request"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_nautobot_during_the_first_sync() {
    let Some(r) = rig(Mode::Delay(Duration::from_millis(1000))).await else {
        return;
    };
    let mut op = start(&r);
    wait_for(
        "Synced while slow",
        Duration::from_secs(240),
        &op,
        async || reason_is(&r, "Synced", "True", "Synced"),
    )
    .await;
    assert!(
        !op.logs().contains("sync pass failed"),
        "a slow Nautobot is not an error"
    );
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nautobot_slower_than_the_request_timeout() {
    let Some(r) = rig_with(
        Mode::Delay(Duration::from_secs(3)),
        json!({"nautobot": {"requestTimeoutSeconds": 2}}),
    )
    .await
    else {
        return;
    };
    let mut op = start(&r);
    let msg = wait_ready_false(&r, &op, "NautobotTimeout").await;
    assert!(msg.contains("2s"), "{msg}");
    assert!(reason_is(&r, "Synced", "False", "NautobotTimeout"));
    assert_alive(&mut op);
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_writes_are_not_duplicated() {
    // every 3rd POST reaches Nautobot, which creates the objects, and the answer is lost
    let Some(r) = rig(Mode::CloseConnection { every: 3 }).await else {
        return;
    };
    let mut op = start(&r);
    wait_for("the first sync pass done", T, &op, async || {
        op.logs().contains("sync pass done")
    })
    .await;
    assert!(r.proxy.faults() > 0, "some answers were dropped");
    assert!(
        op.logs().contains("failed=0"),
        "the pass counts the unacknowledged creates as done"
    );
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_page_instead_of_json() {
    let Some(r) = rig(Mode::Html { status: 200 }).await else {
        return;
    };
    let mut op = start(&r);
    let msg = wait_ready_false(&r, &op, "NautobotBadResponse").await;
    assert!(msg.contains("HTML"), "{msg}");
    // a 502 error page from a load balancer
    r.proxy.set(Mode::Html { status: 502 });
    let msg = wait_ready_false(&r, &op, "NautobotServerError").await;
    assert!(msg.contains("502") && msg.contains("HTML"), "{msg}");
    assert_eq!(r.proxy.writes(), 0);
    assert_alive(&mut op);
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_or_newer_api_version() {
    let Some(r) = rig(Mode::ApiVersion("1.5".into())).await else {
        return;
    };
    let mut op = start(&r);
    let msg = wait_ready_false(&r, &op, "NautobotVersionUnsupported").await;
    assert!(msg.contains("1.5"), "{msg}");
    r.proxy.set(Mode::ApiVersion("9.0".into()));
    wait_for("the message names 9.0", T, &op, async || {
        reason_is(&r, "Ready", "False", "NautobotVersionUnsupported")
            && message(&r, "Ready").contains("9.0")
    })
    .await;
    assert_eq!(r.proxy.writes(), 0, "nothing written to an unknown API");
    assert_alive(&mut op);
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refused_object_does_not_block_the_others() {
    const BAD: &str = "ocp-lab/shop-prod/deployment/cart-api";
    let Some(r) = rig(Mode::FailObjectInBatch(BAD.into())).await else {
        return;
    };
    let mut op = start(&r);
    wait_for("Synced=False ChangesPending", T, &op, async || {
        reason_is(&r, "Synced", "False", "ChangesPending")
            && reason_is(&r, "Degraded", "True", "ObjectsFailed")
    })
    .await;
    let msg = message(&r, "Degraded");
    assert!(msg.contains(BAD) && msg.contains("injected"), "{msg}");
    assert!(reason_is(&r, "Ready", "True", "Ready"));
    let status = nbsync_status(&r.k8s);
    assert_eq!(status["pendingChanges"], json!(1), "{status:#}");
    // everything else is there
    let want = expected();
    let have = owned(&r.nb.api, "ocp-lab").await;
    let missing: Vec<_> = want.keys().filter(|id| !have.contains_key(id)).collect();
    assert_eq!(missing.len(), 1, "only the refused object is missing");
    assert_eq!(have.len(), want.len() - 1);
    // Nautobot accepts it again: the operator retries it without a restart or a cluster change
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rejected_mid_run_then_accepted() {
    let Some(r) = rig(Mode::Pass).await else {
        return;
    };
    let mut op = start(&r);
    assert_converged(&r, &mut op).await;
    // the token is revoked; a change in the cluster makes the operator talk to Nautobot
    r.proxy.set(Mode::RejectToken);
    edit_fedora_vm(&r.k8s, |spec| spec["domain"]["cpu"]["cores"] = json!(6));
    let msg = wait_ready_false(&r, &op, "NautobotUnauthorized").await;
    assert!(msg.contains("403"), "{msg}");
    assert!(!op.logs().contains(TEST_TOKEN));
    assert_alive(&mut op);
    // accepted again (a person re-enabled it)
    r.proxy.set(Mode::Pass);
    wait_for("the resize in Nautobot", T, &op, async || {
        owned(&r.nb.api, "ocp-lab").await.values().any(|o| {
            o.kind == Kind::VirtualMachine
                && o.display == "fedora-db-01"
                && o.fields.get("vcpus") == Some(&json!(6))
        })
    })
    .await;
    assert_converged(&r, &mut op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_several_points_of_the_first_sync() {
    let Some(r) = rig(Mode::Pass).await else {
        return;
    };
    for after in [1, 3, 6] {
        let mut op = start(&r);
        tokio::time::sleep(Duration::from_secs(after)).await;
        assert_alive(&mut op);
        op.kill().await;
        eprintln!(
            "killed after {after}s; {} writes applied so far",
            r.proxy.writes_applied()
        );
    }
    let mut op = start(&r);
    assert_converged(&r, &mut op).await;
}
