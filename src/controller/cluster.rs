//! Watching the cluster: one kube-runtime watcher per kind feeds the shared [`ClusterIndex`].
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

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use kube::core::DeserializeGuard;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};

use crate::cluster::kubevirt::{VirtualMachine, VirtualMachineInstance};
use crate::cluster::wire::SlimPod;
use crate::cluster::{ClusterIndex, ClusterInfo, PodInfo};
use crate::cluster::{
    DeploymentInfo, HasMeta, NamespaceInfo, NodeInfo, ServiceInfo, VmInfo, VmiInfo,
};
use crate::project::Root;
use crate::runtime::metrics::{Metrics, WatchEventKind};

/// What changed in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dirty {
    /// These roots may project differently now.
    Roots(Vec<Root>),
    /// Anything may have changed (a relist, KubeVirt appearing or leaving): re-project all.
    All,
}

/// Which watches have delivered a complete list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Kinds synced at least once.
    pub synced: BTreeSet<&'static str>,
    /// Kinds that must be synced.
    pub required: BTreeSet<&'static str>,
    /// Whether KubeVirt's API is served.
    pub kubevirt: bool,
    /// Whether KubeVirt's VirtualMachine CRD is being deleted (an uninstall: the API server is
    /// about to delete every VM, and the watch will report each one gone).
    pub kubevirt_leaving: bool,
}

impl Readiness {
    /// Every required watch has its first list.
    pub fn is_ready(&self) -> bool {
        self.required.is_subset(&self.synced)
    }
    /// The kinds still missing, for status and logs.
    pub fn missing(&self) -> Vec<&'static str> {
        self.required.difference(&self.synced).copied().collect()
    }
}

/// The shared cluster cache.
pub struct ClusterCache {
    index: RwLock<ClusterIndex>,
    ready: watch::Sender<Readiness>,
    dirty: broadcast::Sender<Dirty>,
    metrics: Arc<Metrics>,
}

impl Debug for ClusterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCache")
            .field("ready", &*self.ready.borrow())
            .finish()
    }
}

impl ClusterCache {
    /// An empty cache.
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        let required = CORE_KINDS.iter().copied().collect();
        Arc::new(ClusterCache {
            index: RwLock::new(ClusterIndex::new()),
            ready: watch::Sender::new(Readiness {
                required,
                ..Default::default()
            }),
            dirty: broadcast::channel(4096).0,
            metrics,
        })
    }

    /// Reads the index (projection holds this while it runs).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, ClusterIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ClusterIndex> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes to changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Dirty> {
        self.dirty.subscribe()
    }

    /// Watches readiness.
    pub fn readiness(&self) -> watch::Receiver<Readiness> {
        self.ready.subscribe()
    }

    fn announce(&self, d: Dirty) {
        // no subscriber is fine (no NautobotSync yet)
        let _ = self.dirty.send(d);
    }

    fn mark_synced(&self, kind: &'static str) {
        self.ready.send_modify(|r| {
            r.synced.insert(kind);
        });
    }

    fn set_kubevirt_leaving(&self, leaving: bool) {
        self.ready.send_if_modified(|r| {
            let changed = r.kubevirt_leaving != leaving;
            r.kubevirt_leaving = leaving;
            changed
        });
    }

    fn set_kubevirt(&self, present: bool) {
        self.ready.send_modify(|r| {
            r.kubevirt = present;
            for k in KUBEVIRT_KINDS {
                if present {
                    r.required.insert(k);
                } else {
                    r.required.remove(k);
                    r.synced.remove(k);
                }
            }
        });
        self.metrics.set_kubevirt_detected(present);
    }
}

/// The watches the cache always runs.
pub const CORE_KINDS: [&str; 5] = ["namespaces", "nodes", "pods", "deployments", "services"];
/// The watches the cache runs while KubeVirt is installed.
pub const KUBEVIRT_KINDS: [&str; 2] = ["virtualmachines", "virtualmachineinstances"];

/// Strips an object given as JSON as the watch cache does; other kinds and objects that do not
/// parse are left as they are.
pub fn strip_json(item: &mut serde_json::Value) {
    fn via<K: Cached + serde::Serialize>(item: &mut serde_json::Value) {
        if let Ok(mut o) = serde_json::from_value::<K>(item.clone()) {
            o.strip();
            if let Ok(mut v) = serde_json::to_value(&o) {
                // slim types carry no apiVersion and kind: keep the item's own
                for field in ["apiVersion", "kind"] {
                    if let Some(t) = item.get(field) {
                        v[field] = t.clone();
                    }
                }
                *item = v;
            }
        }
    }
    let api_version = item
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let kind = item
        .get("kind")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    match (
        api_version.rsplit_once('/').map_or("", |(g, _)| g),
        kind.as_str(),
    ) {
        ("", "Namespace") => via::<Namespace>(item),
        ("", "Node") => via::<Node>(item),
        ("", "Pod") => via::<SlimPod>(item),
        ("", "Service") => via::<Service>(item),
        ("apps", "Deployment") => via::<Deployment>(item),
        ("kubevirt.io", "VirtualMachine") => via::<VirtualMachine>(item),
        ("kubevirt.io", "VirtualMachineInstance") => via::<VirtualMachineInstance>(item),
        _ => {}
    }
}

/// A kind the cache holds: read as `Self` from the API, kept as `Self::Stored`.
trait Cached: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static {
    /// What the index keeps (the object itself, stripped, or a compact form).
    type Stored: Send + Sync + 'static;
    const NAME: &'static str;
    /// Drops what the projection does not read (the JSON form, for tools and benchmarks).
    fn strip(&mut self) {
        strip_meta(self.meta_mut());
    }
    /// The stored form.
    fn store(self) -> Self::Stored;
    fn key(obj: &Self::Stored) -> (String, String);
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)>;
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<Self::Stored>>;
    fn put(idx: &mut ClusterIndex, obj: Arc<Self::Stored>);
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str);
    fn roots(idx: &ClusterIndex, obj: &Self::Stored) -> Vec<Root>;
}

/// Kept in a compact form of `crate::stored`, found by its [`Meta`].
macro_rules! stored_compact {
    ($stored:ty) => {
        type Stored = $stored;
        fn store(self) -> $stored {
            <$stored>::from(self)
        }
        fn key(obj: &$stored) -> (String, String) {
            obj.meta().key()
        }
    };
}

pub use crate::cluster::wire::KEPT_ANNOTATIONS;

fn strip_meta(m: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    m.managed_fields = None;
    if let Some(a) = m.annotations.as_mut() {
        a.retain(|k, _| KEPT_ANNOTATIONS.contains(&k.as_str()));
        if a.is_empty() {
            m.annotations = None;
        }
    }
}

impl Cached for Namespace {
    stored_compact!(NamespaceInfo);
    const NAME: &'static str = "namespaces";
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)> {
        idx.namespaces().map(|n| n.key()).collect()
    }
    fn get(idx: &ClusterIndex, _: &str, name: &str) -> Option<Arc<Self::Stored>> {
        idx.namespace(name).cloned()
    }
    fn put(idx: &mut ClusterIndex, o: Arc<Self::Stored>) {
        idx.apply_namespace(o)
    }
    fn remove(idx: &mut ClusterIndex, _: &str, name: &str) {
        idx.delete_namespace(name)
    }
    fn roots(idx: &ClusterIndex, o: &Self::Stored) -> Vec<Root> {
        idx.namespace_roots(&o.name)
    }
}

impl Cached for Node {
    stored_compact!(NodeInfo);
    const NAME: &'static str = "nodes";
    fn strip(&mut self) {
        strip_meta(&mut self.metadata);
        if let Some(s) = self.status.as_mut() {
            s.images = None;
            s.volumes_attached = None;
            s.volumes_in_use = None;
            s.capacity = None;
            s.allocatable = None;
            s.daemon_endpoints = None;
            s.config = None;
        }
        if let Some(s) = self.spec.as_mut() {
            s.taints = None;
        }
    }
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)> {
        idx.nodes().map(|n| n.meta.key()).collect()
    }
    fn get(idx: &ClusterIndex, _: &str, name: &str) -> Option<Arc<Self::Stored>> {
        idx.node(name).cloned()
    }
    fn put(idx: &mut ClusterIndex, o: Arc<Self::Stored>) {
        idx.apply_node(o)
    }
    fn remove(idx: &mut ClusterIndex, _: &str, name: &str) {
        idx.delete_node(name)
    }
    fn roots(_: &ClusterIndex, o: &Self::Stored) -> Vec<Root> {
        vec![Root::Node(o.meta.name.to_string())]
    }
}

impl Cached for SlimPod {
    // read slim (crate::cluster::wire): never env, commands or volumes; kept compact
    type Stored = PodInfo;
    const NAME: &'static str = "pods";
    fn store(self) -> PodInfo {
        PodInfo::from(self)
    }
    fn key(obj: &PodInfo) -> (String, String) {
        obj.key()
    }
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)> {
        idx.pods().map(|p| p.key()).collect()
    }
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<Self::Stored>> {
        idx.pod(ns, name).cloned()
    }
    fn put(idx: &mut ClusterIndex, o: Arc<Self::Stored>) {
        idx.apply_pod(o)
    }
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str) {
        idx.delete_pod(ns, name)
    }
    fn roots(idx: &ClusterIndex, o: &Self::Stored) -> Vec<Root> {
        idx.pod_roots(o)
    }
}

impl Cached for Deployment {
    stored_compact!(DeploymentInfo);
    const NAME: &'static str = "deployments";
    fn strip(&mut self) {
        strip_meta(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            strip_meta(spec.template.metadata.get_or_insert_with(Default::default));
            if let Some(ps) = spec.template.spec.as_mut() {
                // only container images are read: never env, commands or volumes
                let containers = ps
                    .containers
                    .drain(..)
                    .map(|c| k8s_openapi::api::core::v1::Container {
                        name: c.name,
                        image: c.image,
                        ..Default::default()
                    })
                    .collect();
                *ps = k8s_openapi::api::core::v1::PodSpec {
                    containers,
                    ..Default::default()
                };
            }
        }
        if let Some(st) = self.status.as_mut() {
            st.conditions = None;
        }
    }
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)> {
        idx.deployments().map(|d| d.meta.key()).collect()
    }
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<Self::Stored>> {
        idx.deployment(ns, name).cloned()
    }
    fn put(idx: &mut ClusterIndex, o: Arc<Self::Stored>) {
        idx.apply_deployment(o)
    }
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str) {
        idx.delete_deployment(ns, name)
    }
    fn roots(_: &ClusterIndex, o: &Self::Stored) -> Vec<Root> {
        vec![Root::Deployment(o.meta.key())]
    }
}

impl Cached for Service {
    stored_compact!(ServiceInfo);
    const NAME: &'static str = "services";
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)> {
        idx.services().map(|s| s.meta.key()).collect()
    }
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<Self::Stored>> {
        idx.service(ns, name).cloned()
    }
    fn put(idx: &mut ClusterIndex, o: Arc<Self::Stored>) {
        idx.apply_service(o)
    }
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str) {
        idx.delete_service(ns, name)
    }
    fn roots(_: &ClusterIndex, o: &Self::Stored) -> Vec<Root> {
        vec![Root::Service(o.meta.key())]
    }
}

impl Cached for VirtualMachine {
    stored_compact!(VmInfo);
    const NAME: &'static str = "virtualmachines";
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)> {
        idx.vms().map(|v| v.meta.key()).collect()
    }
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<Self::Stored>> {
        idx.vm(ns, name).cloned()
    }
    fn put(idx: &mut ClusterIndex, o: Arc<Self::Stored>) {
        idx.apply_vm(o)
    }
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str) {
        idx.delete_vm(ns, name)
    }
    fn roots(idx: &ClusterIndex, o: &Self::Stored) -> Vec<Root> {
        // services selecting the VM follow its pods; the VM itself is its root
        let _ = idx;
        vec![Root::VirtualMachine(o.meta.key())]
    }
}

impl Cached for VirtualMachineInstance {
    stored_compact!(VmiInfo);
    const NAME: &'static str = "virtualmachineinstances";
    fn keys(idx: &ClusterIndex) -> Vec<(String, String)> {
        idx.vmis().map(|v| v.meta.key()).collect()
    }
    fn get(idx: &ClusterIndex, ns: &str, name: &str) -> Option<Arc<Self::Stored>> {
        idx.vmi(ns, name).cloned()
    }
    fn put(idx: &mut ClusterIndex, o: Arc<Self::Stored>) {
        idx.apply_vmi(o)
    }
    fn remove(idx: &mut ClusterIndex, ns: &str, name: &str) {
        idx.delete_vmi(ns, name)
    }
    fn roots(_: &ClusterIndex, o: &Self::Stored) -> Vec<Root> {
        // a VMI is named after its VM
        vec![Root::VirtualMachine(o.meta.key())]
    }
}

/// During a relist, the freed heap is given back every this many objects (and at the end).
const TRIM_EVERY: usize = 10_000;

/// Runs one watcher until the task is aborted.
async fn watch_kind<K: Cached>(api: Api<DeserializeGuard<K>>, cache: Arc<ClusterCache>) {
    let mut buffer: Vec<Arc<K::Stored>> = Vec::new();
    // The default (most recent) list semantics: the API server pages it by `limit`. With
    // resourceVersion=0 ("any") a Kubernetes <= 1.30 API server ignores `limit` and sends the
    // whole list at once (a 50,000-pod list is gigabytes of transient memory; docs/benchmarks.md).
    let stream = watcher(api, watcher::Config::default()).default_backoff();
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

/// Starts the core watchers and the KubeVirt and OpenShift discovery loop.
pub fn spawn(
    client: Client,
    cache: Arc<ClusterCache>,
    discovery_interval: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(watch_kind::<Namespace>(
            Api::all(client.clone()),
            cache.clone(),
        )),
        tokio::spawn(watch_kind::<Node>(Api::all(client.clone()), cache.clone())),
        tokio::spawn(watch_kind::<SlimPod>(
            Api::all(client.clone()),
            cache.clone(),
        )),
        tokio::spawn(watch_kind::<Deployment>(
            Api::all(client.clone()),
            cache.clone(),
        )),
        tokio::spawn(watch_kind::<Service>(
            Api::all(client.clone()),
            cache.clone(),
        )),
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
                if leaving && !cache.ready.borrow().kubevirt_leaving {
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

/// Polls discovery: starts or stops the KubeVirt watchers, refreshes OpenShift cluster facts.
async fn discovery_loop(client: Client, cache: Arc<ClusterCache>, every: Duration) {
    let mut kubevirt_tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut first = true;
    loop {
        let present = match kube::discovery::group(&client, "kubevirt.io").await {
            Ok(g) => {
                let names: Vec<String> = g
                    .versioned_resources("v1")
                    .into_iter()
                    .map(|(r, _)| r.plural)
                    .collect();
                names.iter().any(|n| n == "virtualmachines")
                    && names.iter().any(|n| n == "virtualmachineinstances")
            }
            // the group is not served at all (kube reads /apis and does not find it), or its
            // version is gone: KubeVirt is not installed, or no longer
            Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingApiGroup(_))) => false,
            Err(kube::Error::Api(e)) if e.code == 404 => false,
            Err(e) => {
                tracing::warn!(error = %e, "KubeVirt discovery failed; will retry");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        let running = !kubevirt_tasks.is_empty();
        if present && !running {
            tracing::info!(
                "KubeVirt API found: watching VirtualMachines and VirtualMachineInstances"
            );
            cache.set_kubevirt(true);
            kubevirt_tasks.push(tokio::spawn(watch_kind::<VirtualMachine>(
                Api::all(client.clone()),
                cache.clone(),
            )));
            kubevirt_tasks.push(tokio::spawn(watch_kind::<VirtualMachineInstance>(
                Api::all(client.clone()),
                cache.clone(),
            )));
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
                    for (ns, name) in VirtualMachine::keys(&idx) {
                        idx.delete_vm(&ns, &name);
                    }
                    for (ns, name) in VirtualMachineInstance::keys(&idx) {
                        idx.delete_vmi(&ns, &name);
                    }
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
    let net = networks.get_opt("cluster").await.ok().flatten();
    let ver = versions.get_opt("version").await.ok().flatten();
    if net.is_none() && ver.is_none() {
        return None;
    }
    let mut idx = ClusterIndex::new();
    if let Some(n) = net.and_then(|n| serde_json::to_value(n).ok()) {
        idx.apply_network_config(&n);
    }
    if let Some(v) = ver.and_then(|v| serde_json::to_value(v).ok()) {
        idx.apply_cluster_version(&v);
    }
    Some(idx.cluster_info())
}

/// For request-level tests of what reads the cache (the worker): fill and change it as the
/// watches would.
#[cfg(test)]
impl ClusterCache {
    /// Loads an index as if every watch had listed it, KubeVirt served.
    pub(crate) fn load(&self, index: ClusterIndex) {
        *self.write() = index;
        self.set_kubevirt(true);
        let required = self.ready.borrow().required.clone();
        for kind in required {
            self.mark_synced(kind);
        }
        self.announce(Dirty::All);
    }

    /// Changes the index as one watch event would, announcing the roots `f` returns.
    pub(crate) fn change(&self, f: impl FnOnce(&mut ClusterIndex) -> Vec<Root>) {
        let roots = f(&mut self.write());
        self.announce(Dirty::Roots(roots));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cache_keeps_only_what_the_projection_reads() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "n", "labels": {"app": "x"},
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "kubevirt.io/domain": "vm"},
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"nodeName": "w1", "hostNetwork": true,
                     "containers": [{"name": "c", "image": "i", "env": [{"name": "K", "value": "s3cr3t"}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}});
        strip_json(&mut pod);
        let text = pod.to_string();
        assert!(
            !text.contains("s3cr3t")
                && !text.contains("managedFields")
                && !text.contains("last-applied")
        );
        assert_eq!(pod["spec"]["nodeName"], json!("w1"));
        assert_eq!(pod["spec"]["hostNetwork"], json!(true));
        assert_eq!(pod["status"]["podIP"], json!("10.0.0.1"));
        assert_eq!(
            pod["metadata"]["annotations"],
            json!({"kubevirt.io/domain": "vm"})
        );
        assert_eq!(pod["metadata"]["labels"], json!({"app": "x"}));
        assert_eq!(
            (&pod["apiVersion"], &pod["kind"]),
            (&json!("v1"), &json!("Pod")),
            "the item stays a Pod"
        );
        let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "annotations": {"other": "x"}}});
        strip_json(&mut ns);
        assert!(
            ns["metadata"].get("annotations").is_none(),
            "empty annotations are dropped"
        );
    }
}
