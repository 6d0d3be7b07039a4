//! Stage 4, Nautobot: everything that talks to it. The REST client behind the small
//! [`NautobotApi`] interface (`client`, `error`), bootstrap of prerequisites, reading what a
//! cluster owns (`observe`), applying a plan (`apply`), and the one sync pass tying them
//! together (`pass`), which every caller runs.

pub mod apply;
pub mod bootstrap;
pub mod client;
pub mod error;
#[cfg(test)]
pub(crate) mod fake;
pub mod observe;
pub mod pace;
pub mod pass;

pub use crate::model::{ApiVersion, Server};
pub use apply::{ApplyOptions, ApplyReport};
pub use bootstrap::BootstrapError;
pub use client::{
    ClientConfig, HttpClient, NautobotApi, RequestCounts, Token, install_crypto_provider,
};
pub use error::{ApiError, ClientBuildError};
pub use pass::{Pass, SyncError, SyncOutcome, Synced};

use crate::config::SyncConfig;
use crate::plan::Policy;
use crate::project::Projection;

/// One full pass of a projection with a fresh copy (`apply`, `plan --nautobot`, the `onDelete`
/// cleanup, tests): [`Pass::full`], writing unless `dry_run`.
pub async fn full_sync<A: NautobotApi>(
    api: &A,
    cfg: &SyncConfig,
    projection: &Projection,
    policy: &Policy,
    dry_run: bool,
    opts: ApplyOptions,
) -> Result<SyncOutcome, SyncError> {
    let pass = Pass {
        cfg,
        write: !dry_run,
        opts,
        identity: None,
        alias: None,
        lean: false,
    };
    pass.full(
        api,
        &projection.records,
        &projection.ips_unknown,
        policy.clone(),
        |_| None,
        &mut Synced::default(),
    )
    .await
}
