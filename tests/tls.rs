//! TLS between the operator and Nautobot (issue #7): the real operator binary, the API
//! stand-in and a real Nautobot behind a TLS front (`support/tls.rs`, certificates made with
//! `openssl` at test time) and the fault proxy (which counts what reaches Nautobot).
//!
//! An untrusted certificate must give a TLS-specific reason that says what to fix, an Event,
//! and no write; the right CA (from a ConfigMap or a Secret, fixed at run time) must sync
//! fully; `insecureSkipTlsVerify` must sync and say so in the status. Results:
//! docs/reliability.md.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/nautobot.rs"]
mod nautobot;
#[path = "support/rig.rs"]
mod rig;
#[path = "support/tls.rs"]
mod tls;

use std::time::Instant;

use e2e::*;
use fault_proxy::{FaultProxy, Mode};
use nautobot::*;
use rig::*;
use serde_json::{Value, json};
use tls::{Pki, TlsFront};

/// The rig with a TLS front between the operator and the proxy; the NautobotSync points at
/// the front (https) with `spec_patch` merged into its spec.
async fn tls_rig(pki: &Pki, spec_patch: Value) -> Option<(Rig, TlsFront)> {
    let nb = clean().await?;
    let proxy = FaultProxy::start(&nb.url).await;
    proxy.set(Mode::Pass);
    let front = TlsFront::start(pki, &proxy.url).await;
    let k8s = cluster(true, &front.url, spec_patch).await;
    let rig = Rig {
        nb,
        proxy,
        k8s,
        started: Instant::now(),
    };
    Some((rig, front))
}

fn configmap(name: &str, pem: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS},
           "data": {"ca-bundle.crt": pem}})
}

/// Waits for Ready=False NautobotTLSError and checks what every untrusted-certificate case
/// must show: the message says what to fix, a Warning Event, nothing reached Nautobot, the
/// handshakes were refused by the operator, and it stays up.
async fn assert_refused_tls(r: &Rig, front: &TlsFront, op: &mut Operator, fix: &str) {
    let msg = wait_ready_false(r, op, "NautobotTLSError").await;
    eprintln!("Ready message: {msg}");
    assert!(
        msg.contains("UnknownIssuer") && msg.contains(fix) && msg.contains(&front.url),
        "the message names the cause, the URL and the fix ({fix}): {msg}"
    );
    assert!(reason_is(r, "Synced", "False", "NautobotTLSError"));
    assert!(reason_is(r, "Degraded", "True", "NautobotTLSError"));
    let events = r.k8s.list("events.k8s.io/v1", "Event", Some(NS));
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "NautobotTLSError" && e["type"] == "Warning"),
        "a Warning Event: {events:#?}"
    );
    assert!(front.handshakes_failed() > 0, "the handshake was refused");
    assert_eq!(front.handshakes_ok(), 0, "no handshake completed");
    assert_eq!(
        r.proxy.count("GET") + r.proxy.writes(),
        0,
        "nothing reached Nautobot"
    );
    // a certificate error is not retried 5 times per request: the failed passes back off
    assert_alive(op);
    assert!(!op.logs().contains(TEST_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_until_the_ca_is_given() {
    let pki = Pki::new();
    let Some((r, front)) = tls_rig(&pki, json!({})).await else {
        return;
    };
    let mut op = start(&r);
    assert_refused_tls(&r, &front, &mut op, "caBundleRef").await;
    let refused = front.handshakes_failed();
    eprintln!("{refused} handshakes refused, 0 requests through");
    // the person adds the CA, in a ConfigMap, to the spec
    r.k8s
        .apply_json(configmap("nautobot-ca", &pki.ca_pem()))
        .unwrap();
    edit_nbsync(&r.k8s, |o| {
        o["spec"]["nautobot"]["caBundleRef"] = json!({"name": "nautobot-ca"})
    });
    assert_converged(&r, &mut op).await;
    assert!(front.handshakes_ok() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_in_the_configmap_is_refused_and_fixing_the_configmap_is_picked_up() {
    let pki = Pki::new();
    let Some((r, front)) = tls_rig(
        &pki,
        json!({"nautobot": {"caBundleRef": {"kind": "ConfigMap", "name": "nautobot-ca"}}}),
    )
    .await
    else {
        return;
    };
    r.k8s
        .apply_json(configmap("nautobot-ca", &pki.other_ca_pem()))
        .unwrap();
    let mut op = start(&r);
    assert_refused_tls(&r, &front, &mut op, "did not sign").await;
    // only the ConfigMap changes (not the NautobotSync): the operator must notice by itself
    r.k8s
        .apply_json(configmap("nautobot-ca", &pki.ca_pem()))
        .unwrap();
    let recovery = assert_converged(&r, &mut op).await;
    eprintln!(
        "synced {:.1}s after the ConfigMap was fixed",
        recovery.as_secs_f64()
    );
    assert!(front.handshakes_ok() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_ca_in_a_secret_syncs_fully() {
    let pki = Pki::new();
    let Some((r, front)) = tls_rig(
        &pki,
        json!({"nautobot": {"caBundleRef": {"kind": "Secret", "name": "nautobot-ca", "key": "ca.crt"}}}),
    )
    .await
    else {
        return;
    };
    r.k8s
        .apply_json(secret("nautobot-ca", "ca.crt", &pki.ca_pem()))
        .unwrap();
    let mut op = start(&r);
    assert_converged(&r, &mut op).await;
    assert!(front.handshakes_ok() > 0);
    assert_eq!(front.handshakes_failed(), 0);
    assert!(!message(&r, "Ready").contains("TLS verification is OFF"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_tls_verify_syncs_and_says_so() {
    let pki = Pki::new();
    let Some((r, front)) =
        tls_rig(&pki, json!({"nautobot": {"insecureSkipTlsVerify": true}})).await
    else {
        return;
    };
    let mut op = start(&r);
    wait_for("Ready, Synced, Degraded InsecureTLS", T, &op, async || {
        reason_is(&r, "Ready", "True", "Ready")
            && reason_is(&r, "Synced", "True", "Synced")
            && reason_is(&r, "Degraded", "True", "InsecureTLS")
    })
    .await;
    assert_nautobot_matches(&r, &mut op, &[]).await;
    let ready = message(&r, "Ready");
    assert!(ready.contains("TLS verification is OFF"), "{ready}");
    assert!(
        message(&r, "Degraded").contains("insecureSkipTlsVerify"),
        "{}",
        message(&r, "Degraded")
    );
    assert!(front.handshakes_ok() > 0);
}

/// Certificates that no CA bundle fixes: the error names the cause and what to do, at once
/// (not retried), and nothing gets past the handshake. Needs no Nautobot: the front's upstream
/// is never reached.
#[tokio::test]
async fn expired_and_wrong_host_certificates_say_what_to_fix() {
    for (san, days, hint) in [
        (
            "DNS:nautobot.example.org",
            "1",
            "not issued for the host of spec.nautobot.url",
        ),
        (
            "IP:127.0.0.1,DNS:localhost",
            "0",
            "outside its validity period",
        ),
    ] {
        let pki = Pki::with_server(san, days);
        // a certificate made with 0 days expires the second it is made
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let front = TlsFront::start(&pki, "http://127.0.0.1:9").await;
        let mut cfg = nbsync::nautobot::ClientConfig::new(
            &front.url,
            nbsync::nautobot::Token::new(TEST_TOKEN),
        );
        cfg.ca_bundle_pem = Some(pki.ca_pem().into_bytes());
        let client = nbsync::nautobot::HttpClient::new(cfg).unwrap();
        let e = client.check().await.unwrap_err();
        assert_eq!(e.category(), "NautobotTLSError", "{san}: {e}");
        assert!(e.to_string().contains(hint), "{san}: {e}");
        assert!(
            !e.to_string().contains(TEST_TOKEN),
            "the token never prints"
        );
        assert_eq!(front.handshakes_ok(), 0, "{san}");
        // not retried: one refused handshake (the client's retries would make five; the
        // front counts a failure when it sees the client's alert, a moment later)
        for _ in 0..50 {
            if front.handshakes_failed() > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(front.handshakes_failed(), 1, "{san}");
    }
}
