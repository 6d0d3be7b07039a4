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
use crate::plan::{
    IdentityMismatch, ObservedObject, Plan, Policy, Resolve, Resolver, absorb_into_observed,
    dialect, diff, identity, update_observed,
};

/// Why a sync pass could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    /// Bootstrap failed (a missing Location, an unusable prerequisite, or an API error).
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// Reading from Nautobot failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The Nautobot Cluster belongs to another Kubernetes cluster.
    #[error(transparent)]
    Identity(#[from] IdentityMismatch),
}

impl SyncError {
    /// A bounded CamelCase category for conditions, events and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            SyncError::Bootstrap(BootstrapError::Api(e)) | SyncError::Api(e) => e.category(),
            SyncError::Bootstrap(BootstrapError::Missing(_)) => "InvalidSpec",
            SyncError::Bootstrap(BootstrapError::Unusable(_)) => "PrerequisiteUnusable",
            SyncError::Identity(_) => "ClusterIdentityMismatch",
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
    /// This cluster's identity when the desired records hold no Cluster (the `onDelete`
    /// cleanup): checked against the Nautobot Cluster's all the same.
    pub identity: Option<&'a str>,
    /// This cluster's other identity (the kube-system namespace UID where OpenShift's cluster
    /// ID is the identity), accepted in the Nautobot Cluster.
    pub alias: Option<&'a str>,
    /// Move the bodies of what was created into the copy of Nautobot's state instead of
    /// cloning them: the outcome's creates then carry no bodies (the worker, which needs only
    /// their count; a command that prints the plan keeps them).
    pub lean: bool,
}

impl<'a> Pass<'a> {
    /// A pass with the spec's apply options.
    pub fn new(cfg: &'a SyncConfig, write: bool) -> Self {
        Pass {
            cfg,
            write,
            opts: ApplyOptions::for_spec(cfg),
            identity: None,
            alias: None,
            lean: false,
        }
    }

    /// A full pass over `desired`, in the shape of the Nautobot spoken to
    /// ([`dialect::adapt`]). `hold` may hold every removal, for a reason, once it has seen what
    /// Nautobot holds.
    pub async fn full<A: NautobotApi, R: Borrow<Record>>(
        &self,
        api: &A,
        desired: &BTreeMap<Uuid, R>,
        ips_unknown: &BTreeSet<Uuid>,
        policy: Policy,
        hold: impl FnOnce(&BTreeMap<Uuid, ObservedObject>) -> Option<String>,
        synced: &mut Synced,
    ) -> Result<SyncOutcome, SyncError> {
        match dialect::adapt(desired, api.api_version()) {
            Some(adapted) => {
                self.full_as_is(api, &adapted, ips_unknown, policy, hold, synced)
                    .await
            }
            None => {
                self.full_as_is(api, desired, ips_unknown, policy, hold, synced)
                    .await
            }
        }
    }

    async fn full_as_is<A: NautobotApi, R: Borrow<Record>>(
        &self,
        api: &A,
        desired: &BTreeMap<Uuid, R>,
        ips_unknown: &BTreeSet<Uuid>,
        mut policy: Policy,
        hold: impl FnOnce(&BTreeMap<Uuid, ObservedObject>) -> Option<String>,
        synced: &mut Synced,
    ) -> Result<SyncOutcome, SyncError> {
        // the copy from the last pass goes before the new one is read, not after: both at once
        // would be the peak of a full pass (at L, 126 MiB each; docs/benchmarks.md). Until the
        // read completes the copy is stale, so a failed pass leaves the next one a full one.
        synced.observed = BTreeMap::new();
        synced.stale = true;
        let resolver = bootstrap::bootstrap(api, self.cfg, desired, !self.write).await?;
        synced.observed = if resolver.ownership_field_exists {
            observe::load_owned(api, &self.cfg.cluster_name, &resolver).await?
        } else {
            BTreeMap::new()
        };
        synced.stale = false;
        // before anything of the cluster's is written (bootstrap wrote only shared
        // prerequisites)
        self.check_identity(desired, &synced.observed)?;
        if let Some(reason) = hold(&synced.observed) {
            policy.hold_removals = Some(reason);
        }
        let mut plan = diff(desired, ips_unknown, &synced.observed, &policy, &resolver);
        let observed_before = synced.observed.len();
        let prerequisites_created = resolver.created.clone();
        synced.resolver = Some(resolver);
        let report = self.apply(api, &mut plan, synced).await;
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
                    || (!res.console_links && bootstrap::has_console_link(r))
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
        self.check_identity(desired, &synced.observed)?;
        let adapted = dialect::adapt(desired, api.api_version());
        let mut plan = match &adapted {
            Some(d) => diff(d, ips_unknown, &observed, &policy, &resolver),
            None => diff(desired, ips_unknown, &observed, &policy, &resolver),
        };
        synced.resolver = Some(resolver);
        let report = self.apply(api, &mut plan, synced).await;
        Ok(SyncOutcome {
            plan,
            report,
            observed_before: observed.len(),
            prerequisites_created,
        })
    }

    /// Refuses another cluster's Nautobot Cluster ([`identity::check`]).
    fn check_identity<R: Borrow<Record>>(
        &self,
        desired: &BTreeMap<Uuid, R>,
        observed: &BTreeMap<Uuid, ObservedObject>,
    ) -> Result<(), IdentityMismatch> {
        let replaces = self.cfg.replaces_cluster_id.as_deref();
        identity::check(desired, observed, replaces, self.alias)?;
        match self.identity {
            Some(ours) => identity::check_cluster(&self.cfg.cluster_name, ours, observed, replaces),
            None => Ok(()),
        }
    }

    /// Applies the plan when writing, and folds what was written into the copy.
    async fn apply<A: NautobotApi>(
        &self,
        api: &A,
        plan: &mut Plan,
        synced: &mut Synced,
    ) -> Option<ApplyReport> {
        if !self.write {
            return None;
        }
        let report = apply::apply(api, plan, self.opts).await;
        let folded = if self.lean {
            absorb_into_observed(&mut synced.observed, plan, &report)
        } else {
            update_observed(&mut synced.observed, plan, &report)
        };
        if !folded {
            synced.stale = true;
        }
        Some(report)
    }
}

/// Request-level tests: the pass against an in-memory Nautobot, no network.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use crate::nautobot::fake::FakeNautobot;
    use crate::project::Projection;
    use crate::project::testing::{config, project, sample};
    use serde_json::json;

    fn setup() -> (SyncConfig, Projection, FakeNautobot) {
        let cfg = config(json!({}));
        let p = project(&cfg, &sample());
        let location = cfg.location.clone().unwrap_or_default();
        (cfg, p, FakeNautobot::with_location(&location))
    }

    async fn full(
        api: &FakeNautobot,
        cfg: &SyncConfig,
        p: &Projection,
        synced: &mut Synced,
    ) -> SyncOutcome {
        let policy = Policy::new(cfg, jiff::Timestamp::now(), false);
        Pass::new(cfg, true)
            .full(api, &p.records, &p.ips_unknown, policy, |_| None, synced)
            .await
            .expect("the pass runs")
    }

    fn writes(api: &FakeNautobot) -> usize {
        api.take_log().iter().filter(|r| r.method != "GET").count()
    }

    #[tokio::test]
    async fn a_full_pass_creates_everything_once_and_then_writes_nothing() {
        let (cfg, p, api) = setup();
        let mut synced = Synced::default();
        let first = full(&api, &cfg, &p, &mut synced).await;
        let report = first.report.expect("written");
        assert!(report.failures.is_empty(), "{:#?}", report.failures);
        assert!(report.aborted.is_none());
        assert_eq!(api.objects("virtualization/virtual-machines/").len(), 6);
        assert!(writes(&api) > 0);
        // the copy the pass kept diffs clean, and so does a fresh read of Nautobot
        assert!(!synced.stale);
        let again = full(&api, &cfg, &p, &mut Synced::default()).await;
        assert!(again.plan.is_empty(), "{:#?}", again.plan);
        assert_eq!(again.observed_before, synced.observed.len());
        assert_eq!(writes(&api), 0, "a second pass only reads");
    }

    #[tokio::test]
    async fn on_nautobot_2_4_a_nodes_cluster_is_its_device_field() {
        let (cfg, p, api) = setup();
        let api = api.speaking(crate::model::ApiVersion::V2_4);
        let nodes = p
            .records
            .values()
            .filter(|r| r.kind == Kind::DeviceClusterAssignment)
            .count();
        assert!(nodes > 0, "the sample has node devices");
        let mut synced = Synced::default();
        let first = full(&api, &cfg, &p, &mut synced).await;
        let report = first.report.expect("written");
        assert!(report.failures.is_empty(), "{:#?}", report.failures);
        assert!(report.aborted.is_none(), "{:?}", report.aborted);
        let cluster_id = crate::model::record_id(&cfg.cluster_name, Kind::Cluster, "");
        let devices = api.objects(Kind::Device.endpoint());
        assert_eq!(devices.len(), nodes);
        for d in &devices {
            assert_eq!(d["cluster"], json!(cluster_id.to_string()), "{d}");
        }
        assert!(
            api.take_log()
                .iter()
                .all(|r| r.endpoint != Kind::DeviceClusterAssignment.endpoint()),
            "2.4 has no assignments endpoint (the fake answers 404 there)"
        );
        // the read back diffs clean: nothing to write
        let again = full(&api, &cfg, &p, &mut Synced::default()).await;
        assert!(again.plan.is_empty(), "{:#?}", again.plan);
        assert_eq!(writes(&api), 0);
        // and on 3.x the same projection would have read the assignments
        let (_, _, api3) = setup();
        full(&api3, &cfg, &p, &mut Synced::default()).await;
        assert_eq!(
            api3.objects(Kind::DeviceClusterAssignment.endpoint()).len(),
            nodes
        );
    }

    #[tokio::test]
    async fn another_cluster_under_the_same_name_writes_nothing_until_it_says_it_replaces_it() {
        let (mut cfg, p, api) = setup();
        full(&api, &cfg, &p, &mut Synced::default()).await;
        let cluster_id = crate::model::record_id(&cfg.cluster_name, Kind::Cluster, "");
        let uid = |api: &FakeNautobot| {
            api.object("virtualization/clusters/", cluster_id).unwrap()["custom_fields"]
                [crate::model::CF_UID]
                .clone()
        };
        let first = uid(&api);
        api.take_log();

        // a second cluster, same clusterName: its projection carries its own identity
        let mut other = p.clone();
        other
            .records
            .get_mut(&cluster_id)
            .unwrap()
            .custom_fields
            .insert(crate::model::CF_UID.into(), json!("second-cluster"));
        let policy = Policy::new(&cfg, jiff::Timestamp::now(), false);
        let refused = Pass::new(&cfg, true)
            .full(
                &api,
                &other.records,
                &other.ips_unknown,
                policy.clone(),
                |_| None,
                &mut Synced::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.category(), "ClusterIdentityMismatch");
        assert!(
            refused.to_string().contains(first.as_str().unwrap()),
            "{refused}"
        );
        assert_eq!(writes(&api), 0, "nothing written");
        assert_eq!(uid(&api), first);

        // the cleanup of a NautobotSync in the second cluster is refused the same way
        let cleanup = Pass {
            identity: Some("second-cluster"),
            ..Pass::new(&cfg, true)
        };
        let empty = Projection::default();
        let err = cleanup
            .full(
                &api,
                &empty.records,
                &empty.ips_unknown,
                policy.clone(),
                |_| None,
                &mut Synced::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.category(), "ClusterIdentityMismatch");
        assert_eq!(writes(&api), 0, "nothing deleted");

        // a person says it replaces the first (a rebuild): it takes the Cluster over
        cfg.replaces_cluster_id = first.as_str().map(String::from);
        let taken = Pass::new(&cfg, true)
            .full(
                &api,
                &other.records,
                &other.ips_unknown,
                policy,
                |_| None,
                &mut Synced::default(),
            )
            .await
            .expect("allowed");
        assert!(taken.report.unwrap().failures.is_empty());
        assert_eq!(uid(&api), json!("second-cluster"));
    }

    #[tokio::test]
    async fn a_lean_pass_moves_the_create_bodies_into_the_copy_and_a_full_pass_drops_the_old_copy_before_reading()
     {
        let (cfg, p, api) = setup();
        let policy = Policy::new(&cfg, jiff::Timestamp::now(), false);
        let lean = Pass {
            lean: true,
            ..Pass::new(&cfg, true)
        };
        let mut synced = Synced::default();
        let out = lean
            .full(
                &api,
                &p.records,
                &p.ips_unknown,
                policy.clone(),
                |_| None,
                &mut synced,
            )
            .await
            .expect("the pass runs");
        assert!(!out.plan.creates.is_empty());
        assert!(out.plan.creates.iter().all(|op| op.body.is_empty()));
        // the copy is the one a clone would have made: the next incremental diff is clean
        let (_, _, other) = setup();
        let mut cloned = Synced::default();
        full(&other, &cfg, &p, &mut cloned).await;
        assert_eq!(synced.observed.len(), cloned.observed.len());
        for (id, o) in &synced.observed {
            assert_eq!(
                o.fields, cloned.observed[id].fields,
                "{} {}",
                o.kind, o.display
            );
            assert_eq!(o.custom_fields, cloned.observed[id].custom_fields);
            assert_eq!(o.tags, cloned.observed[id].tags);
        }
        let touched = p.records.keys().copied().collect();
        let again = lean
            .incremental(
                &api,
                &touched,
                &p.records,
                &p.ips_unknown,
                || p.records.iter().map(|(id, r)| (*id, r)).collect(),
                policy.clone(),
                |_| None,
                &mut synced,
            )
            .await
            .expect("the pass runs");
        assert!(again.plan.is_empty(), "{:#?}", again.plan);

        // a re-read that never completes (cancelled, as a shutdown or lost leadership does)
        // leaves no old copy beside the new one: it went first, and the copy is stale
        api.hang();
        let pass = lean.full(
            &api,
            &p.records,
            &p.ips_unknown,
            policy,
            |_| None,
            &mut synced,
        );
        let cut = tokio::time::timeout(std::time::Duration::from_millis(200), pass).await;
        assert!(cut.is_err(), "the pass hangs");
        assert!(synced.observed.is_empty());
        assert!(synced.stale, "the next pass is a full one");
    }

    #[tokio::test]
    async fn a_pass_cut_off_mid_apply_is_stale_and_the_next_one_repairs_without_duplicates() {
        let (cfg, p, api) = setup();
        // what a clean pass writes
        full(&api, &cfg, &p, &mut Synced::default()).await;
        let count = |api: &FakeNautobot| -> usize {
            Kind::ALL
                .iter()
                .map(|k| api.objects(k.endpoint()).len())
                .sum()
        };
        let total = count(&api);
        // again into a clean Nautobot: the connection is lost at the VMs' create, in the middle
        // of the pass (bootstrap, the cluster, tenants and devices written; VMs and what hangs
        // on them not)
        let (_, _, api) = setup();
        let mut synced = Synced::default();
        api.lose_connection_after("virtualization/virtual-machines/", 0);
        let cut = full(&api, &cfg, &p, &mut synced).await;
        let report = cut.report.expect("it tried to write");
        assert_eq!(
            report.aborted.as_ref().map(ApiError::category),
            Some("NautobotUnreachable")
        );
        assert!(synced.stale, "what was written is unknown");
        assert!(api.objects("virtualization/virtual-machines/").is_empty());
        assert!(
            count(&api) > 0 && count(&api) < total,
            "cut off in the middle"
        );
        api.reconnect();
        let repaired = full(&api, &cfg, &p, &mut synced).await;
        assert!(repaired.report.expect("written").failures.is_empty());
        assert!(!synced.stale);
        assert_eq!(count(&api), total, "no duplicates, nothing lost");
        assert!(full(&api, &cfg, &p, &mut synced).await.plan.is_empty());
    }

    #[tokio::test]
    async fn an_incremental_pass_writes_only_the_changed_object_and_reads_nothing() {
        let (cfg, p, api) = setup();
        let mut synced = Synced::default();
        full(&api, &cfg, &p, &mut synced).await;
        api.take_log();
        let vm = p
            .records
            .values()
            .find(|r| r.kind == Kind::VirtualMachine)
            .expect("a VM")
            .clone();
        let mut changed = vm.clone();
        changed.fields.insert("vcpus", json!(64).into());
        let touched = BTreeSet::from([vm.id]);
        let desired = BTreeMap::from([(vm.id, changed)]);
        let policy = Policy::new(&cfg, jiff::Timestamp::now(), false);
        let out = Pass::new(&cfg, true)
            .incremental(
                &api,
                &touched,
                &desired,
                &BTreeSet::new(),
                || {
                    p.records
                        .iter()
                        .map(|(id, r)| (*id, r))
                        .collect::<BTreeMap<_, _>>()
                },
                policy,
                |_| None,
                &mut synced,
            )
            .await
            .expect("the pass runs");
        assert_eq!(out.plan.updates.len(), 1);
        let log = api.take_log();
        assert_eq!(log.len(), 1, "one PATCH, no read: {log:?}");
        assert_eq!((log[0].method, log[0].objects), ("PATCH", 1));
        let stored = api
            .object("virtualization/virtual-machines/", vm.id)
            .expect("still there");
        assert_eq!(stored["vcpus"], json!(64));
    }

    #[tokio::test]
    async fn a_mass_deletion_is_held_and_nothing_is_deleted() {
        let (cfg, p, api) = setup();
        full(&api, &cfg, &p, &mut Synced::default()).await;
        api.take_log();
        // the cluster looks empty (a broken cache would look like this)
        let out = full(&api, &cfg, &Projection::default(), &mut Synced::default()).await;
        assert!(out.plan.deletes.is_empty());
        assert!(!out.plan.held.is_empty() && out.plan.held_reason.is_some());
        assert!(
            api.take_log().iter().all(|r| r.method == "GET"),
            "only reads"
        );
        assert_eq!(api.objects("virtualization/virtual-machines/").len(), 6);
    }

    #[tokio::test]
    async fn nothing_is_written_unless_the_pass_writes() {
        let (cfg, p, api) = setup();
        let out = Pass::new(&cfg, false)
            .full(
                &api,
                &p.records,
                &p.ips_unknown,
                Policy::new(&cfg, jiff::Timestamp::now(), false),
                |_| None,
                &mut Synced::default(),
            )
            .await
            .expect("the pass runs");
        assert!(out.report.is_none() && !out.plan.creates.is_empty());
        assert!(!out.prerequisites_created.is_empty());
        assert_eq!(
            writes(&api),
            0,
            "a dry run writes nothing, not even prerequisites"
        );
    }
}
