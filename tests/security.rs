//! Security properties of the live operator that need no Nautobot: the real binary against the
//! Kubernetes API stand-in.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/nautobot.rs"]
mod nautobot;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use e2e::*;
use serde_json::json;

/// A TCP listener that counts connections: a NautobotSync pointed here must never be contacted.
async fn trap() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nautobotsync_outside_the_served_namespaces_is_refused_and_never_acted_on() {
    // the served NautobotSync points at nothing; it only has to not get in the way
    let k8s = cluster(false, "http://127.0.0.1:9", json!({})).await;
    let (url, hits) = trap().await;
    let stolen = "feedfacefeedfacefeedfacefeedfacefeedface";
    k8s.apply_json(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}}),
    )
    .unwrap();
    let mut secret = token_secret("exfil", stolen);
    secret["metadata"]["namespace"] = json!("team-x");
    k8s.apply_json(secret).unwrap();
    k8s.apply_json(json!({
        "apiVersion": "nbsync.dev/v1alpha1", "kind": "NautobotSync",
        "metadata": {"name": "exfil", "namespace": "team-x", "generation": 1},
        "spec": {"clusterName": "exfil", "placement": {"location": "x"},
                 "nautobot": {"url": url, "tokenSecretRef": {"name": "exfil"}}}
    }))
    .unwrap();
    let op = Operator::start(&k8s, "op-0", &["--disable-leader-election"]);
    let status = || {
        k8s.get(
            "nbsync.dev/v1alpha1",
            "NautobotSync",
            Some("team-x"),
            "exfil",
        )
        .map(|o| o["status"].clone())
        .unwrap_or_default()
    };
    wait_for(
        "Ready=False NamespaceNotServed",
        Duration::from_secs(60),
        &op,
        async || {
            condition(&status(), "Ready") == Some(("False".into(), "NamespaceNotServed".into()))
        },
    )
    .await;
    let st = status();
    let message = condition_message(&st, "Ready");
    assert!(
        message.contains(NS),
        "the message names the served namespace: {message}"
    );
    let events = k8s.list("events.k8s.io/v1", "Event", Some("team-x"));
    assert!(
        events.iter().any(|e| e["reason"] == "NamespaceNotServed"),
        "a Warning Event: {events:#?}"
    );
    // the same Event in its core v1 shape, as `kubectl describe` lists them
    let core = k8s.list("v1", "Event", Some("team-x"));
    assert!(
        core.iter().any(|e| e["reason"] == "NamespaceNotServed"
            && e["involvedObject"]["name"] == "exfil"
            && e["type"] == "Warning"),
        "{core:#?}"
    );
    // the served one is still served (it reports its own, different problem)
    wait_for(
        "the served NautobotSync reports",
        Duration::from_secs(60),
        &op,
        async || {
            condition(&nbsync_status(&k8s), "Ready")
                .is_some_and(|c| c.0 == "False" && c.1 != "NamespaceNotServed")
        },
    )
    .await;
    // give a wrongly served object time to be acted on, then check nothing was
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the unserved object's URL was contacted"
    );
    let secret_reads = k8s
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/namespaces/team-x/secrets"))
        .count();
    assert_eq!(
        secret_reads, 0,
        "a Secret outside the served namespaces was read"
    );
    let logs = op.logs();
    assert!(
        !logs.contains(stolen),
        "the other namespace's token is in the log"
    );
    assert!(
        logs.contains("refusing a NautobotSync outside the served namespaces"),
        "{logs}"
    );
    // refused once: no status rewrite loop
    let writes = || {
        k8s.requests()
            .into_iter()
            .filter(|r| {
                r.path
                    .ends_with("/namespaces/team-x/nautobotsyncs/exfil/status")
            })
            .count()
    };
    let before = writes();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        writes(),
        before,
        "the refusal is written once, not in a loop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_leaks_into_logs_events_status_or_metrics() {
    let Some(nb) = nautobot::clean().await else {
        return;
    };
    let k8s = cluster(true, &nb.url, json!({})).await;
    // trace: every log line the operator can write
    let op = Operator::start(
        &k8s,
        "op-0",
        &["--disable-leader-election", "--log-level", "trace"],
    );
    wait_for("Synced", Duration::from_secs(120), &op, async || {
        condition(&nbsync_status(&k8s), "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;
    edit_fedora_vm(&k8s, |spec| spec["domain"]["cpu"]["cores"] = json!(3));
    // a wrong token, then the right one again: the error paths log and report too
    let wrong = "0badc0de0badc0de0badc0de0badc0de0badc0de";
    k8s.apply_json(token_secret("nautobot-token", wrong))
        .unwrap();
    wait_for(
        "the wrong token refused",
        Duration::from_secs(60),
        &op,
        async || {
            condition(&nbsync_status(&k8s), "Ready")
                == Some(("False".into(), "NautobotUnauthorized".into()))
        },
    )
    .await;
    k8s.apply_json(token_secret("nautobot-token", nautobot::TEST_TOKEN))
        .unwrap();
    wait_for("Ready again", Duration::from_secs(60), &op, async || {
        let s = nbsync_status(&k8s);
        condition(&s, "Ready").is_some_and(|c| c.0 == "True")
            && condition(&s, "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;
    let metrics = reqwest::get(format!("http://{}/metrics", metrics_addr(&op)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut events = k8s.list("events.k8s.io/v1", "Event", Some(NS));
    events.extend(k8s.list("v1", "Event", Some(NS)));
    assert!(!events.is_empty(), "events were published");
    let status = nbsync_status(&k8s).to_string();
    let logs = op.logs();
    assert!(logs.lines().count() > 100, "a trace log was written");
    for (what, text) in [
        ("the log (trace level)", logs.clone()),
        ("the events", serde_json::to_string(&events).unwrap()),
        ("the status", status),
        ("the metrics", metrics),
    ] {
        for token in [nautobot::TEST_TOKEN, wrong] {
            assert!(!text.contains(token), "a token is in {what}");
            let encoded = token_secret("x", token)["data"]["token"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(!text.contains(&encoded), "a base64 token is in {what}");
            // not even its start (a truncated or formatted token)
            assert!(!text.contains(&token[..16]), "part of a token is in {what}");
        }
    }
    assert!(!logs.contains("panicked"), "no panic");
}
