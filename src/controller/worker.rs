//! One worker per NautobotSync: keeps its Nautobot in sync with the cluster cache.
//!
//! - Full pass (at start, after leadership is gained, after an error, after a spec change, and
//!   every `fullResyncInterval`): bootstrap, read everything the cluster owns, diff, apply.
//! - Incremental pass (on watch events): re-project only the touched roots, diff them against
//!   the worker's copy of Nautobot's state (kept current from what it wrote), apply. No reads:
//!   one change costs the writes it needs. The first change of a quiet moment is written at
//!   once; the rest of a burst is coalesced ([`super::debounce`]).
//! - Nothing runs before the cluster cache is ready, and only the Lease holder writes.
//! - Idle means no Nautobot request at all between full passes.
//!
//! The worker publishes a [`WorkerReport`]; the reconciler turns it into the status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::cache::{ClusterCache, Dirty};
use super::debounce::{Debounce, Then};
use super::guarded::{Gate, Guarded};
use crate::config::SyncConfig;
use crate::model::Kind;
use crate::nautobot::{
    self, ApplyReport, ClientBuildError, ClientConfig, HttpClient, NautobotApi, Pass, Server,
    SyncError, SyncOutcome, Synced, Token,
};
use crate::plan::{DesiredState, Failure, ObservedObject, Plan, Policy, Resolver};
use crate::project::{Projector, Root, Warning};
use crate::runtime::http::Beat;
use crate::runtime::metrics::Metrics;

/// What a worker needs to run; replaced when the spec or the token changes.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The resolved spec.
    pub cfg: SyncConfig,
    /// The API token.
    pub token: Token,
    /// CA bundle, if any.
    pub ca_bundle: Option<Vec<u8>>,
    /// metadata.generation the spec came from.
    pub generation: i64,
    /// A person allowed the next pass to exceed the deletion guard.
    pub allow_mass_deletion: bool,
    /// The cluster names this NautobotSync synced under before `spec.clusterName` changed
    /// (from `status.syncedClusterName` and `status.leftBehind`): their objects are counted,
    /// never touched.
    pub previous_cluster_names: Vec<String>,
}

impl WorkerSpec {
    /// The Nautobot client this spec asks for, counting into the operator's metrics (the
    /// worker's passes and the `onDelete` cleanup share it).
    pub fn client(&self, metrics: &Arc<Metrics>) -> Result<HttpClient, ClientBuildError> {
        let c = ClientConfig::from_spec(&self.cfg, self.token.clone(), self.ca_bundle.clone());
        Ok(HttpClient::new(c)?.with_metrics(metrics.clone()))
    }
}

/// Where a worker is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    /// Starting up.
    #[default]
    Starting,
    /// The cluster cache has not delivered every first list yet.
    WaitingForCaches(Vec<&'static str>),
    /// Another replica holds the Lease.
    NotLeader,
    /// The last pass completed.
    Synced,
    /// The operator shut down during a pass and stopped it (its writes so far stand; the next
    /// leader's full pass does the rest).
    Interrupted(String),
    /// The last pass failed.
    Error {
        /// Bounded CamelCase category.
        category: String,
        /// Human message (no secrets).
        message: String,
    },
}

/// What the worker last did, for status, events and metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerReport {
    /// Phase.
    pub phase: Phase,
    /// Spec generation of the last pass.
    pub generation: i64,
    /// When the last pass (any) succeeded.
    pub last_sync: Option<jiff::Timestamp>,
    /// When the last full pass succeeded.
    pub last_full_sync: Option<jiff::Timestamp>,
    /// Owned objects in Nautobot, per kind.
    pub in_sync: BTreeMap<Kind, usize>,
    /// Writes computed but not applied (failed, held, dry run, suspended).
    pub pending: usize,
    /// Removals held by the guard, and why.
    pub held: usize,
    /// Why removals are held.
    pub held_reason: Option<String>,
    /// Names taken by objects we do not own.
    pub conflicts: Vec<String>,
    /// Objects that failed (first few).
    pub failures: Vec<Failure>,
    /// Odd cluster objects (first few).
    pub warnings: Vec<Warning>,
    /// Whether KubeVirt is served.
    pub kubevirt: bool,
    /// Objects written by the last pass.
    pub written: usize,
    /// Passes completed (for event rate limiting and tests).
    pub passes: u64,
    /// After a rename: each previous cluster name and how many objects it still owns in
    /// Nautobot, counted at the last full pass (`None` when it could not be counted). Empty
    /// before the first full pass and when there is no previous name.
    pub left_behind: Vec<(String, Option<usize>)>,
    /// The Nautobot synced to (release and API version), from the last full pass's check.
    pub nautobot: Option<Server>,
}

/// How a worker stops when the operator shuts down: at the signal it starts no new pass; a
/// pass in flight has `grace` to finish, then starts no new request, and is dropped `drain`
/// later if a request sent before still has not answered.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signal: watch::Receiver<bool>,
    grace: Duration,
    drain: Duration,
}

/// How long the requests a stopped pass had already sent may still take.
pub const DRAIN: Duration = Duration::from_secs(5);

impl Shutdown {
    /// Stops when `signal` turns true.
    pub fn new(signal: watch::Receiver<bool>, grace: Duration) -> Self {
        Shutdown {
            signal,
            grace,
            drain: DRAIN,
        }
    }

    /// The same with another drain time (tests).
    pub fn with_drain(self, drain: Duration) -> Self {
        Shutdown { drain, ..self }
    }

    /// The longest a worker takes to stop after the signal.
    pub fn bound(&self) -> Duration {
        self.grace + self.drain
    }

    /// A worker that runs until it is dropped (tests).
    pub fn never() -> Self {
        Shutdown::new(watch::channel(false).1, Duration::ZERO)
    }

    fn requested(&self) -> bool {
        *self.signal.borrow()
    }

    /// Resolves at the signal; never, when its sender is gone.
    async fn signalled(&mut self) {
        if self.signal.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves `grace` after the signal.
    async fn past_grace(&mut self) {
        self.signalled().await;
        tokio::time::sleep(self.grace).await;
    }
}

/// Handle to a running worker.
pub struct Worker {
    spec: watch::Sender<WorkerSpec>,
    report: watch::Receiver<WorkerReport>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts a worker that talks to the Nautobot its spec names.
    pub fn spawn(
        spec: WorkerSpec,
        cache: Arc<ClusterCache>,
        leader: watch::Receiver<bool>,
        metrics: Arc<Metrics>,
        on_report: Arc<dyn Fn() + Send + Sync>,
        beat: Beat,
        shutdown: Shutdown,
    ) -> Worker {
        let m = metrics.clone();
        Self::spawn_with(
            spec,
            cache,
            leader,
            metrics,
            on_report,
            (beat, shutdown),
            move |s: &WorkerSpec| s.client(&m),
        )
    }

    /// Starts a worker on any Nautobot interface: `connect` makes the client for each spec
    /// (the request-level tests give an in-memory Nautobot).
    pub fn spawn_with<A, F>(
        spec: WorkerSpec,
        cache: Arc<ClusterCache>,
        leader: watch::Receiver<bool>,
        metrics: Arc<Metrics>,
        on_report: Arc<dyn Fn() + Send + Sync>,
        (beat, shutdown): (Beat, Shutdown),
        connect: F,
    ) -> Worker
    where
        A: NautobotApi + 'static,
        F: Fn(&WorkerSpec) -> Result<A, ClientBuildError> + Send + 'static,
    {
        let (spec_tx, spec_rx) = watch::channel(spec);
        let (report_tx, report_rx) = watch::channel(WorkerReport::default());
        // in the span current at the spawn (the reconciler enters the worker's)
        let task = tokio::spawn(tracing::Instrument::in_current_span(run(
            spec_rx,
            cache,
            leader,
            metrics,
            report_tx,
            on_report,
            (beat, shutdown),
            connect,
        )));
        Worker {
            spec: spec_tx,
            report: report_rx,
            task,
        }
    }

    /// Replaces the spec (no-op when only the allowance flag is the same).
    pub fn update(&self, spec: WorkerSpec) {
        self.spec.send_if_modified(|cur| {
            let changed = cur.generation != spec.generation
                || cur.allow_mass_deletion != spec.allow_mass_deletion
                || cur.cfg != spec.cfg
                || !cur.token.same_as(&spec.token)
                || cur.ca_bundle != spec.ca_bundle
                || cur.previous_cluster_names != spec.previous_cluster_names;
            if changed {
                *cur = spec;
            }
            changed
        });
    }

    /// The latest report.
    pub fn report(&self) -> WorkerReport {
        self.report.borrow().clone()
    }

    /// The spec it runs with.
    pub fn spec(&self) -> WorkerSpec {
        self.spec.borrow().clone()
    }

    /// Resolves when the worker has stopped (after a [`Shutdown`]).
    pub async fn stopped(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The worker's state between passes.
struct State {
    desired: DesiredState,
    /// Nautobot's owned objects as last read and written, and the prerequisite ids.
    synced: Synced,
    need_full: bool,
    reproject_all: bool,
    roots: BTreeSet<Root>,
    last_full: Option<Instant>,
    /// Writes that failed and are not resolved yet (Nautobot refused them): reported in the
    /// status until they succeed, and retried by an incremental pass at `retry_at`, with a
    /// backoff (not on every cluster change, and not only at the next full resync: a person
    /// who fixes the cause in Nautobot should not wait an hour).
    failed: BTreeMap<Uuid, Failure>,
    retry_at: Option<Instant>,
    retry_delay: Duration,
    /// Objects still owned under the previous cluster names (last full pass).
    left_behind: Vec<(String, Option<usize>)>,
    /// The Nautobot the last full pass checked.
    server: Option<Server>,
}

/// First and longest wait before failed writes are retried.
const RETRY_FAILED_MIN: Duration = Duration::from_secs(10);
const RETRY_FAILED_MAX: Duration = Duration::from_secs(300);

impl State {
    fn retry_due(&self) -> bool {
        self.retry_at.is_some_and(|t| t <= Instant::now())
    }

    /// Updates the outstanding failures after a pass, and when to retry them. A full pass saw
    /// everything: its failures are the whole set. An incremental pass settles the objects it
    /// touched. A pass that wrote nothing (dry run, suspend) settles nothing and only pushes a
    /// due retry back (no busy loop).
    fn settle_failures(&mut self, touched: Option<&BTreeSet<Uuid>>, report: Option<&ApplyReport>) {
        let retried = self.retry_due();
        let Some(report) = report else {
            if retried {
                self.retry_at = Some(Instant::now() + self.retry_delay);
            }
            return;
        };
        match touched {
            None => self.failed.clear(),
            Some(ids) => self.failed.retain(|id, _| !ids.contains(id)),
        }
        for f in &report.failures {
            self.failed.insert(f.id, f.clone());
        }
        if self.failed.is_empty() {
            self.retry_at = None;
            self.retry_delay = RETRY_FAILED_MIN;
        } else if retried || self.retry_at.is_none() {
            if retried {
                self.retry_delay = (self.retry_delay * 2).min(RETRY_FAILED_MAX);
            }
            self.retry_at = Some(Instant::now() + self.retry_delay);
        }
    }
}

#[allow(clippy::too_many_arguments)] // the worker's channels and handles, each used
async fn run<A: NautobotApi, F: Fn(&WorkerSpec) -> Result<A, ClientBuildError>>(
    mut spec_rx: watch::Receiver<WorkerSpec>,
    cache: Arc<ClusterCache>,
    mut leader: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    report_tx: watch::Sender<WorkerReport>,
    on_report: Arc<dyn Fn() + Send + Sync>,
    (beat, mut shutdown): (Beat, Shutdown),
    connect: F,
) {
    let gate = Gate::default();
    let mut dirty = cache.subscribe();
    let mut ready = cache.readiness();
    let mut st = State {
        desired: DesiredState::new(),
        synced: Synced::default(),
        need_full: true,
        reproject_all: true,
        roots: BTreeSet::new(),
        last_full: None,
        failed: BTreeMap::new(),
        retry_at: None,
        retry_delay: RETRY_FAILED_MIN,
        left_behind: Vec::new(),
        server: None,
    };
    let mut backoff = super::backoff::Backoff::new();
    let mut debounce = Debounce::default();
    let publish = |f: &dyn Fn(&mut WorkerReport)| {
        let changed = report_tx.send_if_modified(|r| {
            let before = r.clone();
            f(r);
            *r != before
        });
        if changed {
            on_report();
        }
    };
    loop {
        let spec = spec_rx.borrow_and_update().clone();
        // a new spec or token: what failed may be fixed, the backoff starts over
        backoff.succeeded();
        let client = match connect(&spec) {
            // every answer from Nautobot is progress for liveness
            Ok(c) => Guarded::new(c, beat.clone()).gated(gate.clone()),
            Err(e) => {
                let message = e.to_string();
                publish(&|r| {
                    r.phase = Phase::Error {
                        category: "InvalidCaBundle".into(),
                        message: message.clone(),
                    }
                });
                tokio::select! {
                    r = spec_rx.changed() => if r.is_err() { return },
                    _ = shutdown.signalled() => return,
                }
                continue;
            }
        };
        st.need_full = true;
        st.reproject_all = true;
        // run with this spec until it changes
        loop {
            // shutting down: no new pass
            if shutdown.requested() {
                return;
            }
            let readiness = ready.borrow_and_update().clone();
            if !readiness.is_ready() {
                publish(&|r| r.phase = Phase::WaitingForCaches(readiness.missing()));
                tokio::select! {
                    _ = ready.changed() => continue,
                    _ = spec_rx.changed() => break,
                    _ = shutdown.signalled() => return,
                }
            }
            if !*leader.borrow_and_update() {
                publish(&|r| r.phase = Phase::NotLeader);
                st.need_full = true;
                tokio::select! {
                    _ = changed_or_never(&mut leader) => continue,
                    _ = spec_rx.changed() => break,
                    d = dirty.recv() => { note(&mut st, d); continue; }
                    _ = shutdown.signalled() => return,
                }
            }
            let due = st
                .last_full
                .is_none_or(|t| t.elapsed() >= spec.cfg.full_resync_interval);
            if !st.need_full && !due && !st.reproject_all && st.roots.is_empty() && !st.retry_due()
            {
                // woken with nothing to do (leadership unchanged, an empty notification)
            } else {
                let busy = beat.busy();
                let full = st.need_full || due;
                let ended = {
                    let pass = std::pin::pin!(async {
                        if full {
                            full_pass(&spec, &client, &cache, &mut st, &metrics).await
                        } else {
                            incremental_pass(&spec, &client, &cache, &mut st, &metrics).await
                        }
                    });
                    run_pass(pass, &mut leader, &mut shutdown, &gate).await
                };
                drop(busy);
                debounce.passed(Instant::now());
                let result = match ended {
                    PassEnd::Done(r) => r,
                    PassEnd::LeadershipLost => {
                        tracing::warn!(cluster = %spec.cfg.cluster_name,
                            "leadership lost during a sync pass: stopped it, no more writes");
                        st.need_full = true;
                        continue;
                    }
                    PassEnd::Interrupted => {
                        let message = format!(
                            "the operator shut down during a {} sync pass and stopped it after the \
                             {}s grace period; what it wrote stands, and the next leader resumes \
                             with a full pass",
                            if full { "full" } else { "incremental" },
                            shutdown.grace.as_secs_f64()
                        );
                        tracing::warn!(cluster = %spec.cfg.cluster_name, "{message}");
                        publish(&|r| {
                            r.phase = Phase::Interrupted(message.clone());
                            r.generation = spec.generation;
                        });
                        return;
                    }
                };
                match result {
                    Ok(outcome) => {
                        backoff.succeeded();
                        st.settle_failures(outcome.touched.as_ref(), outcome.report.as_ref());
                        metrics.set_last_success(std::time::SystemTime::now());
                        let kubevirt = ready.borrow().kubevirt;
                        let warnings = st.desired.warnings();
                        publish(&|r| outcome.fill(r, &st, &spec, kubevirt, &warnings));
                        outcome.record(&metrics, &st);
                        if outcome.full {
                            // a full pass's plan and Nautobot pages are freed now: give the
                            // heap back (at L they are some 130 MiB; docs/benchmarks.md)
                            drop(outcome);
                            crate::runtime::memory::release_free_memory();
                        }
                    }
                    Err(e) => {
                        st.need_full = true;
                        let wait = backoff.failed(e.category(), super::backoff::jitter());
                        let next = jiff::Timestamp::now()
                            + jiff::SignedDuration::from_secs(wait.as_secs_f64().ceil() as i64);
                        tracing::warn!(cluster = %spec.cfg.cluster_name, category = e.category(), error = %e,
                            failures = backoff.failures(), retry_in_s = wait.as_secs_f64(), "sync pass failed");
                        metrics.record_reconcile_error(e.category());
                        publish(&|r| {
                            r.phase = Phase::Error {
                                category: e.category().into(),
                                message: format!(
                                    "{e} (failure {} in a row; next attempt at {}, or at once when the NautobotSync or its Secret changes)",
                                    backoff.failures(),
                                    next.strftime("%H:%M:%SZ")
                                ),
                            };
                            r.generation = spec.generation;
                        });
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = spec_rx.changed() => break,
                            _ = shutdown.signalled() => return,
                        }
                        continue;
                    }
                }
            }
            // wait for changes, the next full pass, a new spec or lost leadership
            let until_full = spec
                .cfg
                .full_resync_interval
                .saturating_sub(st.last_full.map_or(Duration::ZERO, |t| t.elapsed()));
            metrics.set_queue_depth(0);
            tokio::select! {
                d = dirty.recv() => {
                    note(&mut st, d);
                    match debounce.arrived(Instant::now()) {
                        // the first change of a quiet period, with what is queued already
                        Then::WriteNow => loop {
                            match dirty.try_recv() {
                                Ok(d) => note(&mut st, Ok(d)),
                                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                                    note(&mut st, Err(broadcast::error::RecvError::Lagged(n)))
                                }
                                Err(_) => break,
                            }
                        },
                        // the rest of a burst: gather it
                        Then::Gather => {
                            let started = Instant::now();
                            while let Some(wait) = Debounce::gather_wait(started, Instant::now()) {
                                match tokio::time::timeout(wait, dirty.recv()).await {
                                    Ok(d) => note(&mut st, d),
                                    Err(_) => break,
                                }
                            }
                        }
                    }
                    metrics.set_queue_depth(st.roots.len());
                }
                _ = tokio::time::sleep(until_full) => {}
                _ = sleep_until(st.retry_at) => {}
                _ = spec_rx.changed() => break,
                _ = changed_or_never(&mut leader) => {}
                _ = shutdown.signalled() => return,
            }
        }
    }
}

/// How a pass ended.
enum PassEnd<T> {
    /// It returned.
    Done(T),
    /// The Lease was lost: it was dropped at once.
    LeadershipLost,
    /// The operator shut down and the pass did not finish within the grace period (and the
    /// drain time).
    Interrupted,
}

/// Runs a pass to its end, unless the Lease is lost (a replica that loses it stops writing at
/// once, even in the middle of a pass: the next leader starts writing as soon as it holds the
/// Lease) or shutdown's grace period runs out: then the gate closes so that the pass starts no
/// new request, and the pass has the drain time ([`DRAIN`]) to return.
async fn run_pass<T>(
    mut pass: std::pin::Pin<&mut impl Future<Output = Result<T, SyncError>>>,
    leader: &mut watch::Receiver<bool>,
    shutdown: &mut Shutdown,
    gate: &Gate,
) -> PassEnd<Result<T, SyncError>> {
    tokio::select! {
        r = &mut pass => return PassEnd::Done(r),
        _ = leadership_lost(leader) => return PassEnd::LeadershipLost,
        _ = shutdown.past_grace() => {}
    }
    gate.close();
    tracing::info!(
        grace_s = shutdown.grace.as_secs_f64(),
        drain_s = shutdown.drain.as_secs_f64(),
        "shutting down: the sync pass in flight starts no new request"
    );
    match tokio::time::timeout(shutdown.drain, &mut pass).await {
        // it ended before it needed a new request
        Ok(Ok(r)) => PassEnd::Done(Ok(r)),
        Ok(Err(_)) | Err(_) => PassEnd::Interrupted,
    }
}

/// Resolves when the flag changes; never, when its sender is gone (a closed channel must not
/// turn the worker's wait into a busy loop).
async fn changed_or_never(rx: &mut watch::Receiver<bool>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves when the flag turns false; never, when its sender is gone.
async fn leadership_lost(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|leads| !*leads).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps until `at`; forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Records a change notification.
fn note(st: &mut State, d: Result<Dirty, broadcast::error::RecvError>) {
    match d {
        Ok(Dirty::Roots(r)) => st.roots.extend(r),
        Ok(Dirty::All) | Err(broadcast::error::RecvError::Lagged(_)) => st.reproject_all = true,
        Err(broadcast::error::RecvError::Closed) => {}
    }
}

/// What a pass did.
struct PassOutcome {
    plan: Plan,
    report: Option<ApplyReport>,
    full: bool,
    /// The objects an incremental pass diffed (`None` for a full pass: all of them).
    touched: Option<BTreeSet<Uuid>>,
}

impl PassOutcome {
    /// Object and write metrics of this pass.
    fn record(&self, metrics: &Metrics, st: &State) {
        let mut per: BTreeMap<Kind, [usize; 4]> = BTreeMap::new();
        for o in st.synced.observed.values() {
            per.entry(o.kind).or_default()[0] += 1;
        }
        for op in &self.plan.held {
            per.entry(op.kind).or_default()[1] += 1;
        }
        for c in &self.plan.conflicts {
            per.entry(c.kind).or_default()[2] += 1;
        }
        if let Some(rep) = &self.report {
            for f in &rep.failures {
                per.entry(f.kind).or_default()[3] += 1;
            }
            for (kind, k) in &rep.kinds {
                metrics.record_writes(kind.label(), "create", true, k.created);
                metrics.record_writes(kind.label(), "update", true, k.updated);
                metrics.record_writes(kind.label(), "delete", true, k.deleted);
            }
            for f in &rep.failures {
                metrics.record_write(f.kind.label(), f.action, false);
            }
        }
        for kind in Kind::ALL {
            let c = per.get(&kind).copied().unwrap_or_default();
            for (state, n) in ["in_sync", "held", "conflict", "failed"].into_iter().zip(c) {
                metrics.set_objects(kind.label(), state, n);
            }
        }
    }

    fn fill(
        &self,
        r: &mut WorkerReport,
        st: &State,
        spec: &WorkerSpec,
        kubevirt: bool,
        warnings: &[Warning],
    ) {
        let now = jiff::Timestamp::now();
        r.phase = Phase::Synced;
        r.generation = spec.generation;
        r.last_sync = Some(now);
        if self.full {
            r.last_full_sync = Some(now);
        }
        let mut in_sync: BTreeMap<Kind, usize> = BTreeMap::new();
        for o in st.synced.observed.values() {
            *in_sync.entry(o.kind).or_default() += 1;
        }
        r.in_sync = in_sync;
        // failures not resolved yet, this pass's and earlier ones' (`settle_failures` ran)
        let unapplied = if self.report.is_none() {
            self.plan.write_count()
        } else {
            st.failed.len()
        };
        r.pending = unapplied + self.plan.held.len();
        r.held = self.plan.held.len();
        r.held_reason = self.plan.held_reason.clone();
        r.left_behind = st.left_behind.clone();
        r.nautobot.clone_from(&st.server);
        let mut conflicts: Vec<String> = self
            .plan
            .conflicts
            .iter()
            .map(|c| c.message.clone())
            .collect();
        if let Some(rep) = &self.report {
            conflicts.extend(
                st.failed
                    .values()
                    .filter(|f| f.conflict)
                    .map(|f| format!("{} {}: {}", f.kind, f.name, f.message)),
            );
            r.failures = st
                .failed
                .values()
                .filter(|f| !f.conflict)
                .take(10)
                .cloned()
                .collect();
            r.written = rep.written();
        } else {
            r.failures.clear();
            r.written = 0;
        }
        conflicts.truncate(10);
        r.conflicts = conflicts;
        r.warnings = warnings.iter().take(10).cloned().collect();
        r.kubevirt = kubevirt;
        r.passes += 1;
    }
}

fn projector_roots(st: &mut State, spec: &WorkerSpec, cache: &ClusterCache) -> BTreeSet<Uuid> {
    let idx = cache.read();
    let projector = Projector::new(&spec.cfg, &idx);
    let mut touched = BTreeSet::new();
    if st.reproject_all {
        let mut fresh = DesiredState::new();
        for root in projector.roots() {
            let out = projector.project_root(&root);
            touched.extend(fresh.update_root(root, out));
        }
        // what the old state had and the new one lacks is touched too
        for root in st.desired.roots().cloned().collect::<Vec<_>>() {
            touched.extend(st.desired.update_root(root, Default::default()));
        }
        st.desired = fresh;
        st.reproject_all = false;
        st.roots.clear();
    } else {
        tracing::debug!(roots = ?st.roots, "re-projecting changed roots");
        for root in std::mem::take(&mut st.roots) {
            let out = projector.project_root(&root);
            touched.extend(st.desired.update_root(root, out));
        }
    }
    touched
}

async fn full_pass<A: NautobotApi>(
    spec: &WorkerSpec,
    client: &A,
    cache: &ClusterCache,
    st: &mut State,
    metrics: &Metrics,
) -> Result<PassOutcome, SyncError> {
    let started = Instant::now();
    projector_roots(st, spec, cache);
    st.server = Some(client.check().await?);
    let desired = st.desired.records();
    let ips_unknown = st.desired.ips_unknown();
    let policy = Policy::new(&spec.cfg, jiff::Timestamp::now(), spec.allow_mass_deletion);
    let alias = cache.read().kube_system_uid().map(String::from);
    let outcome = Pass {
        alias: alias.as_deref(),
        ..pass_of(spec)
    }
    .full(
        client,
        &desired,
        &ips_unknown,
        policy,
        |observed| kubevirt_hold(cache, observed),
        &mut st.synced,
    )
    .await?;
    drop(desired);
    let (plan, report) = settle(outcome)?;
    if let Some(resolver) = st.synced.resolver.as_ref() {
        st.left_behind = count_left_behind(spec, client, resolver).await;
    }
    st.need_full = st.synced.stale;
    st.last_full = Some(Instant::now());
    metrics.observe_sync("full", started.elapsed());
    log_pass("full", spec, &plan, report.as_ref(), started);
    Ok(PassOutcome {
        plan,
        report,
        full: true,
        touched: None,
    })
}

/// The pass a spec asks for: written unless it is a dry run or suspended.
/// Lean: the worker needs only the counts of what was created, not the bodies.
fn pass_of(spec: &WorkerSpec) -> Pass<'_> {
    Pass {
        lean: true,
        ..Pass::new(&spec.cfg, !(spec.cfg.dry_run || spec.cfg.suspend))
    }
}

/// A pass's plan and report as the worker keeps them: a pass that stopped early is an error
/// (its copy of Nautobot is stale: the next pass is a full one); an empty plan wrote nothing
/// and needs nothing, dry run or not.
fn settle(outcome: SyncOutcome) -> Result<(Plan, Option<ApplyReport>), SyncError> {
    let SyncOutcome { plan, report, .. } = outcome;
    if let Some(e) = report.as_ref().and_then(|r| r.aborted.clone()) {
        return Err(SyncError::Api(e));
    }
    let report = report.or_else(|| plan.is_empty().then(ApplyReport::default));
    Ok((plan, report))
}

/// After `spec.clusterName` changed: how many objects each previous name still owns in
/// Nautobot (reads only). They are never touched (nothing proves this cluster is the one they
/// came from); the status reports them until a person removes them. A failed count is logged
/// and reported as unknown.
async fn count_left_behind(
    spec: &WorkerSpec,
    client: &impl NautobotApi,
    resolver: &Resolver,
) -> Vec<(String, Option<usize>)> {
    let mut counts = Vec::with_capacity(spec.previous_cluster_names.len());
    for old in &spec.previous_cluster_names {
        if !resolver.ownership_field_exists {
            counts.push((old.clone(), Some(0)));
            continue;
        }
        let count = match nautobot::observe::load_owned(client, old, resolver).await {
            Ok(objects) => {
                if !objects.is_empty() {
                    tracing::warn!(cluster = %spec.cfg.cluster_name, previous = %old, objects = objects.len(),
                        "objects owned under a previous cluster name are left in Nautobot");
                }
                Some(objects.len())
            }
            Err(e) => {
                tracing::warn!(cluster = %spec.cfg.cluster_name, previous = %old, error = %e,
                    "cannot count the objects owned under a previous cluster name");
                None
            }
        };
        counts.push((old.clone(), count));
    }
    counts
}

async fn incremental_pass<A: NautobotApi>(
    spec: &WorkerSpec,
    client: &A,
    cache: &ClusterCache,
    st: &mut State,
    metrics: &Metrics,
) -> Result<PassOutcome, SyncError> {
    let started = Instant::now();
    let mut touched = projector_roots(st, spec, cache);
    if st.retry_due() {
        tracing::debug!(objects = st.failed.len(), "retrying failed writes");
        touched.extend(st.failed.keys().copied());
    }
    if touched.is_empty() {
        return Ok(PassOutcome {
            plan: Plan::default(),
            report: None,
            full: false,
            touched: None,
        });
    }
    let (desired, unknown) = st.desired.subset(&touched);
    let policy = Policy::new(&spec.cfg, jiff::Timestamp::now(), spec.allow_mass_deletion);
    let outcome = pass_of(spec)
        .incremental(
            client,
            &touched,
            &desired,
            &unknown,
            || st.desired.records(),
            policy,
            |observed| kubevirt_hold(cache, observed),
            &mut st.synced,
        )
        .await?;
    // a pass cut off mid-apply is an error here: the worker's error path then asks for a
    // full pass
    let (plan, report) = settle(outcome)?;
    metrics.observe_sync("incremental", started.elapsed());
    if !plan.is_empty() || !plan.held.is_empty() {
        log_pass("incremental", spec, &plan, report.as_ref(), started);
    }
    Ok(PassOutcome {
        plan,
        report,
        full: false,
        touched: Some(touched),
    })
}

fn log_pass(
    mode: &str,
    spec: &WorkerSpec,
    plan: &Plan,
    report: Option<&ApplyReport>,
    started: Instant,
) {
    tracing::info!(
        cluster = %spec.cfg.cluster_name,
        mode,
        creates = plan.creates.len(),
        updates = plan.updates.len() + plan.late_updates.len(),
        deletes = plan.deletes.len(),
        replaced = plan.replaced.len(),
        held = plan.held.len(),
        unchanged = plan.unchanged,
        conflicts = plan.conflicts.len(),
        failed = report.map_or(0, |r| r.failures.len()),
        applied = report.is_some(),
        ms = started.elapsed().as_millis() as u64,
        "sync pass done"
    );
    for (what, ops) in [
        ("create", &plan.creates),
        ("update", &plan.updates),
        ("update", &plan.late_updates),
        ("delete", &plan.deletes),
        ("replace", &plan.replaced),
    ] {
        for op in ops.iter().take(20) {
            tracing::debug!(cluster = %spec.cfg.cluster_name, mode, action = what, kind = %op.kind, name = %op.name, reason = %op.reason, "change");
        }
    }
    if let Some(reason) = &plan.held_reason {
        tracing::warn!(cluster = %spec.cfg.cluster_name, reason, "deletions held by the mass-deletion guard");
    }
}

/// While the KubeVirt API is not served, every VM this cluster owns in Nautobot looks gone. That
/// is what uninstalling KubeVirt looks like, but also a KubeVirt upgrade or a CRD briefly
/// missing: hold every removal, and say why, until the API is back or a person allows it.
fn kubevirt_hold(
    cache: &ClusterCache,
    observed: &BTreeMap<Uuid, ObservedObject>,
) -> Option<String> {
    let r = cache.readiness().borrow().clone();
    if r.kubevirt && !r.kubevirt_leaving {
        return None;
    }
    let vms = observed
        .values()
        .filter(|o| o.kind == Kind::VirtualMachine)
        .count();
    (vms > 0).then(|| {
        format!(
            "the KubeVirt API is {}, but Nautobot holds {vms} VMs of this cluster: nothing is removed while it is missing \
             (KubeVirt uninstalled, or being upgraded?); annotate the NautobotSync nbsync.dev/allow-mass-deletion=true to let them go",
            if r.kubevirt { "being uninstalled (its CRD is being deleted)" } else { "not served" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nautobot::fake::FakeNautobot;
    use crate::project::testing::{config, sample};

    fn state() -> State {
        State {
            desired: DesiredState::new(),
            synced: Synced::default(),
            need_full: false,
            reproject_all: false,
            roots: BTreeSet::new(),
            last_full: None,
            failed: BTreeMap::new(),
            retry_at: None,
            retry_delay: RETRY_FAILED_MIN,
            left_behind: Vec::new(),
            server: None,
        }
    }

    fn failure(n: u128) -> Failure {
        Failure {
            id: Uuid::from_u128(n),
            kind: Kind::CloudService,
            name: format!("svc-{n}"),
            action: "create",
            message: "name: refused".into(),
            conflict: false,
        }
    }

    fn report(failures: Vec<Failure>) -> ApplyReport {
        ApplyReport {
            failures,
            ..ApplyReport::default()
        }
    }

    /// The request-level rig: a worker on the sample cluster and an in-memory Nautobot.
    struct Rig {
        health: Arc<crate::runtime::http::Health>,
        nautobot: Arc<FakeNautobot>,
        cache: Arc<ClusterCache>,
        leader: watch::Sender<bool>,
        /// SIGTERM: a pass in flight then has 1 s, and 300 ms more to drain.
        stop: watch::Sender<bool>,
        worker: Worker,
    }

    fn spec(generation: i64) -> WorkerSpec {
        WorkerSpec {
            cfg: config(serde_json::json!({})),
            token: Token::new("t"),
            ca_bundle: None,
            generation,
            allow_mass_deletion: false,
            previous_cluster_names: Vec::new(),
        }
    }

    fn rig() -> Rig {
        let spec = spec(1);
        rig_on(Arc::new(FakeNautobot::with_location(
            spec.cfg.location.as_deref().unwrap_or_default(),
        )))
    }

    /// A worker (a new process, say) on an existing Nautobot.
    fn rig_on(nautobot: Arc<FakeNautobot>) -> Rig {
        let metrics = Metrics::new();
        let cache = ClusterCache::new(metrics.clone());
        let (leader, leading) = watch::channel(true);
        let (stop, stopping) = watch::channel(false);
        let fake = nautobot.clone();
        // liveness with a short limit, for the wedged-pass test
        let health = Arc::new(crate::runtime::http::Health::new(Duration::from_millis(
            500,
        )));
        let shutdown =
            Shutdown::new(stopping, Duration::from_secs(1)).with_drain(Duration::from_millis(300));
        let worker = Worker::spawn_with(
            spec(1),
            cache.clone(),
            leading,
            metrics,
            Arc::new(|| {}),
            (health.beat("the worker", Duration::ZERO), shutdown),
            move |_: &WorkerSpec| Ok(fake.clone()),
        );
        Rig {
            health,
            nautobot,
            cache,
            leader,
            stop,
            worker,
        }
    }

    impl Rig {
        /// Waits (bounded) until the report satisfies `ok`.
        async fn until(&self, what: &str, ok: impl Fn(&WorkerReport) -> bool) -> WorkerReport {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let r = self.worker.report();
                if ok(&r) {
                    return r;
                }
                assert!(Instant::now() < deadline, "{what}: {r:#?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    fn a_service(idx: &crate::cluster::ClusterIndex) -> (String, String) {
        idx.services()
            .map(|s| s.meta.key())
            .find(|(ns, _)| ns.starts_with("shop"))
            .expect("a Service of a synced namespace")
    }

    #[tokio::test]
    async fn the_worker_waits_for_the_cache_then_syncs_and_a_change_costs_its_writes_only() {
        let rig = rig();
        rig.until("waiting for caches", |r| {
            matches!(r.phase, Phase::WaitingForCaches(_))
        })
        .await;
        assert!(
            rig.nautobot.take_log().is_empty(),
            "nothing before the cache is ready"
        );
        rig.cache.load(sample());
        let r = rig
            .until("synced", |r| r.phase == Phase::Synced && r.passes >= 1)
            .await;
        assert!(r.in_sync.get(&Kind::VirtualMachine) == Some(&6), "{r:#?}");
        rig.nautobot.take_log();
        // a Service goes: an incremental pass writes and reads nothing
        let passes = r.passes;
        rig.cache.change(|idx| {
            let (ns, name) = a_service(idx);
            idx.delete_service(&ns, &name);
            vec![Root::Service((ns, name))]
        });
        rig.until("the change synced", |r| r.passes > passes).await;
        let log = rig.nautobot.take_log();
        assert!(
            !log.is_empty() && log.iter().all(|q| q.method != "GET"),
            "{log:?}"
        );
    }

    /// A burst of 100 changes a second: the first is written at once, the rest gathered, so
    /// the whole burst costs a few passes, not a hundred.
    #[tokio::test]
    async fn a_burst_after_a_quiet_moment_costs_a_few_passes() {
        let rig = rig();
        rig.cache.load(sample());
        let r = rig.until("synced", |r| r.phase == Phase::Synced).await;
        tokio::time::sleep(super::super::debounce::WINDOW).await;
        for i in 0..100 {
            rig.cache.change(|idx| {
                let (ns, name) = a_service(idx);
                if i == 0 {
                    idx.delete_service(&ns, &name);
                }
                vec![Root::Service((ns, name))]
            });
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // settled: no pass for longer than the longest gathering
        let mut last = rig.worker.report().passes;
        loop {
            tokio::time::sleep(super::super::debounce::MAX + Duration::from_millis(200)).await;
            let now = rig.worker.report().passes;
            if now == last {
                break;
            }
            last = now;
        }
        let passes = last - r.passes;
        eprintln!("{passes} passes for a burst of 100 changes in a second");
        assert!((1..=4).contains(&passes), "{passes} passes for the burst");
    }

    #[tokio::test]
    async fn a_replica_that_is_not_leader_writes_nothing_and_a_spec_change_starts_a_full_pass() {
        let rig = rig();
        rig.cache.load(sample());
        let r = rig.until("synced", |r| r.phase == Phase::Synced).await;
        rig.leader.send_replace(false);
        rig.until("not leader", |r| r.phase == Phase::NotLeader)
            .await;
        rig.nautobot.take_log();
        rig.cache.change(|idx| {
            let (ns, name) = a_service(idx);
            idx.delete_service(&ns, &name);
            vec![Root::Service((ns, name))]
        });
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(
            rig.nautobot.take_log().is_empty(),
            "no request without the Lease"
        );
        // leader again: a full pass (it reads) catches up with what changed meanwhile
        rig.leader.send_replace(true);
        let r = rig
            .until("synced again", |x| {
                x.phase == Phase::Synced && x.passes > r.passes
            })
            .await;
        let log = rig.nautobot.take_log();
        assert!(log.iter().any(|q| q.method == "GET") && log.iter().any(|q| q.method != "GET"));
        // a new spec (another generation, the same config) is a full pass too
        let mut next = spec(2);
        next.cfg.cluster_domain = "changed.example".into();
        rig.worker.update(next);
        rig.until("the new generation", |x| {
            x.generation == 2 && x.passes > r.passes
        })
        .await;
        assert!(rig.nautobot.take_log().iter().any(|q| q.method == "GET"));
    }

    /// Liveness follows the loop itself: a worker idle between changes is alive however long
    /// it waits; one whose pass waits forever on a Nautobot that never answers fails liveness
    /// once its limit has passed, naming it.
    #[tokio::test]
    async fn a_wedged_pass_fails_liveness_and_an_idle_worker_never_does() {
        let rig = rig();
        rig.cache.load(sample());
        rig.until("synced", |r| r.phase == Phase::Synced).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(rig.health.liveness(), Ok(()), "idle by choice");
        rig.nautobot.hang();
        rig.cache.change(|idx| {
            let (ns, name) = a_service(idx);
            idx.delete_service(&ns, &name);
            vec![Root::Service((ns, name))]
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let err = loop {
            if let Err(e) = rig.health.liveness() {
                break e;
            }
            assert!(
                Instant::now() < deadline,
                "the wedged pass was never noticed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            err.contains("the worker has been busy") && err.contains("no progress"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_failed_pass_says_when_it_is_tried_again_and_a_success_resets_the_backoff() {
        let rig = rig();
        rig.nautobot
            .lose_connection_after("extras/custom-fields/", 0);
        rig.cache.load(sample());
        let r = rig
            .until("an error", |r| matches!(r.phase, Phase::Error { .. }))
            .await;
        let Phase::Error { category, message } = &r.phase else {
            unreachable!()
        };
        assert_eq!(category, "NautobotUnreachable");
        assert!(
            message.contains("failure 1 in a row; next attempt at "),
            "{message}"
        );
        // transient: the first retry within a second, and the count grows
        rig.until("the second failure", |r| {
            matches!(&r.phase, Phase::Error { message, .. } if message.contains("failure 2 in a row"))
        })
        .await;
        rig.nautobot.reconnect();
        rig.until("synced", |r| r.phase == Phase::Synced).await;
    }

    /// SIGTERM with nothing in flight: the worker stops at once and sends nothing more.
    #[tokio::test]
    async fn an_idle_worker_stops_at_the_signal_without_a_request() {
        let mut rig = rig();
        rig.cache.load(sample());
        rig.until("synced", |r| r.phase == Phase::Synced).await;
        rig.nautobot.take_log();
        let t = Instant::now();
        rig.stop.send_replace(true);
        // a change after the signal is not synced by this replica (the next leader's is)
        rig.cache.change(|idx| {
            let (ns, name) = a_service(idx);
            idx.delete_service(&ns, &name);
            vec![Root::Service((ns, name))]
        });
        tokio::time::timeout(Duration::from_secs(5), rig.worker.stopped())
            .await
            .expect("the worker stops");
        // at once, not after the grace period
        assert!(
            t.elapsed() < Duration::from_millis(900),
            "{:?}",
            t.elapsed()
        );
        assert!(rig.nautobot.take_log().is_empty());
        assert_eq!(rig.worker.report().phase, Phase::Synced);
    }

    /// SIGTERM during a pass that finishes within the grace period: it finishes, and its
    /// report is the one the status gets.
    #[tokio::test]
    async fn a_pass_in_flight_at_the_signal_finishes_within_the_grace_period() {
        let mut rig = rig();
        rig.cache.load(sample());
        let r = rig.until("synced", |r| r.phase == Phase::Synced).await;
        rig.nautobot.take_log();
        // a change whose incremental pass takes ~40 ms a request
        rig.nautobot.slow(Duration::from_millis(40));
        rig.cache.change(|idx| {
            let (ns, name) = a_service(idx);
            idx.delete_service(&ns, &name);
            vec![Root::Service((ns, name))]
        });
        // the debounce (300 ms) then the first request: the pass is in flight
        let deadline = Instant::now() + Duration::from_secs(5);
        while rig.nautobot.take_log().is_empty() {
            assert!(Instant::now() < deadline, "the pass never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        rig.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), rig.worker.stopped())
            .await
            .expect("the worker stops");
        let done = rig.worker.report();
        assert_eq!(done.phase, Phase::Synced);
        assert!(done.passes > r.passes, "the pass in flight finished");
    }

    /// SIGTERM during a long first pass: after the grace period it starts no new request, its
    /// report says it was interrupted, what it wrote stands, and the next process finishes
    /// the job without a duplicate.
    #[tokio::test]
    async fn a_long_pass_stops_after_the_grace_period_and_the_next_process_finishes_it() {
        let mut rig = rig();
        rig.nautobot.slow(Duration::from_millis(100));
        rig.cache.load(sample());
        let deadline = Instant::now() + Duration::from_secs(5);
        while rig.nautobot.objects("virtualization/clusters/").is_empty() {
            assert!(Instant::now() < deadline, "the pass never wrote");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let t = Instant::now();
        rig.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), rig.worker.stopped())
            .await
            .expect("the worker stops");
        // the grace period (1 s), then the requests in flight (100 ms) answer
        let took = t.elapsed();
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(3),
            "{took:?}"
        );
        let Phase::Interrupted(message) = rig.worker.report().phase else {
            panic!("{:#?}", rig.worker.report())
        };
        assert!(message.contains("grace period"), "{message}");
        let log = rig.nautobot.take_log();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rig.nautobot.take_log().is_empty(), "nothing after the stop");
        // the next process: a full pass completes what was left (so the first had stopped
        // before the end), each VM once
        let next = rig_on(rig.nautobot.clone());
        next.cache.load(sample());
        let done = next.until("synced", |r| r.phase == Phase::Synced).await;
        assert!(
            done.written > 0,
            "the first pass was stopped before its end ({} requests)",
            log.len()
        );
        assert_eq!(
            next.nautobot
                .objects("virtualization/virtual-machines/")
                .len(),
            6
        );
    }

    #[test]
    fn failed_writes_stay_reported_until_retried_successfully() {
        let mut st = state();
        // a full pass: two objects refused; a retry is scheduled
        st.settle_failures(None, Some(&report(vec![failure(1), failure(2)])));
        assert_eq!(st.failed.len(), 2);
        let first = st.retry_at.expect("a retry is scheduled");
        assert!(!st.retry_due());
        // an incremental pass about something else leaves them outstanding and the retry time
        let other = BTreeSet::from([Uuid::from_u128(9)]);
        st.settle_failures(Some(&other), Some(&report(vec![])));
        assert_eq!((st.failed.len(), st.retry_at), (2, Some(first)));
        // the retry (due now): one succeeds, one is still refused; the next retry waits longer
        st.retry_at = Some(Instant::now());
        let retried = BTreeSet::from([Uuid::from_u128(1), Uuid::from_u128(2)]);
        st.settle_failures(Some(&retried), Some(&report(vec![failure(2)])));
        assert_eq!(st.failed.keys().collect::<Vec<_>>(), [&Uuid::from_u128(2)]);
        assert_eq!(st.retry_delay, RETRY_FAILED_MIN * 2);
        assert!(!st.retry_due());
        // a dry-run pass settles nothing but does not spin on a due retry
        st.retry_at = Some(Instant::now());
        st.settle_failures(Some(&retried), None);
        assert!(!st.retry_due() && st.failed.len() == 1);
        // solved: nothing outstanding, no retry, the backoff starts over
        st.retry_at = Some(Instant::now());
        st.settle_failures(Some(&retried), Some(&report(vec![])));
        assert!(st.failed.is_empty() && st.retry_at.is_none());
        assert_eq!(st.retry_delay, RETRY_FAILED_MIN);
    }
}
