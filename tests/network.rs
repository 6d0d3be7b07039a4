//! Network faults below HTTP (issue #7), against the real client and real sockets on
//! loopback; no Nautobot is needed. Each must end in a bounded time with the right reason
//! (the Ready condition's reason is the error's category) and a message that says what to
//! check, and never print the token. Results: docs/reliability.md.

use std::time::{Duration, Instant};

use nbsync::nautobot::{ApiError, ClientConfig, HttpClient, Token};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

/// A client for `url` that gives up quickly: 2 s per request, 2 attempts.
fn client(url: &str) -> HttpClient {
    let mut cfg = ClientConfig::new(url, Token::new(TOKEN));
    cfg.timeout = Duration::from_secs(2);
    cfg.max_attempts = 2;
    cfg.backoff = Duration::from_millis(100);
    HttpClient::new(cfg).unwrap()
}

/// Runs `check()` and returns the error and how long it took.
async fn check_fails(url: &str) -> (ApiError, Duration) {
    let started = Instant::now();
    let e = client(url).check().await.unwrap_err();
    let took = started.elapsed();
    eprintln!("{url}: {:?} after {took:?}: {e}", e.category());
    assert!(!e.to_string().contains(TOKEN), "the token never prints");
    (e, took)
}

/// A listener that accepts connections, reads what comes and never answers: a stalled TLS
/// handshake for an https client, a hung server for an http one. Returns its port and a
/// counter of accepted connections.
async fn black_hole() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn a_host_name_that_does_not_resolve_says_to_check_the_name_and_dns() {
    // RFC 6761: names under .invalid never resolve
    let (e, took) = check_fails("https://nautobot.example.invalid").await;
    assert_eq!(e.category(), "NautobotUnreachable");
    let msg = e.to_string();
    assert!(
        msg.contains("nautobot.example.invalid") && msg.contains("does not resolve"),
        "names the URL and the cause: {msg}"
    );
    // two attempts, each bounded by the resolver's own timeout
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[tokio::test]
async fn a_port_where_nothing_listens_says_to_check_the_port() {
    // bind and drop: a loopback port that is free now and refuses connections
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (e, took) = check_fails(&format!("http://127.0.0.1:{port}")).await;
    assert_eq!(e.category(), "NautobotUnreachable");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("check the port"),
        "names the URL and what to check: {msg}"
    );
    assert!(took < Duration::from_secs(5), "refused at once: {took:?}");
}

#[tokio::test]
async fn a_stalled_tls_handshake_times_out_and_is_retried_a_bounded_number_of_times() {
    let (port, accepted) = black_hole().await;
    let (e, took) = check_fails(&format!("https://127.0.0.1:{port}")).await;
    assert_eq!(e.category(), "NautobotTimeout", "{e}");
    assert!(e.to_string().contains("within 2s"), "{e}");
    // 2 attempts of 2 s and one short backoff: never hangs
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one connection per attempt"
    );
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_times_out() {
    let (port, accepted) = black_hole().await;
    let (e, took) = check_fails(&format!("http://127.0.0.1:{port}")).await;
    assert_eq!(e.category(), "NautobotTimeout", "{e}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}
