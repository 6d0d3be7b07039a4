//! Everything that talks to Nautobot: the REST client, bootstrap of prerequisites, loading
//! the objects a cluster owns, applying a plan, and one full sync pass tying them together.

pub mod apply;
pub mod bootstrap;
pub mod client;
pub mod error;
pub mod observe;

use std::collections::BTreeMap;

use uuid::Uuid;

pub use apply::{ApplyOptions, ApplyReport};
pub use bootstrap::BootstrapError;
pub use client::{
    ClientConfig, HttpClient, NautobotApi, RequestCounts, Token, install_crypto_provider,
};
pub use error::ApiError;

use crate::config::SyncConfig;
use crate::plan::{ObservedObject, Plan, Policy, diff};
use crate::project::Projection;

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

/// The result of one full pass.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// What the pass computed.
    pub plan: Plan,
    /// What it wrote (none in a dry run).
    pub report: Option<ApplyReport>,
    /// What Nautobot held before the pass.
    pub observed: BTreeMap<Uuid, ObservedObject>,
    /// Prerequisites created (or that would be).
    pub prerequisites_created: Vec<String>,
}

/// One full pass: bootstrap, read what the cluster owns, diff, and (unless `dry_run`) apply.
pub async fn full_sync<A: NautobotApi>(
    api: &A,
    cfg: &SyncConfig,
    projection: &Projection,
    policy: &Policy,
    dry_run: bool,
    opts: ApplyOptions,
) -> Result<SyncOutcome, SyncError> {
    let resolver = bootstrap::bootstrap(api, cfg, &projection.records, dry_run).await?;
    let observed = if resolver.ownership_field_exists {
        observe::load_owned(api, &cfg.cluster_name, &resolver).await?
    } else {
        BTreeMap::new()
    };
    let plan = diff(
        &projection.records,
        &projection.ips_unknown,
        &observed,
        policy,
        &resolver,
    );
    let report = if dry_run {
        None
    } else {
        Some(apply::apply(api, &plan, opts).await)
    };
    Ok(SyncOutcome {
        plan,
        report,
        observed,
        prerequisites_created: resolver.created,
    })
}
