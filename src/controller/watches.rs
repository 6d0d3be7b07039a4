//! Watching the cluster: one kube-runtime watcher per kind ([`Kind`], the table in
//! `cluster::kinds`) feeds the shared [`ClusterCache`].
//!
//! - Objects are stripped of what the projection does not read before they are stored
//!   (managedFields, unused annotations, most of the pod spec and status, node images...).
//! - Objects that fail to deserialise are skipped with a warning (`DeserializeGuard`); the
//!   watch goes on.
//! - A relist (the initial list, or recovery after a 410) is buffered and replaces that kind's
//!   objects at `InitDone`, so removals are computed from the new list; it is announced as
//!   [`Dirty::All`]. Single events announce exactly the roots they touch ([`Dirty::Roots`]).
//! - The cache is ready only when every watched kind has delivered its first complete list;
//!   nothing is diffed before that.
//! - KubeVirt is optional: discovery is polled, and the VM and VMI watchers start when the
//!   `kubevirt.io/v1` API appears and stop (their objects leave the index) when it goes.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::core::DeserializeGuard;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use super::cache::{ClusterCache, Dirty};
use crate::cluster::cdi::DataVolume;
use crate::cluster::kubevirt::{VirtualMachine, VirtualMachineInstance};
use crate::cluster::openshift::Route;
use crate::cluster::wire::SlimPod;
use crate::cluster::{ClusterIndex, ClusterInfo, Kind};
use crate::project::Affects;
use crate::runtime::metrics::WatchEventKind;

/// During a relist, the freed heap is given back every this many objects (and at the end).
const TRIM_EVERY: usize = 10_000;

/// Runs one watcher until the task is aborted.
async fn watch_kind<K: Affects>(api: Api<DeserializeGuard<K>>, cache: Arc<ClusterCache>) {
    let mut buffer: Vec<Arc<K::Stored>> = Vec::new();
    // The default (most recent) list semantics: the API server pages it by `limit`. With
    // resourceVersion=0 ("any") a Kubernetes <= 1.30 API server ignores `limit` and sends the
    // whole list at once (a 50,000-pod list is gigabytes of transient memory; docs/benchmarks.md).
    let config = match K::SELECTOR {
        Some(labels) => watcher::Config::default().labels(labels),
        None => watcher::Config::default(),
    };
    let stream = watcher(api, config).default_backoff();
    futures::pin_mut!(stream);
    let metrics = cache.metrics.clone();
    while let Some(event) = stream.next().await {
        tracing::trace!(resource = K::NAME, ok = event.is_ok(), "watch event");
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                metrics.record_watch_event(K::NAME, WatchEventKind::Error);
                tracing::warn!(resource = K::NAME, error = %e, "watch failed; retrying with backoff");
                continue;
            }
        };
        let usable = |g: DeserializeGuard<K>| -> Option<Arc<K::Stored>> {
            match g.0 {
                Ok(o) => Some(Arc::new(o.store())),
                Err(bad) => {
                    tracing::warn!(resource = K::NAME, namespace = ?bad.metadata.namespace, name = ?bad.metadata.name,
                        error = %bad.error, "skipping an object that cannot be read");
                    None
                }
            }
        };
        match event {
            watcher::Event::Init => buffer.clear(),
            watcher::Event::InitApply(g) => {
                buffer.extend(usable(g));
                if buffer.len() % TRIM_EVERY == 0 {
                    // a long list: give back the pages read so far as it goes
                    crate::runtime::memory::release_free_memory();
                }
            }
            watcher::Event::InitDone => {
                metrics.record_watch_event(K::NAME, WatchEventKind::Init);
                let listed = buffer.len();
                {
                    let mut idx = cache.write();
                    let held = K::keys(&idx);
                    // objects held but not listed any more are gone (none on the first list)
                    if !held.is_empty() {
                        let fresh: std::collections::HashSet<(String, String)> =
                            buffer.iter().map(|o| K::key(o)).collect();
                        for (ns, name) in held {
                            if !fresh.contains(&(ns.clone(), name.clone())) {
                                K::remove(&mut idx, &ns, &name);
                            }
                        }
                    }
                    for o in std::mem::take(&mut buffer) {
                        K::put(&mut idx, o);
                    }
                    metrics.set_cache_objects(K::NAME, K::keys(&idx).len());
                }
                // the list's transient buffers are freed now
                crate::runtime::memory::release_free_memory();
                cache.mark_synced(K::NAME);
                cache.announce(Dirty::All);
                tracing::info!(resource = K::NAME, objects = listed, "watch synced");
            }
            watcher::Event::Apply(g) => {
                metrics.record_watch_event(K::NAME, WatchEventKind::Apply);
                let Some(o) = usable(g) else { continue };
                let (ns, name) = K::key(&o);
                tracing::debug!(resource = K::NAME, namespace = %ns, name = %name, "changed");
                let roots = {
                    let mut idx = cache.write();
                    let mut roots = K::get(&idx, &ns, &name)
                        .map(|old| K::roots(&idx, &old))
                        .unwrap_or_default();
                    K::put(&mut idx, o.clone());
                    roots.extend(K::roots(&idx, &o));
                    roots
                };
                cache.announce(Dirty::Roots(roots));
            }
            watcher::Event::Delete(g) => {
                metrics.record_watch_event(K::NAME, WatchEventKind::Delete);
                let meta = match &g.0 {
                    Ok(o) => o.meta().clone(),
                    Err(bad) => bad.metadata.clone(),
                };
                let (ns, name) = (
                    meta.namespace.unwrap_or_default(),
                    meta.name.unwrap_or_default(),
                );
                tracing::debug!(resource = K::NAME, namespace = %ns, name = %name, "deleted");
                let roots = {
                    let mut idx = cache.write();
                    let mut roots = K::get(&idx, &ns, &name)
                        .map(|old| K::roots(&idx, &old))
                        .unwrap_or_default();
                    K::remove(&mut idx, &ns, &name);
                    // the index changed: what the old object fed may now project differently
                    if let Ok(o) = &g.0 {
                        roots.extend(K::roots(&idx, &o.clone().store()));
                    }
                    roots
                };
                cache.announce(Dirty::Roots(roots));
            }
        }
    }
}

/// Starts the watcher of one kind of the table, on all namespaces.
fn spawn_watch<K: Affects>(
    client: &Client,
    cache: &Arc<ClusterCache>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(watch_kind::<K>(Api::all(client.clone()), cache.clone()))
}

/// Starts the core watchers and the KubeVirt and OpenShift discovery loop.
pub fn spawn(
    client: Client,
    cache: Arc<ClusterCache>,
    discovery_interval: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![
        spawn_watch::<Namespace>(&client, &cache),
        spawn_watch::<Node>(&client, &cache),
        spawn_watch::<SlimPod>(&client, &cache),
        spawn_watch::<Deployment>(&client, &cache),
        spawn_watch::<StatefulSet>(&client, &cache),
        spawn_watch::<DaemonSet>(&client, &cache),
        spawn_watch::<Service>(&client, &cache),
        spawn_watch::<Ingress>(&client, &cache),
        spawn_watch::<PersistentVolumeClaim>(&client, &cache),
    ];
    tasks.push(tokio::spawn(watch_kubevirt_crd(
        client.clone(),
        cache.clone(),
    )));
    tasks.push(tokio::spawn(discovery_loop(
        client,
        cache,
        discovery_interval,
    )));
    tasks
}

/// The VirtualMachine CRD's name.
const VM_CRD: &str = "virtualmachines.kubevirt.io";

/// Watches the metadata of KubeVirt's VirtualMachine CRD. Uninstalling KubeVirt deletes the
/// CRD: it gets a deletionTimestamp first, then the API server deletes every VM (each one a
/// DELETED event on the VM watch, indistinguishable from a person deleting it), then the CRD.
/// Seeing the deletionTimestamp here marks KubeVirt as leaving, so the worker holds removals
/// (`worker::kubevirt_hold`) before those deletions arrive. Metadata only: a CRD's schema can
/// be large. Without RBAC to read CRDs this logs once and ends; the discovery poll below still
/// sees KubeVirt go, later.
async fn watch_kubevirt_crd(client: Client, cache: Arc<ClusterCache>) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<kube::core::PartialObjectMeta<CustomResourceDefinition>> = Api::all(client);
    let config = watcher::Config::default().fields(&format!("metadata.name={VM_CRD}"));
    let stream = watcher(api, config).default_backoff();
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(m) | watcher::Event::InitApply(m)) => {
                let leaving = m.metadata.deletion_timestamp.is_some();
                if leaving && !cache.readiness().borrow().kubevirt_leaving {
                    tracing::warn!(
                        "KubeVirt is being uninstalled (its VirtualMachine CRD is being deleted): removals are held"
                    );
                }
                cache.set_kubevirt_leaving(leaving);
            }
            // gone for good: still leaving until discovery sees the API gone (and a new CRD,
            // a reinstall, clears it)
            Ok(watcher::Event::Delete(_)) => cache.set_kubevirt_leaving(true),
            Ok(_) => {}
            Err(watcher::Error::InitialListFailed(kube::Error::Api(e))) if e.code == 403 => {
                tracing::warn!(error = %e.message, "cannot read CustomResourceDefinitions: a KubeVirt uninstall is noticed only when its API is gone (grant get/list/watch on customresourcedefinitions)");
                return;
            }
            Err(e) => tracing::debug!(error = %e, "KubeVirt CRD watch"),
        }
    }
}

/// An API that may or may not be served, with one watched kind (KubeVirt, with its hold on
/// removals, is handled on its own).
struct OptionalApi {
    group: &'static str,
    version: &'static str,
    /// The kind's plural (its name in the table of kinds).
    plural: &'static str,
    /// What it is, for logs.
    what: &'static str,
    spawn: fn(&Client, &Arc<ClusterCache>) -> tokio::task::JoinHandle<()>,
    /// Drops the kind's objects from the index.
    clear: fn(&mut ClusterIndex),
}

/// OpenShift Routes and CDI DataVolumes.
const OPTIONAL_APIS: [OptionalApi; 2] = [
    OptionalApi {
        group: "route.openshift.io",
        version: "v1",
        plural: Route::NAME,
        what: "OpenShift Routes",
        spawn: spawn_watch::<Route>,
        clear: forget_all::<Route>,
    },
    OptionalApi {
        group: "cdi.kubevirt.io",
        version: "v1beta1",
        plural: DataVolume::NAME,
        what: "CDI DataVolumes",
        spawn: spawn_watch::<DataVolume>,
        clear: forget_all::<DataVolume>,
    },
];

/// Drops every object of a kind from the index (its API is gone).
fn forget_all<K: Kind>(idx: &mut ClusterIndex) {
    for (ns, name) in K::keys(idx) {
        K::remove(idx, &ns, &name);
    }
}

/// Whether `group/version` serves `plural`: `Ok(false)` when the group or version is not
/// served at all, `Err` when discovery itself failed.
async fn serves(
    client: &Client,
    group: &str,
    version: &str,
    plurals: &[&str],
) -> Result<bool, kube::Error> {
    match kube::discovery::group(client, group).await {
        Ok(g) => {
            let names: Vec<String> = g
                .versioned_resources(version)
                .into_iter()
                .map(|(r, _)| r.plural)
                .collect();
            Ok(plurals.iter().all(|p| names.iter().any(|n| n == p)))
        }
        // the group is not served at all (kube reads /apis and does not find it), or its
        // version is gone: not installed, or no longer
        Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingApiGroup(_))) => Ok(false),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// One discovery round for the optional APIs: starts the watch of each that appeared, stops
/// (and empties) each that went.
async fn discover_optional(
    client: &Client,
    cache: &Arc<ClusterCache>,
    tasks: &mut [Option<tokio::task::JoinHandle<()>>],
    first: bool,
) {
    for (api, task) in OPTIONAL_APIS.iter().zip(tasks.iter_mut()) {
        let present = match serves(client, api.group, api.version, &[api.plural]).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(group = api.group, error = %e, "discovery failed; will retry");
                continue;
            }
        };
        match (present, task.is_some()) {
            (true, false) => {
                tracing::info!(group = api.group, "{} found: watching them", api.what);
                cache.set_optional(api.plural, true);
                *task = Some((api.spawn)(client, cache));
            }
            (false, true) => {
                tracing::warn!(
                    group = api.group,
                    "the {} API is gone: its watch stopped",
                    api.what
                );
                if let Some(t) = task.take() {
                    t.abort();
                }
                cache.set_optional(api.plural, false);
                (api.clear)(&mut cache.write());
                cache.announce(Dirty::All);
            }
            (false, false) if first => {
                tracing::info!(
                    group = api.group,
                    "{} are not served here (picked up if they appear later)",
                    api.what
                );
            }
            _ => {}
        }
    }
}

/// Polls discovery: starts or stops the KubeVirt watchers and the optional APIs' watchers,
/// refreshes OpenShift cluster facts.
async fn discovery_loop(client: Client, cache: Arc<ClusterCache>, every: Duration) {
    let mut kubevirt_tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut optional_tasks: Vec<Option<tokio::task::JoinHandle<()>>> =
        OPTIONAL_APIS.iter().map(|_| None).collect();
    let mut first = true;
    loop {
        discover_optional(&client, &cache, &mut optional_tasks, first).await;
        let kinds = [VirtualMachine::NAME, VirtualMachineInstance::NAME];
        let present = match serves(&client, "kubevirt.io", "v1", &kinds).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "KubeVirt discovery failed; will retry");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        let running = !kubevirt_tasks.is_empty();
        if present && !running {
            tracing::info!(
                "KubeVirt API found: watching VirtualMachines, VirtualMachineInstances and the ControllerRevisions their instancetypes are pinned in"
            );
            cache.set_kubevirt(true);
            kubevirt_tasks.push(spawn_watch::<VirtualMachine>(&client, &cache));
            kubevirt_tasks.push(spawn_watch::<VirtualMachineInstance>(&client, &cache));
            // the instancetypes VMs are pinned to
            kubevirt_tasks.push(spawn_watch::<ControllerRevision>(&client, &cache));
        } else if !present && (running || first) {
            // say so first: a pass that sees the VMs gone must also see KubeVirt gone, so that it
            // holds the removals (worker::kubevirt_hold) instead of deleting the VMs
            cache.set_kubevirt(false);
            if running {
                tracing::warn!(
                    "the KubeVirt API is gone: VM watches stopped; removals are held while it is missing"
                );
                for t in kubevirt_tasks.drain(..) {
                    t.abort();
                }
                {
                    let mut idx = cache.write();
                    forget_all::<VirtualMachine>(&mut idx);
                    forget_all::<VirtualMachineInstance>(&mut idx);
                    forget_all::<ControllerRevision>(&mut idx);
                }
                cache.announce(Dirty::All);
            } else {
                tracing::info!(
                    "KubeVirt is not installed: syncing containers only (VMs are picked up if it is installed later)"
                );
            }
        }
        first = false;
        if let Some(info) = openshift_info(&client).await {
            let changed = {
                let mut idx = cache.write();
                let before = idx.cluster_info();
                let mut merged = info;
                if merged.cluster_id.is_none() {
                    merged.cluster_id = before.cluster_id.clone();
                }
                idx.set_cluster_info(merged);
                idx.cluster_info() != before
            };
            if changed {
                cache.announce(Dirty::All);
            }
        }
        // the cluster's identity is known now (OpenShift's cluster ID where it is served and
        // readable, else the kube-system UID): the first pass may run
        cache.set_discovered();
        tokio::time::sleep(every).await;
    }
}

/// OpenShift's cluster ID, version and networks, when the config API is served and readable.
async fn openshift_info(client: &Client) -> Option<ClusterInfo> {
    use kube::api::DynamicObject;
    use kube::discovery::ApiResource;
    let gvk = |kind: &str, plural: &str| ApiResource {
        group: "config.openshift.io".into(),
        version: "v1".into(),
        api_version: "config.openshift.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    let networks: Api<DynamicObject> = Api::all_with(client.clone(), &gvk("Network", "networks"));
    let versions: Api<DynamicObject> =
        Api::all_with(client.clone(), &gvk("ClusterVersion", "clusterversions"));
    let consoles: Api<DynamicObject> = Api::all_with(client.clone(), &gvk("Console", "consoles"));
    let net = networks.get_opt("cluster").await.ok().flatten();
    let ver = versions.get_opt("version").await.ok().flatten();
    if net.is_none() && ver.is_none() {
        return None;
    }
    // the console's URL, for the links from Nautobot back to the console (a cluster without
    // the console capability has no such object); not asked where OpenShift is not
    let console = consoles.get_opt("cluster").await.ok().flatten();
    let mut idx = ClusterIndex::new();
    if let Some(n) = net.and_then(|n| serde_json::to_value(n).ok()) {
        idx.apply_network_config(&n);
    }
    if let Some(v) = ver.and_then(|v| serde_json::to_value(v).ok()) {
        idx.apply_cluster_version(&v);
    }
    if let Some(c) = console.and_then(|c| serde_json::to_value(c).ok()) {
        idx.apply_console(&c);
    }
    Some(idx.cluster_info())
}
