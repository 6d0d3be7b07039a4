//! The metrics and health endpoints over real HTTP on 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nbsync::runtime::http::{Health, bind, serve, serve_on};
use nbsync::runtime::metrics::Metrics;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

/// GETs `path` and returns the status code, the content type and the body.
async fn get(client: &reqwest::Client, addr: SocketAddr, path: &str) -> (u16, String, String) {
    let resp = timeout(WAIT, client.get(format!("http://{addr}{path}")).send())
        .await
        .expect("request timed out")
        .expect("request failed");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = timeout(WAIT, resp.text()).await.unwrap().unwrap();
    (status, ctype, body)
}

/// Polls `path` until it answers `want`, failing after [`WAIT`].
async fn wait_for(client: &reqwest::Client, addr: SocketAddr, path: &str, want: u16) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, _, body) = get(client, addr, path).await;
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} stayed {status} ({body}), wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn endpoints_follow_the_health_state_and_shut_down() {
    nbsync::nautobot::install_crypto_provider();
    let metrics = Metrics::new();
    metrics.set_leader(true);
    let health = Arc::new(Health::new(Duration::from_millis(500)));
    let (listener, addr) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert_ne!(addr.port(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, metrics.clone(), health.clone(), async {
        let _ = stopped.await;
    }));

    // A loop that works and makes progress, until it "wedges".
    let beat = health.beat("the test loop", Duration::ZERO);
    let busy = beat.busy();
    let ticker = tokio::spawn({
        let beat = beat.clone();
        async move {
            loop {
                beat.progress();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });

    let client = reqwest::Client::new();
    let (status, ctype, body) = get(&client, addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(body.contains("# TYPE nbsync_reconcile_duration_seconds histogram"));
    assert!(body.contains("nbsync_leader 1"));
    assert_eq!(get(&client, addr, "/nope").await.0, 404);

    // Alive, but not ready until the caches are synced.
    assert_eq!(wait_for(&client, addr, "/healthz", 200).await, "ok");
    let (status, _, body) = get(&client, addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (503, "caches not synced"));
    health.set_caches_synced(true);
    assert_eq!(wait_for(&client, addr, "/readyz", 200).await, "ok");

    // A component declares the process unhealthy, then recovers.
    health.set_healthy(false, "watch task died");
    assert_eq!(
        wait_for(&client, addr, "/healthz", 503).await,
        "watch task died"
    );
    assert_eq!(get(&client, addr, "/readyz").await.0, 503);
    health.set_healthy(true, "");
    wait_for(&client, addr, "/healthz", 200).await;

    // The busy loop stops making progress: liveness and readiness fail, naming it, and
    // recover once it is done (idle).
    ticker.abort();
    let body = wait_for(&client, addr, "/healthz", 503).await;
    assert!(
        body.contains("the test loop has been busy") && body.contains("no progress"),
        "{body}"
    );
    assert_eq!(get(&client, addr, "/readyz").await.0, 503);
    drop(busy);
    wait_for(&client, addr, "/readyz", 200).await;

    // Graceful shutdown: the server returns and stops accepting connections.
    drop(client);
    stop.send(()).unwrap();
    timeout(WAIT, server)
        .await
        .expect("server did not shut down")
        .unwrap()
        .unwrap();
    let err = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(WAIT)
        .send()
        .await;
    assert!(err.is_err(), "server still answers after shutdown");
}

#[tokio::test]
async fn serve_reports_a_busy_address() {
    let (_listener, addr) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let res = timeout(
        WAIT,
        serve(addr, Metrics::new(), Arc::new(Health::default()), async {}),
    )
    .await
    .expect("serve did not return");
    assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::AddrInUse);
}
