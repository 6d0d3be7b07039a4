//! Reconciling NautobotSync objects: validate, read the token, run a worker, write status.
//!
//! Every replica reconciles (so its worker and caches stay warm); only the Lease holder adds
//! the finalizer, writes status and Events, and its worker writes to Nautobot. A missing
//! Secret, a missing key, an invalid spec each block the object with a distinct reason; the
//! Secret is watched, so fixing or rotating it takes effect without a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::{mpsc, watch};

use super::cache::ClusterCache;
use super::claims::{self, Claim};
use super::status::{self, Blocked, StatusInput};
use super::worker::{Phase, Shutdown, Worker, WorkerSpec};
use crate::api::conditions::{find, types};
use crate::api::{CaBundleKind, NautobotSync, NautobotSyncStatus, OnDeletePolicy};
use crate::config::SyncConfig;
use crate::nautobot::{self, NautobotApi, Token};
use crate::project::Projection;
use crate::runtime::metrics::Metrics;

/// Finalizer that runs the `onDelete` policy.
pub const FINALIZER: &str = "nbsync.dev/cleanup";
/// Annotation that lets the next pass exceed the mass-deletion guard (removed after use).
pub const ALLOW_MASS_DELETION: &str = "nbsync.dev/allow-mass-deletion";
/// Annotation that skips the `onDelete: Delete` cleanup (the escape hatch when Nautobot is gone).
pub const SKIP_CLEANUP: &str = "nbsync.dev/skip-cleanup";
/// Field manager of status writes.
pub const MANAGER: &str = "nautobot-sync-operator";

/// Errors of one reconcile (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The Kubernetes API refused or failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Cleanup on deletion failed.
    #[error("cleanup in Nautobot failed: {0}")]
    Cleanup(String),
    /// The finalizer helper failed.
    #[error("{0}")]
    Finalizer(String),
}

impl ReconcileError {
    /// Bounded category for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            ReconcileError::Kube(_) => "KubernetesApiError",
            ReconcileError::Cleanup(_) => "CleanupFailed",
            ReconcileError::Finalizer(_) => "FinalizerFailed",
        }
    }
}

/// Shared by all reconciles.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Cluster cache.
    pub cache: Arc<ClusterCache>,
    /// Leadership flag.
    pub leader: watch::Receiver<bool>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Event recorder.
    pub recorder: Recorder,
    /// Workers by object.
    workers: Mutex<HashMap<ObjectRef<NautobotSync>, Worker>>,
    /// Last "Synced" event per object: when, and for which pass (rate limit).
    last_synced_event: Mutex<HashMap<ObjectRef<NautobotSync>, (Instant, u64)>>,
    /// Requests a reconcile (worker reports, leadership changes).
    pub trigger: mpsc::UnboundedSender<ObjectRef<NautobotSync>>,
    /// The NautobotSyncs of every served namespace (the controllers' stores), to find two
    /// writers under one cluster name.
    peers: Mutex<Vec<Store<NautobotSync>>>,
    /// Liveness: the loops' heartbeats (the reconcile loop's, a worker's per NautobotSync).
    health: Arc<crate::runtime::http::Health>,
    /// How workers stop at SIGTERM.
    shutdown: Shutdown,
    /// The reconcile loop's heartbeat: busy while a reconcile runs.
    beat: crate::runtime::http::Beat,
    /// Reconcile failures in a row, per object (`error_policy`'s backoff).
    backoffs: Mutex<HashMap<ObjectRef<NautobotSync>, super::backoff::Backoff>>,
}

impl Context {
    /// A context; `trigger` feeds `Controller::reconcile_on`.
    pub fn new(
        client: Client,
        cache: Arc<ClusterCache>,
        leader: watch::Receiver<bool>,
        metrics: Arc<Metrics>,
        recorder: Recorder,
        trigger: mpsc::UnboundedSender<ObjectRef<NautobotSync>>,
        health: Arc<crate::runtime::http::Health>,
    ) -> Self {
        // a reconcile reads Secrets and writes status; an onDelete cleanup deletes from
        // Nautobot, request by request (each one progress)
        let beat = health.beat("the reconcile loop", Duration::from_secs(600));
        Context {
            health,
            shutdown: Shutdown::never(),
            beat,
            client,
            cache,
            leader,
            metrics,
            recorder,
            workers: Mutex::default(),
            last_synced_event: Mutex::default(),
            trigger,
            peers: Mutex::default(),
            backoffs: Mutex::default(),
        }
    }

    /// The same, its workers stopping as `shutdown` says (else they run until dropped).
    pub fn with_shutdown(self, shutdown: Shutdown) -> Self {
        Context { shutdown, ..self }
    }

    /// Records a reconcile failure of `obj`; the delay before it is tried again (a new spec
    /// generation starts over).
    fn reconcile_failed(&self, obj: &NautobotSync, category: &str) -> Duration {
        self.backoffs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(ObjectRef::from_obj(obj))
            .or_default()
            .of_generation(obj.metadata.generation.unwrap_or(0))
            .failed(category, super::backoff::jitter())
    }

    /// Adds a namespace's NautobotSync store to the view of all of them.
    pub fn add_peers(&self, store: Store<NautobotSync>) {
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(store);
    }

    /// The claims of every NautobotSync of the served namespaces not being deleted.
    fn claims(&self) -> Vec<(ObjectRef<NautobotSync>, Claim)> {
        let stores = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let objs: Vec<Arc<NautobotSync>> = stores.iter().flat_map(|s| s.state()).collect();
        claims::live(objs.iter().map(|o| o.as_ref()))
    }

    fn wake(&self, keys: Vec<ObjectRef<NautobotSync>>) {
        for k in keys {
            let _ = self.trigger.send(k);
        }
    }

    /// Objects with a worker (to re-reconcile after a leadership change).
    pub fn known(&self) -> Vec<ObjectRef<NautobotSync>> {
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn ensure_worker(
        &self,
        key: &ObjectRef<NautobotSync>,
        spec: WorkerSpec,
    ) -> super::worker::WorkerReport {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = workers.get(key) {
            w.update(spec);
            return w.report();
        }
        let trigger = self.trigger.clone();
        let k = key.clone();
        // one request may take its timeout times the client's attempts, with backoff
        let limit = spec.cfg.request_timeout * 6 + Duration::from_secs(60);
        let beat = self.health.beat(format!("the worker of {key}"), limit);
        // every line the worker logs names its NautobotSync (JSON: `spans`)
        let span = tracing::info_span!(parent: None, "worker",
            nautobotsync = %format!("{}/{}", key.namespace.as_deref().unwrap_or_default(), key.name));
        let _in = span.enter();
        let w = Worker::spawn(
            spec,
            self.cache.clone(),
            self.leader.clone(),
            self.metrics.clone(),
            Arc::new(move || {
                let _ = trigger.send(k.clone());
            }),
            beat,
            self.shutdown.clone(),
        );
        let r = w.report();
        workers.insert(key.clone(), w);
        r
    }

    fn stop_worker(&self, key: &ObjectRef<NautobotSync>) {
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Forgets the NautobotSyncs that are gone from every served namespace's store (deleted
    /// without our finalizer's cleanup, or whose last reconcile failed): their workers stop and
    /// their reconcile backoffs go.
    pub fn sweep(&self) {
        let live: std::collections::HashSet<ObjectRef<NautobotSync>> = self
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|s| s.state())
            .map(|o| ObjectRef::from_obj(o.as_ref()))
            .collect();
        let gone = |k: &ObjectRef<NautobotSync>| !live.contains(k);
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        for k in workers.keys().filter(|k| gone(k)) {
            tracing::info!(key = %k, "NautobotSync gone: its worker stops");
        }
        workers.retain(|k, _| !gone(k));
        drop(workers);
        self.backoffs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| !gone(k));
        self.last_synced_event
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| !gone(k));
    }

    /// At SIGTERM, after [`Shutdown`]'s signal: waits (at most `bound`) until every worker has
    /// stopped (its pass in flight finished or interrupted), then, as the Lease holder, writes
    /// the status each one's last report makes, so that the status tells how this replica left.
    pub async fn finish(&self, bound: Duration) {
        let deadline = tokio::time::Instant::now() + bound;
        let mut workers: Vec<(ObjectRef<NautobotSync>, Worker)> =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .collect();
        let n = workers.len();
        let mut late = 0;
        for (key, w) in &mut workers {
            if tokio::time::timeout_at(deadline, w.stopped())
                .await
                .is_err()
            {
                late += 1;
                tracing::warn!(%key, "the worker did not stop in time; dropped");
            }
        }
        tracing::info!(workers = n, late, "workers stopped");
        if !*self.leader.borrow() {
            return;
        }
        let objects: Vec<Arc<NautobotSync>> = self
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|s| s.state())
            .collect();
        let now = Time(jiff::Timestamp::now());
        for (key, w) in &workers {
            let Some(obj) = objects
                .iter()
                .find(|o| ObjectRef::from_obj(o.as_ref()) == *key)
            else {
                continue;
            };
            let report = w.report();
            if matches!(report.phase, Phase::Starting | Phase::NotLeader) {
                continue;
            }
            let cfg = w.spec().cfg;
            let input = StatusInput::worker(&report, &cfg);
            let prev = obj.status.as_ref();
            let new = status::compute(prev, Some(report.generation), input, &now);
            if !status::differs(prev, &new) {
                continue;
            }
            let api: Api<NautobotSync> =
                Api::namespaced(self.client.clone(), &obj.namespace().unwrap_or_default());
            let name = obj.name_any();
            let write = write_status(&api, &name, &new);
            match tokio::time::timeout(Duration::from_secs(5), write).await {
                Ok(Ok(())) => tracing::info!(%key, "final status written"),
                Ok(Err(e)) => tracing::warn!(%key, error = %e, "cannot write the final status"),
                Err(_) => tracing::warn!(%key, "the final status write timed out"),
            }
        }
    }
}

/// Reads what a spec needs from the cluster: the token and the CA bundle.
async fn prepare(obj: &NautobotSync, client: &Client) -> Result<(SyncConfig, WorkerSpec), Blocked> {
    let ns = obj.namespace().unwrap_or_default();
    let cfg = SyncConfig::from_spec(&obj.spec).map_err(|e| Blocked {
        reason: "InvalidSpec",
        message: e.to_string(),
    })?;
    let r = &obj.spec.nautobot.token_secret_ref;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret = secrets.get_opt(&r.name).await.map_err(|e| Blocked {
        reason: "SecretUnreadable",
        message: format!("cannot read Secret {ns}/{}: {e}", r.name),
    })?;
    let secret = secret.ok_or_else(|| Blocked {
        reason: "SecretNotFound",
        message: format!(
            "Secret {ns}/{} (spec.nautobot.tokenSecretRef) does not exist",
            r.name
        ),
    })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|b| String::from_utf8_lossy(&b.0).to_string())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&r.key).cloned())
        })
        .ok_or_else(|| Blocked {
            reason: "SecretKeyMissing",
            message: format!("Secret {ns}/{} has no key {:?}", r.name, r.key),
        })?;
    let token = Token::new(value);
    if token.is_empty() {
        return Err(Blocked {
            reason: "SecretKeyMissing",
            message: format!("key {:?} of Secret {ns}/{} is empty", r.key, r.name),
        });
    }
    let ca_bundle = match &obj.spec.nautobot.ca_bundle_ref {
        None => None,
        Some(ca) => Some(read_ca(client, &ns, ca).await?),
    };
    let allow = obj
        .annotations()
        .get(ALLOW_MASS_DELETION)
        .is_some_and(|v| v == "true");
    let spec = WorkerSpec {
        cfg: cfg.clone(),
        token,
        ca_bundle,
        generation: obj.metadata.generation.unwrap_or(0),
        allow_mass_deletion: allow,
        previous_cluster_names: obj
            .status
            .as_ref()
            .map(|s| previous_cluster_names(s, &cfg.cluster_name))
            .unwrap_or_default(),
    };
    Ok((cfg, spec))
}

/// The earlier cluster names whose objects may still be in Nautobot: those the status lists
/// as left behind, and the one the last writing pass synced under, unless it is `current`.
fn previous_cluster_names(status: &crate::api::NautobotSyncStatus, current: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let listed = status.left_behind.iter().map(|l| &l.cluster_name);
    for name in listed.chain(status.synced_cluster_name.as_ref()) {
        if name != current && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

async fn read_ca(
    client: &Client,
    ns: &str,
    ca: &crate::api::CaBundleRef,
) -> Result<Vec<u8>, Blocked> {
    let missing = |what: &str| Blocked {
        reason: "CaBundleNotFound",
        message: format!(
            "{what} {ns}/{} with key {:?} (spec.nautobot.caBundleRef) not found",
            ca.name, ca.key
        ),
    };
    match ca.kind {
        CaBundleKind::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            let cm = api
                .get_opt(&ca.name)
                .await
                .ok()
                .flatten()
                .ok_or_else(|| missing("ConfigMap"))?;
            cm.data
                .and_then(|d| d.get(&ca.key).cloned())
                .map(String::into_bytes)
                .ok_or_else(|| missing("ConfigMap"))
        }
        CaBundleKind::Secret => {
            let api: Api<Secret> = Api::namespaced(client.clone(), ns);
            let s = api
                .get_opt(&ca.name)
                .await
                .ok()
                .flatten()
                .ok_or_else(|| missing("Secret"))?;
            s.data
                .and_then(|d| d.get(&ca.key).map(|b| b.0.clone()))
                .ok_or_else(|| missing("Secret"))
        }
    }
}

/// The reconcile function given to the Controller.
pub async fn reconcile(
    obj: Arc<NautobotSync>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let _busy = ctx.beat.busy();
    ctx.sweep();
    let key = ObjectRef::from_obj(obj.as_ref());
    let leader = *ctx.leader.borrow();
    let result = if !leader {
        // keep a warm worker (it does nothing until this replica leads); none for a
        // NautobotSync refused as a second writer, which must not start on a hand-over
        let me = (key.clone(), Claim::of(&obj));
        if claims::holder(&me, &ctx.claims()).is_some() {
            ctx.stop_worker(&key);
        } else if obj.metadata.deletion_timestamp.is_none() {
            match prepare(&obj, &ctx.client).await {
                Ok((_, spec)) => {
                    ctx.ensure_worker(&key, spec);
                }
                Err(_) => ctx.stop_worker(&key),
            }
        }
        Ok(Action::requeue(Duration::from_secs(300)))
    } else {
        let api: Api<NautobotSync> =
            Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
        finalizer(&api, FINALIZER, obj.clone(), |event| async {
            match event {
                Finalizer::Apply(o) => apply(o, &ctx, &api).await,
                Finalizer::Cleanup(o) => cleanup_reported(o, &ctx, &api).await,
            }
        })
        .await
        .map_err(|e| match e {
            kube::runtime::finalizer::Error::ApplyFailed(e)
            | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
            other => ReconcileError::Finalizer(other.to_string()),
        })
    };
    ctx.metrics
        .observe_reconcile(result.is_ok(), started.elapsed());
    if result.is_ok() {
        ctx.backoffs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
    result
}

/// Requeue policy on error: an exponential backoff with jitter per object, by the error's
/// category, reset by the next successful reconcile (`src/controller/backoff.rs`).
pub fn error_policy(obj: Arc<NautobotSync>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    ctx.metrics.record_reconcile_error(err.category());
    let wait = ctx.reconcile_failed(&obj, err.category());
    tracing::warn!(name = %obj.name_any(), namespace = ?obj.namespace(), error = %err,
        retry_in_s = wait.as_secs_f64(), "reconcile failed");
    Action::requeue(wait)
}

async fn apply(
    obj: Arc<NautobotSync>,
    ctx: &Context,
    api: &Api<NautobotSync>,
) -> Result<Action, ReconcileError> {
    let key = ObjectRef::from_obj(obj.as_ref());
    let now = Time(jiff::Timestamp::now());
    let generation = obj.metadata.generation;
    let prev = obj.status.as_ref();
    let me = (key.clone(), Claim::of(&obj));
    let others = ctx.claims();
    let prepared = match claims::holder(&me, &others) {
        Some(holder) => Err(Blocked {
            reason: "DuplicateClusterName",
            message: claims::refused_message(&holder, &me.1),
        }),
        None => {
            // this one holds the name: younger writers of it stop now, not at their next pass
            if me.1.writes {
                ctx.wake(claims::rivals(&me, &others));
            }
            prepare(&obj, &ctx.client).await
        }
    };
    let (new, requeue) = match prepared {
        Err(blocked) => {
            ctx.stop_worker(&key);
            (
                status::compute(prev, generation, StatusInput::Blocked(&blocked), &now),
                Duration::from_secs(300),
            )
        }
        Ok((cfg, spec)) => {
            let allowed = spec.allow_mass_deletion;
            let report = ctx.ensure_worker(&key, spec);
            if report.phase == Phase::NotLeader || report.phase == Phase::Starting {
                // the worker has not run as leader yet: its report comes with the next trigger
                return Ok(Action::requeue(Duration::from_secs(300)));
            }
            let input = StatusInput::worker(&report, &cfg);
            let s = status::compute(prev, Some(report.generation), input, &now);
            synced_event(ctx, &obj, &key, &report).await;
            if allowed && report.phase == Phase::Synced && report.held == 0 && report.written > 0 {
                // the allowance is for one pass
                let patch =
                    serde_json::json!({"metadata": {"annotations": {ALLOW_MASS_DELETION: null}}});
                api.patch(
                    &obj.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
                tracing::info!(name = %obj.name_any(), "mass deletion allowance used and removed");
            }
            (s, cfg.full_resync_interval)
        }
    };
    if status::differs(prev, &new) {
        transition_events(ctx, &obj, prev, &new).await;
        write_status(api, &obj.name_any(), &new).await?;
    }
    Ok(Action::requeue(requeue))
}

async fn write_status(
    api: &Api<NautobotSync>,
    name: &str,
    status: &NautobotSyncStatus,
) -> Result<(), kube::Error> {
    let patch = serde_json::json!({
        "apiVersion": "nbsync.dev/v1alpha1",
        "kind": "NautobotSync",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

async fn publish(ctx: &Context, obj: &NautobotSync, type_: EventType, reason: &str, note: String) {
    let ev = Event {
        type_,
        reason: reason.into(),
        note: Some(crate::model::names::truncate(&note, 1000)),
        action: "Sync".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
        tracing::debug!(error = %e, "cannot publish an event");
    }
}

/// Events for condition changes: Ready going False (Warning, the reason is the category),
/// Ready coming back, deletions held.
async fn transition_events(
    ctx: &Context,
    obj: &NautobotSync,
    prev: Option<&NautobotSyncStatus>,
    new: &NautobotSyncStatus,
) {
    let get = |s: Option<&NautobotSyncStatus>, t: &str| {
        s.and_then(|s| find(&s.conditions, t))
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    let (before, after) = (get(prev, types::READY), get(Some(new), types::READY));
    if before != after
        && let Some(c) = find(&new.conditions, types::READY)
    {
        let t = if c.status == "False" {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, obj, t, &c.reason, c.message.clone()).await;
    }
    let (before, after) = (get(prev, types::DEGRADED), get(Some(new), types::DEGRADED));
    if before != after
        && let Some(c) = find(&new.conditions, types::DEGRADED)
        && c.status == "True"
        && c.reason
            != find(&new.conditions, types::READY)
                .map(|r| r.reason.clone())
                .unwrap_or_default()
    {
        publish(ctx, obj, EventType::Warning, &c.reason, c.message.clone()).await;
    }
}

/// "Synced" with the counts of what was written; at most one a minute per object.
async fn synced_event(
    ctx: &Context,
    obj: &NautobotSync,
    key: &ObjectRef<NautobotSync>,
    report: &super::worker::WorkerReport,
) {
    if report.written == 0 || report.phase != Phase::Synced {
        return;
    }
    {
        let mut last = ctx
            .last_synced_event
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.get(key).is_some_and(|(t, pass)| {
            *pass == report.passes || t.elapsed() < Duration::from_secs(60)
        }) {
            return;
        }
        last.insert(key.clone(), (Instant::now(), report.passes));
    }
    let total: usize = report.in_sync.values().sum();
    let note = format!(
        "wrote {} objects to Nautobot; {total} objects in sync",
        report.written
    );
    publish(ctx, obj, EventType::Normal, "Synced", note).await;
}

/// [`cleanup`], and while it fails, a status and an Event saying why the NautobotSync is not
/// going away (the finalizer stays; the cleanup is retried with the controller's backoff).
async fn cleanup_reported(
    obj: Arc<NautobotSync>,
    ctx: &Context,
    api: &Api<NautobotSync>,
) -> Result<Action, ReconcileError> {
    let result = cleanup(obj.clone(), ctx).await;
    if let Err(ReconcileError::Cleanup(message)) = &result {
        let blocked = Blocked {
            reason: "CleanupFailed",
            message: format!(
                "deleting this cluster's objects from Nautobot (onDelete: Delete) failed, the NautobotSync stays \
                 until it succeeds (retried with backoff): {message}"
            ),
        };
        let prev = obj.status.as_ref();
        let now = Time(jiff::Timestamp::now());
        let new = status::compute(
            prev,
            obj.metadata.generation,
            StatusInput::Blocked(&blocked),
            &now,
        );
        if status::differs(prev, &new) {
            transition_events(ctx, &obj, prev, &new).await;
            if let Err(e) = write_status(api, &obj.name_any(), &new).await {
                tracing::debug!(error = %e, "cannot write the cleanup status");
            }
        }
    }
    result
}

/// `onDelete`: Retain leaves Nautobot alone; Delete removes every object this cluster owns
/// (skipped with the `nbsync.dev/skip-cleanup: "true"` annotation, the escape hatch when
/// Nautobot is gone for good).
/// A cleanup that cannot finish: why, and how to delete the NautobotSync without it.
fn cleanup_stuck(why: impl std::fmt::Display) -> ReconcileError {
    ReconcileError::Cleanup(format!(
        "{why} (to delete the NautobotSync without cleanup, annotate it {SKIP_CLEANUP}=true)"
    ))
}

async fn cleanup(obj: Arc<NautobotSync>, ctx: &Context) -> Result<Action, ReconcileError> {
    let key = ObjectRef::from_obj(obj.as_ref());
    ctx.stop_worker(&key);
    let me = (key.clone(), Claim::of(&obj));
    let rivals = claims::rivals(&me, &ctx.claims());
    // a writer refused for the name it shared can take it now
    ctx.wake(rivals.clone());
    if obj.spec.on_delete != OnDeletePolicy::Delete
        || obj
            .annotations()
            .get(SKIP_CLEANUP)
            .is_some_and(|v| v == "true")
    {
        tracing::info!(name = %obj.name_any(), "NautobotSync deleted; Nautobot objects retained");
        return Ok(Action::await_change());
    }
    if let Some(other) = rivals.first() {
        // its objects are the other writer's too: deleting them would wipe a live sync
        let note = format!(
            "onDelete: Delete skipped: NautobotSync {} syncs clusterName {:?} into the same Nautobot, \
             so the objects are left to it",
            claims::describe(other),
            me.1.cluster
        );
        tracing::warn!(name = %obj.name_any(), "{note}");
        publish(ctx, &obj, EventType::Warning, "CleanupSkipped", note).await;
        return Ok(Action::await_change());
    }
    let (cfg, spec) = prepare(&obj, &ctx.client)
        .await
        .map_err(|b| ReconcileError::Cleanup(format!("{}: {}", b.reason, b.message)))?;
    // every answer from Nautobot is progress: a cleanup at L deletes for many minutes
    let client = super::guarded::Guarded::new(
        spec.client(&ctx.metrics)
            .map_err(|e| ReconcileError::Cleanup(e.to_string()))?,
        ctx.beat.clone(),
    );
    let mut policy = crate::plan::Policy::new(&cfg, jiff::Timestamp::now(), true);
    policy.deletion = crate::api::DeletionPolicy::Delete;
    // only this cluster's records: the Nautobot Cluster must record this cluster's identity
    let alias = ctx.cache.read().kube_system_uid().map(String::from);
    let Some(identity) = ctx.cache.read().cluster_info().cluster_id.clone() else {
        return Err(ReconcileError::Cleanup(
            "this cluster's identity is not known yet (the watch caches are not synced); retrying"
                .into(),
        ));
    };
    let pass = nautobot::Pass {
        identity: Some(&identity),
        alias: alias.as_deref(),
        ..nautobot::Pass::new(&cfg, true)
    };
    // which Nautobot this is (2.4 or 3.x), and that it takes the token, before anything else
    client.check().await.map_err(cleanup_stuck)?;
    let empty = Projection::default();
    let outcome = pass
        .full(
            &client,
            &empty.records,
            &empty.ips_unknown,
            policy,
            |_| None,
            &mut nautobot::Synced::default(),
        )
        .await
        .map_err(cleanup_stuck)?;
    let report = outcome.report.unwrap_or_default();
    if let Some(e) = report.aborted {
        return Err(cleanup_stuck(e));
    }
    // objects Nautobot refused to delete are still there: the finalizer stays
    if let Some(f) = report.failures.first() {
        return Err(cleanup_stuck(format!(
            "{} of {} objects not deleted; first: {} {}: {}",
            report.failures.len(),
            outcome.plan.deletes.len(),
            f.kind,
            f.name,
            f.message
        )));
    }
    tracing::info!(name = %obj.name_any(), deleted = report.written(), failed = report.failures.len(), "NautobotSync deleted; owned Nautobot objects removed");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{LeftBehind, NautobotSyncStatus};

    fn status(synced: Option<&str>, left: &[&str]) -> NautobotSyncStatus {
        NautobotSyncStatus {
            synced_cluster_name: synced.map(String::from),
            left_behind: left
                .iter()
                .map(|n| LeftBehind {
                    cluster_name: n.to_string(),
                    objects: Some(3),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn earlier_cluster_names_are_counted_never_the_current_one() {
        // nothing synced yet, or synced under the name it still has: nothing left behind
        assert!(previous_cluster_names(&status(None, &[]), "ocp-a").is_empty());
        assert!(previous_cluster_names(&status(Some("ocp-a"), &[]), "ocp-a").is_empty());
        // renamed: the name it synced under is left behind
        assert_eq!(
            previous_cluster_names(&status(Some("ocp-a"), &[]), "ocp-b"),
            vec!["ocp-a"]
        );
        // renamed twice: both earlier names, once each, and a name renamed back to is current
        assert_eq!(
            previous_cluster_names(&status(Some("ocp-b"), &["ocp-a", "ocp-b"]), "ocp-c"),
            vec!["ocp-a", "ocp-b"]
        );
        assert_eq!(
            previous_cluster_names(&status(Some("ocp-b"), &["ocp-a"]), "ocp-a"),
            vec!["ocp-b"]
        );
    }
}
