//! The metrics and health endpoints: `GET /metrics`, `GET /healthz` (liveness) and
//! `GET /readyz` (readiness), served with axum.
//!
//! Liveness fails only when the process is wedged: a loop that is busy (a reconcile, a sync
//! pass) has made no progress within its limit (its [`Beat`]), or a component declared the
//! process unhealthy with [`Health::set_healthy`]. A loop that waits by choice (no change to
//! sync, the next resync an hour away) is alive however long it waits, and liveness never
//! fails because Nautobot is down (requests that fail are progress too). Readiness also
//! requires the watch caches to be synced.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::runtime::metrics::{CONTENT_TYPE, Metrics};

/// Default time a busy loop may go without progress before liveness fails.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(120);

/// Shared liveness and readiness state, updated by the operator and read by the endpoints.
#[derive(Debug)]
pub struct Health {
    caches_synced: AtomicBool,
    /// `Some(reason)` while a component declared the process unhealthy.
    unhealthy: Mutex<Option<String>>,
    /// The loops' heartbeats; a dropped [`Beat`] (a stopped worker) is forgotten.
    beats: Mutex<Vec<Weak<BeatState>>>,
    stale_after: Duration,
}

/// One loop's heartbeat. The loop holds a [`Busy`] guard while it works and reports
/// [`progress`](Beat::progress) as it goes (each answer from Nautobot, each finished
/// reconcile); without a guard it is idle by choice. Liveness fails when the loop has been busy
/// for longer than its limit without progress. Clones share the state (concurrent reconciles
/// count as one loop busy while any of them runs).
#[derive(Debug, Clone)]
pub struct Beat(Arc<BeatState>);

#[derive(Debug)]
struct BeatState {
    name: String,
    limit: Duration,
    /// (guards held, busy since, last progress)
    state: Mutex<(usize, Instant, Instant)>,
}

/// Held while a loop works; dropping it is progress, and the loop is idle once no guard is
/// left.
#[derive(Debug)]
pub struct Busy(Beat);

impl Beat {
    /// A heartbeat nobody checks (tests that have no [`Health`]).
    pub fn detached(name: &str) -> Beat {
        let now = Instant::now();
        Beat(Arc::new(BeatState {
            name: name.to_string(),
            limit: Duration::MAX,
            state: Mutex::new((0, now, now)),
        }))
    }

    /// The loop starts working.
    pub fn busy(&self) -> Busy {
        let now = Instant::now();
        let mut s = lock(&self.0.state);
        if s.0 == 0 {
            s.1 = now;
        }
        s.0 += 1;
        s.2 = now;
        Busy(self.clone())
    }

    /// The loop moved on (an answer came, a step ended).
    pub fn progress(&self) {
        lock(&self.0.state).2 = Instant::now();
    }

    /// Why the loop counts as wedged at `now`, if it does.
    fn stalled(&self, now: Instant) -> Option<String> {
        let (busy, since, last) = *lock(&self.0.state);
        let quiet = now.saturating_duration_since(last);
        (busy > 0 && quiet > self.0.limit).then(|| {
            format!(
                "{} has been busy for {}s and made no progress for {}s (limit {}s)",
                self.0.name,
                now.saturating_duration_since(since).as_secs(),
                quiet.as_secs(),
                self.0.limit.as_secs()
            )
        })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = lock(&(self.0).0.state);
        s.0 = s.0.saturating_sub(1);
        s.2 = Instant::now();
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new(DEFAULT_STALE_AFTER)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Health {
    /// Healthy, not ready; `stale_after` is the default limit of [`Health::beat`].
    pub fn new(stale_after: Duration) -> Self {
        Health {
            caches_synced: AtomicBool::new(false),
            unhealthy: Mutex::new(None),
            beats: Mutex::new(Vec::new()),
            stale_after,
        }
    }

    /// The default time a busy loop may go without progress.
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// A heartbeat for a loop named `name` (shown by `/healthz` when it is wedged), which may
    /// go `limit` without progress while busy (at least [`Health::stale_after`]).
    pub fn beat(&self, name: impl Into<String>, limit: Duration) -> Beat {
        let now = Instant::now();
        let beat = Beat(Arc::new(BeatState {
            name: name.into(),
            limit: limit.max(self.stale_after),
            state: Mutex::new((0, now, now)),
        }));
        let mut beats = lock(&self.beats);
        beats.retain(|b| b.strong_count() > 0);
        beats.push(Arc::downgrade(&beat.0));
        beat
    }

    /// Marks the watch caches as synced (or not, e.g. after a watch restarted from scratch).
    pub fn set_caches_synced(&self, synced: bool) {
        self.caches_synced.store(synced, Ordering::Relaxed);
    }

    /// Whether the watch caches are synced.
    pub fn caches_synced(&self) -> bool {
        self.caches_synced.load(Ordering::Relaxed)
    }

    /// Declares the process healthy, or unhealthy for `reason` (shown by `/healthz`). Use it
    /// only for a wedged process, never for an unreachable Nautobot.
    pub fn set_healthy(&self, healthy: bool, reason: impl Into<String>) {
        *lock(&self.unhealthy) = if healthy { None } else { Some(reason.into()) };
    }

    /// `Ok` while the process is alive, else the reason.
    pub fn liveness(&self) -> Result<(), String> {
        if let Some(reason) = lock(&self.unhealthy).as_ref() {
            return Err(reason.clone());
        }
        let now = Instant::now();
        let stalled: Vec<String> = lock(&self.beats)
            .iter()
            .filter_map(Weak::upgrade)
            .filter_map(|b| Beat(b).stalled(now))
            .collect();
        if stalled.is_empty() {
            Ok(())
        } else {
            Err(stalled.join("; "))
        }
    }

    /// `Ok` once the process is alive and the caches are synced, else a short reason.
    pub fn readiness(&self) -> Result<(), String> {
        self.liveness()?;
        if !self.caches_synced() {
            return Err("caches not synced".to_owned());
        }
        Ok(())
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// The router with `/metrics`, `/healthz` and `/readyz`.
pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health })
}

async fn metrics_handler(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], s.metrics.render()).into_response()
}

fn status(check: Result<(), String>) -> Response {
    match check {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}

async fn healthz(State(s): State<AppState>) -> Response {
    status(s.health.liveness())
}

async fn readyz(State(s): State<AppState>) -> Response {
    status(s.health.readiness())
}

/// Binds `addr` (port 0 picks a free port) and returns the listener with its actual address.
pub async fn bind(addr: SocketAddr) -> io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves the endpoints on `listener` until `shutdown` completes, then drains in-flight
/// requests (graceful shutdown).
pub async fn serve_on(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    }
    axum::serve(listener, router(metrics, health))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `addr` and serves the endpoints until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (listener, _) = bind(addr).await?;
    serve_on(listener, metrics, health, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_and_readiness() {
        let h = Health::default();
        assert_eq!(h.stale_after(), DEFAULT_STALE_AFTER);
        assert_eq!(h.liveness(), Ok(()));
        assert_eq!(h.readiness(), Err("caches not synced".to_owned()));
        h.set_caches_synced(true);
        assert_eq!(h.readiness(), Ok(()));
        h.set_healthy(false, "watch task panicked");
        assert_eq!(h.liveness(), Err("watch task panicked".to_owned()));
        assert_eq!(h.readiness(), Err("watch task panicked".to_owned()));
        h.set_healthy(true, "");
        assert_eq!(h.readiness(), Ok(()));
    }

    #[test]
    fn a_busy_loop_without_progress_fails_liveness_and_an_idle_one_never_does() {
        let h = Health::new(Duration::from_millis(20));
        let worker = h.beat("worker ns/a", Duration::ZERO);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(h.liveness(), Ok(()), "idle by choice, however long");
        let busy = worker.busy();
        assert_eq!(h.liveness(), Ok(()));
        std::thread::sleep(Duration::from_millis(40));
        let err = h.liveness().unwrap_err();
        assert!(
            err.contains("worker ns/a has been busy") && err.contains("no progress"),
            "{err}"
        );
        worker.progress();
        assert_eq!(h.liveness(), Ok(()), "progress");
        std::thread::sleep(Duration::from_millis(40));
        assert!(h.liveness().is_err());
        drop(busy);
        assert_eq!(h.liveness(), Ok(()), "done: idle again");
        // two at once: busy while either runs
        let (a, b) = (worker.busy(), worker.busy());
        drop(a);
        std::thread::sleep(Duration::from_millis(40));
        assert!(h.liveness().is_err(), "one still runs, without progress");
        drop(b);
        // a stopped loop is forgotten
        let other = h.beat("reconcile", Duration::ZERO);
        let stuck = other.busy();
        std::thread::sleep(Duration::from_millis(40));
        assert!(h.liveness().unwrap_err().contains("reconcile"));
        drop(stuck);
        drop(other);
        drop(worker);
        assert_eq!(h.liveness(), Ok(()));
        assert!(lock(&h.beats).iter().all(|b| b.strong_count() == 0));
    }
}
