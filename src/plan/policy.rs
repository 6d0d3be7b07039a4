//! What governs a diff: whose objects these are, what happens to the ones no longer in the
//! cluster (the deletion policy and its grace period), the mass-deletion guard, and adoption.

use std::time::Duration;

use crate::api::DeletionPolicy;
use crate::config::SyncConfig;

/// What governs deletions.
#[derive(Debug, Clone)]
pub struct Policy {
    /// This cluster's name (the ownership marker value).
    pub cluster: String,
    /// Deletion policy.
    pub deletion: DeletionPolicy,
    /// Grace period of `MarkOffline`.
    pub grace_period: Duration,
    /// Guard: largest fraction of owned objects one pass may delete.
    pub max_delete_fraction: f64,
    /// Guard: passes deleting at most this many objects are never held.
    pub guard_min_objects: u32,
    /// A person allowed this pass to exceed the guard.
    pub allow_mass_deletion: bool,
    /// Adopt unowned objects with our id.
    pub adopt_existing: bool,
    /// Prefixes of the tags the operator owns besides the ownership tag (`<label key>=` of the
    /// configured label keys): such tags are removed when no longer wanted; others are kept.
    pub owned_tag_prefixes: Vec<String>,
    /// The current time.
    pub now: jiff::Timestamp,
    /// Owned objects in all (for the guard) when the diff sees only a part of them
    /// (incremental passes); `None` counts the observed objects given.
    pub owned_total: Option<usize>,
    /// Hold every removal of this pass, whatever the count, for this reason (unless a person
    /// allowed mass deletion): set while the KubeVirt API is not served but Nautobot holds this
    /// cluster's VMs, so that a KubeVirt upgrade or reinstall never empties the VM inventory.
    pub hold_removals: Option<String>,
}

impl Policy {
    /// The diff policy of a config at `now`.
    pub fn new(cfg: &SyncConfig, now: jiff::Timestamp, allow_mass_deletion: bool) -> Policy {
        Policy {
            cluster: cfg.cluster_name.clone(),
            deletion: cfg.deletion_policy,
            grace_period: cfg.grace_period,
            max_delete_fraction: cfg.max_delete_fraction,
            guard_min_objects: cfg.guard_min_objects,
            allow_mass_deletion,
            adopt_existing: cfg.adopt_existing,
            owned_tag_prefixes: cfg.label_tags.iter().map(|k| format!("{k}=")).collect(),
            now,
            owned_total: None,
            hold_removals: None,
        }
    }
}
