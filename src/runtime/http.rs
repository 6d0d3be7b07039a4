//! The metrics and health endpoints: `GET /metrics`, `GET /healthz` (liveness) and
//! `GET /readyz` (readiness), served with axum.
//!
//! Liveness fails only when the process is wedged (the main loop stopped calling
//! [`Health::tick`] for [`Health::stale_after`], or a component declared the process unhealthy
//! with [`Health::set_healthy`]); it never fails because Nautobot is down. Readiness also
//! requires the watch caches to be synced.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::runtime::metrics::{CONTENT_TYPE, Metrics};

/// Default time without a [`Health::tick`] after which liveness fails.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(120);

/// Shared liveness and readiness state, updated by the operator and read by the endpoints.
#[derive(Debug)]
pub struct Health {
    caches_synced: AtomicBool,
    /// `Some(reason)` while a component declared the process unhealthy.
    unhealthy: Mutex<Option<String>>,
    last_tick: Mutex<Instant>,
    stale_after: Duration,
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
    /// Healthy, not ready, with the tick clock starting now; liveness fails when no
    /// [`tick`](Health::tick) happens for `stale_after`.
    pub fn new(stale_after: Duration) -> Self {
        Health {
            caches_synced: AtomicBool::new(false),
            unhealthy: Mutex::new(None),
            last_tick: Mutex::new(Instant::now()),
            stale_after,
        }
    }

    /// The time without a tick after which liveness fails.
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// Records that the main loop is alive; call it on every iteration.
    pub fn tick(&self) {
        *lock(&self.last_tick) = Instant::now();
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
        let idle = lock(&self.last_tick).elapsed();
        if idle > self.stale_after {
            return Err(format!(
                "main loop has not ticked for {}s (limit {}s)",
                idle.as_secs(),
                self.stale_after.as_secs()
            ));
        }
        Ok(())
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
    fn stale_ticks_fail_liveness() {
        let h = Health::new(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert!(h.liveness().unwrap_err().contains("has not ticked"));
        let h = Health::new(Duration::from_secs(60));
        h.tick();
        assert_eq!(h.liveness(), Ok(()));
    }
}
