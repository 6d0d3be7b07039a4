//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics in a small loop.
//!
//! [`LeaderElector::spawn`] starts a task that tries every `retry_period` to take or renew the Lease
//! and publishes whether this replica leads on a [`LeaderHandle`]. Guarantees:
//! - Every write is a create or a replace carrying the resourceVersion just read, so of two replicas
//!   racing for the Lease exactly one wins (the other gets 409 and re-reads).
//! - A Lease held by another identity is taken only once its record has not changed for
//!   `leaseDurationSeconds` (the value on the server) by our own monotonic clock, counted from when
//!   this replica last saw the record change, as client-go does (`observedTime`); or at once when
//!   its holder released it. The holder's `renewTime` is never compared with our clock, so a
//!   replica whose wall clock runs ahead (or behind) of the holder's by any amount never takes a
//!   Lease that is being renewed, and a new replica waits one lease duration before taking over an
//!   abandoned one.
//! - The flag turns `false` as soon as the Lease is seen held by someone else, and at the latest
//!   `renew_deadline` after the start of the last successful renewal (a hanging request is cancelled
//!   then). The `renewTime` written is taken after that start, and `renew_deadline < lease_duration`,
//!   so the flag is `false` before any other replica may consider the Lease expired (which needs a
//!   full lease duration without a change, counted after the other replica saw the last renewal).
//! - On [`LeaderHandle::release`] or when the handle is dropped, the flag turns `false` first, then
//!   the Lease is released (holder and times cleared) so another replica takes over at once. When the
//!   task is aborted instead, the flag still turns `false`, but others wait for the Lease to expire.

use std::time::Duration;

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tracing::{Instrument, debug, info, info_span, warn};

/// Where the Lease lives, who we are and the timings (client-go's defaults via [`LeaderConfig::new`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    /// This replica's identity (e.g. the pod name); must be unique among the replicas.
    pub identity: String,
    /// How long others wait after the last renewal before taking over (written in whole seconds,
    /// rounded up). Default 15 s.
    pub lease_duration: Duration,
    /// How long the leader keeps leading without a successful renewal. Default 10 s.
    pub renew_deadline: Duration,
    /// Pause between attempts to take or renew the Lease. Default 2 s.
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// A configuration with the default timings (15 s / 10 s / 2 s).
    pub fn new(
        namespace: impl Into<String>,
        lease_name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Checks what the guarantees rely on: non-empty names and identity, a non-zero retry period
    /// shorter than the renew deadline, itself shorter than the lease duration.
    ///
    /// # Errors
    /// A description of the first problem found.
    pub fn validate(&self) -> Result<(), String> {
        if self.namespace.is_empty() || self.lease_name.is_empty() || self.identity.is_empty() {
            return Err("namespace, lease name and identity must not be empty".into());
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return Err("retry_period must be non-zero and shorter than renew_deadline".into());
        }
        if self.renew_deadline >= self.lease_duration {
            return Err("renew_deadline must be shorter than lease_duration".into());
        }
        Ok(())
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_millis().div_ceil(1000)).unwrap_or(i32::MAX)
    }
}

/// What to do with a Lease, as decided by [`decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or its holder let it expire: take it over.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it: wait.
    Wait {
        /// The holder's identity.
        holder: String,
        /// How long until it expires unless its record changes again (by our clock).
        left: Duration,
    },
}

/// Decides what `identity` may do with a Lease whose spec is `spec`, whose record this replica
/// last saw change at `observed` (its own monotonic clock), at `now` on that clock. client-go's
/// rules: a holder without `renewTime` or `leaseDurationSeconds` counts as expired, and another
/// holder's Lease expires `leaseDurationSeconds` after the record was last seen to change; the
/// `renewTime` on the record comes from another machine's clock and is never compared with ours.
pub fn decide(spec: &LeaseSpec, identity: &str, observed: Instant, now: Instant) -> Decision {
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    let (Some(holder), Some(_)) = (holder, &spec.renew_time) else {
        return Decision::Take;
    };
    if holder == identity {
        return Decision::Renew;
    }
    let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
    let until = observed + duration;
    if until > now {
        let holder = holder.to_string();
        Decision::Wait {
            holder,
            left: until - now,
        }
    } else {
        Decision::Take
    }
}

/// The Lease record as last seen, and when it was seen to change (client-go's `observedRecord`
/// and `observedTime`).
#[derive(Debug, Default)]
struct Observed {
    record: Option<LeaseSpec>,
    at: Option<Instant>,
}

impl Observed {
    /// Notes the record read at `now`; returns when it was last seen to change.
    fn see(&mut self, spec: &LeaseSpec, now: Instant) -> Instant {
        if self.record.as_ref() != Some(spec) || self.at.is_none() {
            self.record = Some(spec.clone());
            self.at = Some(now);
        }
        self.at.unwrap_or(now)
    }
}

/// The wall clock the `renewTime` and `acquireTime` written come from (a test skews it).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Whether this replica leads, and the way to stop the election. Dropping it releases the Lease
/// like [`LeaderHandle::release`].
#[derive(Debug)]
pub struct LeaderHandle {
    rx: watch::Receiver<bool>,
    stop: oneshot::Sender<()>,
}

impl LeaderHandle {
    /// Whether this replica leads now. Check it right before each write.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits for the next change and returns the new value; `None` once the election has ended.
    pub async fn changed(&mut self) -> Option<bool> {
        self.rx.changed().await.ok()?;
        Some(*self.rx.borrow_and_update())
    }

    /// Another receiver of the flag (e.g. `rx.wait_for(|l| *l)` to wait for leadership).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }

    /// Stops the election: the flag turns `false`, then the Lease is released if we hold it. Await
    /// the task's `JoinHandle` to know the release is done (it is bounded by `renew_deadline`).
    pub fn release(self) {
        let _ = self.stop.send(());
    }
}

/// Sets the flag; turns it `false` when dropped, also when the task is aborted.
struct Flag(watch::Sender<bool>);

impl Flag {
    fn set(&self, leading: bool) {
        self.0
            .send_if_modified(|cur| std::mem::replace(cur, leading) != leading);
    }
}

impl Drop for Flag {
    fn drop(&mut self) {
        self.set(false);
    }
}

/// The outcome of one successful round trip.
enum Attempt {
    Leading,
    NotLeading(String),
}

/// The election loop for one Lease and identity.
pub struct LeaderElector {
    api: Api<Lease>,
    cfg: LeaderConfig,
    clock: Clock,
    observed: Observed,
}

impl LeaderElector {
    /// Starts electing on the current tokio runtime; refuses a config that
    /// [`LeaderConfig::validate`] refuses. When the returned task ends (or panics), the flag
    /// turns false: a replica whose election died never writes.
    pub fn spawn(
        client: kube::Client,
        cfg: LeaderConfig,
    ) -> Result<(LeaderHandle, JoinHandle<()>), String> {
        Self::spawn_with_clock(client, cfg, Arc::new(Timestamp::now))
    }

    /// [`LeaderElector::spawn`] with the wall clock the times written to the Lease come from
    /// (tests give replicas clocks that disagree).
    pub fn spawn_with_clock(
        client: kube::Client,
        cfg: LeaderConfig,
        clock: Clock,
    ) -> Result<(LeaderHandle, JoinHandle<()>), String> {
        cfg.validate()
            .map_err(|err| format!("invalid leader election config: {err}"))?;
        let (tx, rx) = watch::channel(false);
        let (stop, stopped) = oneshot::channel();
        let elector = Self {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            clock,
            observed: Observed::default(),
        };
        let span =
            info_span!("leader", lease = %elector.cfg.lease_name, identity = %elector.cfg.identity);
        let task = tokio::spawn(elector.run(Flag(tx), stopped).instrument(span));
        Ok((LeaderHandle { rx, stop }, task))
    }

    async fn run(mut self, flag: Flag, mut stop: oneshot::Receiver<()>) {
        let rd = self.cfg.renew_deadline;
        let mut renewed: Option<Instant> = None;
        let mut last_error = String::new();
        loop {
            if let Some(at) = renewed
                && Instant::now() >= at + rd
            {
                renewed = None;
                flag.set(false);
                info!(error = %last_error, "lost leadership: no renewal within the renew deadline");
            }
            let started = Instant::now();
            let deadline = renewed.unwrap_or(started) + rd;
            let attempt = tokio::select! {
                _ = &mut stop => break,
                r = timeout_at(deadline, self.try_acquire_or_renew(renewed.is_some())) => {
                    r.unwrap_or_else(|_| Err("the request timed out".into()))
                }
            };
            match attempt {
                Ok(Attempt::Leading) => {
                    if renewed.replace(started).is_some() {
                        debug!("renewed the lease");
                    } else {
                        flag.set(true);
                        info!("became leader");
                    }
                }
                Ok(Attempt::NotLeading(reason)) => {
                    if renewed.take().is_some() {
                        flag.set(false);
                        info!(%reason, "lost leadership");
                    } else {
                        debug!(%reason, "not leader");
                    }
                }
                Err(err) => {
                    warn!(error = %err, "could not take or renew the lease");
                    last_error = err;
                }
            }
            let mut wake = Instant::now() + self.cfg.retry_period;
            if let Some(at) = renewed {
                wake = wake.min(at + rd);
            }
            tokio::select! {
                _ = &mut stop => break,
                () = sleep_until(wake) => {}
            }
        }
        flag.set(false);
        match timeout(rd, self.release()).await {
            Ok(Ok(true)) => info!("released the lease"),
            Ok(Ok(false)) => debug!("stopped without holding the lease"),
            Ok(Err(err)) => {
                warn!(error = %err, "could not release the lease")
            }
            Err(_) => warn!("releasing the lease timed out"),
        }
    }

    /// One read and at most one write (a 409 re-reads once); errors are described for the logs.
    async fn try_acquire_or_renew(&mut self, leading: bool) -> Result<Attempt, String> {
        let pp = PostParams::default();
        for round in 0..2 {
            let cfg = &self.cfg;
            let read = self
                .api
                .get_opt(&cfg.lease_name)
                .await
                .map_err(|e| e.to_string())?;
            let exists = read.is_some();
            let mut lease = read.unwrap_or_else(|| Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.lease_name.clone()),
                    ..ObjectMeta::default()
                },
                spec: None,
            });
            let old = lease.spec.take().unwrap_or_default();
            let transitions = old.lease_transitions.unwrap_or(0);
            let seen = Instant::now();
            let changed = self.observed.see(&old, seen);
            let now = (self.clock)();
            let spec = match decide(&old, &self.cfg.identity, changed, seen) {
                Decision::Wait { holder, left } => {
                    return Ok(Attempt::NotLeading(format!(
                        "held by {holder}, who renewed it {:.1?} ago by our clock; it expires in {left:.1?} unless renewed",
                        seen - changed
                    )));
                }
                Decision::Take if leading => {
                    return Ok(Attempt::NotLeading(
                        "the lease was released or deleted".into(),
                    ));
                }
                Decision::Take => self.spec(
                    old,
                    now,
                    Some(MicroTime(now)),
                    transitions + i32::from(exists),
                ),
                Decision::Renew => {
                    let acquired = old.acquire_time.clone();
                    self.spec(old, now, acquired, transitions)
                }
            };
            lease.spec = Some(spec);
            let written = if exists {
                self.api.replace(&self.cfg.lease_name, &pp, &lease).await
            } else {
                self.api.create(&pp, &lease).await
            };
            match written {
                Ok(_) => return Ok(Attempt::Leading),
                Err(err) if round == 0 && is_code(&err, 409) => continue,
                Err(err) => return Err(err.to_string()),
            }
        }
        Err("the lease changed twice between read and write".into())
    }

    fn spec(&self, old: LeaseSpec, now: Timestamp, acq: Option<MicroTime>, n: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(self.cfg.lease_seconds()),
            acquire_time: acq,
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(n),
            ..old
        }
    }

    /// Clears holder and times if we hold the Lease; whether we did.
    async fn release(&self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.cfg.lease_name).await? else {
            return Ok(false);
        };
        let spec = lease.spec.get_or_insert_default();
        if spec.holder_identity.as_ref() != Some(&self.cfg.identity) {
            return Ok(false);
        }
        spec.holder_identity = None;
        spec.acquire_time = None;
        spec.renew_time = None;
        self.api
            .replace(&self.cfg.lease_name, &PostParams::default(), &lease)
            .await?;
        Ok(true)
    }
}

fn is_code(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed: Option<i64>, secs: Option<i32>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: renewed.map(|s| MicroTime(Timestamp::from_second(s).unwrap())),
            lease_duration_seconds: secs,
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn decisions() {
        let t0 = Instant::now();
        let secs = |n: u64| t0 + Duration::from_secs(n);
        let now = secs(100);
        assert_eq!(decide(&LeaseSpec::default(), "me", t0, now), Decision::Take);
        assert_eq!(
            decide(&lease(Some(""), Some(999), Some(15)), "me", t0, now),
            Decision::Take
        );
        // ours, even long unchanged: renew
        assert_eq!(
            decide(&lease(Some("me"), Some(1), Some(15)), "me", t0, now),
            Decision::Renew
        );
        // another's, seen to change 10 s ago: 5 s left, whatever its renewTime says
        for renewed in [1, 1_000_000, 4_000_000_000] {
            assert_eq!(
                decide(
                    &lease(Some("other"), Some(renewed), Some(15)),
                    "me",
                    secs(90),
                    now
                ),
                Decision::Wait {
                    holder: "other".into(),
                    left: Duration::from_secs(5)
                },
                "renewTime {renewed}"
            );
        }
        // expiry is exclusive: seen unchanged for exactly the duration is expired
        assert_eq!(
            decide(
                &lease(Some("other"), Some(985), Some(15)),
                "me",
                secs(85),
                now
            ),
            Decision::Take
        );
        assert_eq!(
            decide(&lease(Some("other"), None, Some(15)), "me", now, now),
            Decision::Take
        );
        assert_eq!(
            decide(&lease(Some("other"), Some(999), None), "me", now, now),
            Decision::Take
        );
    }

    #[test]
    fn a_record_is_observed_when_it_changes_not_when_it_is_read() {
        let mut o = Observed::default();
        let t0 = Instant::now();
        let held = lease(Some("other"), Some(10), Some(15));
        assert_eq!(o.see(&held, t0), t0, "first sight");
        let later = t0 + Duration::from_secs(7);
        assert_eq!(o.see(&held, later), t0, "unchanged: still first sight");
        let renewed = lease(Some("other"), Some(12), Some(15));
        assert_eq!(o.see(&renewed, later), later, "a renewal is a change");
    }

    #[test]
    fn config_checks_and_rounds_the_lease_up() {
        let mut cfg = LeaderConfig::new("ns", "lease", "me");
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!(cfg.lease_seconds(), 15);
        cfg.lease_duration = Duration::from_millis(10_500);
        assert_eq!(cfg.lease_seconds(), 11);
        cfg.renew_deadline = cfg.lease_duration;
        assert!(cfg.validate().is_err());
        cfg.renew_deadline = Duration::from_secs(1);
        assert!(
            cfg.validate().is_err(),
            "retry_period 2 s >= renew_deadline"
        );
        assert!(LeaderConfig::new("ns", "lease", "").validate().is_err());
    }
}
