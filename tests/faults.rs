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
#[path = "support/rig.rs"]
mod rig;

use std::time::{Duration, Instant};

use e2e::*;
use fault_proxy::Mode;
use nautobot::*;
use nbsync::model::Kind;
use nbsync::nautobot::NautobotApi;
use rig::*;
use serde_json::json;

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
async fn json_of_the_wrong_shape_and_truncated_answers() {
    // every list comes back with `results` renamed, with a right status and API-Version
    let Some(r) = rig(Mode::WrongShape).await else {
        return;
    };
    let mut op = start(&r);
    let msg = wait_ready_false(&r, &op, "NautobotBadResponse").await;
    eprintln!("wrong shape: {msg}");
    assert!(msg.contains("results"), "{msg}");
    assert_eq!(
        r.proxy.writes(),
        0,
        "nothing written on what could not be read"
    );
    // every answer cut in the middle of its body
    r.proxy.set(Mode::Truncate);
    let started = std::time::Instant::now();
    wait_for("a truncated answer reported", T, &op, async || {
        let s = nbsync_status(&r.k8s);
        condition(&s, "Ready").is_some_and(|c| c.0 == "False")
            && !reason_is(&r, "Ready", "False", "NautobotBadResponse")
    })
    .await;
    let msg = message(&r, "Ready");
    eprintln!(
        "truncated, after {:.1}s: {:?} {msg}",
        started.elapsed().as_secs_f64(),
        condition(&nbsync_status(&r.k8s), "Ready")
    );
    assert!(!msg.contains(TEST_TOKEN));
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
    let want = expected(&r.k8s);
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

/// A small deterministic generator (xorshift64*): the "random" kill points and pauses are the
/// same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `lo..hi` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// Copies an object of the stand-in under a new name (new uid), changed by `f`.
fn clone_object(
    k8s: &kube_stand_in::StandIn,
    (api_version, kind, ns, name): (&str, &str, &str, &str),
    new_name: &str,
    f: impl FnOnce(&mut serde_json::Value),
) {
    let mut o = k8s.get(api_version, kind, Some(ns), name).unwrap();
    let meta = o["metadata"].as_object_mut().unwrap();
    for field in ["resourceVersion", "creationTimestamp", "generateName"] {
        meta.remove(field);
    }
    meta.insert("name".into(), json!(new_name));
    meta.insert("uid".into(), json!(format!("burst-{new_name}")));
    f(&mut o);
    k8s.apply_json(o).unwrap();
}

/// One change of the burst, the `i`-th: VM resizes, Services created and deleted, pods started
/// and removed (their IPs are synced with `podIps`).
fn burst_change(k8s: &kube_stand_in::StandIn, i: usize) {
    const STOREFRONT_POD: (&str, &str, &str, &str) =
        ("v1", "Pod", "shop-prod", "storefront-csh5dz9zs-9pvhc");
    const STOREFRONT_SVC: (&str, &str, &str, &str) = ("v1", "Service", "shop-prod", "storefront");
    match i % 6 {
        0 => edit_fedora_vm(k8s, |spec| {
            spec["domain"]["cpu"]["cores"] = json!(3 + i % 5)
        }),
        1 => clone_object(k8s, STOREFRONT_SVC, &format!("burst-svc-{i}"), |o| {
            let ip = format!("172.30.210.{i}");
            o["spec"]["clusterIP"] = json!(ip);
            o["spec"]["clusterIPs"] = json!([ip]);
        }),
        2 => clone_object(k8s, STOREFRONT_POD, &format!("burst-pod-{i}"), |o| {
            let ip = format!("10.129.3.{i}");
            o["status"]["podIP"] = json!(ip);
            o["status"]["podIPs"] = json!([{ "ip": ip }]);
        }),
        3 => edit_object(
            k8s,
            "kubevirt.io/v1",
            "VirtualMachine",
            Some("data-platform"),
            "centos-build-01",
            |vm| {
                vm["spec"]["template"]["spec"]["domain"]["resources"]["requests"]["memory"] =
                    json!(format!("{}Gi", 1 + i % 4))
            },
        ),
        // remove what an earlier step created (and, once, Services of the sample)
        4 => {
            let _ = k8s.delete(
                "v1",
                "Service",
                Some("shop-prod"),
                &format!("burst-svc-{}", i - 3),
            );
            if i == 10 {
                k8s.delete("v1", "Service", Some("shop-staging"), "legacy-billing")
                    .unwrap();
            }
            if i == 22 {
                k8s.delete("v1", "Service", Some("data-platform"), "etl-api-external")
                    .unwrap();
            }
        }
        _ => {
            if let Some(earlier) = i.checked_sub(9) {
                let _ = k8s.delete(
                    "v1",
                    "Pod",
                    Some("shop-prod"),
                    &format!("burst-pod-{earlier}"),
                );
            }
            if i == 17 {
                k8s.delete("v1", "Pod", Some("shop-prod"), "storefront-csh5dz9zs-z8pxk")
                    .unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_of_an_update_burst() {
    let Some(r) = rig_with(
        Mode::Pass,
        json!({"deletion": {"policy": "Delete"}, "sync": {"podIps": true}}),
    )
    .await
    else {
        return;
    };
    let mut op = start(&r);
    assert_converged(&r, &mut op).await;
    let before = owned(&r.nb.api, "ocp-lab").await.len();
    // 40 changes, 100 to 500 ms apart (about 12 s); the operator SIGKILLed after 4 of them,
    // drawn at random in 4 spans (the last leaves changes for the final process), and
    // restarted at once
    let mut rng = Rng(0x5eed_0007);
    let kill_after: Vec<usize> = [(3usize, 10usize), (12, 20), (22, 30), (31, 37)]
        .into_iter()
        .map(|(lo, hi)| lo + (rng.next() % (hi - lo) as u64) as usize)
        .collect();
    let mut kills = Vec::new();
    for i in 0..40 {
        burst_change(&r.k8s, i);
        tokio::time::sleep(rng.millis(100, 500)).await;
        if kill_after.contains(&i) {
            assert_alive(&mut op);
            op.kill().await;
            kills.push((i, r.proxy.writes_applied()));
            op = start(&r);
        }
    }
    assert_eq!(kills.len(), 4, "killed 4 times: {kills:?}");
    eprintln!(
        "killed after changes (change index, writes applied so far): {kills:?}; \
         {before} objects before the burst, {} expected after",
        expected(&r.k8s).len()
    );
    let burst_ended = Instant::now();
    wait_nothing_pending(&r, &op).await;
    assert_converged(&r, &mut op).await;
    eprintln!(
        "converged {:.1}s after the burst; {} writes in all",
        burst_ended.elapsed().as_secs_f64(),
        r.proxy.writes_applied()
    );
}

/// What people keep in Nautobot next to the operator's objects: a tenant of their own, and a VM
/// of their own inside the operator's Nautobot cluster. Never to be touched. Returns their ids.
async fn people_objects(r: &Rig) -> Vec<(Kind, String)> {
    let api = &r.nb.api;
    let tenant = api
        .create("tenancy/tenants/", vec![json!({"name": "people-tenant"})])
        .await
        .unwrap();
    let vm = api
        .create(
            "virtualization/virtual-machines/",
            vec![json!({"name": "people-vm", "cluster": {"name": "ocp-lab"}, "status": {"name": "Active"}})],
        )
        .await
        .unwrap();
    vec![
        (Kind::Tenant, tenant[0]["id"].as_str().unwrap().to_string()),
        (
            Kind::VirtualMachine,
            vm[0]["id"].as_str().unwrap().to_string(),
        ),
    ]
}

async fn assert_people_objects_kept(r: &Rig, people: &[(Kind, String)]) {
    for (kind, id) in people {
        let found =
            r.nb.api
                .get(kind.endpoint(), id.parse().unwrap())
                .await
                .unwrap();
        assert!(found.is_some(), "{kind} {id} of a person was removed");
    }
}

/// A namespace removed from the cluster with everything in it (finalizers cleared first, as
/// the controllers that own them would).
fn remove_namespace(k8s: &kube_stand_in::StandIn, ns: &str) {
    for (api_version, kind) in [
        ("kubevirt.io/v1", "VirtualMachineInstance"),
        ("kubevirt.io/v1", "VirtualMachine"),
        ("v1", "Pod"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
    ] {
        for o in k8s.list(api_version, kind, Some(ns)) {
            let name = o["metadata"]["name"].as_str().unwrap().to_string();
            edit_object(k8s, api_version, kind, Some(ns), &name, |o| {
                o["metadata"]["finalizers"] = json!([])
            });
            k8s.delete(api_version, kind, Some(ns), &name).unwrap();
        }
    }
    k8s.delete("v1", "Namespace", None, ns).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_in_the_middle_of_deletions() {
    let Some(r) = rig_with(Mode::Pass, json!({"deletion": {"policy": "Delete"}})).await else {
        return;
    };
    let mut op = start(&r);
    assert_converged(&r, &mut op).await;
    let people = people_objects(&r).await;
    let unowned = [(Kind::Tenant, 1), (Kind::VirtualMachine, 1)];
    let before = owned(&r.nb.api, "ocp-lab").await.len();
    // a namespace goes; every other DELETE is applied by Nautobot but its answer is lost
    r.proxy.set(Mode::DropAnswerOf {
        method: "DELETE".into(),
        every: 2,
    });
    remove_namespace(&r.k8s, "shop-staging");
    wait_nothing_pending(&r, &op).await;
    let dropped = r.proxy.faults();
    assert!(dropped > 0, "some DELETE answers were dropped");
    eprintln!(
        "shop-staging removed: {} of {before} objects deleted, {dropped} answers dropped, {} DELETEs sent",
        before - owned(&r.nb.api, "ocp-lab").await.len(),
        r.proxy.count("DELETE")
    );
    assert_converged_with(&r, &mut op, &unowned).await;
    // Nautobot answers 503 to every DELETE while Services and a Deployment go
    r.proxy.set(Mode::FailMethod {
        method: "DELETE".into(),
        n: 10_000,
        status: 503,
    });
    let deletes_before = r.proxy.count("DELETE");
    for name in ["cart-api-headless", "db-vm"] {
        r.k8s
            .delete("v1", "Service", Some("shop-prod"), name)
            .unwrap();
    }
    r.k8s
        .delete("apps/v1", "Deployment", Some("data-platform"), "etl-worker")
        .unwrap();
    let msg = wait_ready_false(&r, &op, "NautobotServerError").await;
    assert!(msg.contains("503"), "{msg}");
    assert!(r.proxy.count("DELETE") > deletes_before);
    assert_people_objects_kept(&r, &people).await;
    assert_alive(&mut op);
    r.proxy.set(Mode::Pass);
    let recovery = assert_converged_with(&r, &mut op, &unowned).await;
    eprintln!(
        "recovered {:.1}s after the 503s ended",
        recovery.as_secs_f64()
    );
    assert_people_objects_kept(&r, &people).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_during_the_on_delete_cleanup() {
    let Some(r) = rig_with(Mode::Pass, json!({"onDelete": "Delete"})).await else {
        return;
    };
    let mut op = start(&r);
    assert_converged(&r, &mut op).await;
    let people = people_objects(&r).await;
    let owned_before = owned(&r.nb.api, "ocp-lab").await.len();
    let get_sync = || {
        r.k8s
            .get("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
    };
    assert_eq!(
        get_sync().unwrap()["metadata"]["finalizers"],
        json!(["nbsync.dev/cleanup"])
    );
    // deleted while Nautobot answers 503 to every DELETE: the finalizer stays, and the status
    // and an Event say why and what the way out is
    r.proxy.set(Mode::FailMethod {
        method: "DELETE".into(),
        n: 10_000,
        status: 503,
    });
    r.k8s
        .delete("nbsync.dev/v1alpha1", "NautobotSync", Some(NS), "ocp-lab")
        .unwrap();
    let deleted = Instant::now();
    let msg = wait_ready_false(&r, &op, "CleanupFailed").await;
    assert!(
        msg.contains("503") && msg.contains("nbsync.dev/skip-cleanup=true"),
        "{msg}"
    );
    let obj = get_sync().expect("still there while the cleanup cannot run");
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(obj["metadata"]["finalizers"], json!(["nbsync.dev/cleanup"]));
    let events = r.k8s.list("events.k8s.io/v1", "Event", Some(NS));
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "CleanupFailed" && e["type"] == "Warning"),
        "{events:#?}"
    );
    assert_eq!(owned(&r.nb.api, "ocp-lab").await.len(), owned_before);
    // Nautobot works again, but every other DELETE answer is lost (applied, not acknowledged);
    // and a person's VM in the operator's Nautobot cluster keeps the cluster from being deleted
    r.proxy.set(Mode::DropAnswerOf {
        method: "DELETE".into(),
        every: 2,
    });
    wait_for("the cluster named as what is left", T, &op, async || {
        reason_is(&r, "Ready", "False", "CleanupFailed")
            && message(&r, "Ready").contains("Cluster ocp-lab")
    })
    .await;
    let msg = message(&r, "Ready");
    eprintln!("while a person's VM is in the cluster: {msg}");
    let left: Vec<String> = owned(&r.nb.api, "ocp-lab")
        .await
        .values()
        .map(|o| format!("{} {}", o.kind, o.display))
        .collect();
    assert_eq!(left, ["Cluster ocp-lab"], "everything else was deleted");
    assert!(
        get_sync().is_some(),
        "the finalizer stays while objects are left"
    );
    assert_people_objects_kept(&r, &people).await;
    // the person moves their VM away (deletes it): the cleanup finishes
    r.nb.api
        .delete(
            Kind::VirtualMachine.endpoint(),
            vec![people[1].1.parse().unwrap()],
        )
        .await
        .unwrap();
    wait_for("the NautobotSync gone", T, &op, async || {
        get_sync().is_none()
    })
    .await;
    eprintln!(
        "cleanup done {:.1}s after the NautobotSync was deleted; {} DELETEs, {} answers dropped or refused",
        deleted.elapsed().as_secs_f64(),
        r.proxy.count("DELETE"),
        r.proxy.faults()
    );
    assert!(
        owned(&r.nb.api, "ocp-lab").await.is_empty(),
        "nothing owned left"
    );
    assert_people_objects_kept(&r, &people[..1]).await;
    for kind in Kind::ALL {
        let all =
            r.nb.api
                .list(kind.endpoint(), &[("exclude_m2m", "true".into())])
                .await
                .unwrap();
        let want = usize::from(kind == Kind::Tenant);
        assert_eq!(all.len(), want, "{kind}: {all:#?}");
    }
    assert_alive(&mut op);
}
