//! Leader election against the Kubernetes API stand-in, with short timings (lease 2 s, renew deadline
//! 1.2 s, retry 0.3 s): one leader at a time, fast hand-over on release, take-over after expiry, stepping
//! down on API failures and never displacing a live foreign holder.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube_stand_in::StandIn;
use nbsync::runtime::leader::{LeaderConfig, LeaderElector, LeaderHandle};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

const NS: &str = "default";
const LEASE: &str = "nbsync-leader";
const LEASE_DURATION: Duration = Duration::from_secs(2);
const RENEW_DEADLINE: Duration = Duration::from_millis(1200);
const RETRY: Duration = Duration::from_millis(300);
/// Scheduling and HTTP slack on a loaded machine.
const SLACK: Duration = Duration::from_millis(700);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}

fn spawn(stand_in: &StandIn, identity: &str) -> (LeaderHandle, JoinHandle<()>) {
    let cfg = LeaderConfig {
        lease_duration: LEASE_DURATION,
        renew_deadline: RENEW_DEADLINE,
        retry_period: RETRY,
        ..LeaderConfig::new(NS, LEASE, identity)
    };
    LeaderElector::spawn(stand_in.client(), cfg).expect("a valid config")
}

/// An elector whose wall clock (the times it writes to the Lease) is off by `skew`.
fn spawn_skewed(
    stand_in: &StandIn,
    identity: &str,
    skew: SignedDuration,
) -> (LeaderHandle, JoinHandle<()>) {
    let cfg = LeaderConfig {
        lease_duration: LEASE_DURATION,
        renew_deadline: RENEW_DEADLINE,
        retry_period: RETRY,
        ..LeaderConfig::new(NS, LEASE, identity)
    };
    let clock = Arc::new(move || Timestamp::now() + skew);
    LeaderElector::spawn_with_clock(stand_in.client(), cfg, clock).expect("a valid config")
}

async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Waits until the handle reports `leading`; how long that took.
async fn until_leading(handle: &LeaderHandle, leading: bool, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut rx = handle.subscribe();
    within(
        limit,
        &format!("leader={leading}"),
        rx.wait_for(|l| *l == leading),
    )
    .await
    .expect("the elector is running");
    start.elapsed()
}

fn spec(stand_in: &StandIn) -> Value {
    stand_in
        .get("coordination.k8s.io/v1", "Lease", Some(NS), LEASE)
        .map_or(Value::Null, |lease| lease["spec"].clone())
}

fn holder(stand_in: &StandIn) -> Option<String> {
    spec(stand_in)["holderIdentity"]
        .as_str()
        .map(str::to_string)
}

fn renew_time(stand_in: &StandIn) -> Option<Timestamp> {
    spec(stand_in)["renewTime"]
        .as_str()
        .map(|t| t.parse().unwrap())
}

/// Samples the flags every 5 ms until stopped; returns (samples, samples with more than one leader).
struct Monitor {
    stop: Arc<AtomicBool>,
    task: JoinHandle<(usize, usize)>,
}

impl Monitor {
    fn start(handles: &[&LeaderHandle]) -> Self {
        let rxs: Vec<watch::Receiver<bool>> = handles.iter().map(|h| h.subscribe()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let (mut samples, mut overlaps) = (0, 0);
            while !stopped.load(Ordering::Relaxed) {
                let leaders = rxs.iter().filter(|rx| *rx.borrow()).count();
                samples += 1;
                overlaps += usize::from(leaders > 1);
                sleep(Duration::from_millis(5)).await;
            }
            (samples, overlaps)
        });
        Self { stop, task }
    }

    async fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let (samples, overlaps) = self.task.await.unwrap();
        assert!(samples > 100, "only {samples} samples");
        overlaps
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_elector_leads_renews_and_releases() {
    init_tracing();
    let stand_in = StandIn::start().await;
    let (a, task) = spawn(&stand_in, "a");
    let took = until_leading(&a, true, Duration::from_secs(3)).await;
    eprintln!("became leader after {took:?}");
    let lease = spec(&stand_in);
    assert_eq!(lease["holderIdentity"], "a");
    assert_eq!(lease["leaseDurationSeconds"], 2);
    assert_eq!(lease["leaseTransitions"], 0);
    assert!(lease["acquireTime"].is_string(), "{lease}");

    // It keeps renewing (every retry period) without changing the acquire time.
    let first = renew_time(&stand_in).unwrap();
    let poll = async {
        while renew_time(&stand_in) == Some(first) {
            sleep(Duration::from_millis(10)).await;
        }
    };
    within(RETRY + SLACK, "a renewal", poll).await;
    assert_eq!(spec(&stand_in)["acquireTime"], lease["acquireTime"]);
    assert!(a.is_leader());

    let mut flag = a.subscribe();
    a.release();
    within(RENEW_DEADLINE, "the release", task).await.unwrap();
    assert!(!*flag.borrow_and_update(), "not leader after release");
    let lease = spec(&stand_in);
    assert!(lease["holderIdentity"].is_null(), "released: {lease}");
    assert!(lease["renewTime"].is_null(), "released: {lease}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_electors_one_leads_and_dropping_its_handle_hands_over_at_once() {
    init_tracing();
    let stand_in = StandIn::start().await;
    let (a, task_a) = spawn(&stand_in, "a");
    let (b, task_b) = spawn(&stand_in, "b");
    let monitor = Monitor::start(&[&a, &b]);
    let one = async {
        while !a.is_leader() && !b.is_leader() {
            sleep(Duration::from_millis(5)).await;
        }
    };
    within(Duration::from_secs(3), "a leader", one).await;
    let (leader, leader_task, other, other_id) = if a.is_leader() {
        (a, task_a, b, "b")
    } else {
        (b, task_b, a, "a")
    };

    // Leadership is stable over two lease durations: renewals work and the other keeps off.
    let observe = Instant::now();
    while observe.elapsed() < 2 * LEASE_DURATION {
        assert!(leader.is_leader() && !other.is_leader());
        sleep(Duration::from_millis(20)).await;
    }

    // Dropping the handle releases the lease, like `release()`.
    let released = Instant::now();
    drop(leader);
    let handover = until_leading(&other, true, LEASE_DURATION).await;
    eprintln!("hand-over after the leader's handle was dropped: {handover:?}");
    assert!(
        handover < RETRY + SLACK,
        "hand-over took {handover:?}, well under the lease duration expected"
    );
    within(RENEW_DEADLINE, "the release", leader_task)
        .await
        .unwrap();
    assert!(released.elapsed() < LEASE_DURATION);
    assert_eq!(holder(&stand_in).as_deref(), Some(other_id));
    assert_eq!(spec(&stand_in)["leaseTransitions"], 1);
    assert_eq!(monitor.finish().await, 0, "two leaders at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_leader_is_replaced_once_its_lease_expires() {
    init_tracing();
    let stand_in = StandIn::start().await;
    let (a, task_a) = spawn(&stand_in, "a");
    until_leading(&a, true, Duration::from_secs(3)).await;
    let (b, _task_b) = spawn(&stand_in, "b");
    let monitor = Monitor::start(&[&a, &b]);
    // b has seen the Lease held (it is not leader after a few attempts).
    sleep(3 * RETRY).await;
    assert!(a.is_leader() && !b.is_leader());

    task_a.abort();
    let _ = task_a.await;
    let aborted = Instant::now();
    let last_renew = renew_time(&stand_in).unwrap();
    assert!(!a.is_leader(), "an aborted elector reports not leader");
    let took = until_leading(&b, true, LEASE_DURATION + RETRY + SLACK).await;
    eprintln!("take-over {took:?} after the abort");
    let expiry = last_renew + SignedDuration::try_from(LEASE_DURATION).unwrap();
    assert!(
        Timestamp::now() >= expiry,
        "took over before the lease expired"
    );
    assert!(aborted.elapsed() > LEASE_DURATION - RETRY - SLACK);
    assert_eq!(holder(&stand_in).as_deref(), Some("b"));
    assert_eq!(spec(&stand_in)["leaseTransitions"], 1);
    assert_eq!(monitor.finish().await, 0, "two leaders at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_lease_requests_make_the_leader_step_down_then_reacquire() {
    init_tracing();
    let stand_in = StandIn::start().await;
    let (a, _task) = spawn(&stand_in, "a");
    until_leading(&a, true, Duration::from_secs(3)).await;

    // Eight failed attempts: ~2.4 s of failures, longer than the renew deadline.
    stand_in.fail_matching("leases", 500, 8);
    let failing = Instant::now();
    let stepped_down = until_leading(&a, false, RENEW_DEADLINE + RETRY + SLACK).await;
    eprintln!("stepped down {stepped_down:?} after the failures began");
    assert!(
        stepped_down >= RENEW_DEADLINE - RETRY - Duration::from_millis(100),
        "one failed renewal is tolerated within the renew deadline ({stepped_down:?})"
    );
    let back = until_leading(&a, true, Duration::from_secs(6)).await;
    eprintln!(
        "leader again {:?} after the failures began",
        failing.elapsed()
    );
    assert!(back > Duration::ZERO);
    let lease = spec(&stand_in);
    assert_eq!(lease["holderIdentity"], "a");
    assert_eq!(
        lease["leaseTransitions"], 0,
        "kept, not taken over: {lease}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_api_server_makes_the_leader_step_down_then_reacquire() {
    init_tracing();
    let stand_in = StandIn::start().await;
    let (a, _task) = spawn(&stand_in, "a");
    until_leading(&a, true, Duration::from_secs(3)).await;

    // kube's client retries 503s for many seconds; the renew deadline cuts the request short.
    stand_in.set_unavailable(true);
    let stepped_down = until_leading(&a, false, RENEW_DEADLINE + RETRY + SLACK).await;
    eprintln!("stepped down {stepped_down:?} after the server became unavailable");
    stand_in.set_unavailable(false);
    let back = until_leading(&a, true, RENEW_DEADLINE + RETRY + SLACK).await;
    eprintln!("leader again {back:?} after the server recovered");
    assert_eq!(holder(&stand_in).as_deref(), Some("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_foreign_holder_is_never_displaced() {
    init_tracing();
    let stand_in = Arc::new(StandIn::start().await);
    let foreign = |now: Timestamp| {
        json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE, "namespace": NS},
            "spec": {
                "holderIdentity": "intruder",
                "leaseDurationSeconds": 2,
                "renewTime": serde_json::to_value(MicroTime(now)).unwrap(),
                "leaseTransitions": 3,
            },
        })
    };
    stand_in.apply_json(foreign(Timestamp::now())).unwrap();
    let renewing = Arc::new(AtomicBool::new(true));
    let renewer = tokio::spawn({
        let (stand_in, renewing) = (Arc::clone(&stand_in), Arc::clone(&renewing));
        async move {
            while renewing.load(Ordering::Relaxed) {
                stand_in.apply_json(foreign(Timestamp::now())).unwrap();
                sleep(Duration::from_millis(400)).await;
            }
        }
    });

    let (a, _task) = spawn(&stand_in, "a");
    let observe = Instant::now();
    while observe.elapsed() < 2 * LEASE_DURATION {
        assert!(!a.is_leader(), "took a lease that was being renewed");
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(holder(&stand_in).as_deref(), Some("intruder"));

    // Once the intruder stops renewing, its lease expires and a takes over.
    renewing.store(false, Ordering::Relaxed);
    renewer.await.unwrap();
    let last_renew = renew_time(&stand_in).unwrap();
    until_leading(&a, true, LEASE_DURATION + RETRY + SLACK).await;
    assert!(Timestamp::now() >= last_renew + SignedDuration::try_from(LEASE_DURATION).unwrap());
    assert_eq!(holder(&stand_in).as_deref(), Some("a"));
    assert_eq!(spec(&stand_in)["leaseTransitions"], 4);
}

/// Clocks that disagree by more than the lease duration, in both directions: the holder's
/// `renewTime` is never compared with another replica's clock (client-go's `observedTime`), so a
/// replica running ahead never takes a Lease that is being renewed, and once the holder stops,
/// one of them takes over a lease duration after it last saw the record change, by its own clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clocks_skewed_beyond_the_lease_duration_never_make_two_leaders() {
    init_tracing();
    let stand_in = StandIn::start().await;
    let (a, task_a) = spawn(&stand_in, "a");
    until_leading(&a, true, Duration::from_secs(3)).await;
    let skew = SignedDuration::try_from(5 * LEASE_DURATION).unwrap();
    let (ahead, _t1) = spawn_skewed(&stand_in, "ahead", skew);
    let (behind, _t2) = spawn_skewed(&stand_in, "behind", -skew);
    let monitor = Monitor::start(&[&a, &ahead, &behind]);
    sleep(3 * LEASE_DURATION).await;
    assert!(a.is_leader(), "the holder keeps its Lease");
    assert!(!ahead.is_leader() && !behind.is_leader());
    assert_eq!(holder(&stand_in).as_deref(), Some("a"));

    task_a.abort();
    let _ = task_a.await;
    let aborted = Instant::now();
    within(LEASE_DURATION + 2 * RETRY + SLACK, "a take-over", async {
        while !ahead.is_leader() && !behind.is_leader() {
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let took = aborted.elapsed();
    eprintln!(
        "take-over by {:?} {took:?} after the abort",
        holder(&stand_in)
    );
    assert!(
        took >= LEASE_DURATION - RETRY - Duration::from_millis(100),
        "waited for the lease duration by its own clock ({took:?})"
    );
    sleep(2 * RETRY).await;
    assert_eq!(monitor.finish().await, 0, "two leaders at once");
}
