//! Prometheus metrics of the operator, in a registry owned by [`Metrics`] (no global registry).
//!
//! Every family is prefixed `nbsync_` and carries bounded labels only: the typed helpers clamp
//! any unexpected label value to `other`, so error strings, object names or URLs can never
//! become label values and blow up cardinality.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::core::Collector;
use prometheus::{
    Encoder as _, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Content type of [`Metrics::render`] output (Prometheus text exposition format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// The value every unexpected label value is clamped to.
pub const OTHER: &str = "other";

const RESULTS: &[&str] = &["ok", "error"];
const MODES: &[&str] = &["full", "incremental"];
const STATES: &[&str] = &["in_sync", "pending", "failed", "held", "conflict"];
const ACTIONS: &[&str] = &["create", "update", "delete"];
const METHODS: &[&str] = &["GET", "POST", "PATCH", "DELETE"];
const RESOURCES: &[&str] = &[
    "namespaces",
    "nodes",
    "pods",
    "deployments",
    "services",
    "virtualmachines",
    "virtualmachineinstances",
];

/// Type of a watch event, the `type` label of `nbsync_watch_events_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventKind {
    /// An object was added or modified.
    Apply,
    /// An object was deleted.
    Delete,
    /// An initial list (re)started or delivered an object.
    Init,
    /// The watch reported an error.
    Error,
}

impl WatchEventKind {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            WatchEventKind::Apply => "apply",
            WatchEventKind::Delete => "delete",
            WatchEventKind::Init => "init",
            WatchEventKind::Error => "error",
        }
    }
}

/// All metric families of the operator, with their own registry.
pub struct Metrics {
    registry: Registry,
    reconcile_duration: HistogramVec,
    reconcile_errors: IntCounterVec,
    sync_duration: HistogramVec,
    objects: IntGaugeVec,
    writes: IntCounterVec,
    nautobot_requests: IntCounterVec,
    nautobot_request_duration: HistogramVec,
    watch_events: IntCounterVec,
    queue_depth: IntGauge,
    last_success: Gauge,
    leader: IntGauge,
    kubevirt_detected: IntGauge,
    cache_objects: IntGaugeVec,
}

/// `value` if it is one of `allowed`, else [`OTHER`].
fn clamp<'a>(value: &'a str, allowed: &[&str]) -> &'a str {
    if allowed.contains(&value) {
        value
    } else {
        OTHER
    }
}

/// `value` if it looks like a bounded CamelCase identifier (`NautobotUnreachable`,
/// `VirtualMachine`), else [`OTHER`].
fn camel(value: &str) -> &str {
    let ok = (1..=48).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_uppercase())
        && value.chars().all(|c| c.is_ascii_alphanumeric());
    if ok { value } else { OTHER }
}

/// Registers `c` in `registry`; a failure (a duplicate, impossible with a fresh registry) is
/// logged instead of panicking.
fn reg<C: Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    if let Err(e) = registry.register(Box::new(c.clone())) {
        tracing::error!(error = %e, "cannot register a metric");
    }
    c
}

const VALID: &str = "static metric definition is valid";

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(format!("nbsync_{name}"), help)
}

fn hist(r: &Registry, name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    let o = HistogramOpts::from(opts(name, help)).buckets(buckets.to_vec());
    reg(r, HistogramVec::new(o, labels).expect(VALID))
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    reg(
        r,
        IntCounterVec::new(opts(name, help), labels).expect(VALID),
    )
}

fn gauges(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    reg(r, IntGaugeVec::new(opts(name, help), labels).expect(VALID))
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    reg(r, IntGauge::with_opts(opts(name, help)).expect(VALID))
}

#[rustfmt::skip]
const SHORT: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
#[rustfmt::skip]
const LONG: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

impl Metrics {
    /// Creates every family in a fresh registry. Each call is independent (no global state).
    pub fn new() -> Arc<Metrics> {
        let r = Registry::new();
        #[rustfmt::skip]
        let m = Metrics {
            reconcile_duration: hist(&r, "reconcile_duration_seconds", "Reconcile duration by result.", LONG, &["result"]),
            reconcile_errors: counter(&r, "reconcile_errors_total", "Failed reconciles by category.", &["category"]),
            sync_duration: hist(&r, "sync_duration_seconds", "Sync pass duration by mode.", LONG, &["mode"]),
            objects: gauges(&r, "objects", "Managed Nautobot objects by kind and state.", &["kind", "state"]),
            writes: counter(&r, "writes_total", "Writes to Nautobot.", &["kind", "action", "result"]),
            nautobot_requests: counter(&r, "nautobot_requests_total", "HTTP requests to Nautobot.", &["method", "status_class"]),
            nautobot_request_duration: hist(&r, "nautobot_request_duration_seconds", "Nautobot request duration.", SHORT, &["method"]),
            watch_events: counter(&r, "watch_events_total", "Kubernetes watch events.", &["resource", "type"]),
            queue_depth: gauge(&r, "queue_depth", "Dirty objects waiting to be synced."),
            last_success: reg(&r, Gauge::with_opts(opts("last_success_timestamp_seconds", "Unix time of the last successful sync.")).expect(VALID)),
            leader: gauge(&r, "leader", "1 while this replica holds the leader lease."),
            kubevirt_detected: gauge(&r, "kubevirt_detected", "1 when the KubeVirt API is served."),
            cache_objects: gauges(&r, "cache_objects", "Objects in the watch caches.", &["resource"]),
            registry: r,
        };
        // the standard process families (CPU seconds, resident and virtual memory, open and
        // maximum file descriptors, threads, start time), read from /proc on Linux, as
        // nbsync_process_*
        #[cfg(target_os = "linux")]
        if let Err(e) = m.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::new(
                std::process::id() as i32,
                "nbsync",
            ),
        )) {
            tracing::error!(error = %e, "cannot register the process metrics");
        }
        for result in RESULTS {
            m.reconcile_duration.with_label_values(&[result]);
        }
        for mode in MODES {
            m.sync_duration.with_label_values(&[mode]);
        }
        Arc::new(m)
    }

    /// The registry, to register extra collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records one reconcile and its duration.
    pub fn observe_reconcile(&self, ok: bool, elapsed: Duration) {
        let result = if ok { "ok" } else { "error" };
        self.reconcile_duration
            .with_label_values(&[result])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a failed reconcile under a bounded CamelCase `category` (e.g. `InvalidSpec`).
    pub fn record_reconcile_error(&self, category: &str) {
        self.reconcile_errors
            .with_label_values(&[camel(category)])
            .inc();
    }

    /// Records a sync pass of `mode` (`full`|`incremental`).
    pub fn observe_sync(&self, mode: &str, elapsed: Duration) {
        self.sync_duration
            .with_label_values(&[clamp(mode, MODES)])
            .observe(elapsed.as_secs_f64());
    }

    /// Sets how many objects of Nautobot `kind` (e.g. `VirtualMachine`) are in `state`
    /// (`in_sync`|`pending`|`failed`|`held`|`conflict`).
    pub fn set_objects(&self, kind: &str, state: &str, count: usize) {
        self.objects
            .with_label_values(&[camel(kind), clamp(state, STATES)])
            .set(to_i64(count));
    }

    /// Counts one write to Nautobot: `action` is `create`|`update`|`delete`.
    pub fn record_write(&self, kind: &str, action: &str, ok: bool) {
        self.record_writes(kind, action, ok, 1);
    }

    /// Counts `n` writes to Nautobot of one kind, action and result.
    pub fn record_writes(&self, kind: &str, action: &str, ok: bool, n: usize) {
        let result = if ok { "ok" } else { "failed" };
        self.writes
            .with_label_values(&[camel(kind), clamp(action, ACTIONS), result])
            .inc_by(n as u64);
    }

    /// Records one HTTP request to Nautobot; `status` is `None` when no response came back.
    pub fn observe_nautobot_request(&self, method: &str, status: Option<u16>, elapsed: Duration) {
        let method = clamp(method, METHODS);
        let class = match status {
            None => "error",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            Some(_) => OTHER,
        };
        self.nautobot_requests
            .with_label_values(&[method, class])
            .inc();
        self.nautobot_request_duration
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one watch event on `resource` (plural, e.g. `pods`).
    pub fn record_watch_event(&self, resource: &str, kind: WatchEventKind) {
        self.watch_events
            .with_label_values(&[clamp(resource, RESOURCES), kind.label()])
            .inc();
    }

    /// Sets the number of dirty objects waiting to be synced.
    pub fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.set(to_i64(depth));
    }

    /// Records a successful sync at `at`.
    pub fn set_last_success(&self, at: SystemTime) {
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.last_success.set(secs.as_secs_f64());
    }

    /// Sets whether this replica is the leader.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Sets whether the KubeVirt API was detected.
    pub fn set_kubevirt_detected(&self, detected: bool) {
        self.kubevirt_detected.set(i64::from(detected));
    }

    /// Sets the number of objects cached for `resource` (plural, e.g. `nodes`).
    pub fn set_cache_objects(&self, resource: &str, count: usize) {
        self.cache_objects
            .with_label_values(&[clamp(resource, RESOURCES)])
            .set(to_i64(count));
    }

    /// Refreshes the process gauges and renders every family in the text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.record_reconcile_error("InvalidSpec");
        m.set_objects("VirtualMachine", "in_sync", 3);
        m.record_write("VirtualMachine", "create", true);
        m.observe_nautobot_request("GET", Some(200), Duration::from_millis(5));
        m.record_watch_event("pods", WatchEventKind::Apply);
        m.set_cache_objects("nodes", 2);
        m.set_last_success(SystemTime::now());
        m.set_leader(true);
        let text = m.render();
        for family in [
            "nbsync_reconcile_duration_seconds",
            "nbsync_reconcile_errors_total",
            "nbsync_sync_duration_seconds",
            "nbsync_objects",
            "nbsync_writes_total",
            "nbsync_nautobot_requests_total",
            "nbsync_nautobot_request_duration_seconds",
            "nbsync_watch_events_total",
            "nbsync_queue_depth",
            "nbsync_last_success_timestamp_seconds",
            "nbsync_leader",
            "nbsync_kubevirt_detected",
            "nbsync_cache_objects",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family} missing"
            );
        }
        assert!(text.contains("nbsync_leader 1"));
        assert!(text.contains(r#"nbsync_objects{kind="VirtualMachine",state="in_sync"} 3"#));
        if cfg!(target_os = "linux") {
            for family in [
                "nbsync_process_resident_memory_bytes",
                "nbsync_process_cpu_seconds_total",
                "nbsync_process_open_fds",
                "nbsync_process_start_time_seconds",
            ] {
                assert!(
                    text.contains(&format!("# TYPE {family} ")),
                    "{family} missing"
                );
            }
            assert!(!text.contains("nbsync_process_resident_memory_bytes 0\n"));
        }
    }

    #[test]
    fn unexpected_labels_become_other() {
        let m = Metrics::new();
        m.record_reconcile_error("connection refused: http://nautobot/api");
        m.set_objects("vm-name-1", "weird", 1);
        m.record_write("VirtualMachine", "upsert", false);
        m.observe_nautobot_request("PUT", Some(101), Duration::ZERO);
        m.observe_nautobot_request("GET", None, Duration::ZERO);
        m.record_watch_event("configmaps", WatchEventKind::Error);
        m.set_cache_objects("secrets", 1);
        m.observe_sync("partial", Duration::ZERO);
        let text = m.render();
        assert!(text.contains(r#"nbsync_reconcile_errors_total{category="other"} 1"#));
        assert!(text.contains(r#"nbsync_objects{kind="other",state="other"} 1"#));
        assert!(text.contains(r#"action="other",kind="VirtualMachine",result="failed""#));
        assert!(text.contains(r#"{method="other",status_class="other"} 1"#));
        assert!(text.contains(r#"{method="GET",status_class="error"} 1"#));
        assert!(text.contains(r#"{resource="other",type="error"} 1"#));
        assert!(text.contains(r#"nbsync_cache_objects{resource="other"} 1"#));
        assert!(text.contains(r#"nbsync_sync_duration_seconds_count{mode="other"} 1"#));
        assert!(!text.contains("nautobot/api") && !text.contains("vm-name"));
    }

    #[test]
    fn repeated_creation_and_rendering_do_not_panic() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.set_queue_depth(7);
        assert!(a.render().contains("nbsync_queue_depth 7"));
        assert!(b.render().contains("nbsync_queue_depth 0"));
        // Registering a family twice is logged, not a panic.
        reg(a.registry(), a.leader.clone());
        assert!(a.render().contains("nbsync_leader 0"));
    }
}
