//! `project`: CPU and memory of the projection on a large snapshot.
//!
//! Loads the snapshot into a `ClusterIndex` one object at a time, then times
//! `Projector::project_all()` and building a `DesiredState` root by root (what the operator's
//! worker does on a full re-projection), plus `DesiredState::records()` (what a full pass
//! diffs, borrowed) and `DesiredState::to_projection()` (a copy, for comparison). CPU is the calling thread's on-CPU time (/proc/thread-self/schedstat, ns) and the
//! process's utime+stime (/proc/self/stat, 10 ms ticks); memory is VmRSS and VmHWM, the peak
//! being reset before each phase (/proc/self/clear_refs) so that each phase's peak is its own.

use std::time::{Duration, Instant};

use nbsync::api::NautobotSync;
use nbsync::cluster::ClusterIndex;
use nbsync::config::SyncConfig;
use nbsync::model::{Kind, Ref};
use nbsync::plan::{ApplyReport, DesiredState, Policy, Resolve};
use nbsync::project::Projector;
use serde_json::{Value, json};

use crate::alloc;
use crate::procfs;
use crate::source::Source;

/// The sample NautobotSync: the config every figure uses (cluster name patched).
const SAMPLE_SYNC: &str = include_str!("../../examples/nautobotsync.yaml");

/// Options of `project`.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to load.
    pub source: Source,
    /// Also sync pod IPs (`sync.podIps: true`).
    pub pod_ips: bool,
    /// Runs of each measured phase.
    pub repeat: usize,
    /// Cluster name in the config.
    pub cluster_name: String,
}

/// The config of the sample NautobotSync with `clusterName` set and the given `sync` overrides.
pub fn config(cluster_name: &str, pod_ips: bool) -> Result<SyncConfig, String> {
    let obj: NautobotSync = serde_saphyr::from_str(SAMPLE_SYNC).map_err(|e| e.to_string())?;
    let mut spec = serde_json::to_value(&obj.spec).map_err(|e| e.to_string())?;
    spec["clusterName"] = json!(cluster_name);
    spec["sync"]["podIps"] = json!(pod_ips);
    let spec = serde_json::from_value(spec).map_err(|e| e.to_string())?;
    SyncConfig::from_spec(&spec).map_err(|e| e.to_string())
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    thread_cpu: Duration,
    process_cpu: Duration,
    peak_mib: f64,
    rss_after_mib: f64,
    heap_peak: usize,
    heap_after: usize,
    allocations: usize,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Sample) {
    procfs::reset_peak();
    alloc::reset_peak();
    let allocs0 = alloc::allocations();
    let cpu0 = procfs::cpu_time("self").unwrap_or_default();
    let th0 = procfs::thread_cpu().unwrap_or_default();
    let t0 = Instant::now();
    let out = f();
    let wall = t0.elapsed();
    let thread_cpu = procfs::thread_cpu().unwrap_or_default() - th0;
    let process_cpu = procfs::cpu_time("self").unwrap_or_default() - cpu0;
    let s = Sample {
        wall,
        thread_cpu,
        process_cpu,
        peak_mib: procfs::hwm_mib("self").unwrap_or(0.0),
        rss_after_mib: procfs::rss_mib("self").unwrap_or(0.0),
        heap_peak: alloc::peak(),
        heap_after: alloc::live(),
        allocations: alloc::allocations() - allocs0,
    };
    (out, s)
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// Runs `project` and returns the report (Markdown).
pub fn run(opts: &Options) -> Result<String, String> {
    let mut out = String::new();
    let rss_start = procfs::rss_mib("self").unwrap_or(0.0);
    let cfg = config(&opts.cluster_name, opts.pod_ips)?;

    // load
    let mut index = ClusterIndex::new();
    let mut load_warnings = 0usize;
    let mut retained: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let heap_start = alloc::live();
    let (counts, load) = measure(|| {
        opts.source.for_each(&mut |v: Value| {
            let before = alloc::live();
            if index.apply_value(&v).is_err() {
                load_warnings += 1;
            }
            let e = retained
                .entry(v["kind"].as_str().unwrap_or("?").to_string())
                .or_default();
            e.0 += 1;
            e.1 += alloc::live().saturating_sub(before);
        })
    });
    let counts = counts?;
    let index_rss = procfs::rss_mib("self").unwrap_or(0.0);
    let index_heap = alloc::live() - heap_start;

    out.push_str(&format!("machine: {}\n", procfs::machine()));
    out.push_str(&format!("snapshot: {}\n", opts.source));
    out.push_str(&format!(
        "objects: {}\n",
        counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!("objects that failed to load: {load_warnings}\n"));
    out.push_str(&format!(
        "index: the compact stored forms the operator's watch cache keeps (objects {})\n",
        index
            .counts()
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "RSS: {rss_start:.0} MiB at start, {index_rss:.0} MiB with the index loaded (index ≈ {:.0} MiB); config: examples/nautobotsync.yaml, clusterName {}, podIps {}\n\n",
        index_rss - rss_start,
        opts.cluster_name,
        opts.pod_ips
    ));
    out.push_str(&format!(
        "index heap (counted allocations): {:.1} MiB\n\n| kind in the index | objects | heap MiB | bytes per object |\n| --- | ---: | ---: | ---: |\n",
        alloc::mib(index_heap)
    ));
    for (k, (n, b)) in &retained {
        out.push_str(&format!(
            "| {k} | {n} | {:.1} | {} |\n",
            alloc::mib(*b),
            b / n.max(&1)
        ));
    }
    out.push('\n');

    out.push_str(&struct_sizes());
    let projector = Projector::new(&cfg, &index);
    let roots = projector.roots().len();
    let mut rows: Vec<(String, Sample, String)> = vec![(
        "load + index (generate/parse, deserialize, index)".into(),
        load,
        format!("{} objects", counts.values().sum::<usize>()),
    )];
    for run in 0..opts.repeat.max(1) {
        let (p, s) = measure(|| projector.project_all());
        let records = p.records.len();
        let warnings = p.warnings.len();
        let kinds = p
            .counts()
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        drop(p);
        rows.push((
            format!("project_all (run {})", run + 1),
            s,
            format!("{roots} roots, {records} records, {warnings} warnings"),
        ));
        if run == 0 {
            out.push_str(&format!("records by kind: {kinds}\n\n"));
        }
        let (state, s) = measure(|| {
            let mut state = DesiredState::new();
            for root in projector.roots() {
                let out = projector.project_root(&root);
                state.update_root(root, out);
            }
            state
        });
        rows.push((
            format!("DesiredState root by root (run {})", run + 1),
            s,
            format!("{} records", state.len()),
        ));
        let (p, s) = measure(|| state.records());
        rows.push((
            format!(
                "DesiredState::records, borrowed for a full pass's diff (run {})",
                run + 1
            ),
            s,
            format!("{} records", p.len()),
        ));
        drop(p);
        // What a full pass holds on top of the DesiredState: the plan of the initial sync (every
        // record a create) and the copy of Nautobot's state the worker keeps after it.
        let policy = Policy::new(&cfg, jiff::Timestamp::now(), false);
        let (mut plan, s) = measure(|| {
            let records = state.records();
            nbsync::plan::diff(
                &records,
                &state.ips_unknown(),
                &Default::default(),
                &policy,
                &AnyId,
            )
        });
        rows.push((
            format!(
                "diff against an empty Nautobot: the initial sync's plan (run {})",
                run + 1
            ),
            s,
            format!("{} creates", plan.creates.len()),
        ));
        let (observed, s) = measure(|| {
            let mut observed = Default::default();
            nbsync::plan::absorb_into_observed(
                &mut observed,
                &mut plan,
                &ApplyReport::<()>::default(),
            );
            observed
        });
        rows.push((
            format!(
                "the worker's copy of Nautobot's state after it (the bodies move in, run {})",
                run + 1
            ),
            s,
            format!("{} objects", observed.len()),
        ));
        drop(plan);
        let (p, s) = measure(|| {
            let records = state.records();
            nbsync::plan::diff(&records, &state.ips_unknown(), &observed, &policy, &AnyId)
        });
        rows.push((
            format!(
                "full re-diff of the unchanged cluster against that copy (run {})",
                run + 1
            ),
            s,
            format!("{} writes, {} unchanged", p.write_count(), p.unchanged),
        ));
        drop(p);
        drop(observed);
        let (p, s) = measure(|| state.to_projection());
        rows.push((
            format!("DesiredState::to_projection, a copy (run {})", run + 1),
            s,
            format!("{} records", p.records.len()),
        ));
        drop(p);
        drop(state);
    }
    out.push_str("| phase | wall ms | thread CPU ms | process CPU ms | peak RSS MiB | RSS after MiB | heap peak MiB | heap after MiB | allocations | result |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (name, s, what) in rows {
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {what} |\n",
            ms(s.wall),
            ms(s.thread_cpu),
            ms(s.process_cpu),
            s.peak_mib,
            s.rss_after_mib,
            alloc::mib(s.heap_peak),
            alloc::mib(s.heap_after),
            s.allocations
        ));
    }
    Ok(out)
}

/// Resolves every prerequisite to an id derived from its name, as bootstrap would find it.
struct AnyId;

impl Resolve for AnyId {
    fn resolve(&self, reference: &Ref, _kind: Kind) -> Result<Value, String> {
        // a prerequisite's id is 36 characters like any other: the bodies are their real size
        Ok(Value::String(match reference {
            Ref::Record(id) => id.to_string(),
            _ => "00000000-0000-4000-8000-000000000001".to_string(),
        }))
    }
}

/// The inline size of the types the index holds: paid per object whatever the object holds.
fn struct_sizes() -> String {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, Node, Pod, PodSpec, PodStatus, Service};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use nbsync::cluster::kubevirt::{VirtualMachine, VirtualMachineInstance};
    use std::mem::size_of;
    format!(
        "inline sizes (bytes): SlimPod {} (cached), Pod {} (ObjectMeta {}, PodSpec {}, PodStatus {}), Node {}, Namespace {}, Deployment {}, Service {}, VirtualMachine {}, VirtualMachineInstance {}; Record {}, Root {}\n\n",
        size_of::<nbsync::cluster::wire::SlimPod>(),
        size_of::<Pod>(),
        size_of::<ObjectMeta>(),
        size_of::<PodSpec>(),
        size_of::<PodStatus>(),
        size_of::<Node>(),
        size_of::<Namespace>(),
        size_of::<Deployment>(),
        size_of::<Service>(),
        size_of::<VirtualMachine>(),
        size_of::<VirtualMachineInstance>(),
        size_of::<nbsync::model::Record>(),
        size_of::<nbsync::project::Root>()
    )
}
