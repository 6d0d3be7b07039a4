//! The live operator: cluster watches, NautobotSync reconcilers with one sync worker each,
//! leader election, and the metrics and health endpoints.
//!
//! ```text
//!  watches ──► ClusterCache ──(Dirty roots)──► Worker per NautobotSync ──► Nautobot
//!                                                   │ report
//!  NautobotSync, Secret watches ──► reconcile ◄─────┘ ──► status, Events
//!  Lease ──► leader flag (only the holder writes)
//! ```

pub mod backoff;
pub mod cache;
pub mod claims;
pub mod debounce;
pub mod guarded;
pub mod reconcile;
pub mod status;
pub mod unserved;
pub mod watches;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};

use crate::api::NautobotSync;
use crate::runtime::http::Health;
use crate::runtime::leader::{LeaderConfig, LeaderElector};
use crate::runtime::metrics::Metrics;

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Namespaces whose NautobotSyncs are served.
    pub namespaces: Vec<String>,
    /// The operator's namespace (Lease).
    pub pod_namespace: String,
    /// This replica's identity in the Lease.
    pub identity: String,
    /// Lease name; `None` disables leader election (a single replica).
    pub lease_name: Option<String>,
    /// Metrics and health address.
    pub metrics_addr: SocketAddr,
    /// How often KubeVirt and OpenShift discovery runs.
    pub discovery_interval: Duration,
    /// Mark NautobotSyncs outside `namespaces` as refused ([`unserved`]).
    pub report_unserved: bool,
    /// At SIGTERM, how long a sync pass in flight may still take before it starts no new
    /// request (it then has [`worker::DRAIN`] more).
    pub shutdown_grace: Duration,
}

/// Why the operator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No kubeconfig and not in a pod.
    #[error("no Kubernetes configuration: {0}")]
    NoKubeConfig(#[source] kube::Error),
    /// The metrics and health address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Lease settings are not usable.
    #[error("leader election: {0}")]
    Leader(String),
    /// No async runtime.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::process::RuntimeError),
}

/// `run`: the operator in this process, until SIGTERM or Ctrl-C: the async runtime, the kube
/// client from the environment (in-cluster or a kubeconfig), then [`run`].
pub fn main(opts: Options) -> Result<(), StartError> {
    // kube and reqwest share rustls: one process-wide provider before either builds a client
    crate::nautobot::install_crypto_provider();
    crate::runtime::process::block_on_multi_thread(async move {
        tracing::info!(version = env!("CARGO_PKG_VERSION"), namespaces = ?opts.namespaces, identity = %opts.identity,
            "starting nautobot-sync-operator");
        let metrics = Metrics::new();
        // kube's default stack (as Client::try_default builds it), every request counted
        let config = kube::Config::infer()
            .await
            .map_err(|e| StartError::NoKubeConfig(kube::Error::InferConfig(e)))?;
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(StartError::NoKubeConfig)?
            .with_layer(&crate::runtime::kube_metrics::KubeMetricsLayer::new(
                metrics.clone(),
            ))
            .build();
        run(
            client,
            metrics,
            opts,
            crate::runtime::process::shutdown_signal(),
        )
        .await
    })?
}

/// Runs until `shutdown` resolves, counting into `metrics`.
pub async fn run(
    client: Client,
    metrics: Arc<Metrics>,
    opts: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let health = Arc::new(Health::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    // SIGTERM for the workers, before the rest stops
    let (stop_workers, workers_stop) = watch::channel(false);
    let shutdown_workers = worker::Shutdown::new(workers_stop, opts.shutdown_grace);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let (listener, addr) = crate::runtime::http::bind(opts.metrics_addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: opts.metrics_addr,
            source,
        })?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    let http = tokio::spawn(crate::runtime::http::serve_on(
        listener,
        metrics.clone(),
        health.clone(),
        stopped(stop_rx.clone()),
    ));

    let cache = cache::ClusterCache::new(metrics.clone());
    let watch_tasks = watches::spawn(client.clone(), cache.clone(), opts.discovery_interval);

    // readiness follows the cache; liveness the loops' heartbeats (runtime/http.rs Beat)
    {
        let health = health.clone();
        let mut ready = cache.readiness();
        tokio::spawn(async move {
            loop {
                let r = ready.borrow_and_update().clone();
                health.set_caches_synced(r.is_ready());
                let _ = tokio::time::timeout(Duration::from_secs(10), ready.changed()).await;
            }
        });
    }

    let (leader_rx, leader_handle) = match &opts.lease_name {
        Some(lease) => {
            let cfg = LeaderConfig::new(
                opts.pod_namespace.clone(),
                lease.clone(),
                opts.identity.clone(),
            );
            let (handle, task) =
                LeaderElector::spawn(client.clone(), cfg).map_err(StartError::Leader)?;
            // supervised: an election that ends before shutdown (a panic, a bug) has turned
            // the flag false, so nothing is written any more; say so and fail liveness so
            // that the kubelet restarts the pod
            let health = health.clone();
            let stop = stop_rx.clone();
            let supervisor = tokio::spawn(async move {
                let ended = task.await;
                if !*stop.borrow() {
                    let why = match ended {
                        Err(e) if e.is_panic() => "it panicked".to_string(),
                        Err(e) => e.to_string(),
                        Ok(()) => "it ended".to_string(),
                    };
                    tracing::error!(reason = %why, "leader election stopped: this replica writes nothing to Nautobot any more");
                    health.set_healthy(false, format!("leader election stopped ({why})"));
                }
            });
            (handle.subscribe(), Some((handle, supervisor)))
        }
        None => {
            // no election: always the leader (the sender lives as long as the operator)
            let (tx, rx) = watch::channel(true);
            std::mem::forget(tx);
            (rx, None)
        }
    };

    let (trigger_tx, trigger_rx) = mpsc::unbounded_channel::<ObjectRef<NautobotSync>>();
    let reporter = Reporter {
        controller: "nautobot-sync-operator".into(),
        instance: Some(opts.identity.clone()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    if opts.report_unserved {
        tokio::spawn(unserved::run(
            client.clone(),
            opts.namespaces.clone(),
            leader_rx.clone(),
            recorder.clone(),
            stop_rx.clone(),
        ));
    }
    let ctx = Arc::new(
        reconcile::Context::new(
            client.clone(),
            cache.clone(),
            leader_rx.clone(),
            metrics.clone(),
            recorder,
            trigger_tx,
            health.clone(),
        )
        .with_shutdown(shutdown_workers.clone()),
    );

    // NautobotSyncs deleted without our cleanup (a finalizer removed by hand) are never
    // reconciled again: their workers stop here
    {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                ctx.sweep();
            }
        });
    }

    // leadership changes re-reconcile everything we know
    {
        let ctx = ctx.clone();
        let metrics = metrics.clone();
        let mut leader = leader_rx.clone();
        tokio::spawn(async move {
            loop {
                let l = *leader.borrow_and_update();
                metrics.set_leader(l);
                tracing::info!(leader = l, "leadership");
                for k in ctx.known() {
                    let _ = ctx.trigger.send(k);
                }
                if leader.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    // one trigger stream, fanned out to the controller of the object's namespace
    let mut senders = std::collections::HashMap::new();
    let mut controllers = Vec::new();
    for ns in &opts.namespaces {
        let (tx, rx) = mpsc::unbounded_channel::<ObjectRef<NautobotSync>>();
        senders.insert(ns.clone(), tx);
        let api: Api<NautobotSync> = Api::namespaced(client.clone(), ns);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        let controller = Controller::new(api, watcher::Config::default());
        let store = controller.store();
        ctx.add_peers(store.clone());
        let cm_store = store.clone();
        let trigger =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        let ctx = ctx.clone();
        let stop = stopped(stop_rx.clone());
        controllers.push(tokio::spawn(async move {
            controller
                .watches(
                    secrets,
                    watcher::Config::default(),
                    move |secret: Secret| {
                        let name = secret.metadata.name.clone().unwrap_or_default();
                        store
                            .state()
                            .into_iter()
                            .filter(|o| {
                                o.spec.nautobot.token_secret_ref.name == name
                                    || o.spec
                                        .nautobot
                                        .ca_bundle_ref
                                        .as_ref()
                                        .is_some_and(|c| c.name == name)
                            })
                            .map(|o| ObjectRef::from_obj(o.as_ref()))
                            .collect::<Vec<_>>()
                    },
                )
                // a CA bundle fixed or rotated in its ConfigMap is picked up without a restart
                // (a Secret one is covered above)
                .watches(
                    configmaps,
                    watcher::Config::default(),
                    move |cm: ConfigMap| {
                        let name = cm.metadata.name.clone().unwrap_or_default();
                        cm_store
                            .state()
                            .into_iter()
                            .filter(|o| {
                                o.spec.nautobot.ca_bundle_ref.as_ref().is_some_and(|c| {
                                    c.kind == crate::api::CaBundleKind::ConfigMap && c.name == name
                                })
                            })
                            .map(|o| ObjectRef::from_obj(o.as_ref()))
                            .collect::<Vec<_>>()
                    },
                )
                .reconcile_on(trigger)
                .graceful_shutdown_on(stop)
                .run(reconcile::reconcile, reconcile::error_policy, ctx)
                .for_each(|res| async move {
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "controller");
                    }
                })
                .await;
        }));
    }
    let mut trigger_rx = trigger_rx;
    tokio::spawn(async move {
        while let Some(r) = trigger_rx.recv().await {
            if let Some(tx) = r.namespace.as_ref().and_then(|ns| senders.get(ns)) {
                let _ = tx.send(r);
            }
        }
    });

    tracing::info!(namespaces = ?opts.namespaces, "reconciling NautobotSync objects");
    shutdown.await;
    // 1. no new pass; a pass in flight finishes within the grace period or is stopped at its
    //    next request; 2. the controllers stop (reconciles in flight finish); 3. as the Lease
    //    holder, each NautobotSync's final status; 4. the Lease released; 5. exit.
    tracing::info!(
        grace_s = opts.shutdown_grace.as_secs_f64(),
        "shutting down: no new sync pass, the pass in flight has the grace period to finish"
    );
    let _ = stop_workers.send(true);
    let _ = stop_tx.send(true);
    let started = std::time::Instant::now();
    for c in controllers {
        let _ = tokio::time::timeout(Duration::from_secs(10), c).await;
    }
    ctx.finish(
        shutdown_workers
            .bound()
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1)),
    )
    .await;
    if let Some((h, election)) = leader_handle {
        // the flag turns false, then the Lease is released so that another replica takes over at
        // once; the election bounds the release by its renew deadline (10 s)
        h.release();
        if tokio::time::timeout(Duration::from_secs(12), election)
            .await
            .is_err()
        {
            tracing::warn!(
                "the Lease was not released in time; another replica takes over when it expires"
            );
        }
    }
    for t in watch_tasks {
        t.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::nautobot::{ApiError, BootstrapError, SyncError};
    use crate::runtime::metrics::CATEGORIES;

    /// Every category an error of a reconcile or a pass can have is a value of the metrics'
    /// `category` label (else it would be counted as `other`).
    #[test]
    fn every_error_category_is_a_metrics_label_value() {
        let s = String::new;
        let http = |status| ApiError::Http {
            method: s(),
            path: s(),
            status,
            summary: s(),
            body: None,
        };
        let api = [
            ApiError::Unreachable {
                url: s(),
                message: s(),
            },
            ApiError::Tls {
                url: s(),
                message: s(),
                hint: s(),
            },
            ApiError::Timeout {
                method: s(),
                path: s(),
                seconds: 1,
            },
            ApiError::Unauthorized {
                status: 403,
                detail: s(),
            },
            ApiError::UnsupportedVersion {
                wanted: s(),
                detail: s(),
            },
            http(500),
            http(429),
            http(400),
            ApiError::Decode {
                method: s(),
                path: s(),
                message: s(),
            },
            ApiError::Stopped,
        ];
        let mut categories: Vec<&str> = api.iter().map(ApiError::category).collect();
        let sync = [
            SyncError::Bootstrap(BootstrapError::Missing(s())),
            SyncError::Bootstrap(BootstrapError::Unusable(s())),
            SyncError::Identity(crate::plan::identity::IdentityMismatch {
                name: s(),
                theirs: s(),
                ours: s(),
            }),
        ];
        categories.extend(sync.iter().map(SyncError::category));
        categories.extend([
            super::reconcile::ReconcileError::Cleanup(s()).category(),
            super::reconcile::ReconcileError::Finalizer(s()).category(),
            super::reconcile::ReconcileError::Kube(kube::Error::LinesCodecMaxLineLengthExceeded)
                .category(),
            "InvalidCaBundle", // the worker's, for a CA bundle that does not parse
        ]);
        for c in categories {
            assert!(CATEGORIES.contains(&c), "{c} is not in metrics::CATEGORIES");
        }
    }
}
