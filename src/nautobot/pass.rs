//! One sync pass, the same code for every caller: `apply` and `plan --nautobot`, the worker's
//! full and incremental passes, and the `onDelete` cleanup.
//!
//! - **Full**: bootstrap the prerequisites the records reference, read everything the cluster
//!   owns, diff, apply.
//! - **Incremental**: diff the touched records against the copy of Nautobot's state the last
//!   passes left ([`Synced`]), bootstrapping first only when a record references a prerequisite
//!   not seen yet; no reads, so one change costs the writes it needs.
//!
//! Either way, what was written is folded into [`Synced::observed`]; a pass that stopped early
//! leaves it [`Synced::stale`] (the next pass must be a full one). Nothing is written unless
//! [`Pass::write`] is set.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::apply::{self, ApplyOptions, ApplyReport};
use super::bootstrap::{self, BootstrapError};
use super::client::NautobotApi;
use super::error::ApiError;
use super::observe;
use crate::config::SyncConfig;
use crate::model::Record;
use crate::plan::{ObservedObject, Plan, Policy, Resolve, Resolver, diff, update_observed};

/// Why a sync pass could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    /// Bootstrap failed (a missing Location, an unusable prerequisite, or an API error).
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// Reading from Nautobot failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl SyncError {
    /// A bounded CamelCase category for conditions, events and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            SyncError::Bootstrap(BootstrapError::Api(e)) | SyncError::Api(e) => e.category(),
            SyncError::Bootstrap(BootstrapError::Missing(_)) => "InvalidSpec",
            SyncError::Bootstrap(BootstrapError::Unusable(_)) => "PrerequisiteUnusable",
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// What the pass computed.
    pub plan: Plan,
    /// What it wrote (`None` when it was not to write).
    pub report: Option<ApplyReport>,
    /// How many owned objects Nautobot held before the pass (full passes; for incremental
    /// passes, the objects of the copy that the touched records had).
    pub observed_before: usize,
    /// Prerequisites created (or that would be), as `kind "name"`.
    pub prerequisites_created: Vec<String>,
}

/// What a pass leaves for the next one: Nautobot's owned objects as last read and written, and
/// the prerequisite ids bootstrap learnt.
#[derive(Debug, Clone, Default)]
pub struct Synced {
    /// Owned objects by id.
    pub observed: BTreeMap<Uuid, ObservedObject>,
    /// Prerequisite ids (none before the first full pass).
    pub resolver: Option<Resolver>,
    /// A pass stopped early: what it wrote is unknown, the next pass must read everything.
    pub stale: bool,
}

/// How a pass runs.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a> {
    /// The resolved spec.
    pub cfg: &'a SyncConfig,
    /// Write (else compute the plan only: dry run, suspend, `plan --nautobot`).
    pub write: bool,
    /// Batches and streams of the apply.
    pub opts: ApplyOptions,
}

impl<'a> Pass<'a> {
    /// A pass with the spec's concurrency (bulk batches of 100, as measured best).
    pub fn new(cfg: &'a SyncConfig, write: bool) -> Self {
        Pass {
            cfg,
            write,
            opts: ApplyOptions {
                batch_size: 100,
                streams: cfg.max_concurrent,
            },
        }
    }

    /// A full pass over `desired`. `hold` may hold every removal, for a reason, once it has seen
    /// what Nautobot holds.
    pub async fn full<A: NautobotApi, R: Borrow<Record>>(
        &self,
        api: &A,
        desired: &BTreeMap<Uuid, R>,
        ips_unknown: &BTreeSet<Uuid>,
        mut policy: Policy,
        hold: impl FnOnce(&BTreeMap<Uuid, ObservedObject>) -> Option<String>,
        synced: &mut Synced,
    ) -> Result<SyncOutcome, SyncError> {
        let resolver = bootstrap::bootstrap(api, self.cfg, desired, !self.write).await?;
        synced.observed = if resolver.ownership_field_exists {
            observe::load_owned(api, &self.cfg.cluster_name, &resolver).await?
        } else {
            BTreeMap::new()
        };
        synced.stale = false;
        if let Some(reason) = hold(&synced.observed) {
            policy.hold_removals = Some(reason);
        }
        let plan = diff(desired, ips_unknown, &synced.observed, &policy, &resolver);
        let observed_before = synced.observed.len();
        let prerequisites_created = resolver.created.clone();
        synced.resolver = Some(resolver);
        let report = self.apply(api, &plan, synced).await;
        Ok(SyncOutcome {
            plan,
            report,
            observed_before,
            prerequisites_created,
        })
    }

    /// An incremental pass over the `touched` objects, whose desired records are `desired`.
    /// `all` gives every desired record, for the bootstrap a new prerequisite needs.
    #[allow(clippy::too_many_arguments)]
    pub async fn incremental<A: NautobotApi, R: Borrow<Record>>(
        &self,
        api: &A,
        touched: &BTreeSet<Uuid>,
        desired: &BTreeMap<Uuid, Record>,
        ips_unknown: &BTreeSet<Uuid>,
        all: impl FnOnce() -> BTreeMap<Uuid, R>,
        mut policy: Policy,
        hold: impl FnOnce(&BTreeMap<Uuid, ObservedObject>) -> Option<String>,
        synced: &mut Synced,
    ) -> Result<SyncOutcome, SyncError> {
        // a new prerequisite (a platform never seen, a new label tag) needs a bootstrap first
        let needs_bootstrap = synced.resolver.as_ref().is_none_or(|res| {
            desired.values().any(|r| {
                r.refs().any(|x| res.resolve(x, r.kind).is_err())
                    || r.tags.iter().any(|t| !res.knows_tag(t))
            })
        });
        let mut prerequisites_created = Vec::new();
        let resolver = match synced.resolver.take() {
            Some(res) if !needs_bootstrap => res,
            _ => {
                let res = bootstrap::bootstrap(api, self.cfg, &all(), !self.write).await?;
                prerequisites_created = res.created.clone();
                res
            }
        };
        let observed: BTreeMap<Uuid, ObservedObject> = touched
            .iter()
            .filter_map(|id| synced.observed.get(id).map(|o| (*id, o.clone())))
            .collect();
        policy.owned_total = Some(
            synced
                .observed
                .values()
                .filter(|o| o.kind.carries_marker())
                .count(),
        );
        if let Some(reason) = hold(&synced.observed) {
            policy.hold_removals = Some(reason);
        }
        let plan = diff(desired, ips_unknown, &observed, &policy, &resolver);
        synced.resolver = Some(resolver);
        let report = self.apply(api, &plan, synced).await;
        Ok(SyncOutcome {
            plan,
            report,
            observed_before: observed.len(),
            prerequisites_created,
        })
    }

    /// Applies the plan when writing, and folds what was written into the copy.
    async fn apply<A: NautobotApi>(
        &self,
        api: &A,
        plan: &Plan,
        synced: &mut Synced,
    ) -> Option<ApplyReport> {
        if !self.write {
            return None;
        }
        let report = apply::apply(api, plan, self.opts).await;
        if !update_observed(&mut synced.observed, plan, &report) {
            synced.stale = true;
        }
        Some(report)
    }
}
