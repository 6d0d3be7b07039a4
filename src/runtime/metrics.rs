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
    nautobot_pace_cuts: IntCounterVec,
    kube_requests: IntCounterVec,
    kube_request_duration: HistogramVec,
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

/// Every error category a reconcile or a sync pass reports (`ApiError::category`,
/// `SyncError::category`, `ReconcileError::category`, the worker's own): the values of the
/// `category` label. A category missing here is counted as [`OTHER`]; a test in
/// `src/controller/` checks every category the code can produce is listed.
pub const CATEGORIES: &[&str] = &[
    "NautobotUnreachable",
    "NautobotTLSError",
    "NautobotTimeout",
    "NautobotUnauthorized",
    "NautobotVersionUnsupported",
    "NautobotServerError",
    "NautobotRateLimited",
    "NautobotRejected",
    "NautobotBadResponse",
    "ShuttingDown",
    "InvalidSpec",
    "PrerequisiteUnusable",
    "ClusterIdentityMismatch",
    "InvalidCaBundle",
    "KubernetesApiError",
    "CleanupFailed",
    "FinalizerFailed",
];

/// `kind` if it is the label of a Nautobot record kind (`VirtualMachine`), else [`OTHER`].
fn kind_label(kind: &str) -> &str {
    if crate::model::Kind::ALL.iter().any(|k| k.label() == kind) {
        kind
    } else {
        OTHER
    }
}

/// The `verb` label of a Kubernetes API request, as client-go's `rest_client` metrics name
/// them: a GET with `watch=true` is a watch, other GETs (object or list) a get.
pub fn kube_verb(method: &str, query: Option<&str>) -> &'static str {
    let watch = query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    match method {
        "GET" if watch => "watch",
        "GET" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => OTHER,
    }
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        None => "error",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => OTHER,
    }
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
            nautobot_pace_cuts: counter(&r, "nautobot_pace_cuts_total", "Cuts of the requests allowed in flight to Nautobot, by why: slow (answers much slower than usual), overloaded (429, 503), failed (502, 504, timeouts, broken connections).", &["reason"]),
            kube_requests: counter(&r, "kube_requests_total", "HTTP requests to the Kubernetes API by verb and status class.", &["verb", "status_class"]),
            kube_request_duration: hist(&r, "kube_request_duration_seconds", "Kubernetes API request duration until the answer's headers (a watch: until it is established).", SHORT, &["verb"]),
            watch_events: counter(&r, "watch_events_total", "Kubernetes watch events.", &["resource", "type"]),
            queue_depth: gauge(&r, "queue_depth", "Dirty objects waiting to be synced."),
            last_success: reg(&r, Gauge::with_opts(opts("last_success_timestamp_seconds", "Unix time of the last successful sync.")).expect(VALID)),
            leader: gauge(&r, "leader", "1 while this replica holds the leader lease."),
            kubevirt_detected: gauge(&r, "kubevirt_detected", "1 when the KubeVirt API is served."),
            cache_objects: gauges(&r, "cache_objects", "Objects in the watch caches.", &["resource"]),
            registry: r,
        };
        // the standard process families under their standard names, as every Prometheus
        // client exposes them (process_cpu_seconds_total, process_resident_memory_bytes,
        // process_virtual_memory_bytes, process_open_fds, process_max_fds, process_threads,
        // process_start_time_seconds), read from /proc on Linux
        #[cfg(target_os = "linux")]
        if let Err(e) = m.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
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
            .with_label_values(&[clamp(category, CATEGORIES)])
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
            .with_label_values(&[kind_label(kind), clamp(state, STATES)])
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
            .with_label_values(&[kind_label(kind), clamp(action, ACTIONS), result])
            .inc_by(n as u64);
    }

    /// Records one HTTP request to Nautobot; `status` is `None` when no response came back.
    pub fn observe_nautobot_request(&self, method: &str, status: Option<u16>, elapsed: Duration) {
        let method = clamp(method, METHODS);
        let class = status_class(status);
        self.nautobot_requests
            .with_label_values(&[method, class])
            .inc();
        self.nautobot_request_duration
            .with_label_values(&[method])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one cut of the pace towards Nautobot (`reason`: slow, overloaded or failed).
    pub fn record_pace_cut(&self, reason: &str) {
        const REASONS: &[&str] = &["slow", "overloaded", "failed"];
        self.nautobot_pace_cuts
            .with_label_values(&[clamp(reason, REASONS)])
            .inc();
    }

    /// Counts one Kubernetes API request (`verb` from [`kube_verb`]) and its time to the
    /// answer's headers; `status` is `None` when no answer came.
    pub fn observe_kube_request(&self, verb: &str, status: Option<u16>, elapsed: Duration) {
        const VERBS: &[&str] = &["get", "watch", "create", "update", "patch", "delete"];
        let verb = clamp(verb, VERBS);
        self.kube_requests
            .with_label_values(&[verb, status_class(status)])
            .inc();
        self.kube_request_duration
            .with_label_values(&[verb])
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
        m.record_pace_cut("slow");
        m.observe_kube_request("watch", Some(200), Duration::from_millis(5));
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
            "nbsync_nautobot_pace_cuts_total",
            "nbsync_kube_requests_total",
            "nbsync_kube_request_duration_seconds",
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
                "process_resident_memory_bytes",
                "process_cpu_seconds_total",
                "process_open_fds",
                "process_max_fds",
                "process_threads",
                "process_start_time_seconds",
            ] {
                assert!(
                    text.contains(&format!("# TYPE {family} ")),
                    "{family} missing"
                );
            }
            assert!(!text.contains("\nprocess_resident_memory_bytes 0\n"));
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

    /// Whatever values the callers pass (error text, object names, URLs, made-up CamelCase),
    /// each family keeps at most the label sets its allowed values make.
    #[test]
    fn every_label_set_stays_bounded() {
        let m = Metrics::new();
        let junk: Vec<String> = (0..500)
            .flat_map(|i| {
                [
                    format!("SomethingNew{i}"),
                    format!("vm-{i}"),
                    format!("http://nautobot-{i}/api"),
                    format!("{i}"),
                ]
            })
            .chain(CATEGORIES.iter().map(|c| c.to_string()))
            .chain(
                crate::model::Kind::ALL
                    .iter()
                    .map(|k| k.label().to_string()),
            )
            .chain(["GET", "POST", "PATCH", "DELETE", "PUT", "get", "watch"].map(String::from))
            .collect();
        for (i, v) in junk.iter().enumerate() {
            let status = [None, Some(200), Some(404), Some(503), Some(999), Some(101)][i % 6];
            m.record_reconcile_error(v);
            m.observe_reconcile(i % 2 == 0, Duration::ZERO);
            m.observe_sync(v, Duration::ZERO);
            m.set_objects(v, v, 1);
            m.set_objects(v, STATES[i % STATES.len()], 1);
            m.record_write(v, v, i % 2 == 0);
            m.record_write(v, ACTIONS[i % ACTIONS.len()], i % 2 == 0);
            m.observe_nautobot_request(v, status, Duration::ZERO);
            m.record_pace_cut(v);
            m.record_pace_cut(["slow", "overloaded", "failed"][i % 3]);
            m.observe_kube_request(v, status, Duration::ZERO);
            m.observe_kube_request(kube_verb(v, Some("watch=true")), status, Duration::ZERO);
            m.record_watch_event(v, WatchEventKind::Error);
            m.set_cache_objects(v, 1);
        }
        let kinds = crate::model::Kind::ALL.len() + 1;
        let classes = 6; // 2xx 3xx 4xx 5xx error other
        let bounds: &[(&str, usize)] = &[
            ("nbsync_reconcile_errors_total", CATEGORIES.len() + 1),
            ("nbsync_reconcile_duration_seconds", RESULTS.len()),
            ("nbsync_sync_duration_seconds", MODES.len() + 1),
            ("nbsync_objects", kinds * (STATES.len() + 1)),
            ("nbsync_writes_total", kinds * (ACTIONS.len() + 1) * 2),
            (
                "nbsync_nautobot_requests_total",
                (METHODS.len() + 1) * classes,
            ),
            (
                "nbsync_nautobot_request_duration_seconds",
                METHODS.len() + 1,
            ),
            ("nbsync_nautobot_pace_cuts_total", 4),
            ("nbsync_kube_requests_total", 7 * classes),
            ("nbsync_kube_request_duration_seconds", 7),
            ("nbsync_watch_events_total", (RESOURCES.len() + 1) * 4),
            ("nbsync_cache_objects", RESOURCES.len() + 1),
        ];
        let families = m.registry.gather();
        for (name, bound) in bounds {
            let f = families
                .iter()
                .find(|f| f.name() == *name)
                .unwrap_or_else(|| panic!("{name} missing"));
            let series = f.get_metric().len();
            assert!(series <= *bound, "{name}: {series} label sets > {bound}");
        }
        // and no family outside the table grows with the input
        for f in &families {
            if !bounds.iter().any(|(n, _)| *n == f.name()) {
                assert!(
                    f.get_metric().len() <= 1,
                    "{} is not bounded by the test",
                    f.name()
                );
            }
        }
        let text = m.render();
        assert!(!text.contains("SomethingNew") && !text.contains("nautobot-1"));
    }

    #[test]
    fn kube_verbs_are_client_go_s() {
        assert_eq!(
            kube_verb("GET", Some("watch=true&resourceVersion=5")),
            "watch"
        );
        assert_eq!(kube_verb("GET", Some("limit=500")), "get");
        assert_eq!(kube_verb("GET", None), "get");
        assert_eq!(kube_verb("PATCH", Some("fieldManager=x")), "patch");
        assert_eq!(kube_verb("PUT", None), "update");
        assert_eq!(kube_verb("POST", None), "create");
        assert_eq!(kube_verb("DELETE", None), "delete");
        assert_eq!(kube_verb("OPTIONS", None), OTHER);
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
