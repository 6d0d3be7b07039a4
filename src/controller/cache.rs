//! The shared cluster cache: the [`ClusterIndex`] the watches fill, whether it is ready (every
//! watched kind has delivered its first complete list; nothing is diffed before that), and the
//! stream of what changed ([`Dirty`]) the workers follow. The watches themselves are in
//! `watches`.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use tokio::sync::{broadcast, watch};

use crate::cluster::{CORE_KINDS, ClusterIndex, KUBEVIRT_KINDS};
use crate::project::Root;
use crate::runtime::metrics::Metrics;

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
    /// Whether the first discovery round (KubeVirt, OpenShift's cluster facts) is done: the
    /// cluster's identity is OpenShift's cluster ID where it is served, and the first pass must
    /// not record another one.
    pub discovered: bool,
    /// Whether KubeVirt's VirtualMachine CRD is being deleted (an uninstall: the API server is
    /// about to delete every VM, and the watch will report each one gone).
    pub kubevirt_leaving: bool,
}

impl Readiness {
    /// Every required watch has its first list.
    pub fn is_ready(&self) -> bool {
        self.discovered && self.required.is_subset(&self.synced)
    }
    /// The kinds still missing, for status and logs.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing: Vec<&'static str> =
            self.required.difference(&self.synced).copied().collect();
        if !self.discovered {
            missing.push("discovery");
        }
        missing
    }
}

/// The shared cluster cache.
pub struct ClusterCache {
    index: RwLock<ClusterIndex>,
    ready: watch::Sender<Readiness>,
    dirty: broadcast::Sender<Dirty>,
    pub(super) metrics: Arc<Metrics>,
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

    pub(super) fn write(&self) -> std::sync::RwLockWriteGuard<'_, ClusterIndex> {
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

    pub(super) fn announce(&self, d: Dirty) {
        // no subscriber is fine (no NautobotSync yet)
        let _ = self.dirty.send(d);
    }

    pub(super) fn mark_synced(&self, kind: &'static str) {
        self.ready.send_modify(|r| {
            r.synced.insert(kind);
        });
    }

    pub(super) fn set_discovered(&self) {
        self.ready
            .send_if_modified(|r| !std::mem::replace(&mut r.discovered, true));
    }

    pub(super) fn set_kubevirt_leaving(&self, leaving: bool) {
        self.ready.send_if_modified(|r| {
            let changed = r.kubevirt_leaving != leaving;
            r.kubevirt_leaving = leaving;
            changed
        });
    }

    /// An optional API's kind (Routes, DataVolumes) is served, or not: required for
    /// readiness while it is.
    pub(super) fn set_optional(&self, kind: &'static str, present: bool) {
        self.ready.send_modify(|r| {
            if present {
                r.required.insert(kind);
            } else {
                r.required.remove(kind);
                r.synced.remove(kind);
            }
        });
    }

    pub(super) fn set_kubevirt(&self, present: bool) {
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

/// For request-level tests of what reads the cache (the worker): fill and change it as the
/// watches would.
#[cfg(test)]
impl ClusterCache {
    /// Loads an index as if every watch had listed it, KubeVirt served.
    pub(crate) fn load(&self, index: ClusterIndex) {
        *self.write() = index;
        self.set_kubevirt(true);
        self.set_discovered();
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
