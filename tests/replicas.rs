//! Two replicas (issue #7): two real operator processes with Lease-based leader election
//! against one API stand-in and a real Nautobot behind the fault proxy (which counts every
//! write that reaches Nautobot). The leader killed in the middle of a sync is replaced and the
//! new leader converges without duplicates; a leader that loses its Lease in the middle of an
//! apply stops writing at once. Results: docs/reliability.md.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/nautobot.rs"]
mod nautobot;
#[path = "support/rig.rs"]
mod rig;

use std::time::{Duration, Instant};

use e2e::*;
use fault_proxy::Mode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube_stand_in::StandIn;
use rig::*;
use serde_json::{Value, json};

/// The operator's default Lease, in its namespace.
const LEASE: &str = "nautobot-sync-operator";

fn lease(k8s: &StandIn) -> Value {
    k8s.get("coordination.k8s.io/v1", "Lease", Some(NS), LEASE)
        .unwrap_or(Value::Null)
}

fn holder(k8s: &StandIn) -> Option<String> {
    lease(k8s)["spec"]["holderIdentity"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(String::from)
}

/// A replica with leader election on (the default timings: 15 s lease, 10 s renew deadline,
/// 2 s retry).
fn replica(r: &Rig, identity: &str) -> Operator {
    Operator::start(&r.k8s, identity, &[])
}

/// Waits until `identity` holds the Lease; how long that took.
async fn wait_holder(r: &Rig, op: &Operator, identity: &str) -> Duration {
    let started = Instant::now();
    wait_for(&format!("{identity} holds the Lease"), T, op, async || {
        holder(&r.k8s).as_deref() == Some(identity)
    })
    .await;
    started.elapsed()
}

/// Another replica (not an operator process) takes the Lease over and renews it, as a third
/// replica that won it would.
fn intruder_holds(k8s: &StandIn) {
    let mut l = lease(k8s);
    l["spec"]["holderIdentity"] = json!("intruder");
    l["spec"]["renewTime"] = serde_json::to_value(MicroTime(jiff::Timestamp::now())).unwrap();
    l["spec"]["leaseDurationSeconds"] = json!(15);
    k8s.apply_json(l).unwrap();
}

/// The intruder releases the Lease as a replica shutting down does.
fn intruder_releases(k8s: &StandIn) {
    let mut l = lease(k8s);
    l["spec"]["holderIdentity"] = Value::Null;
    l["spec"]["renewTime"] = Value::Null;
    k8s.apply_json(l).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_mid_sync_is_replaced_without_duplicates() {
    // a slow Nautobot (300 ms a request) makes the first sync last about 20 s
    let Some(r) = rig(Mode::Delay(Duration::from_millis(300))).await else {
        return;
    };
    let mut a = replica(&r, "op-a");
    wait_holder(&r, &a, "op-a").await;
    let mut b = replica(&r, "op-b");
    wait_writes(&r, &a, 8).await;
    assert_eq!(holder(&r.k8s).as_deref(), Some("op-a"));
    assert_alive(&mut b);
    a.kill().await;
    let killed_with = r.proxy.writes_applied();
    let killed = Instant::now();
    let took = wait_holder(&r, &b, "op-b").await;
    eprintln!(
        "op-a killed with {killed_with} writes applied; op-b took the Lease {:.1}s later",
        took.as_secs_f64()
    );
    // it waited for the Lease to expire (15 s after op-a's last renewal, at most 2 s earlier)
    assert!(took >= Duration::from_secs(12), "took over after {took:?}");
    assert_eq!(
        r.proxy.writes_applied(),
        killed_with,
        "nobody wrote while nobody led"
    );
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut b).await;
    eprintln!(
        "converged {:.1}s after the kill; {} writes in all (a clean sync: 29)",
        killed.elapsed().as_secs_f64(),
        r.proxy.writes_applied()
    );
    assert!(b.logs().contains("sync pass done"), "op-b did the sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_its_lease_during_an_apply_stops_writing() {
    let Some(r) = rig(Mode::Delay(Duration::from_millis(300))).await else {
        return;
    };
    let mut a = replica(&r, "op-a");
    wait_holder(&r, &a, "op-a").await;
    let mut b = replica(&r, "op-b");
    // op-a is in the middle of the first sync's creates
    wait_writes(&r, &a, 5).await;
    intruder_holds(&r.k8s);
    let taken = Instant::now();
    let at_take = r.proxy.writes_applied();
    // the intruder renews for 12 s; sample the writes meanwhile
    let mut last_write = None;
    let mut seen = at_take;
    while taken.elapsed() < Duration::from_secs(12) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = r.proxy.writes_applied();
        if n != seen {
            seen = n;
            last_write = Some(taken.elapsed());
        }
        if taken.elapsed().as_millis() % 1000 < 100 {
            intruder_holds(&r.k8s);
        }
    }
    let after = seen - at_take;
    eprintln!(
        "Lease taken with {at_take} writes applied; {after} more writes after that, the last {:?} after",
        last_write
    );
    // op-a sees the Lease taken at its next renewal (every 2 s) and stops its pass then; a
    // request already on its way may still land
    assert!(
        last_write.is_none_or(|t| t < Duration::from_secs(3)),
        "writes went on {last_write:?} after the Lease was lost"
    );
    assert!(
        a.logs()
            .contains("leadership lost during a sync pass: stopped it"),
        "op-a stopped its pass"
    );
    assert_eq!(holder(&r.k8s).as_deref(), Some("intruder"));
    assert_alive(&mut a);
    assert_alive(&mut b);
    // the intruder goes away; one of the replicas takes over at once and converges
    intruder_releases(&r.k8s);
    let released = Instant::now();
    wait_for("a replica holds the Lease", T, &a, async || {
        matches!(holder(&r.k8s).as_deref(), Some("op-a" | "op-b"))
    })
    .await;
    let leader = holder(&r.k8s).unwrap();
    eprintln!(
        "{leader} took the Lease {:.1}s after the release",
        released.elapsed().as_secs_f64()
    );
    r.proxy.set(Mode::Pass);
    let op = if leader == "op-a" { &mut a } else { &mut b };
    assert_converged(&r, op).await;
    eprintln!(
        "converged {:.1}s after the release; {} writes in all",
        released.elapsed().as_secs_f64(),
        r.proxy.writes_applied()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_while_nautobot_is_down_is_replaced_and_the_new_leader_syncs_when_it_returns()
 {
    let Some(r) = rig(Mode::Delay(Duration::from_millis(300))).await else {
        return;
    };
    let mut a = replica(&r, "op-a");
    wait_holder(&r, &a, "op-a").await;
    let mut b = replica(&r, "op-b");
    wait_writes(&r, &a, 5).await;
    // Nautobot goes away in the middle of the first sync; op-a reports it, then dies
    r.proxy.set(Mode::Down);
    let msg = wait_ready_false(&r, &a, "NautobotUnreachable").await;
    eprintln!("op-a: {msg}");
    // (a write already past the proxy when it went down may have landed)
    let down_with = r.proxy.writes_applied();
    a.kill().await;
    let took = wait_holder(&r, &b, "op-b").await;
    eprintln!(
        "op-a killed with Nautobot down ({down_with} writes applied); op-b took the Lease {:.1}s later",
        took.as_secs_f64()
    );
    // op-b leads with Nautobot still down: it says so, keeps trying, and stays up
    wait_for("op-b tried Nautobot", T, &b, async || {
        b.logs().contains("NautobotUnreachable")
    })
    .await;
    assert!(reason_is(&r, "Ready", "False", "NautobotUnreachable"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_alive(&mut b);
    assert_eq!(
        r.proxy.writes_applied(),
        down_with,
        "nothing was written while Nautobot was down"
    );
    // Nautobot returns: op-b converges without duplicates
    r.proxy.set(Mode::Pass);
    let back = Instant::now();
    assert_converged(&r, &mut b).await;
    eprintln!(
        "converged {:.1}s after Nautobot returned; {} writes in all (a clean sync: 29)",
        back.elapsed().as_secs_f64(),
        r.proxy.writes_applied()
    );
}

/// SIGTERM on the leader: it stops writing, releases the Lease before the process exits (the
/// release is awaited, bounded by the renew deadline), and the other replica takes over at once
/// instead of waiting 15 s for the Lease to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_with_sigterm_releases_its_lease_before_it_exits() {
    let Some(r) = rig(Mode::Pass).await else {
        return;
    };
    let mut a = replica(&r, "op-a");
    wait_holder(&r, &a, "op-a").await;
    assert_converged(&r, &mut a).await;
    let mut b = replica(&r, "op-b");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_alive(&mut b);
    assert_eq!(holder(&r.k8s).as_deref(), Some("op-a"));

    let stopping = Instant::now();
    a.terminate().await;
    let exited = stopping.elapsed();
    assert!(!a.running(), "op-a exited");
    assert!(a.logs().contains("released the lease"), "{}", a.logs());
    let took = wait_holder(&r, &b, "op-b").await;
    eprintln!(
        "op-a exited {:.1}s after SIGTERM; op-b took the Lease {:.1}s after that",
        exited.as_secs_f64(),
        took.as_secs_f64()
    );
    assert!(
        took < Duration::from_secs(5),
        "taken over at once, not after the lease expired ({took:?})"
    );
    assert_converged(&r, &mut b).await;
}

/// SIGTERM on the leader in the middle of its first sync (Nautobot slow): it starts no new
/// pass, the pass in flight has the grace period (2 s here) and then starts no new request;
/// the final status says the pass was interrupted, it is written before the Lease is
/// released, the process exits 0 within grace + drain + the Lease release, and the other
/// replica finishes the sync without a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_pass_lets_it_finish_or_stop_writes_status_then_releases_the_lease() {
    let Some(r) = rig(Mode::Delay(Duration::from_millis(250))).await else {
        return;
    };
    let mut a = Operator::start(&r.k8s, "op-a", &["--shutdown-grace-seconds", "2"]);
    wait_holder(&r, &a, "op-a").await;
    let mut b = replica(&r, "op-b");
    wait_writes(&r, &a, 2).await;

    let stopping = Instant::now();
    let exit = a.terminate().await;
    let exited = stopping.elapsed();
    let logs = a.logs();
    assert!(exit.is_some_and(|s| s.success()), "exit {exit:?}:\n{logs}");
    // 2 s grace + 5 s drain at most, the final status and the Lease in well under a second
    assert!(exited < Duration::from_secs(10), "{exited:?}\n{logs}");
    let at = |what: &str| {
        logs.find(what)
            .unwrap_or_else(|| panic!("no {what:?} in the log:\n{logs}"))
    };
    assert!(
        at("shutting down: no new sync pass") < at("the sync pass in flight starts no new request")
    );
    assert!(at("final status written") < at("released the lease"));
    let status = nbsync_status(&r.k8s);
    assert_eq!(
        condition(&status, "Synced"),
        Some(("False".into(), "Interrupted".into())),
        "{status:#}"
    );
    let msg = condition_message(&status, "Synced");
    assert!(
        msg.contains("grace period") && msg.contains("next leader"),
        "{msg}"
    );
    eprintln!(
        "op-a exited {:.1}s after SIGTERM: {msg}",
        exited.as_secs_f64()
    );

    let took = wait_holder(&r, &b, "op-b").await;
    assert!(
        took < Duration::from_secs(5),
        "released, not expired ({took:?})"
    );
    r.proxy.set(Mode::Pass);
    assert_converged(&r, &mut b).await;
}
