//! Stage 3, the plan: what must change in Nautobot. The desired state kept root by root
//! (`desired`), the field-level diff of desired against observed records under the deletion
//! and ownership policy (`diff`). Synchronous and pure: unit-tested and fuzzed with fixtures.

pub mod desired;
pub mod dialect;
pub mod diff;
#[cfg(test)]
mod fuzz;
pub mod identity;
pub mod observed;
pub mod policy;
pub mod report;
pub mod resolve;

pub use desired::DesiredState;
pub use diff::*;
pub use identity::IdentityMismatch;
pub use observed::{absorb_into_observed, update_observed};
pub use policy::Policy;
pub use report::{Action, ApplyReport, Failure, KindReport};
pub use resolve::{Resolve, Resolver};
