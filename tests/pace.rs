//! The client's pace against a small stand-in for a busy Nautobot over real HTTP on
//! 127.0.0.1:0 (`src/nautobot/pace.rs`): a Retry-After holds every request of the client, the
//! rate cap spaces them, and a Nautobot that serves one request at a time sees the client back
//! off from the eight requests in flight it may send to about one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use nbsync::nautobot::{ClientConfig, HttpClient, NautobotApi, Token};
use serde_json::json;
use tokio::sync::Mutex;

/// What the stand-in saw.
#[derive(Default)]
struct Seen {
    /// When each request arrived, since the start.
    arrivals: std::sync::Mutex<Vec<Duration>>,
    /// Requests inside the handler now, and at each arrival.
    inside: AtomicUsize,
    inside_at_arrival: std::sync::Mutex<Vec<usize>>,
    served: AtomicUsize,
}

/// A Nautobot whose `extras/tags/` answers the first `throttle` requests with 429 and
/// `Retry-After: 1`, then serves one request at a time in `service` each.
async fn stand_in(throttle: usize, service: Duration) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let one_at_a_time = Arc::new(Mutex::new(()));
    let start = Instant::now();
    let s = seen.clone();
    let app = Router::new().route(
        "/api/extras/tags/",
        get(move || {
            let s = s.clone();
            let lock = one_at_a_time.clone();
            async move {
                let n = {
                    let mut a = s.arrivals.lock().unwrap();
                    a.push(start.elapsed());
                    a.len()
                };
                let inside = s.inside.fetch_add(1, Ordering::SeqCst);
                s.inside_at_arrival.lock().unwrap().push(inside);
                let answer = if n <= throttle {
                    let mut h = HeaderMap::new();
                    h.insert("Retry-After", "1".parse().unwrap());
                    (StatusCode::TOO_MANY_REQUESTS, h, "{}".to_string()).into_response()
                } else {
                    let _served = lock.lock().await;
                    tokio::time::sleep(service).await;
                    s.served.fetch_add(1, Ordering::SeqCst);
                    let body =
                        json!({"count": 1, "next": null, "results": [{"id": "x", "name": "t"}]});
                    (StatusCode::OK, body.to_string()).into_response()
                };
                s.inside.fetch_sub(1, Ordering::SeqCst);
                answer
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn client(url: &str, max_concurrent: usize, max_per_second: Option<u32>) -> Arc<HttpClient> {
    nbsync::nautobot::install_crypto_provider();
    let mut cfg = ClientConfig::new(url, Token::new("t"));
    cfg.max_concurrent = max_concurrent;
    cfg.max_per_second = max_per_second;
    cfg.backoff = Duration::from_millis(10);
    Arc::new(HttpClient::new(cfg).unwrap())
}

/// `n` requests from `tasks` concurrent tasks.
async fn requests(api: &Arc<HttpClient>, tasks: usize, n: usize) {
    let mut all = Vec::new();
    for _ in 0..tasks {
        let api = api.clone();
        all.push(tokio::spawn(async move {
            for _ in 0..n {
                api.list("extras/tags/", &[]).await.unwrap();
            }
        }));
    }
    for t in all {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_holds_every_request_of_the_client() {
    let (url, seen) = stand_in(1, Duration::from_millis(1)).await;
    let api = client(&url, 4, None);
    requests(&api, 4, 2).await;
    let arrivals = seen.arrivals.lock().unwrap().clone();
    assert_eq!(
        seen.served.load(Ordering::SeqCst),
        8,
        "every request got through"
    );
    // the 429 came first; whatever was not in flight by then waited out the second
    let first = arrivals[0];
    let early: Vec<&Duration> = arrivals[1..]
        .iter()
        .filter(|a| **a < first + Duration::from_millis(950))
        .collect();
    assert!(
        early.len() <= 3,
        "only requests already in flight may arrive within the Retry-After: {arrivals:?}"
    );
    assert!(arrivals.len() >= 9, "the throttled one was retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_cap_spaces_requests() {
    let (url, seen) = stand_in(0, Duration::from_millis(1)).await;
    let api = client(&url, 8, Some(10));
    requests(&api, 4, 3).await;
    let arrivals = seen.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 12);
    for w in arrivals.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(90),
            "10 a second at most: {arrivals:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nautobot_serving_one_at_a_time_sees_the_client_back_off() {
    let (url, seen) = stand_in(0, Duration::from_millis(20)).await;
    let api = client(&url, 8, None);
    requests(&api, 8, 25).await;
    let inside = seen.inside_at_arrival.lock().unwrap().clone();
    assert_eq!(inside.len(), 200);
    let (first, last) = inside.split_at(100);
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    eprintln!(
        "requests waiting at the stand-in on arrival: first half {:.1}, second half {:.1} (8 allowed)",
        mean(first),
        mean(last)
    );
    assert!(
        mean(last) < 4.0,
        "the client backs off from 8 in flight (7 would wait without): {:.1} waiting on average",
        mean(last)
    );
}
